"""MtM in the GUI: the masked-neurons view draws a held-out neuron's predicted rate against its spikes,
a PCC run shows a note there instead, the scores reach the Training dock and the report, and the
multi-area sample opens with its brain_area labels as neuron groups. Run under Xvfb
(see tests/test_gui_app.py)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pyqtgraph")
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    pytest.skip("GUI tests need a display (run under xvfb-run)", allow_module_level=True)

from scipy.ndimage import gaussian_filter1d  # noqa: E402
from test_gui_app import open_recording  # noqa: E402 - shared helpers (the app fixture is in conftest.py)

from sparks_gui.data.synthetic_multiarea import make_multiarea  # noqa: E402
from sparks_gui.engine.config import SparksConfig  # noqa: E402

pytestmark = pytest.mark.gui


def _recording():
    return make_multiarea(n_areas=3, neurons_per_area=8, n_trials=16, trial_length=30, dt=0.02)


def _config(objective: str) -> SparksConfig:
    return SparksConfig(
        objective=objective,
        epochs=2,
        batch_size=8,
        latent_dim=4,
        embed_dim=8,
        tau_p=2,
        device="cpu",
        test_fraction=0.25,
    )


def _train(qtbot, session, cfg):
    session.start_training(cfg)
    qtbot.waitUntil(lambda: not session.running, timeout=120_000)
    assert session.results.history, "the run produced no epoch"


def test_masked_view_draws_heldout_neuron_prediction(app, qtbot, tmp_path):
    viewer, session, w = app
    rec = _recording()
    open_recording(viewer, session, qtbot, rec)
    view = w["masked"]
    assert view.empty and "after the first epoch" in view.message  # before any run: a note, no axes
    _train(qtbot, session, _config("mtm"))
    view._redraw.flush()

    p = session.results.predictions
    masked = np.asarray(p.masked_neurons)
    assert p.predicted.shape == p.true.shape == (4, 30, rec.n_neurons) and 1 <= masked.size < rec.n_neurons
    # choices: the held-out neurons with their area; default: the one with most spikes
    assert [view.neuron.itemData(i) for i in range(view.neuron.count())] == masked.tolist()
    labels = rec.neuron_meta["brain_area"]
    assert view.neuron.itemText(0) == f"neuron {masked[0]} ({labels[masked[0]]})"
    j = int(masked[np.argmax(p.true[..., masked].sum(axis=(0, 1)))])
    assert view.selected_neuron() == j and not view.empty

    def check(neuron: int) -> None:
        dt = p.dt
        t = int(p.starts[0]) * rec.dt + np.arange(30) * dt
        x, y = view.pred_curve.getData()
        np.testing.assert_allclose(x, t, atol=1e-9)
        np.testing.assert_allclose(y, p.predicted[0, :, neuron] / dt, rtol=1e-6)  # Hz
        assert np.all(y > 0)
        x, y = view.true_curve.getData()
        np.testing.assert_allclose(
            y, gaussian_filter1d(p.true[0, :, neuron].astype(float), 2.0, mode="nearest") / dt, rtol=1e-6
        )
        spots = view.ticks.getData()[0]
        assert len(spots) == int(p.true[0, :, neuron].sum())  # one tick per spike
        assert np.all(np.isin(np.round(spots, 9), np.round(t, 9)))

    check(j)
    # the title holds the run's latest co-smoothing score; the Training dock and loss view say the scores
    bps = session.results.history[-1]["cosmooth_bps"]
    assert np.isfinite(bps)
    title = view.plot.titleLabel.text
    assert title == f"co-smoothing {bps:+.3f} bits/spike"
    assert view.neuron.currentText().startswith(f"neuron {j}")  # the neuron is named in its box
    status = w["training"].status.text()
    assert f"co-smoothing {bps:+.3f}" in status and "inter-region" in status and "forward prediction" in status
    # another held-out neuron
    other = view.neuron.findData(int(masked[0] if masked[0] != j else masked[1]))
    view.neuron.setCurrentIndex(other)
    view._redraw.flush()
    check(view.selected_neuron())
    # picking a held-out neuron elsewhere (raster) selects it here
    session.select_neuron(j)
    assert view.selected_neuron() == j

    # the report: metrics.json has the MtM scores, and the view is exported
    from sparks_gui.gui import exports

    folder = exports.write_report(session, tmp_path / "report")
    m = json.loads((folder / "metrics.json").read_text())
    final = session.results.metrics
    assert m["objective"] == "mtm"
    for key in ("cosmooth_bps", "forward_bps", "inter_region_bps"):
        assert m["scores"][key] == pytest.approx(final[key])
    assert set(m["scores"]["region_bps"]) == {"area0", "area1", "area2"}
    assert f"co-smoothing {final['cosmooth_bps']:+.3f}" in m["scores_text"]
    assert (folder / "views" / "masked_neurons.png").is_file()


def test_masked_view_explains_pcc(app, qtbot, tmp_path):
    viewer, session, w = app
    open_recording(viewer, session, qtbot, _recording())
    _train(qtbot, session, _config("pcc").replace(target="unsupervised"))
    view = w["masked"]
    view._redraw.flush()
    assert session.results.predictions is not None and session.results.predictions.masked_neurons is None
    assert view.empty and "needs objective 'mtm'" in view.message
    assert view._placeholder is not None and "needs objective 'mtm'" in view._placeholder.toPlainText()
    assert view.plot.listDataItems() == []  # no empty axes: only the note
    assert not view.plot.getAxis("left").isVisible() and not view.plot.getAxis("bottom").isVisible()
    assert not view.neuron.isEnabled()
    from sparks_gui.gui import exports

    folder = exports.write_report(session, tmp_path / "report")
    assert not (folder / "views" / "masked_neurons.png").exists()  # the note is not exported as a view
    assert (folder / "views" / "decoding.png").is_file()
    m = json.loads((folder / "metrics.json").read_text())
    assert m["objective"] == "pcc" and "cosmooth_bps" not in m["scores"]


def test_multiarea_sample_has_area_groups(app, qtbot):
    """The multi-area sample (napari sample 'multiarea', also in the Data dock's sample menu) opens with
    its brain_area labels offered as neuron groups; choosing one selects that area's neurons."""
    from npe2 import PluginManifest

    import sparks_gui

    manifest = PluginManifest.from_file(os.path.join(os.path.dirname(sparks_gui.__file__), "napari.yaml"))
    names = {s.key: s.display_name for s in manifest.contributions.sample_data}
    assert names["multiarea"] == "multi-area (3 areas, brain_area labels)"
    viewer, session, w = app
    actions = {a.text(): a for a in w["data"].sample_btn.menu().actions()}
    label = next(t for t in actions if t.startswith("Multi-area"))
    assert "brain_area" in label
    actions[label].trigger()  # the Data dock's "Sample data" menu -> napari's sample "multiarea"
    qtbot.waitUntil(lambda: session.recording is not None, timeout=20_000)
    rec = session.recording
    areas = np.asarray(rec.neuron_meta["brain_area"])
    assert rec.n_neurons == 120 and sorted(set(areas)) == ["area0", "area1", "area2"]
    box = w["data"].group_box
    items = [box.itemText(i) for i in range(box.count())]
    assert {"brain_area = area0", "brain_area = area1", "brain_area = area2"} <= set(items)
    box.setCurrentIndex(items.index("brain_area = area1"))
    qtbot.waitUntil(lambda: session.neuron_idx is not None, timeout=5000)
    np.testing.assert_array_equal(session.neuron_idx, np.flatnonzero(areas == "area1"))
    assert session.training_recording().n_neurons == 40
    # objective 'mtm' in the Training form with the sample's behaviour target in the Data dock: the run
    # reconstructs the activity ('unsupervised') and says so, instead of failing on the target
    from sparks_gui.gui.training_widget import objective_note

    assert w["data"].target.currentText() == "readout" and session.config.target == "readout"
    t = w["training"]
    t.form.editors["objective"].setCurrentText("mtm")
    cfg = t.current_config()
    assert cfg.objective == "mtm" and cfg.target == "unsupervised"
    assert "target 'readout' is not used" in objective_note(session.config.target, cfg)
    t.device.setCurrentIndex(1)  # CPU
    assert t.start() is not None
    assert session.results.config.target == "unsupervised" and session.results.config.objective == "mtm"
    assert session.config.target == "readout"  # the session keeps what the Data dock shows
    session.stop(wait=60)
    qtbot.waitUntil(lambda: not session.running, timeout=60_000)
    t.form.editors["objective"].setCurrentText("pcc")
    assert t.current_config().target == "readout" and objective_note("readout", t.current_config()) == ""
