"""Shared test set-up: runs never go to the user's home folder.

``SPARKS_RUNS_DIR`` points every test (and anything imported at collection time) at a temporary
folder, so GUI runs, run lists and cleanups in tests never touch ``~/.local/share/sparks-gui``.
"""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ["SPARKS_RUNS_DIR"] = tempfile.mkdtemp(prefix="sparks-test-runs-")


@pytest.fixture(autouse=True)
def _runs_dir(tmp_path_factory, monkeypatch):
    """A fresh runs folder per test (and no folder chosen by an earlier test)."""
    from sparks_gui.engine import runs

    folder = tmp_path_factory.mktemp("runs")
    monkeypatch.setenv("SPARKS_RUNS_DIR", str(folder))
    runs.reset_choice()
    yield folder
    runs.reset_choice()
