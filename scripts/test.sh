#!/usr/bin/env bash
# Install with test tools, lint, then run the fast suite and the slow suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
source scripts/env.sh
PYTHON=$SYNTHOS_PYTHON
export WANDB_MODE=disabled
"$PYTHON" -m ruff check .
"$PYTHON" -m ruff format --check .
"$PYTHON" -m pytest -q "$@"
"$PYTHON" -m pytest -q -m slow "$@" || [ $? -eq 5 ]  # 5: no slow tests collected
