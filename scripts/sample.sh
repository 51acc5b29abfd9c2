#!/usr/bin/env bash
# The main job on the bundled sample data: installs what is needed, then runs the quick
# cascade (10 + 5 + 3 CPU-sized models) on a candidate/reference pair: a synthetic table
# derived with a documented flaw from a real table that scikit-learn bundles. Prints where
# report.json is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
PYTHON=$SYNTHOS_PYTHON
"$PYTHON" train.py +cascade=quick data=tabular_pair "$@"
