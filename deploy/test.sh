#!/usr/bin/env bash
# The whole test suite from a fresh clone: set up, lint, type-check, then all three test tiers
# (unit, agent, integration on the real local Kafka and ClickHouse started by fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/bootstrap.sh
export OPENBLAS_NUM_THREADS=1
.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/pytest "$@"
