"""Run folders (engine/runs.py): naming, listing with metrics, cleanup of temporary runs only."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from sparks_gui.engine import runs
from sparks_gui.errors import SparksError


def test_runs_dir_comes_from_the_environment_in_tests(tmp_path, monkeypatch):
    assert runs.runs_dir() == Path(os.environ["SPARKS_RUNS_DIR"])
    monkeypatch.setenv("SPARKS_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert runs.runs_dir() == tmp_path / "elsewhere"
    home = Path.home().resolve()
    assert home not in runs.runs_dir().resolve().parents


def test_default_is_the_per_user_data_folder(monkeypatch):
    import platformdirs

    monkeypatch.delenv("SPARKS_RUNS_DIR")
    assert runs.default_runs_dir() == Path(platformdirs.user_data_dir("sparks-gui")) / "runs"


def test_choose_runs_dir_is_used_and_not_persisted_under_the_env_var(tmp_path, monkeypatch):
    settings = tmp_path / "cfg" / "settings.json"
    monkeypatch.setattr(runs, "_settings_file", lambda: settings)
    chosen = runs.choose_runs_dir(tmp_path / "mine")
    assert chosen == (tmp_path / "mine").resolve() and chosen.is_dir()
    assert runs.runs_dir() == chosen
    assert not settings.exists()  # SPARKS_RUNS_DIR set: this process only
    # without the env var the choice is remembered for the next session
    monkeypatch.delenv("SPARKS_RUNS_DIR")
    runs.reset_choice()
    runs.choose_runs_dir(tmp_path / "kept")
    assert json.loads(settings.read_text())["runs_dir"] == str((tmp_path / "kept").resolve())
    runs.reset_choice()
    assert runs.runs_dir() == (tmp_path / "kept").resolve()


def test_choose_unwritable_runs_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SparksError, match="runs folder") as err:
        runs.choose_runs_dir(blocker / "sub")
    assert "Choose a folder" in str(err.value)


def test_run_names_are_timestamped_and_unique(tmp_path):
    when = datetime(2026, 3, 4, 5, 6, 7).timestamp()
    a = runs.new_run_dir(tmp_path, when=when)
    b = runs.new_run_dir(tmp_path, when=when)
    c = runs.new_run_dir(tmp_path, when=when)
    assert [p.name for p in (a, b, c)] == ["run-20260304-050607", "run-20260304-050607-2", "run-20260304-050607-3"]
    marker = runs.read_marker(a)
    assert marker["saved"] is False and marker["created"] == pytest.approx(when)
    assert runs.new_run_dir().parent == Path(os.environ["SPARKS_RUNS_DIR"])


def _finished_run(root, when, history, final=None, saved=False):
    folder = runs.new_run_dir(root, when=when)
    (folder / "checkpoint.pt").write_bytes(b"x")
    (folder / "metrics.json").write_text(json.dumps({"history": history, "final": final or {}}))
    if saved:
        runs.mark_saved(folder)
    return folder


def test_list_runs_newest_first_with_epochs_and_main_metric(tmp_path):
    t0 = datetime(2026, 1, 1, 12, 0, 0).timestamp()
    old = _finished_run(
        tmp_path, t0, [{"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 1.5, "test_loss": 1.7, "r2": 0.41}]
    )
    new = _finished_run(
        tmp_path, t0 + 60, [{"epoch": 1, "train_loss": 0.9, "test_loss": 1.1}], final={"test_loss": 1.05}
    )
    cli = tmp_path / "cli-run"  # a CLI output folder: no run.json, CLI metrics
    cli.mkdir()
    (cli / "model.pt").write_bytes(b"x")
    (cli / "metrics.json").write_text(json.dumps({"epochs": 30, "test_loss": 0.5, "test_r2": 0.87}))
    os.utime(cli, (t0 - 60, t0 - 60))  # no run.json: its age is the folder's modification time
    (tmp_path / "notes").mkdir()  # not a run: not listed
    listed = runs.list_runs(tmp_path)
    assert [r.path for r in listed] == [new, old, cli]
    by = {r.path: r for r in listed}
    assert (by[old].epochs, by[old].metric, by[old].value) == (2, "r2", 0.41)
    assert (by[new].epochs, by[new].metric, by[new].value) == (1, "test_loss", 1.05)
    assert (by[cli].epochs, by[cli].metric, by[cli].value) == (30, "r2", 0.87)
    assert by[cli].saved and not by[old].saved
    assert by[old].metric_text == "r2 0.41"
    assert len(listed) == 3
    assert runs.list_runs(tmp_path / "missing") == []


def test_cleanup_deletes_only_unsaved_runs(tmp_path):
    now = datetime(2026, 1, 20, 12, 0, 0).timestamp()
    day = 86400
    old_tmp = _finished_run(tmp_path, now - 10 * day, [{"epoch": 1, "train_loss": 1.0}])
    new_tmp = _finished_run(tmp_path, now - 1 * day, [{"epoch": 1, "train_loss": 1.0}])
    kept = _finished_run(tmp_path, now - 30 * day, [{"epoch": 1, "train_loss": 1.0}], saved=True)
    running = _finished_run(tmp_path, now - 20 * day, [])
    foreign = tmp_path / "run-20200101-000000"  # looks like a run but was not made here: no run.json
    foreign.mkdir()
    (foreign / "model.pt").write_bytes(b"x")
    assert [r.path for r in runs.cleanup_candidates(tmp_path, 7, exclude=[running], now=now)] == [old_tmp]
    assert runs.cleanup_runs(tmp_path, older_than_days=7, exclude=[running], now=now) == [old_tmp]
    assert not old_tmp.exists() and new_tmp.exists() and kept.exists() and running.exists()
    deleted = runs.cleanup_runs(tmp_path, exclude=[running], now=now)  # all unsaved ones
    assert deleted == [new_tmp]
    assert kept.exists() and running.exists() and foreign.exists() and (foreign / "model.pt").exists()
    runs.mark_saved(running)
    assert runs.cleanup_runs(tmp_path, now=now) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([kept.name, running.name, foreign.name])
