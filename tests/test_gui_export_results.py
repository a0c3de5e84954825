"""Export dock: "NWB with results…" (a copy of the recording with latents, orderings, predictions and the
config; napari's Save with the SPARKS writer writes the same module) and figures at a chosen size / DPI.
Run under Xvfb (see tests/test_gui_app.py)."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pynwb")
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    pytest.skip("GUI tests need a display (run under xvfb-run)", allow_module_level=True)

from test_gui_app import open_recording, tiny, train  # shared helpers (the app fixture is in conftest.py)

from sparks_gui.data.synthetic import make_reach, make_sequence

pytestmark = pytest.mark.gui


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_nwb_with_results_and_napari_writer(app, qtbot, tmp_path):
    from pynwb import NWBHDF5IO

    from sparks_gui.data.export import read_sparks_config
    from sparks_gui.data.io import load_recording
    from sparks_gui.data.nwb import write_nwb
    from sparks_gui.gui.exports import whole_recording_results
    from sparks_gui.napari.layers import recording_of
    from sparks_gui.napari.writer import write_nwb_layers

    viewer, session, w = app
    src = write_nwb(make_sequence(n_neurons=24, duration=60.0, seed=4), tmp_path / "input.nwb")
    before = _digest(src)
    rec = load_recording(src)
    open_recording(viewer, session, qtbot, rec)
    ex = w["export"]
    assert ex.buttons["nwb"].text() == "NWB with results…"
    assert ex.export_nwb(tmp_path / "early.nwb") is None  # nothing trained: an error, no file
    assert "no results" in ex.last.text() and not (tmp_path / "early.nwb").exists()
    tiny(w, epochs=2, batch=8)
    train(qtbot, session, w)
    session.set_ordering("SPARKS latent phase", block=True)
    out = ex.export_nwb(tmp_path / "with_results.nwb")
    assert out == tmp_path / "with_results.nwb" and "with_results.nwb" in ex.last.text()
    assert _digest(src) == before  # the input file is untouched
    whole = whole_recording_results(session)
    snap, pred, cfg = session.results.latents, session.results.predictions, session.trainer.config
    with NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        mod = nwb.processing["sparks"]
        lat = mod["latents"]
        assert lat.data.shape == whole["latents"].shape == (whole["latents"].shape[0], cfg.latent_dim)
        np.testing.assert_allclose(lat.data[:], whole["latents"], rtol=1e-6)
        assert lat.rate == pytest.approx(1.0 / whole["dt"]) and lat.starting_time == pytest.approx(rec.start_time)
        np.testing.assert_allclose(mod["example_latents"].data[:], snap.latents.transpose(1, 0, 2), rtol=1e-6)
        np.testing.assert_array_equal(mod["examples"]["example_index"].data[:], snap.example_idx)
        preds = [k for k in mod.data_interfaces if k.startswith("prediction_")]
        assert preds == [f"prediction_{pred.target}"]
        np.testing.assert_allclose(mod[preds[0]].data[:], whole["predictions"], rtol=1e-6)
        np.testing.assert_array_equal(mod["neurons"]["order"].data[:], session.order)
        assert sorted(mod["neurons"]["order"].data[:]) == list(range(24))
    assert read_sparks_config(out)["epochs"] == 2 and read_sparks_config(out)["latent_dim"] == cfg.latent_dim
    np.testing.assert_array_equal(load_recording(out).activity, rec.activity)

    # napari's File > Save with the SPARKS NWB writer: the same results, not an empty module
    layer = next(ly for ly in viewer.layers if recording_of(ly) is rec)
    saved = write_nwb_layers(str(tmp_path / "napari.nwb"), [layer.as_layer_data_tuple()])
    with NWBHDF5IO(saved[0], "r") as io:
        mod = io.read().processing["sparks"]
        assert {"latents", "example_latents", "neurons", "config"} <= set(mod.data_interfaces)
        np.testing.assert_allclose(mod["latents"].data[:], whole["latents"], rtol=1e-6)
    assert _digest(src) == before


def test_nwb_with_results_of_a_trial_recording_without_source(app, qtbot, tmp_path):
    """A recording with trials and no NWB source: a new NWB file with the held-out trials' latents and
    predictions (the whole-recording latents exist only for continuous recordings)."""
    from sparks_gui.data.export import read_sparks_module

    viewer, session, w = app
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=2, seed=8))
    tiny(w, epochs=1, batch=8)
    train(qtbot, session, w)
    out = w["export"].export_nwb(tmp_path / "reach.nwb")
    got = read_sparks_module(out)
    snap, pred = session.results.latents, session.results.predictions
    np.testing.assert_allclose(got["example_latents"], snap.latents.transpose(1, 0, 2), rtol=1e-6)
    np.testing.assert_allclose(got["example_predictions"], pred.predicted.transpose(1, 0, 2), rtol=1e-6)
    np.testing.assert_allclose(got["example_true"], pred.true.transpose(1, 0, 2), rtol=1e-6)
    assert "latents" not in got and got["neurons.order"].shape == (65,)


def test_views_and_figures_export_at_the_chosen_size_and_dpi(app, qtbot, tmp_path):
    """Views (PNG) and figures (PNG/PDF) come out at the size and DPI of the Export dock's fields, not at
    the on-screen size (decoding.png was 464x89); the views on screen keep their layout."""
    import re

    from PIL import Image

    from sparks_gui.gui import exports

    viewer, session, w = app
    open_recording(viewer, session, qtbot, make_reach(n_trials_per_direction=2, seed=9))
    tiny(w, epochs=1, batch=8)
    train(qtbot, session, w)
    ex = w["export"]
    ex.folder.setText(str(tmp_path))
    ex.set_image_size(4.0, 2.5, "in", 150)
    on_screen = {
        name: (v.graphics().size(), v.graphics().centralWidget.geometry())
        for name, v in session.views.items()
        if hasattr(v.graphics(), "centralWidget")
    }
    ex.buttons["views"].click()
    ex.buttons["figures"].click()
    views = sorted((tmp_path / "views").glob("*.png"))
    assert {p.stem for p in views} >= {"decoding", "raster", "latents", "attention", "loss"}, views
    for p in views:
        im = Image.open(p)
        assert im.size == (600, 375), (p.name, im.size)
        assert round(im.info["dpi"][0]) == 150
        assert np.asarray(im.convert("L")).std() > 5  # drawn, not a blank canvas
    svg = (tmp_path / "views" / "decoding.svg").read_text()
    vb = [float(v) for v in re.search(r'viewBox ?="([^"]+)"', svg).group(1).split()]
    assert vb[2] / vb[3] == pytest.approx(600 / 375, rel=0.02)
    for name, (size, geom) in on_screen.items():  # laid out back as on screen
        g = session.views[name].graphics()
        assert g.size() == size and g.centralWidget.geometry() == geom, name
    figs = sorted((tmp_path / "figures").glob("*.png"))
    assert {p.stem for p in figs} == {"fig_loss", "fig_latents", "fig_decoding"}
    for p in figs:
        assert Image.open(p).size == (600, 375), p.name
    assert {p.stem for p in (tmp_path / "figures").glob("*.pdf")} == {"fig_loss", "fig_latents", "fig_decoding"}

    # pixels, height auto: the width is exact and the height follows the view's on-screen aspect
    ex.set_image_size(1000, 0, "px", 300)
    out = ex.run_export(lambda s, f: exports.export_views(s, f / "px", ("png",), size=ex.image_size()), "views")
    dec = session.views["Decoding"].graphics()
    im = Image.open(next(p for p in out if p.stem == "decoding"))
    assert im.size == (1000, round(1000 * dec.height() / dec.width()))
    # switching units keeps the size: 1000 px at 300 dpi = 3.33 in
    ex.img_unit.setCurrentText("in")
    assert ex.img_width.value() == pytest.approx(3.33, abs=0.01) and ex.image_size().pixels(0.5) == (999, 500)
    # a bad size is a clear error, not a file
    ex.set_image_size(100.0, 100.0, "in", 2400)
    assert (
        ex.run_export(lambda s, f: exports.export_views(s, f / "big", ("png",), size=ex.image_size()), "views") is None
    )
    assert "too large" in ex.last.text() and not (tmp_path / "big").exists()
