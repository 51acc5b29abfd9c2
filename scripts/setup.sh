#!/usr/bin/env bash
# Install Synthos and its dependencies into the current Python (3.10-3.13).
#   bash scripts/setup.sh          # the library
#   bash scripts/setup.sh dev      # plus test and lint tools
# torch: an existing install is kept. Otherwise a machine with an NVIDIA GPU gets PyPI's
# CUDA build; a machine without one gets torch 2.13.0 (a CPU build where one is provided
# locally, as on Synthos' CI machines).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
extras=${1:-}

if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: NVIDIA GPU found, installing a CUDA build of torch"
    "$PYTHON" -m pip install "torch>=2.4,<2.16"
  else
    echo "setup: no GPU found, installing torch 2.13.0"
    "$PYTHON" -m pip install "torch==2.13.0"
  fi
fi
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  extras=${extras:+$extras,}gpu
fi
"$PYTHON" -m pip install -e ".${extras:+[$extras]}"
