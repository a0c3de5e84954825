"""Views draw from the events alone (issue 13, item 5): results with no trainer attached give the same times."""

from __future__ import annotations

import numpy as np
import pytest

from sparks_gui.data.synthetic import make_reach
from sparks_gui.engine import events as E

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

STARTS = np.array([0, 40, 80, 120])
T, F, OFFSET = 20, 2, 3


def test_views_draw_from_results_without_a_trainer(app, qtbot):
    from sparks_gui.gui._session import RunResults
    from sparks_gui.gui.data_widget import add_recording_layers

    viewer, session, w = app
    rec = make_reach(n_trials_per_direction=2)
    add_recording_layers(viewer, rec)
    qtbot.waitUntil(lambda: session.recording is rec, timeout=5000)
    dt = float(rec.dt) * F
    n, N = len(STARTS), rec.n_neurons
    lat = np.random.default_rng(0).normal(size=(n, T, 3)).astype(np.float32)
    true = np.zeros((n, T, 2), dtype=np.float32)
    A = np.ones((1, N, N), dtype=np.float32) / N
    results = RunResults(
        latents=E.LatentSnapshot(0, lat, np.arange(n), starts=STARTS, dt=dt),
        predictions=E.Predictions(
            0, true + 1.0, true, np.arange(n), "hand_pos", starts=STARTS, dt=dt, offset=OFFSET, loss="mse"
        ),
        attention=E.AttentionSnapshot(0, A[0][None], A[0][None], 0, starts=STARTS, example_bins=T, dt=dt),
    )
    session.set_results(results)
    assert session.trainer is None
    dec, att, lv = w["decoding"], w["attention"], w["latents"]
    assert dec.snapshot is results.predictions and att.snapshot is results.attention
    starts, rec_dt, f, off = dec.timing()
    assert np.array_equal(starts, STARTS) and rec_dt == pytest.approx(rec.dt) and (f, off) == (F, OFFSET)
    x = dec._time_axis(1, T - OFFSET)
    assert x[0] == pytest.approx((STARTS[1] + OFFSET * F) * rec.dt) and x[1] - x[0] == pytest.approx(dt)
    # the attention view finds the example under the time cursor from the snapshot
    assert att.example_at((STARTS[2] + 5) * rec.dt) == 2
    assert att.example_at((STARTS[3] + T * F + 1) * rec.dt) is None
    assert lv._dt() == pytest.approx(dt)
    for view in (dec, lv):
        view._redraw.flush()
    assert lv.n_trajectories == n
    drawn = [c for c in dec.plots[0].listDataItems() if c.getData()[1] is not None]
    assert drawn and max(float(np.max(c.getData()[1])) for c in drawn) == pytest.approx(1.0)
