#!/usr/bin/env bash
# The latency-throughput curve: bench/run.sh (a fresh stack, the load, the verifier) with
# one transfer phase at each offered rate of bench.curve.RATES, then bench.curve draws it.
#   bench/curve.sh [loadgen options]    e.g. bench/curve.sh --duration 60
#   bench/curve.sh --rate 20 50 --duration 10      (other rates: a later --rate wins)
set -euo pipefail
cd "$(dirname "$0")/.."
UV="$(scripts/ensure-uv.sh)"
read -ra RATES <<<"$("$UV" run python -c 'from bench.curve import RATES; print(*RATES)')"
REPORT="bench/results/curve-$(date -u +%Y%m%dT%H%M%S).json"
bench/run.sh --rate "${RATES[@]}" --kind transfer "$@" --out "$REPORT"
"$UV" run python -m bench.curve "$REPORT"
