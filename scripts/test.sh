#!/usr/bin/env bash
# The one test command: installs what is missing, starts the backing services it needs,
# runs lint, types and every test tier (unit, integration, e2e, chaos), then stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="$(scripts/ensure-uv.sh)"
start=$(date +%s)
"$UV" sync --frozen --quiet
"$UV" run python -m infra.local install
echo "== lint and types"
"$UV" run ruff check .
"$UV" run ruff format --check .
"$UV" run mypy
echo "== tests"
"$UV" run pytest "$@"
echo "== done in $(( $(date +%s) - start ))s"
