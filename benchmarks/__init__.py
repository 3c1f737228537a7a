"""Performance harness: cachescope against Debian's prometheus-redis-exporter, side by side.

`python -m benchmarks --targets 10,100,1000` starts real redis-server and memcached
processes on loopback, both exporters, measures them in interleaved rounds and writes
docs/benchmarks.md. `python -m benchmarks.profile` shows where cachescope's CPU goes.
"""
