#!/usr/bin/env bash
# The main job on the bundled sample data: installs what is needed, then trains a micro
# Resonance NN language model on the sample text and a micro TEN forecaster on the sample
# series. Each run prints where its metrics, checkpoints and logs are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PYTHON=${PYTHON:-python3}
"$PYTHON" train.py experiment=sample_text "$@"
"$PYTHON" train.py experiment=sample_series "$@"
