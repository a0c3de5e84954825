"""GUI tests (pytest-qt + napari's make_napari_viewer). Run under Xvfb:

xvfb-run -a -s "-screen 0 1600x1000x24" python -m pytest tests/test_gui*.py -x -q
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pyqtgraph")
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    pytest.skip("GUI tests need a display (run under xvfb-run)", allow_module_level=True)


from sparks_gui.data.synthetic import make_reach, make_sequence  # noqa: E402
from sparks_gui.gui._session import session_for  # noqa: E402
from sparks_gui.gui.app import add_sparks_docks  # noqa: E402
from sparks_gui.gui.data_widget import add_recording_layers  # noqa: E402
from sparks_gui.napari.layers import LayerRole, role_of  # noqa: E402

pytestmark = pytest.mark.gui
ARTEFACTS = Path(os.environ.get("SPARKS_TEST_ARTEFACTS", Path(__file__).resolve().parent / "artefacts"))


def tiny(widgets, epochs=3, batch=8, bin_factor=10):
    form = widgets["training"].form
    form.editors["epochs"].setValue(epochs)
    form.editors["batch_size"].setValue(batch)
    form.editors["snapshot_trials"].setValue(8)
    widgets["data"].bin_factor.setValue(bin_factor)
    widgets["training"].device.setCurrentIndex(1)  # CPU


def open_recording(viewer, session, qtbot, rec):
    add_recording_layers(viewer, rec)
    qtbot.waitUntil(lambda: session.recording is rec, timeout=5000)


def train(qtbot, session, widgets, timeout=120_000):
    run = widgets["training"].start()
    assert run is not None
    qtbot.waitUntil(lambda: not session.running, timeout=timeout)
    flush_views(widgets)
    return run


def flush_views(widgets):
    """Run the views' pending (throttled, timer-deferred) redraws now."""
    for name in ("raster", "latents", "attention", "decoding"):
        w = widgets[name]
        for t in (getattr(w, "_redraw", None), getattr(w, "_update", None)):
            if t is not None:
                t.flush()
    widgets["training"].loss_view._redraw.flush()


def click_raster_row(qtbot, raster, row: int) -> None:
    """A real left click in the middle of raster row ``row``."""
    from qtpy.QtCore import QPointF, Qt

    (x0, x1), _ = raster.plot.viewRange()
    scene = raster.plot.getViewBox().mapViewToScene(QPointF((x0 + x1) / 2, row + 0.5))
    pos = raster.widget.mapFromScene(scene)
    qtbot.mouseClick(raster.widget.viewport(), Qt.LeftButton, pos=pos)


def test_sample_train_views_receive_data(app, qtbot):
    viewer, session, w = app
    viewer.open_sample("sparks-gui", "reach")
    qtbot.waitUntil(lambda: session.recording is not None, timeout=10_000)
    # trim to a tiny problem: 24 trials via the time range
    rec = session.recording
    w["data"].t_stop.setValue(rec.trials[23][1] * rec.dt)
    qtbot.waitUntil(lambda: session.training_recording().n_trials == 24, timeout=5000)
    tiny(w, epochs=3)
    assert "hand_pos" in w["data"].summary.text() or "hand_pos" in w["data"].target.currentText()
    train(qtbot, session, w)

    r = session.results
    assert len(r.history) == 3 and all(np.isfinite(h["train_loss"]) for h in r.history)
    lat = w["latents"]
    n, T, d = r.latents.latents.shape
    assert lat.n_points == n * T and lat.n_trajectories == n > 0
    lat.average.setChecked(True)
    lat._redraw.flush()
    n_cond = len(np.unique(r.latents.conditions["direction"]))
    assert lat.n_trajectories == n_cond and lat.n_points == n_cond * T
    # decoding view: one true and one decoded curve per variable
    dec = w["decoding"]
    assert len(dec.plots[0].listDataItems()) == 2 * r.predictions.true.shape[-1]
    # attention has N x N in the chosen order
    att = w["attention"]
    assert att.matrix.shape == (65, 65)
    # loss view saw every batch
    assert len(r.step_losses) == r.started.total_steps
    assert w["training"].progress.value() == r.started.total_steps


def test_raster_ordering_menu_is_the_analysis_registry(app):
    """The raster's menu lists exactly the analysis registry's orderings (rastermap only when installed),
    its tooltip names every one, and an ordering missing its inputs keeps the file's order."""
    import importlib.util

    from sparks_gui.analysis import ordering as reg

    _, session, w = app
    box = w["raster"].ordering
    items = [box.itemText(i) for i in range(box.count())]
    assert items == [reg.ordering_label(m) for m in reg.available_orderings()]
    expected = {reg.ORIGINAL, reg.LATENT_PHASE, reg.CORRELATION, reg.PCA_ANGLE, reg.ATTENTION_CLUSTERING}
    if importlib.util.find_spec("rastermap") is not None:
        expected.add(reg.RASTERMAP)
    assert {reg.ordering_method(t) for t in items} == expected
    assert all(t in box.toolTip() for t in items)
    assert box.currentText() == session.ordering_name == reg.ordering_label(reg.ORIGINAL)
    from sparks_gui.gui._ordering import compute_order

    x = np.random.default_rng(0).random((6, 50))
    for method in (reg.LATENT_PHASE, reg.ATTENTION_CLUSTERING):  # no run yet: rows stay in place
        np.testing.assert_array_equal(compute_order(reg.ordering_label(method), x), np.arange(6))
    att = np.random.default_rng(1).random((2, 6, 6))
    np.testing.assert_array_equal(
        compute_order(reg.ordering_label(reg.ATTENTION_CLUSTERING), x, attention=att),
        reg.order_by_attention_clustering(att).order,
    )


def test_raster_rows_follow_ordering(app, qtbot):
    viewer, session, w = app
    rec = make_sequence(duration=30, n_neurons=40, seed=1)
    open_recording(viewer, session, qtbot, rec)
    raster = w["raster"]
    assert raster.displayed_shape[0] == 40
    base = raster.image.image.copy()
    w["raster"].ordering.setCurrentText("PCA angle")
    qtbot.waitUntil(
        lambda: session.ordering_name == "PCA angle" and not np.array_equal(raster.order, np.arange(40)), timeout=5000
    )
    order = raster.order
    assert sorted(order.tolist()) == list(range(40))
    np.testing.assert_allclose(raster.image.image, base[order])  # rows reordered, nothing else changed
    from sparks_gui.gui._ordering import compute_order

    np.testing.assert_array_equal(order, compute_order("PCA angle", rec.activity))
    # clicking a row selects that neuron in every view
    session.select_neuron(int(order[5]))
    assert raster.row_of_neuron(int(order[5])) == 5 and raster.row_marker.isVisible()


def test_stop_mid_epoch_leaves_no_thread(app, qtbot):
    viewer, session, w = app
    # an epoch of ~150 batches at 1 ms bins: the pause reaches the training process well inside the first epoch
    # even on a fast machine (its reported step losses lag the process by a few batches)
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=24))
    tiny(w, epochs=50, batch=1, bin_factor=1)
    run = w["training"].start()
    qtbot.waitUntil(lambda: len(session.results.step_losses) >= 2, timeout=60_000)
    w["training"].pause_btn.setChecked(True)
    qtbot.wait(200)
    n_paused = len(session.results.step_losses)
    qtbot.wait(300)
    assert len(session.results.step_losses) <= n_paused + 1  # paused between batches
    w["training"].stop()
    qtbot.waitUntil(lambda: not session.running, timeout=20_000)
    assert run.wait(5)
    assert run.cancelled and run.finished_event.epoch == 0
    assert len(session.results.history) == 0  # stopped inside the first epoch
    assert not any(
        t.name.startswith("Dummy") is False and t.is_alive() and "sparks" in t.name.lower()
        for t in threading.enumerate()
    )
    from qtpy.QtCore import QThreadPool

    qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0, timeout=5000)
    assert w["training"].start_btn.isEnabled() and not w["training"].stop_btn.isEnabled()
    # a second run starts cleanly after a stop
    tiny(w, epochs=1, batch=8)
    train(qtbot, session, w)
    assert len(session.results.history) == 1


def test_bad_file_notifies_and_app_stays_usable(app, qtbot, tmp_path):
    from napari.utils.notifications import notification_manager

    viewer, session, w = app
    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(str(n.message)))
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"this is not a zip file")
    worker = w["data"].open_file(bad)
    qtbot.waitUntil(lambda: any("broken.npz" in m for m in seen), timeout=10_000)
    qtbot.waitUntil(lambda: w["data"].open_btn.isEnabled(), timeout=5000)
    assert session.recording is None
    # starting without data is a notification too, not a crash
    assert w["training"].start() is None
    assert any("No recording" in m for m in seen)
    # a good file still opens afterwards
    good = tmp_path / "good.npz"
    rng = np.random.default_rng(0)
    np.savez(good, activity=rng.poisson(0.3, (12, 400)).astype(np.int32), dt=np.array(0.01))
    w["data"].open_file(good)
    qtbot.waitUntil(lambda: session.recording is not None, timeout=10_000)
    assert session.recording.n_neurons == 12
    assert worker is not None


def test_exports_exist_and_reload_equal(app, qtbot, tmp_path):
    from sparks_gui.engine.config import SparksConfig
    from sparks_gui.gui import exports
    from sparks_gui.gui.training_widget import load_run

    viewer, session, w = app
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=3))
    tiny(w, epochs=2)
    train(qtbot, session, w)
    w["raster"].ordering.setCurrentText("SPARKS latent phase")
    qtbot.waitUntil(lambda: session.ordering_name == "SPARKS latent phase", timeout=5000)
    folder = tmp_path / "report"
    w["export"].folder.setText(str(folder))
    assert w["export"].run_export(exports.write_report, "Report") is not None
    for name in (
        "ordering.csv",
        "ordering.npy",
        "latents.npz",
        "predictions.npz",
        "attention.npz",
        "metrics.json",
        "run/config.json",
        "run/model.pt",
        "views/raster.png",
        "views/latents.svg",
        "views/attention.png",
        "views/decoding.png",
        "views/loss.png",
        "figures/fig_loss.pdf",
        "figures/fig_latents.pdf",
    ):
        assert (folder / name).exists() and (folder / name).stat().st_size > 0, name
    np.testing.assert_array_equal(np.load(folder / "ordering.npy"), session.order)
    csv = np.loadtxt(folder / "ordering.csv", delimiter=",", skiprows=1, dtype=np.int64)  # one header line
    np.testing.assert_array_equal(csv[:, 1], session.order)
    assert json.loads((folder / "ordering.json").read_text())["ordering"] == "SPARKS latent phase"
    with np.load(folder / "latents.npz") as z:
        np.testing.assert_array_equal(z["latents"], session.results.latents.latents)
    with np.load(folder / "predictions.npz") as z:
        np.testing.assert_array_equal(z["predicted"], session.results.predictions.predicted)
    with np.load(folder / "attention.npz") as z:
        np.testing.assert_array_equal(z["mean"], session.results.attention.mean)
    assert SparksConfig.load(folder / "run" / "config.json") == session.trainer.config
    # the saved run reloads and reproduces the held-out latents
    before = session.results.latents.latents.copy()
    load_run(session, folder / "run")
    np.testing.assert_allclose(session.results.latents.latents, before, atol=1e-5)


def test_screenshot_artefact(app, qtbot):
    viewer, session, w = app
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=3))
    tiny(w, epochs=2)
    train(qtbot, session, w)
    qtbot.wait(200)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / "sparks_window.png"
    viewer.window._qt_window.grab().save(str(path))
    assert path.stat().st_size > 10_000


# ----------------------------------------------------------- imaging movie, ROIs
def test_calcium_movie_layers_and_roi_highlight(app, qtbot):
    from sparks_gui.data.synthetic import make_sample

    viewer, session, w = app
    viewer.open_sample("sparks-gui", "calcium_movie")
    qtbot.waitUntil(lambda: session.recording is not None, timeout=10_000)
    rec = session.recording
    ref = make_sample("calcium_movie")
    movie = [ly for ly in viewer.layers if role_of(ly) is LayerRole.MOVIE]
    rois = [ly for ly in viewer.layers if role_of(ly) is LayerRole.ROIS]
    assert len(movie) == 1 and movie[0].data.shape == (600, 64, 64)
    assert movie[0].scale[0] == pytest.approx(rec.movie_dt)
    assert len(rois) == 1 and rois[0].data.shape == (64, 64) and int(rois[0].data.max()) == rec.n_neurons == 20
    np.testing.assert_array_equal(rois[0].data, ref.rois.labels())
    # only the activity layer is offered as a recording; adding the recording again adds nothing
    assert w["data"].recording_box.count() == 1
    n_layers = len(viewer.layers)
    add_recording_layers(viewer, rec)
    assert len(viewer.layers) == n_layers
    # clicking raster row 7 selects the neuron shown there and shows only its ROI
    raster = w["raster"]
    raster.ordering.setCurrentText("correlation")
    qtbot.waitUntil(lambda: session.ordering_name == "correlation", timeout=5000)
    click_raster_row(qtbot, raster, 7)
    neuron = int(raster.order[7])
    assert session.selected_neuron == neuron
    assert rois[0].selected_label == neuron + 1 and rois[0].show_selected_label
    cy, cx = np.round(ref.rois.centroids()[neuron]).astype(int)
    assert rois[0].data[cy, cx] == neuron + 1  # the highlighted label is that neuron's footprint
    click_raster_row(qtbot, raster, 12)
    assert rois[0].selected_label == int(raster.order[12]) + 1
    # napari's time slider and the raster cursor are one clock (seconds)
    viewer.dims.set_point(0, 150 * rec.movie_dt)
    assert session.time_s == pytest.approx(150 * rec.movie_dt, abs=1e-9)
    assert raster.cursor.value() == pytest.approx(150 * rec.movie_dt)
    session.set_time(300 * rec.dt)
    assert viewer.dims.current_step[0] == 300
    np.testing.assert_array_equal(movie[0]._data_view, np.asarray(ref.movie[300]))


# ------------------------------------------------------------------ decoded frames
def _stimulus_run(viewer, session, w, qtbot, target):
    viewer.open_sample("sparks-gui", "stimulus_movie")
    qtbot.waitUntil(lambda: session.recording is not None, timeout=10_000)
    w["data"].target.setCurrentText(target)
    tiny(w, epochs=1, batch=8, bin_factor=2)
    train(qtbot, session, w)
    qtbot.waitUntil(lambda: "decoded frames" in viewer.layers, timeout=5000)
    return session.recording, session.results.predictions, viewer.layers["decoded frames"]


def _bin_of(pred, i, t, f):
    return int(pred.starts[i]) + (t + pred.offset) * f


def test_decoded_frames_follow_time_slider(app, qtbot):
    from sparks_gui.engine.targets import frame_pixels

    viewer, session, w = app
    rec, pred, dec = _stimulus_run(viewer, session, w, qtbot, "frames")
    stim = next(ly for ly in viewer.layers if role_of(ly) is LayerRole.STIMULUS)
    frames = rec.stimulus["frames"]
    _, (h, wd) = frame_pixels(frames)
    n, T, k = pred.predicted.shape
    assert pred.target == "frames" and k == h * wd
    assert stim.data.shape == (rec.n_time, *frames.shape[1:]) and dec.data.shape == (rec.n_time, h, wd)
    # same physical size, side by side, same clock
    assert dec.scale[0] == stim.scale[0] == pytest.approx(rec.dt)
    assert dec.scale[1] * h == pytest.approx(frames.shape[1]) and dec.translate[2] >= frames.shape[2]
    f = int(round(pred.dt / rec.dt))
    for i, t in ((0, 5), (n - 1, T - pred.offset - 1)):
        b = _bin_of(pred, i, t, f)
        session.set_time(b * rec.dt)
        assert viewer.dims.current_step[0] == b
        np.testing.assert_allclose(dec._data_view, pred.predicted[i, t].reshape(h, wd), rtol=1e-6)
        fid = int(rec.stimulus["frame_ids"][b])
        if fid >= 0:
            np.testing.assert_allclose(stim._data_view, frames[fid])
    # decoding view: one correlation curve per bin of the example
    dec_view = w["decoding"]
    assert dec_view.variable.currentText() == "frame correlation"
    x, y = dec_view._curves[0][1].getData()
    assert len(y) == T - pred.offset and np.all(np.abs(y[np.isfinite(y)]) <= 1 + 1e-9)
    # the view draws the engine's numbers (Predictions.frame_correlation), it does not compute them
    np.testing.assert_allclose(y, pred.frame_correlation[dec_view.example.value()])
    assert pred.r2_per_variable is not None and pred.accuracy is None


def test_decoded_frame_id_vs_true(app, qtbot):
    viewer, session, w = app
    rec, pred, dec = _stimulus_run(viewer, session, w, qtbot, "frame_id")
    frames = rec.stimulus["frames"]
    ids = pred.predicted.reshape(pred.predicted.shape[:2])  # [n, T] class ids
    assert pred.target == "frame_id" and pred.true.shape[-1] == 1
    off = pred.offset
    want = np.mean(ids[:, : ids.shape[1] - off] == pred.true[:, off:, 0])
    assert pred.accuracy == pytest.approx(want) and w["decoding"]._score() == ([pytest.approx(want)], "accuracy")
    assert np.all(ids == np.round(ids)) and ids.min() >= 0 and ids.max() <= len(frames)  # class ids (+ blank)
    # decoded id vs true id curves (step plots) for the shown example
    dv = w["decoding"]
    dv.example.setValue(1)
    dv._redraw.flush()
    ((c_true, c_pred),) = dv._curves
    off = pred.offset
    T = ids.shape[1] - off
    np.testing.assert_array_equal(c_pred.getData()[1], ids[1, :T])
    np.testing.assert_array_equal(c_true.getData()[1], pred.true[1, off : off + T, 0])
    acc = float(np.mean(ids[:, :T] == pred.true[:, off : off + T, 0]))
    assert f"accuracy {acc:.2f}" in " ".join(lab.text for _, lab in dv.legend.items)
    # the decoded-frame layer shows the frame of the predicted class at the slider position
    f = int(round(pred.dt / rec.dt))
    b = _bin_of(pred, 1, 3, f)
    session.set_time(b * rec.dt)
    k = int(ids[1, 3])
    want = frames[k] if k < len(frames) else np.full(frames.shape[1:], dec.data.blank)
    np.testing.assert_allclose(dec._data_view, want)


# ------------------------------------------------------------------ config form
def test_config_form_offers_new_fields(qtbot):
    from sparks_gui.engine.config import ENCODER_CHOICES, GRAD_MODES, SparksConfig
    from sparks_gui.errors import SparksError
    from sparks_gui.gui._config_form import ConfigForm

    form = ConfigForm(SparksConfig(hebbian_partners=16, partner_selection="local", encoder="gru"))
    qtbot.addWidget(form)
    ed = form.editors
    assert [ed["encoder"].itemText(i) for i in range(ed["encoder"].count())] == list(ENCODER_CHOICES)
    assert "online_chunked" in [ed["grad_mode"].itemText(i) for i in range(ed["grad_mode"].count())]
    assert len(GRAD_MODES) == ed["grad_mode"].count()
    assert ed["encoder"].currentText() == "gru" and ed["hebbian_partners"].value() == 16
    assert ed["partner_selection"].currentText() == "local"
    ed["encoder"].setCurrentText("dot_attention")
    ed["grad_mode"].setCurrentText("online_chunked")
    ed["hebbian_partners"].setValue(8)
    ed["partner_selection"].setCurrentText("correlation")
    cfg = form.config(SparksConfig())
    assert (cfg.encoder, cfg.grad_mode, cfg.hebbian_partners, cfg.partner_selection) == (
        "dot_attention",
        "online_chunked",
        8,
        "correlation",
    )
    assert SparksConfig.from_dict(cfg.to_dict()) == cfg  # round-trips, i.e. valid
    ed["encoder"].setCurrentText("mlp")
    ed["n_conv_blocks"].setValue(1)  # mlp makes no neuron tokens: the config rejects it
    with pytest.raises(SparksError):
        form.config(SparksConfig())


# ------------------------------------------------------------ attention at cursor
def test_attention_at_cursor_time(app, qtbot, monkeypatch):
    from sparks_gui.gui import _worker

    computed = []
    real = _worker.attention_sequence
    monkeypatch.setattr(_worker, "attention_sequence", lambda tr, ex: computed.append(ex) or real(tr, ex))
    viewer, session, w = app
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=3))
    tiny(w, epochs=1)
    train(qtbot, session, w)
    att = w["attention"]
    snap = session.results.attention
    tr = session.trainer
    # during training the view uses the engine's per-time matrices; the GUI recomputes nothing
    assert computed == []
    N, T = tr.data.n_neurons, tr.data.x.shape[-1]
    assert snap.every == 1 and snap.sequence.shape == (T, snap.mean.shape[0], N, N)
    rec = session.training_recording()
    f = int(round(tr.data.dt / rec.dt))
    att.mode.setCurrentText("at cursor time")
    ex = int(snap.example)
    j = 7
    session.set_time((tr.data.starts[ex] + j * f + 0.5) * rec.dt)
    att._redraw.flush()
    assert att.sequence[0] == ex and att.cursor_step == j
    np.testing.assert_allclose(att.current_matrix(), snap.sequence[j].mean(0), rtol=1e-6)
    np.testing.assert_allclose(snap.sequence.mean(0), snap.mean, rtol=1e-4, atol=1e-7)  # same matrices as the engine's
    # moving the cursor into another trial computes that trial's matrices (off the GUI thread)
    other = next(i for i in range(len(tr.data.starts)) if i != ex)
    session.set_time((tr.data.starts[other] + 3 * f) * rec.dt)
    qtbot.waitUntil(lambda: att.sequence is not None and att.sequence[0] == other, timeout=20_000)
    assert computed == [other]  # after training, other examples are computed once, off the GUI thread
    att._redraw.flush()
    np.testing.assert_allclose(att.current_matrix(), tr.attention(other)[3].mean(0), rtol=1e-5, atol=1e-7)
    assert f"example #{other}, step 3" in att.info.text()


# ------------------------------------------------------------------- robustness
def test_close_viewer_mid_training(make_napari_viewer, qtbot):
    from qtpy.QtCore import QThreadPool

    viewer = make_napari_viewer(show=True)
    w = add_sparks_docks(viewer)
    session = session_for(viewer)
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=6))
    tiny(w, epochs=50, batch=2)
    errors = []
    import sys

    hook, sys.excepthook = sys.excepthook, lambda *a: errors.append(a)
    try:
        run = w["training"].start()
        qtbot.waitUntil(lambda: len(session.results.step_losses) >= 2, timeout=60_000)
        viewer.close()
        assert run.wait(10)  # the close stopped the worker thread
        qtbot.waitUntil(lambda: QThreadPool.globalInstance().activeThreadCount() == 0, timeout=10_000)
        qtbot.wait(200)  # let queued signals from the dead run arrive
    finally:
        sys.excepthook = hook
    assert run.trainer.cancelled and len(session.results.step_losses) < run.trainer.config.epochs * 3
    assert errors == []


def test_bad_file_while_training(app, qtbot, tmp_path):
    from napari.utils.notifications import notification_manager

    viewer, session, w = app
    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(str(n.message)))
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=3))
    tiny(w, epochs=4, batch=4)
    run = w["training"].start()
    qtbot.waitUntil(lambda: len(session.results.step_losses) >= 1, timeout=60_000)
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a zip")
    w["data"].open_file(bad)
    qtbot.waitUntil(lambda: any("broken.npz" in m for m in seen), timeout=10_000)
    assert session.running or run.finished_event is not None
    qtbot.waitUntil(lambda: not session.running, timeout=120_000)
    assert run.finished_event is not None and not run.finished_event.cancelled
    assert len(session.results.history) == 4 and session.recording.name.startswith("synthetic")
