"""Training-throughput benchmarks; the same code runs as ``sparks-gui bench``.

Usage: ``python benchmarks/bench_training.py [--quick] [--only NAME]`` prints one JSON object per line.
"""

import json
import sys

from sparks_gui._threads import use_passive_openmp

use_passive_openmp()  # as the sparks-gui command does, before torch loads (sparks_gui/_threads.py)

from sparks_gui.tools.bench import run_benchmarks  # noqa: E402

if __name__ == "__main__":
    quick = "--quick" in sys.argv
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    for row in run_benchmarks(quick=quick, only=only):
        print(json.dumps(row), flush=True)
