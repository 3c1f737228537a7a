# Benchmarks: see docs/benchmarks.md for what they measure and the last results.
PYTHON ?= $(if $(wildcard .venv/bin/python),.venv/bin/python,python3)
TARGETS ?= 10,100,1000
SCRAPES ?= 2000

.PHONY: bench bench-quick profile

bench:  ## the full side-by-side run; rewrites docs/benchmarks.md (about 5 minutes)
	$(PYTHON) -m benchmarks --targets $(TARGETS) --scrapes $(SCRAPES) --output docs/benchmarks.md

bench-quick:  ## a small run into /tmp, to check the harness works
	$(PYTHON) -m benchmarks --targets 2,10 --scrapes 200 --rounds 2 --output /tmp/cachescope-bench.md

profile:  ## cProfile of cachescope's /scrape and /metrics at 100 targets
	$(PYTHON) -m benchmarks.profile --targets 100
