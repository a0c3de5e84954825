"""Run folders (engine/runs.py): naming, listing with metrics, cleanup of temporary runs only."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np
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


def test_cli_run_loads_in_gui_and_facade_through_one_loader(tmp_path, monkeypatch):
    """A run written by the CLI is read by the GUI's Load run and by ``Sparks.load`` through
    ``runs.load_run``; both give the held-out metrics the CLI wrote."""
    pytest.importorskip("qtpy")
    from types import SimpleNamespace

    from sparks_gui.cli import train_and_export
    from sparks_gui.data.synthetic import make_reach
    from sparks_gui.engine.config import SparksConfig
    from sparks_gui.engine.facade import Sparks
    from sparks_gui.gui.training_widget import load_run

    rec = make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=3)
    cfg = SparksConfig(target="hand_pos", epochs=2, batch_size=4, bin_factor=4, latent_dim=2, embed_dim=8, tau_p=3)
    out = tmp_path / "cli-run"
    written = train_and_export(cfg, rec, out, task="reach", progress=False)
    assert {"config.json", "model.pt", "history.json", "metrics.json"} <= {p.name for p in out.iterdir()}
    assert 0 < written["n_test"] <= cfg.snapshot_trials  # the GUI evaluates all held-out examples

    calls = []
    real = runs.load_run
    monkeypatch.setattr(runs, "load_run", lambda path: calls.append(Path(path)) or real(path))

    got = {}
    session = SimpleNamespace(
        training_recording=lambda: rec,
        set_config=lambda c: got.__setitem__("config", c),
        set_results=lambda res, tr=None: got.update(results=res, trainer=tr),
    )
    assert load_run(session, out) == out / "model.pt"
    est = Sparks.load(out)
    assert calls == [out, out]

    gui, fac = got["results"].metrics, est.metrics_
    assert gui["r2"] == pytest.approx(written["test_r2"], abs=1e-9)
    assert fac["r2"] == pytest.approx(written["test_r2"], abs=1e-9)
    np.testing.assert_allclose(gui["r2_per_variable"], fac["r2_per_variable"], atol=1e-9)
    assert got["config"] == est.config and got["results"].history == est.history_ == runs.load_run(out).history
    rebuilt = runs.data_meta(got["trainer"].data, got["trainer"])  # one data_meta, same on both sides
    assert set(est._meta) == set(rebuilt) and "session" in rebuilt
    for key, value in rebuilt.items():
        if isinstance(value, str):
            assert est._meta[key] == value, key
            continue
        np.testing.assert_allclose(np.asarray(est._meta[key], dtype=float), np.asarray(value, dtype=float), err_msg=key)


def test_runs_of_older_versions_still_load(tmp_path):
    """A model.pt as earlier versions wrote it (data_meta without session / MtM keys, no history.json)."""
    import torch

    from sparks_gui.engine.checkpoint import FORMAT
    from sparks_gui.engine.config import SparksConfig
    from sparks_gui.engine.facade import Sparks
    from sparks_gui.model.sparks import SparksModel

    est = Sparks(SparksConfig(epochs=1, batch_size=4, bin_factor=4, latent_dim=2, embed_dim=8, tau_p=3))
    from sparks_gui.data.synthetic import make_reach

    est.fit(make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=3), target="hand_pos")
    old_meta = {k: v for k, v in est._meta.items() if k != "session"}
    payload = {
        "format": FORMAT,
        "model": est.model.state_dict(),
        "model_spec": est.model.spec(),
        "optimizer": None,
        "config": est.config.to_dict(),
        "epoch": 1,
        "generator": None,
        "torch_rng": torch.get_rng_state(),
        "history": est.history_,
        "data_meta": old_meta,
    }
    (tmp_path / "old").mkdir()
    torch.save(payload, tmp_path / "old" / "model.pt")
    run = runs.load_run(tmp_path / "old")
    assert (
        isinstance(run.model, SparksModel) and set(run.meta) == set(old_meta) and run.epoch == 1 and not run.interrupted
    )
    again = Sparks.load(tmp_path / "old" / "model.pt")
    x = est.data_.x[:2]
    np.testing.assert_allclose(again.transform(x), est.transform(x), atol=1e-5)
