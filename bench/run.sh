#!/usr/bin/env bash
# One reproducible benchmark run: a fresh stack of its own (ports +800, its own run
# folder), the load generator, the verifier, then everything stopped again.
#   bench/run.sh [loadgen options]      e.g. bench/run.sh --rate 500 --duration 60
#   bench/run.sh batch [batch options]  e.g. bench/run.sh batch --batches 20 (bench/batch.py)
set -euo pipefail
cd "$(dirname "$0")/.."
UV="$(scripts/ensure-uv.sh)"
export PAYSTREAM_PORT_OFFSET="${PAYSTREAM_PORT_OFFSET:-800}"
export PAYSTREAM_RUN_DIR="${PAYSTREAM_RUN_DIR:-/tmp/paystream-bench-run}"
export PAYSTREAM_RATE_LIMIT_IP_PER_MINUTE=100000000 PAYSTREAM_RATE_LIMIT_USER_PER_MINUTE=100000000
export PAYSTREAM_LOG_LEVEL=WARNING
rm -rf "$PAYSTREAM_RUN_DIR"
"$UV" sync --frozen --quiet
trap '"$UV" run python -m infra.local down --local >/dev/null; rm -rf "$PAYSTREAM_RUN_DIR"' EXIT
"$UV" run python -m infra.local up --local
eval "$("$UV" run python -m infra.local env)"
MODULE=bench.loadgen
if [ "${1:-}" = batch ]; then MODULE=bench.batch; shift; fi
"$UV" run python -m "$MODULE" "$@"
"$UV" run python -m wallet_svc.verify --wait 120
