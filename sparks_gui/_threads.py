"""OpenMP wait policy for our own processes (never set by importing the package).

torch and our numba kernels each run an OpenMP thread pool; with the default spinning wait
policy the idle pool burns the cores the other one needs (measured: 3x slower truncated-BPTT
training on 2 cores).  OpenMP reads ``OMP_WAIT_POLICY`` when its library loads, i.e. when torch
is imported, so it must be set before that: the ``sparks-gui`` command sets it at start
(:func:`use_passive_openmp`), the GUI's training process inherits it (:func:`passive_openmp_for_children`),
and scripts that use the Python API can ``export OMP_WAIT_POLICY=PASSIVE`` themselves.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

VARIABLE = "OMP_WAIT_POLICY"


def use_passive_openmp() -> None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` in this process unless the user set a policy (CLI start)."""
    os.environ.setdefault(VARIABLE, "PASSIVE")


@contextlib.contextmanager
def passive_openmp_for_children() -> Iterator[None]:
    """Within the block, processes started inherit ``OMP_WAIT_POLICY=PASSIVE`` (unless the user set
    one); this process's environment is restored afterwards."""
    if VARIABLE in os.environ:
        yield
        return
    os.environ[VARIABLE] = "PASSIVE"
    try:
        yield
    finally:
        os.environ.pop(VARIABLE, None)
