"""Layout at the default window size (1472x920) and on a 1280x800 laptop (issue 12): combos show their
text, views have room, legends sit outside the traces, empty views say why, a new window shows the Data tab.

Run under Xvfb: ``xvfb-run -a -s "-screen 0 1600x1000x24" python -m pytest tests/test_gui_layout.py``.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("napari")
pytest.importorskip("pyqtgraph")
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    pytest.skip("GUI tests need a display (run under xvfb-run)", allow_module_level=True)

from qtpy.QtWidgets import QApplication, QComboBox, QStyle, QStyleOptionComboBox  # noqa: E402

from sparks_gui.data.synthetic import make_reach  # noqa: E402
from sparks_gui.gui._session import session_for  # noqa: E402
from sparks_gui.gui.app import add_sparks_docks, arrange_docks, docks_for  # noqa: E402
from sparks_gui.gui.data_widget import add_recording_layers  # noqa: E402
from sparks_gui.napari.layers import LayerRole, role_of  # noqa: E402

pytestmark = pytest.mark.gui
VIEWS = ("raster", "latents", "decoding", "attention", "masked")
SIZES = ((1472, 920), (1280, 800))


def settle(ms: int = 300) -> None:
    import time

    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        QApplication.instance().processEvents()


def window(make_napari_viewer, size):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(*size)
    widgets = add_sparks_docks(viewer)
    settle()
    arrange_docks(viewer)
    settle()
    return viewer, session_for(viewer), widgets


def text_area(box: QComboBox) -> int:
    """Width of the combo's text field as its style (napari's style sheet) draws it."""
    opt = QStyleOptionComboBox()
    box.initStyleOption(opt)
    return box.style().subControlRect(QStyle.CC_ComboBox, opt, QStyle.SC_ComboBoxEditField, box).width()


def cut_combos(widgets) -> list[str]:
    """The toolbar combos (shown ones) whose longest item does not fit their text field."""
    bad = []
    for name in VIEWS:
        for box in widgets[name].findChildren(QComboBox):
            if not box.isVisibleTo(widgets[name]) or box.count() == 0:
                continue
            longest = max((box.itemText(i) for i in range(box.count())), key=box.fontMetrics().horizontalAdvance)
            need = box.fontMetrics().horizontalAdvance(longest)
            capped = box.maximumWidth() < box.sizeHint().width() + 1 and box.maximumWidth() < 16777215
            # the latents' colour combo is capped at the dock's width (long condition names are cut there and
            # shown whole in its list); everything else must fit
            if text_area(box) < need and not (capped and box.width() >= box.maximumWidth() - 1):
                bad.append(f"{name}: '{longest}' needs {need} px, text field {text_area(box)} px")
    return bad


def test_new_window_opens_on_the_data_tab(make_napari_viewer):
    viewer, session, w = window(make_napari_viewer, SIZES[0])
    docks = docks_for(session.viewer).docks
    assert not docks["data"].visibleRegion().isEmpty()
    assert docks["export"].visibleRegion().isEmpty() and docks["training"].visibleRegion().isEmpty()


def test_raster_says_open_a_recording_before_loading(make_napari_viewer):
    viewer, session, w = window(make_napari_viewer, SIZES[0])
    raster = w["raster"]
    assert raster.placeholder_visible
    assert not raster.plot.getAxis("left").isVisible() and not raster.plot.getAxis("bottom").isVisible()
    assert not raster.colourbar.isVisible() and not raster.behaviour_plot.isVisible()
    assert not w["decoding"].plots[0].getAxis("left").isVisible()  # a note, not bare axes, before training
    add_recording_layers(viewer, make_reach(n_trials_per_direction=2))
    settle(500)
    assert not raster.placeholder_visible
    assert raster.plot.getAxis("left").isVisible() and raster.colourbar.isVisible()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_toolbar_combos_show_their_text(make_napari_viewer, size):
    viewer, session, w = window(make_napari_viewer, size)
    add_recording_layers(viewer, make_reach(n_trials_per_direction=2))
    settle(500)
    for name in VIEWS:  # every tab, as the user sees it when it is raised
        docks_for(session.viewer).docks[name].raise_()
        settle(100)
        assert cut_combos(w) == [], (name, cut_combos(w))
    assert cut_combos(w) == []


def test_views_have_room_at_1280x800_after_training(make_napari_viewer, qtbot):
    viewer, session, w = window(make_napari_viewer, SIZES[1])
    add_recording_layers(viewer, make_reach(n_trials_per_direction=3))
    qtbot.waitUntil(lambda: session.recording is not None, timeout=5000)
    form = w["training"].form
    form.editors["epochs"].setValue(2)
    form.editors["batch_size"].setValue(8)
    form.editors["snapshot_trials"].setValue(8)
    w["data"].bin_factor.setValue(10)
    w["training"].device.setCurrentIndex(1)
    w["training"].start()
    qtbot.waitUntil(lambda: not session.running, timeout=120_000)
    for name in ("latents", "decoding"):
        w[name]._redraw.flush()
    settle(500)
    raster, dec = w["raster"], w["decoding"]
    assert raster.plot.getViewBox().height() >= 90  # was 60-100 px at 1472x920 before (a 130 px raster dock)
    plot = dec.plots[0]
    assert plot.getViewBox().height() >= 60 and plot.getViewBox().width() >= 150
    assert len(dec.legend.items) >= 2
    # the legend sits above the traces, not on them
    assert dec.legend.sceneBoundingRect().bottom() <= plot.getViewBox().sceneBoundingRect().top() + 1
    # the latents' combos now list every latent axis and the trial conditions: all shown whole
    assert w["latents"].x_axis.count() >= 2
    assert cut_combos(w) == []
    session.stop(wait=10)


def test_movie_time_slider_is_labelled_with_the_frame_period(make_napari_viewer, qtbot):
    """The movie's time axis was labelled '-3' (napari's default) while counting frames: it now says what a
    step is in seconds, the layer's time scale is the frame period, and the cursor sync still works."""
    viewer, session, w = window(make_napari_viewer, SIZES[0])
    viewer.open_sample("sparks-gui", "calcium_movie")
    qtbot.waitUntil(lambda: session.recording is not None, timeout=10_000)
    rec = session.recording
    movie = next(ly for ly in viewer.layers if role_of(ly) is LayerRole.MOVIE)
    mdt = float(rec.movie_dt or rec.dt)
    axis = viewer.dims.ndim - movie.ndim
    assert movie.scale[0] == pytest.approx(mdt)
    assert viewer.dims.axis_labels[axis] == f"time (frame = {mdt:g} s)"
    session.set_time(40 * mdt)
    settle(100)
    assert viewer.dims.current_step[axis] == 40
    viewer.dims.set_current_step(axis, 12)
    settle(100)
    assert session.time_s == pytest.approx(12 * mdt)


@pytest.mark.parametrize("width", [200, 500])
def test_attention_neuron_labels_never_run_together(app, qtbot, width):
    """A 64-neuron matrix in a 200 px dock labelled its axis '20' and '40' 17 px apart: drawn as '2040'."""
    import numpy as np

    from sparks_gui.engine import events as E

    viewer, session, w = app
    rec = make_reach(n_trials_per_direction=2)
    add_recording_layers(viewer, rec)
    qtbot.waitUntil(lambda: session.recording is rec, timeout=5000)
    v = w["attention"]
    docks_for(viewer).docks["attention"].raise_()
    qtbot.waitUntil(v.isVisible, timeout=5000)
    N = rec.n_neurons
    A = np.random.default_rng(0).random((1, N, N)).astype(np.float32)
    session._on_event(E.AttentionSnapshot(epoch=1, mean=A, last=A, example=0))
    v._redraw.flush()
    v.widget.setFixedSize(width, 450)
    settle()
    vb, axis = v.plot.getViewBox(), v.plot.getAxis("bottom")
    (x0, x1), _ = vb.viewRange()
    levels = axis.tickValues(x0, x1, vb.width())
    labelled = [t for t in levels[0][1] if x0 <= t <= x1]
    px_between = levels[0][0] * vb.width() / (x1 - x0)
    assert px_between >= 34, (levels[0][0], vb.width())
    assert len(labelled) >= 2 and not any(ticks for _, ticks in levels[1:])  # labelled, one level only
