#!/usr/bin/env bash
# The one test command: installs what is missing, starts the backing services it needs,
# runs lint, types and every test tier (unit, integration, e2e, chaos), then stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="$(scripts/ensure-uv.sh)"
start=$(date +%s)
"$UV" sync --frozen --quiet
"$UV" run python -m infra.local install
# The tests get a stack of their own: other ports, a fresh run folder (Kafka's log and the
# read models must start empty together), removed again at the end.
export PAYSTREAM_PORT_OFFSET="${PAYSTREAM_PORT_OFFSET:-100}"
export PAYSTREAM_RUN_DIR="${PAYSTREAM_RUN_DIR:-/tmp/paystream-test-run}"
rm -rf "$PAYSTREAM_RUN_DIR"
trap 'rm -rf "$PAYSTREAM_RUN_DIR"' EXIT
echo "== lint and types"
"$UV" run ruff check .
"$UV" run ruff format --check .
"$UV" run mypy
echo "== tests"
"$UV" run pytest "$@"
echo "== done in $(( $(date +%s) - start ))s"
