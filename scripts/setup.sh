#!/usr/bin/env bash
# Install Synthos and its dependencies into the project's environment (Python 3.10-3.13):
# the active virtual environment (or non-base conda environment) when there is one,
# otherwise .venv in the repository, created with PYTHON (default python3). A system
# Python that refuses pip (PEP 668) is never installed into.
#   bash scripts/setup.sh          # the library
#   bash scripts/setup.sh dev      # plus test and lint tools
# torch: an existing install is kept. Otherwise a machine with an NVIDIA GPU gets PyPI's
# CUDA build; a machine without one gets torch 2.13.0 (a CPU build where one is provided
# locally, as on Synthos' CI machines). pip's output goes to logs/setup.log (shown when it
# fails).
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-}
source scripts/env.sh

if [ ! -x "$SYNTHOS_PYTHON" ]; then
  echo "setup: creating the virtual environment .venv"
  if ! "${PYTHON:-python3}" -m venv .venv; then
    rm -rf .venv
    echo "setup: '${PYTHON:-python3} -m venv' failed; on Debian/Ubuntu install the venv" \
      "module first (sudo apt install python3-venv), or set PYTHON to another Python" >&2
    exit 1
  fi
fi
py=$SYNTHOS_PYTHON
log=logs/setup.log
mkdir -p logs
: >"$log"
pip_install() {
  if ! "$py" -m pip install "$@" >>"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "setup: 'pip install $*' failed; pip's whole output is in $log" >&2
    exit 1
  fi
}
"$py" -m pip install --upgrade pip >>"$log" 2>&1 || true
has_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }
if ! "$py" -c "import torch" >/dev/null 2>&1; then
  if has_gpu; then
    echo "setup: NVIDIA GPU found, installing a CUDA build of torch"
    pip_install "torch>=2.4,<2.16"
  else
    echo "setup: no GPU found, installing torch 2.13.0"
    pip_install "torch==2.13.0"
  fi
fi
if has_gpu; then
  extras=${extras:+$extras,}gpu
fi
echo "setup: installing synthos${extras:+[$extras]} into $(dirname "$(dirname "$py")")"
pip_install -e ".${extras:+[$extras]}"
if [ "$py" = "$PWD/.venv/bin/python" ]; then
  echo "setup: done; to use it in your shell: source .venv/bin/activate"
fi
