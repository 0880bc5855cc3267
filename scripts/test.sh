#!/usr/bin/env bash
# The one test command: installs what is missing, starts the backing services it needs,
# runs lint, types and every test tier (unit, integration, e2e, chaos), then stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="$(scripts/ensure-uv.sh)"
start=$(date +%s)
scripts/sync.sh
"$UV" run python -m infra.local install
# The tests get stacks of their own: other ports than `make up`, and a fresh run folder
# per tier (Kafka's log and the read models start empty together), removed at the end.
export PAYSTREAM_PORT_OFFSET="${PAYSTREAM_PORT_OFFSET:-100}"
RUN_BASE="${PAYSTREAM_RUN_DIR:-/tmp/paystream-test-run}"
rm -rf "$RUN_BASE"
trap 'rm -rf "$RUN_BASE"' EXIT
echo "== lint and types"
"$UV" run ruff check .
"$UV" run ruff format --check .
"$UV" run mypy
"$UV" run lint-imports  # architecture rules: [tool.importlinter] in pyproject.toml
if [ $# -gt 0 ]; then  # a developer's own selection: one session
  PAYSTREAM_RUN_DIR="$RUN_BASE/custom" "$UV" run pytest "$@"
else
  # One pytest session per tier: each starts (and stops) the stack it needs, so no tier
  # sees another's processes, settings or data.
  # Every tier runs even after a red one, so one run reports every failure.
  failed=()
  for tier in unit integration e2e chaos; do
    echo "== $tier tests"
    PAYSTREAM_RUN_DIR="$RUN_BASE/$tier" "$UV" run pytest "tests/$tier" \
      --junitxml="$RUN_BASE/junit-$tier.xml" || failed+=("$tier")
  done
  "$UV" run python scripts/junit_total.py "$RUN_BASE"/junit-*.xml
  if [ ${#failed[@]} -gt 0 ]; then
    echo "== red tiers: ${failed[*]}"
    exit 1
  fi
fi
echo "== done in $(( $(date +%s) - start ))s"
