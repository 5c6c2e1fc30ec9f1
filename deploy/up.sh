#!/usr/bin/env bash
# Quick start: set everything up, then run local Kafka + ClickHouse + the worker + the traffic
# simulator. Ctrl-C stops all of it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/bootstrap.sh
export OPENBLAS_NUM_THREADS=1
exec .venv/bin/crossrec up "$@"
