#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the whole stack on loopback with `cachescope demo`:
# a Redis primary and replica, Memcached, cachescope, Prometheus with the rules, and
# Alertmanager, whose notifications print in this terminal. Ctrl-C stops everything.
# Arguments go to `cachescope demo`, e.g. scripts/run-local.sh --break memory
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/cachescope demo "$@"
