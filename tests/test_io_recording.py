"""Recording extensions: bin, select(trials=), examples, stimulus/ROI validation."""

from __future__ import annotations

import numpy as np
import pytest

from sparks_gui.data.recording import Recording
from sparks_gui.data.rois import RoiMasks
from sparks_gui.data.synthetic import make_reach
from sparks_gui.errors import SparksError


def _rec():
    act = np.arange(2 * 12, dtype=np.float32).reshape(2, 12)
    return Recording(
        activity=act,
        dt=0.01,
        behaviour={"x": np.arange(12.0)},
        trials=[[0, 4], [4, 8], [8, 12]],
        conditions={"c": np.array([10, 20, 30])},
        stimulus={"frame_ids": np.arange(12) // 3},
    )


def test_bin_sums_spikes_and_averages_behaviour():
    b = _rec().bin(0.02)
    assert b.dt == pytest.approx(0.02) and b.n_time == 6
    np.testing.assert_array_equal(b.activity[0], [1, 5, 9, 13, 17, 21])
    np.testing.assert_allclose(b.behaviour["x"][:, 0], [0.5, 2.5, 4.5, 6.5, 8.5, 10.5])
    np.testing.assert_array_equal(b.trials, [[0, 2], [2, 4], [4, 6]])
    np.testing.assert_array_equal(b.stimulus["frame_ids"], [0, 0, 1, 2, 2, 3])
    assert b.activity.sum() == _rec().activity.sum()
    with pytest.raises(SparksError, match="not a whole multiple"):
        _rec().bin(0.015)


def test_select_trials_concatenates():
    s = _rec().select(trials=[2, 0])
    np.testing.assert_array_equal(s.activity[0], list(range(8, 12)) + list(range(0, 4)))
    np.testing.assert_array_equal(s.trials, [[0, 4], [4, 8]])
    np.testing.assert_array_equal(s.conditions["c"], [30, 10])
    np.testing.assert_array_equal(s.stimulus["frame_ids"], [2, 3, 3, 3, 0, 0, 0, 1])
    t = _rec().select(neurons=[1], time=(4, 12))
    assert t.activity.shape == (1, 8) and t.start_time == pytest.approx(0.04)
    np.testing.assert_array_equal(t.trials, [[0, 4], [4, 8]])
    with pytest.raises(SparksError, match="out of range"):
        _rec().select(trials=[5])


def test_examples_trials_or_segments():
    x, bounds = make_reach(n_trials_per_direction=1).examples()
    assert x.shape == (8, 65, 600) and bounds[1, 0] == 600
    r = Recording(activity=np.ones((3, 100)), dt=0.1)
    x, bounds = r.examples(segment_length=30)
    assert x.shape == (3, 3, 30) and bounds[-1].tolist() == [60, 90]


def test_validation_of_new_fields():
    act = np.ones((2, 10))
    with pytest.raises(SparksError, match="3 ROI masks but 2 activity traces"):
        Recording(activity=act, dt=0.1, kind="calcium", rois=RoiMasks((5, 5), [[0]] * 3, [[1]] * 3))
    with pytest.raises(SparksError, match="frame_ids has 9 entries for 10 time bins"):
        Recording(activity=act, dt=0.1, stimulus={"frame_ids": np.zeros(9)})
    with pytest.raises(SparksError, match="frame id 4 but only 2 frames"):
        Recording(activity=act, dt=0.1, stimulus={"frame_ids": np.full(10, 4), "frames": np.zeros((2, 3, 3))})
    # the old positional constructor still works
    r = Recording(act, 0.1, "spikes")
    assert r.rois is None and r.start_time == 0.0 and r.stimulus == {}
