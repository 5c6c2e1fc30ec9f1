#!/usr/bin/env bash
# Sets up everything crossrec needs from nothing but Python 3.11, Java 17 and Maven:
# a virtualenv in .venv with crossrec and its dependencies, and Kafka's jars (via Maven) in
# .cache/kafka-libs. Idempotent and fast once done (a stamp records what was installed).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
"$PYTHON" - <<'PY' || { echo "crossrec needs Python >= 3.11" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
command -v java >/dev/null 2>&1 || { echo "crossrec's local Kafka needs Java 17 (java not on PATH)" >&2; exit 1; }
command -v mvn >/dev/null 2>&1 || [ -f .cache/kafka-libs/.complete ] || {
  echo "crossrec needs Maven (mvn) once to fetch Kafka's jars" >&2; exit 1; }

stamp=.venv/.crossrec-installed
want=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing crossrec and its dependencies into .venv" >&2
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  echo "$want" > "$stamp"
fi
.venv/bin/python -c "from streams.local.kafka import ensure_jars; ensure_jars()"
