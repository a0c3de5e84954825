"""Coalesced repaints (issue 12, event loop): training events store the latest data, the session's clock
repaints at most one visible view per tick, superseded frames are dropped and counted, hidden views wait.

Counts only; the event-loop gaps these save are measured in benchmarks/bench_event_loop.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from sparks_gui.data.synthetic import make_reach
from sparks_gui.engine import events as E
from sparks_gui.gui.app import docks_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _open(viewer, session, qtbot):
    from sparks_gui.gui.data_widget import add_recording_layers

    rec = make_reach(n_trials_per_direction=2)
    add_recording_layers(viewer, rec)
    qtbot.waitUntil(lambda: session.recording is rec, timeout=5000)
    return rec


def _quiet_clock(session):
    """Stop the clock's timer so that only the test's explicit ``tick()`` calls run it."""
    session.clock._timer.stop()
    session.clock._timer.timeout.disconnect()
    session.clock._wake = lambda: None
    for r in session.clock.pending:  # whatever opening the recording asked for is drawn first
        r.flush()


def _progress(k: int, total: int = 1000) -> E.StepProgress:
    return E.StepProgress(
        epoch=0, step=k, total_steps=total, loss=1.0 / k, elapsed_s=0.01 * k, eta_s=1.0, trial_steps_per_s=1.0
    )


def _latents(k: int, n: int = 6, T: int = 20) -> E.LatentSnapshot:
    lat = np.full((n, T, 3), float(k), dtype=np.float32) + np.linspace(0, 1, T)[None, :, None]
    return E.LatentSnapshot(epoch=k, latents=lat, example_idx=np.arange(n), conditions={}, dt=0.01)


def _attention(k: int, N: int) -> E.AttentionSnapshot:
    A = np.full((1, N, N), float(k), dtype=np.float32)
    return E.AttentionSnapshot(epoch=k, mean=A, last=A, example=0)


def _predictions(k: int, n: int = 4, T: int = 20) -> E.Predictions:
    true = np.zeros((n, T, 2), dtype=np.float32)
    pred = true + float(k)
    return E.Predictions(epoch=k, predicted=pred, true=true, example_idx=np.arange(n), target="hand_pos", dt=0.01)


def test_100_progress_reports_between_ticks_deliver_one(app, qtbot):
    viewer, session, w = app
    _open(viewer, session, qtbot)
    docks_for(session.viewer).docks["training"].raise_()
    qtbot.waitUntil(lambda: w["training"].loss_view.isVisible(), timeout=5000)
    _quiet_clock(session)
    clock, loss = session.clock, w["training"].loss_view
    seen = []
    session.progress.connect(lambda ev, losses: seen.append((ev.step, len(losses))))
    w["training"]._on_started(E.Started(0, 1000, 100, 10, 2, "cpu", "hand_pos", "mse"))
    loss._steps_per_epoch = 100
    loss._redraw._last = -1e9
    calls0, dropped0 = loss._redraw.calls, clock.progress_dropped
    for k in range(1, 101):
        session._on_progress(_progress(k), [(k, 1.0 / k)])
    assert seen == []  # nothing reaches the docks between ticks
    assert len(session.results.step_losses) == 100  # but every loss is kept
    clock.tick()
    assert seen == [(100, 100)]  # one delivery: the latest report, with all 100 losses
    assert clock.progress_dropped - dropped0 == 99
    assert w["training"].progress.value() == 100
    assert "step 100/1000" in w["training"].progress.format()
    # the loss curve: one repaint for the one delivered report, in the same tick, and no more after it
    assert loss._redraw.calls - calls0 == 1 and not loss._redraw.pending
    clock.tick()
    assert loss._redraw.calls - calls0 == 1
    x, y = loss.step_curve.getData()
    assert len(x) == 100 and y[-1] == pytest.approx(0.01)


def test_a_burst_of_snapshots_repaints_each_visible_view_once_with_the_last_data(app, qtbot):
    viewer, session, w = app
    rec = _open(viewer, session, qtbot)
    docks_for(session.viewer).docks["latents"].raise_()
    docks_for(session.viewer).docks["decoding"].raise_()
    lat, dec, att = w["latents"]._redraw, w["decoding"]._redraw, w["attention"]._redraw
    qtbot.waitUntil(lambda: lat.visible() and dec.visible(), timeout=5000)
    _quiet_clock(session)
    clock = session.clock
    qtbot.waitUntil(lambda: not att.visible(), timeout=5000)  # behind the Latents tab
    before = {n: (r.calls, r.dropped) for n, r in (("lat", lat), ("dec", dec), ("att", att))}
    N = rec.n_neurons
    for k in range(100):
        session._on_event(_latents(k))
        session._on_event(_attention(k, N))
        session._on_event(_predictions(k))
    for name, r in (("lat", lat), ("dec", dec), ("att", att)):
        assert r.calls == before[name][0]  # nothing drawn inside the event handlers
        assert r.dropped - before[name][1] == 99  # 100 frames, 99 superseded
    # one view per tick, the longest-waiting first
    clock.tick()
    assert (lat.calls - before["lat"][0], dec.calls - before["dec"][0]) == (1, 0)
    clock.tick()
    assert (lat.calls - before["lat"][0], dec.calls - before["dec"][0]) == (1, 1)
    for _ in range(10):
        clock.tick()
    assert lat.calls - before["lat"][0] == 1 and dec.calls - before["dec"][0] == 1
    assert att.calls == before["att"][0] and att.pending  # hidden: still waiting, not drawn
    # the last event's data is what was drawn
    assert w["latents"].snapshot.epoch == 99 and w["latents"].n_trajectories == 6
    drawn = [c for c in w["decoding"].plots[0].listDataItems() if c.getData()[1] is not None]
    assert max(float(np.max(c.getData()[1])) for c in drawn) == pytest.approx(99.0)
    # shown: the attention view draws its latest frame on the next tick, once
    docks_for(session.viewer).docks["attention"].raise_()
    qtbot.waitUntil(lambda: att.visible(), timeout=5000)
    clock.tick()
    assert att.calls - before["att"][0] == 1 and not att.pending
    assert float(w["attention"].matrix[0, 0]) == 99.0
    clock.tick()
    assert att.calls - before["att"][0] == 1


def test_progress_pending_at_the_end_reaches_the_docks_before_finished(app, qtbot):
    viewer, session, w = app
    _open(viewer, session, qtbot)
    _quiet_clock(session)
    order = []
    session.progress.connect(lambda ev, _l: order.append(("progress", ev.step)))
    session.run_finished.connect(lambda ev: order.append(("finished", ev.epoch)))
    for k in range(1, 6):
        session._on_progress(_progress(k, total=5), [(k, 1.0)])
    session._on_event(E.Finished(epoch=0, metrics={}, history=[]))
    assert order == [("progress", 5), ("finished", 0)]
    assert session.clock.progress_dropped >= 4


class _PaintCounter:
    """Counts Paint events reaching the given widgets (a QGraphicsView paints through its viewport)."""

    def __init__(self, widgets):
        from qtpy.QtCore import QEvent, QObject

        counter = self

        class _Filter(QObject):
            def eventFilter(self, obj, ev):  # noqa: N802 - Qt's name
                if ev.type() == QEvent.Paint:
                    counter.n += 1
                return False

        self.n = 0
        self._filter = _Filter()
        for w in widgets:
            w.installEventFilter(self._filter)


@pytest.mark.parametrize("view", ["decoding", "latents"])
def test_a_repaint_paints_its_plot_once_not_a_chain(app, qtbot, view):
    """pyqtgraph defers auto-range and the view matrix to the next paint, and new legend / label text posts
    layout requests: done during the window's composite, each dirties the plot again, so one repaint cost
    2-4 composites of the whole window in one turn of the event loop (45-90 ms under Xvfb).  The view's
    ``settle()``, run by the clock right after the repaint, does that work first: one paint per repaint."""
    import pyqtgraph as pg

    viewer, session, w = app
    _open(viewer, session, qtbot)
    v = w[view]
    docks_for(session.viewer).docks[view].raise_()
    qtbot.waitUntil(lambda: v.isVisible(), timeout=5000)
    _quiet_clock(session)
    views = [gv.viewport() for gv in v.findChildren(pg.GraphicsView) if gv.isVisible()]
    assert views
    counts = []
    for k in range(1, 5):  # new data, new range, new scores in the legend each time
        if view == "decoding":
            session._on_event(_predictions(k * 7))
        else:
            session._on_event(_latents(k * 7))
        qtbot.wait(50)  # whatever the snapshot itself changed is painted before counting
        counter = _PaintCounter(views)
        v._redraw._last = -1e9
        session.clock.tick()
        qtbot.wait(150)
        counts.append(counter.n)
    assert max(counts) == 1, counts
