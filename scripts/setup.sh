#!/usr/bin/env bash
# Create .venv and install sparks-gui with everything (GUI, IO, tests).
# torch is pinned to the CPU build available on this machine; users elsewhere can
# install any recent torch (pyproject accepts torch>=2.1).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "torch==${SPARKS_TORCH_VERSION:-2.13.0}"
python -m pip install --quiet -e ".[all,test]"
python -c "import sparks_gui, torch; print('sparks-gui ready: torch', torch.__version__)"
