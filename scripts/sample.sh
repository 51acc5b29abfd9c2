#!/usr/bin/env bash
# The main job on the bundled sample data: installs what is needed, then runs the quick
# cascade (10 + 5 + 3 CPU-sized models) on a candidate/reference pair: a synthetic table
# derived with a documented flaw from a real table that scikit-learn bundles. Shows a live
# board of the cascade, then the verdict, the prediction and the report files (report.html).
#   bash scripts/sample.sh [-v] [hydra overrides]   (-v: Lightning's and the jobs' own output
#                                                    on the terminal instead of the board)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
PYTHON=$SYNTHOS_PYTHON
args=()
for arg in "$@"; do
  case "$arg" in
    -v | --verbose) args+=("cascade.verbose=true") ;;
    *) args+=("$arg") ;;
  esac
done
"$PYTHON" train.py +cascade=quick data=tabular_pair ${args[@]+"${args[@]}"}
