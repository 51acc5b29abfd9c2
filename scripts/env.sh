# Sourced by the other scripts: the Python of the project's environment.
# The active virtual environment (or non-base conda environment) when there is one,
# otherwise the project's own .venv (scripts/setup.sh creates it).
if [ -n "${VIRTUAL_ENV:-}" ]; then
  SYNTHOS_PYTHON="$VIRTUAL_ENV/bin/python"
elif [ -n "${CONDA_PREFIX:-}" ] && [ "${CONDA_DEFAULT_ENV:-base}" != "base" ]; then
  SYNTHOS_PYTHON="$CONDA_PREFIX/bin/python"
else
  SYNTHOS_PYTHON="$PWD/.venv/bin/python"
fi
export SYNTHOS_PYTHON
