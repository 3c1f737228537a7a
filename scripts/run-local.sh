#!/usr/bin/env bash
# Set up, make sure a local Redis (6379) and Memcached (11211) run, then serve
# cachescope on http://localhost:9808/metrics watching both. Ctrl-C stops cachescope.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! listening 6379; then
  echo "run-local: starting redis-server on 127.0.0.1:6379"
  redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --logfile /tmp/cachescope-redis.log
fi
if ! listening 11211; then
  echo "run-local: starting memcached on 127.0.0.1:11211"
  memcached -d -l 127.0.0.1 -p 11211 -U 0 $([ "$(id -u)" -eq 0 ] && echo "-u root")
fi
echo "run-local: cachescope on http://localhost:9808/ (metrics at /metrics)"
exec .venv/bin/cachescope serve --web.listen-address "${LISTEN:-:9808}" \
  --target redis://localhost:6379 --target memcached://localhost:11211
