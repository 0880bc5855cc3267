#!/usr/bin/env bash
# Installs the locked dependencies and compiles every module to bytecode ahead of time, so
# each process starts from cached bytecode even where PYTHONDONTWRITEBYTECODE keeps Python
# from writing it: about 3 s of CPU less per service process start (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
UV="$(scripts/ensure-uv.sh)"
"$UV" sync --frozen --quiet --compile-bytecode
"$UV" run python -m compileall -q -j 0 -x '/\.(venv|git)/' .
