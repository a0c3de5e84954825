#!/usr/bin/env bash
# Run the whole test suite; GUI tests run on a virtual X display (xvfb-run) when no display is present.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
export NUMBA_CACHE_DIR="${NUMBA_CACHE_DIR:-$PWD/.numba_cache}"
if [ -z "${DISPLAY:-}" ] && command -v xvfb-run >/dev/null; then
    exec xvfb-run -a -s "-screen 0 1600x1000x24" python -m pytest "$@"
fi
exec python -m pytest "$@"
