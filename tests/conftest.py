"""Shared test set-up: runs never go to the user's home folder; the GUI tests' ``app`` fixture.

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


@pytest.fixture
def app(make_napari_viewer):
    """A napari viewer with every SPARKS dock, and its session: ``(viewer, session, widgets)``.

    GUI tests only (napari's ``make_napari_viewer`` fixture; run under xvfb-run).
    """
    from sparks_gui.gui._session import session_for
    from sparks_gui.gui.app import add_sparks_docks

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    widgets = add_sparks_docks(viewer)
    session = session_for(viewer)
    yield viewer, session, widgets
    session.stop(wait=10)
