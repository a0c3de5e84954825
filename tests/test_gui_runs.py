"""GUI runs that go wrong or stop: a failing worker returns the session to idle with a notification, a
failed "Load run…" changes nothing, and a stopped run resumes from its checkpoint. Run under Xvfb
(see tests/test_gui_app.py)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pyqtgraph")
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    pytest.skip("GUI tests need a display (run under xvfb-run)", allow_module_level=True)

from test_gui_app import open_recording, tiny, train  # shared helpers (the app fixture is in conftest.py)

from sparks_gui.data.synthetic import make_reach

pytestmark = pytest.mark.gui


@pytest.fixture
def notes():
    from napari.utils.notifications import notification_manager

    seen: list[str] = []

    def add(n):
        seen.append(str(n.message))

    notification_manager.notification_ready.connect(add)
    yield seen
    notification_manager.notification_ready.disconnect(add)


def _assert_idle(w, session):
    t = w["training"]
    assert not session.running
    assert t.start_btn.isEnabled() and not t.stop_btn.isEnabled() and not t.pause_btn.isEnabled()
    assert t.form.isEnabled() and t.load_btn.isEnabled()
    assert "Preparing" not in t.status.text() and t.progress.maximum() > 0  # not busy
    t.stop()  # harmless when idle
    assert not session.running


def _broken_run(self):  # a generator that fails on its first step, like a crash inside the training loop
    raise RuntimeError("injected failure in the training loop")
    yield  # unreachable: makes this function a generator


@pytest.mark.parametrize("where", ["prepare", "build_model", "run", "run_in_process"])
def test_worker_failure_notifies_and_returns_to_idle(app, qtbot, monkeypatch, notes, where):
    """Any exception in the training worker (data preparation, model building, the loop) reaches the user
    as a notification and leaves the session idle; before, a RuntimeError was swallowed by superqt and the
    dock stayed on "Preparing data…" with Start disabled for good."""
    from sparks_gui.engine import process, trainer

    viewer, session, w = app
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=2))
    tiny(w, epochs=1, batch=8)
    message = f"injected failure in {where}"

    def fail(*args, **kwargs):
        raise RuntimeError(message)

    if where == "prepare":
        monkeypatch.setattr(trainer, "prepare", fail)
    elif where == "build_model":
        monkeypatch.setattr(trainer, "build_model", fail)
    else:
        message = "injected failure in the training loop"
        if where == "run_in_process":
            monkeypatch.setenv("SPARKS_GUI_INPROCESS", "1")
            monkeypatch.setattr(trainer.Trainer, "run", _broken_run)
        else:
            monkeypatch.setattr(process.ProcessTrainer, "run", _broken_run)
    run = w["training"].start()
    assert run is not None
    qtbot.waitUntil(lambda: not session.running, timeout=60_000)
    qtbot.waitUntil(lambda: any(message in m for m in notes), timeout=5000)
    assert any(f"RuntimeError: {message}" in m for m in notes)
    assert message in w["training"].status.text() and "Failed" in w["training"].status.text()
    assert run.wait(5)
    _assert_idle(w, session)
    # the app is still usable: the next run trains
    monkeypatch.undo()
    tiny(w, epochs=1, batch=8)
    train(qtbot, session, w)
    assert len(session.results.history) == 1


def test_attention_worker_failure_notifies(app, qtbot, monkeypatch, notes):
    import sparks_gui.gui._worker as worker

    viewer, session, w = app

    def fail(trainer, example):
        raise RuntimeError("injected attention failure")

    monkeypatch.setattr(worker, "attention_sequence", fail)
    att = w["attention"]
    att._compute_sequence(0)
    qtbot.waitUntil(lambda: any("injected attention failure" in m for m in notes), timeout=10_000)
    qtbot.waitUntil(lambda: att._seq_worker is None, timeout=5000)


def test_failed_load_run_changes_nothing(app, qtbot, tmp_path, monkeypatch, notes):
    """Loading a run saved from another recording, or a damaged run folder, shows the error and leaves the
    session's config, run, results, views and the docks as they were."""
    from qtpy.QtWidgets import QFileDialog

    from sparks_gui.gui.exports import metrics_summary
    from sparks_gui.gui.training_widget import save_run

    viewer, session, w = app
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=2, n_neurons=30, seed=1))
    tiny(w, epochs=1, batch=8)
    train(qtbot, session, w)
    other_run = save_run(session, tmp_path / "other")  # trained on 30 neurons
    # the current session: another recording (65 neurons), trained, with its own settings in the form
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=2, seed=2))
    tiny(w, epochs=2, batch=4)
    train(qtbot, session, w)
    w["training"].form.editors["lr"].setText("0.002")

    def state():
        lat = w["latents"]
        return dict(
            config=session.config,
            form=w["training"].form.config(session.config).to_dict(),
            trainer=session.trainer,
            results=session.results,
            recording=session.recording,
            target=w["data"].target.currentText(),
            latents=(lat.n_points, lat.n_trajectories),
            attention=w["attention"].matrix.copy(),
            summary=metrics_summary(session),
        )

    before = state()
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "model.pt").write_bytes(b"not a checkpoint")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    import torch

    torch.save({"format": "sparks-gui-checkpoint-1", "config": {"epochs": 2}}, foreign / "model.pt")  # no weights
    for folder, words in ((other_run, "30 neurons"), (corrupt, "not a readable"), (foreign, "could not be loaded")):
        n = len(notes)
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, f=folder: (str(f / "model.pt"), ""))
        w["training"].load_btn.click()
        qtbot.waitUntil(lambda n=n: len(notes) > n, timeout=10_000)
        assert any(words in m for m in notes[n:]), (words, notes[n:])
        after = state()
        assert after["config"] is before["config"] and after["config"] == before["config"]
        assert after["form"] == before["form"] and after["target"] == before["target"]
        assert after["trainer"] is before["trainer"] and after["results"] is before["results"]
        assert after["recording"] is before["recording"] and after["latents"] == before["latents"]
        np.testing.assert_array_equal(after["attention"], before["attention"])
        assert after["summary"] == before["summary"]
        assert w["training"].start_btn.isEnabled() and w["training"].save_btn.isEnabled()


def test_stopped_run_keeps_r2_and_resumes_to_target_epoch(app, qtbot):
    """Stop after a checkpoint: the final metrics keep the held-out R2; Resume (enabled only for a stopped
    run with a checkpoint) continues to the run's last epoch and ends where an uninterrupted run ends."""
    import torch

    from sparks_gui.engine.trainer import Trainer
    from sparks_gui.gui.exports import metrics_summary

    viewer, session, w = app
    t = w["training"]
    assert t.resume_btn.text() == "Resume run" and not t.resume_btn.isEnabled()  # nothing to resume yet
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=3, seed=5))
    tiny(w, epochs=8, batch=4)

    def stop_once(*_):  # stop right after the first checkpoint
        session.checkpoint_written.disconnect(stop_once)
        t.stop()

    session.checkpoint_written.connect(stop_once)
    run = t.start()
    assert not t.resume_btn.isEnabled()  # not while running
    qtbot.waitUntil(lambda: not session.running, timeout=120_000)
    assert run.cancelled, "the run ended before the stop reached it"
    r = session.results
    reached = r.checkpoint_epoch
    assert 1 <= reached < 8 and os.path.isfile(r.checkpoint)
    # the stopped run's metrics.json "final" block keeps the held-out R2 computed so far
    final = metrics_summary(session)["final"]
    evaluated = [h for h in r.history if "r2" in h][-1]
    assert final["cancelled"] and math.isfinite(final["r2"]) and final["r2"] == evaluated["r2"]
    assert t.resume_btn.isEnabled() and f"epoch {reached} of 8" in t.resume_btn.toolTip()
    config = session.trainer.config
    run2 = t.resume()
    assert run2 is not None and run2.resume_from == r.checkpoint
    assert not t.resume_btn.isEnabled() and not t.start_btn.isEnabled()
    qtbot.waitUntil(lambda: not session.running, timeout=120_000)
    assert run2.finished_event is not None and not run2.finished_event.cancelled
    r2 = session.results
    assert r2.started.resumed and r2.started.epoch == reached
    assert [h["epoch"] for h in r2.history] == list(range(1, 9))  # kept history + the resumed epochs
    assert t.progress.value() == t.progress.maximum() and "done" in t.progress.format()
    assert not t.resume_btn.isEnabled()  # finished: nothing left to resume
    # the same model as a run that was never stopped
    full = Trainer(config.replace(out_dir=None), session.training_recording())
    list(full.run())
    for name, value in full.model.state_dict().items():
        torch.testing.assert_close(session.trainer.model.state_dict()[name], value, rtol=1e-4, atol=1e-5, msg=name)
    assert [h["train_loss"] for h in r2.history] == pytest.approx([h["train_loss"] for h in full.history], rel=1e-4)


def test_resume_a_loaded_interrupted_run(app, qtbot, tmp_path, monkeypatch):
    """A run folder interrupted outside the app (only checkpoint.pt, as after Ctrl-C in the CLI) loads with
    Resume enabled, and Resume trains it to its last epoch in that folder."""
    from qtpy.QtWidgets import QFileDialog

    from sparks_gui.engine.checkpoint import load_checkpoint
    from sparks_gui.engine.events import EpochEnd
    from sparks_gui.engine.trainer import Trainer

    viewer, session, w = app
    t = w["training"]
    rec = make_reach(n_trials_per_direction=2, seed=6)
    open_recording(viewer, session, qtbot, rec)
    tiny(w, epochs=3, batch=8)
    folder = tmp_path / "interrupted"
    cfg = t.form.config(session.config).replace(device="cpu", out_dir=str(folder))
    trainer = Trainer(cfg, session.training_recording())
    for ev in trainer.run():
        if isinstance(ev, EpochEnd):
            trainer.cancel()  # stops in the second epoch: checkpoint.pt holds epoch 1
    assert load_checkpoint(folder / "checkpoint.pt")["epoch"] == 1 and not (folder / "model.pt").exists()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a: (str(folder / "checkpoint.pt"), ""))
    t.load_btn.click()
    assert [h["epoch"] for h in session.results.history] == [1]
    assert t.resume_btn.isEnabled() and "epoch 1 of 3" in t.resume_btn.toolTip()
    run = t.resume()
    assert run is not None
    qtbot.waitUntil(lambda: not session.running, timeout=120_000)
    assert run.finished_event is not None and not run.finished_event.cancelled
    assert [h["epoch"] for h in session.results.history] == [1, 2, 3]
    assert load_checkpoint(folder / "checkpoint.pt")["epoch"] == 3 and not t.resume_btn.isEnabled()


def test_start_pause_stop_have_icons_and_keyboard_shortcuts(app, qtbot):
    """Start / Pause / Stop carry standard icons (no Unicode glyphs that draw as boxes) and F5 / F6 /
    Shift+F5, named in their tooltips and in the user guide; F5 starts a run from the keyboard."""
    from pathlib import Path

    from qtpy.QtCore import Qt

    from sparks_gui.gui.training_widget import SHORTCUTS

    viewer, session, w = app
    t = w["training"]
    guide = (Path(__file__).parents[1] / "docs" / "user-guide.md").read_text()
    assert [s.key().toString() for s in t.shortcuts] == [k for k, _ in SHORTCUTS.values()]
    for btn, (key, _) in zip((t.start_btn, t.pause_btn, t.stop_btn), SHORTCUTS.values(), strict=False):
        assert not btn.icon().isNull() and btn.text().isascii()
        assert key in btn.toolTip() and f"`{key}`" in guide
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=2, seed=1))
    tiny(w, epochs=2)
    from qtpy.QtTest import QTest

    viewer.window._qt_window.activateWindow()
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()  # the key works while napari's canvas has the focus, not only inside the docks
    QTest.keyClick(canvas, Qt.Key_F5)
    qtbot.waitUntil(lambda: session.running or len(session.results.history) > 0, timeout=10_000)
    qtbot.waitUntil(lambda: not session.running, timeout=120_000)
    assert t.start_btn.isEnabled() and len(session.results.history) == 2
