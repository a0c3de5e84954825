"""Run folders in the Training dock: each GUI run goes to run-YYYYmmdd-HHMMSS in the runs folder (a
temporary folder in tests, via SPARKS_RUNS_DIR), is listed with its epochs and metric, opens from the
list, and "Clean up…" deletes only temporary runs.  Run under Xvfb (see tests/test_gui_app.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("napari")
pytest.importorskip("pyqtgraph")
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    pytest.skip("GUI tests need a display (run under xvfb-run)", allow_module_level=True)

from test_gui_app import open_recording, tiny, train  # shared helpers (the app fixture is in conftest.py)

from sparks_gui.data.synthetic import make_reach
from sparks_gui.engine import runs

pytestmark = pytest.mark.gui


def test_runs_go_to_the_runs_folder_are_listed_opened_and_cleaned(app, qtbot, tmp_path, monkeypatch):
    viewer, session, w = app
    t = w["training"]
    root = Path(os.environ["SPARKS_RUNS_DIR"])
    assert t.runs_root() == root and t.runs_folder.text() == str(root)
    assert t.runs_list.topLevelItemCount() == 0

    # Start without a recording: an error, and no folder left behind
    assert t.start() is None
    assert list(root.iterdir()) == []

    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=2, seed=3))
    tiny(w, epochs=2, batch=8)
    train(qtbot, session, w)
    folders = [p for p in root.iterdir() if p.is_dir()]
    assert len(folders) == 1 and runs.NAME_RE.match(folders[0].name), folders
    run = folders[0]
    assert session.results.config.out_dir == str(run)
    assert {"checkpoint.pt", "config.json", "metrics.json", "run.json"} <= {p.name for p in run.iterdir()}
    metrics = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    marker = runs.read_marker(run)
    assert marker["saved"] is False and marker["status"] == "finished" and marker["epochs"] == 2
    # listed: name, epochs, main metric (R2 of the reach's hand velocity)
    assert t.runs_list.topLevelItemCount() == 1
    item = t.runs_list.topLevelItem(0)
    r2 = metrics["history"][-1]["r2"]
    assert (item.text(0), item.text(1)) == (run.name, "2")
    assert item.text(2) == f"r2 {r2:.3g}"

    # open it from the list (the Load run code path): history and config come back
    other = runs.new_run_dir(root)  # a temporary run with nothing in it yet, listed too
    (other / "checkpoint.pt").write_bytes(b"not a checkpoint")
    kept = runs.new_run_dir(root)
    (kept / "checkpoint.pt").write_bytes(b"x")
    t.refresh_runs()
    assert t.runs_list.topLevelItemCount() == 3
    row = next(i for i in range(3) if t.runs_list.topLevelItem(i).text(0) == run.name)
    t.runs_list.topLevelItem(row).setSelected(True)
    assert t.open_run_btn.isEnabled()
    before = session.results
    assert t.open_selected_run() == run / "checkpoint.pt"
    assert session.results is not before
    assert [h["epoch"] for h in session.results.history] == [1, 2]

    # keep one, then clean up: only the other temporary run goes (the one on screen stays)
    t.runs_list.clearSelection()
    row = next(i for i in range(3) if t.runs_list.topLevelItem(i).text(0) == kept.name)
    t.runs_list.topLevelItem(row).setSelected(True)
    t.keep_selected_run()
    assert runs.read_marker(kept)["saved"] is True
    assert t.runs_list.selectedItems()[0].font(0).bold()
    deleted = t.cleanup_runs(confirm=False)
    assert deleted == [other]
    assert not other.exists() and kept.exists() and run.exists()
    assert sorted(t.runs_list.topLevelItem(i).text(0) for i in range(2)) == sorted([run.name, kept.name])

    # the dialog path: "No" deletes nothing
    from qtpy.QtWidgets import QMessageBox

    extra = runs.new_run_dir(root)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.No)
    t.cleanup_btn.click()
    assert extra.exists()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    t.cleanup_btn.click()
    assert not extra.exists() and run.exists()

    # another runs folder: the list follows, and the next run goes there
    chosen = tmp_path / "my runs"
    assert t.set_runs_root(chosen) == chosen.resolve()
    assert t.runs_folder.text() == str(chosen.resolve()) and t.runs_list.topLevelItemCount() == 0
    tiny(w, epochs=1, batch=8)
    train(qtbot, session, w)
    assert [p.parent for p in chosen.iterdir()] == [chosen.resolve()] and t.runs_list.topLevelItemCount() == 1
