#!/usr/bin/env bash
# Set up (scripts/setup.sh), then lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check exporter tests
.venv/bin/ruff format --check exporter tests
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
