#!/usr/bin/env bash
# The whole test suite from a fresh clone: set up, lint, type-check, then all three test tiers
# (unit, agent, integration on the real local Kafka and ClickHouse started by fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/bootstrap.sh
# The dashboard's end-to-end test drives Debian's headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test: installing chromium for the dashboard browser test" >&2
    apt-get update -qq && apt-get install -y -qq chromium fonts-liberation >/dev/null
  else
    echo "test: chromium is missing (apt-get install chromium fonts-liberation)" >&2
  fi
fi
export OPENBLAS_NUM_THREADS=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/pytest "$@"
