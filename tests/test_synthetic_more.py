"""The extra ground-truth generators: network, stimulus movie, calcium movie."""

from __future__ import annotations

import numpy as np

from sparks_gui.data.synthetic import SAMPLES, make_sample
from sparks_gui.data.synthetic_network import make_calcium_movie, make_network, make_stimulus_movie


def test_network_connectivity_is_visible_in_spikes():
    rec = make_network(n_neurons=30, duration=120.0, seed=1)
    W, exc = rec.ground_truth["connectivity"], rec.ground_truth["excitatory"]
    adj = rec.ground_truth["adjacency"]
    assert W.shape == (30, 30) and not np.any(np.diag(adj))
    assert np.all(W[:, exc] >= 0) and np.all(W[:, ~exc] <= 0)
    assert 0.05 < adj.mean() < 0.15
    rate = rec.activity.mean() / rec.dt
    assert 3 < rate < 40
    # lagged cross-correlation (pre at t, post at t+1..4) is higher for excitatory links than for absent ones
    x = rec.activity - rec.activity.mean(axis=1, keepdims=True)
    lagged = sum(x[:, 4 - k : x.shape[1] - k] for k in range(1, 5))  # pre activity, summed over lags 1..4
    cc = (x[:, 4:] @ lagged.T) / x.shape[1]  # [post, pre]
    exc_links = adj & exc[None, :]
    none = ~adj & ~np.eye(30, dtype=bool)
    assert cc[exc_links].mean() > cc[none].mean() + 3 * cc[none].std() / np.sqrt(exc_links.sum())


def test_stimulus_movie_frames_decodable():
    rec = make_stimulus_movie(n_neurons=50, n_frames=10, n_repeats=10)
    ids = rec.stimulus["frame_ids"]
    assert rec.stimulus["frames"].shape == (10, 16, 16) and len(ids) == rec.n_time == 10 * 5 * 10
    # nearest-centroid frame decoding from spike counts summed per frame presentation: far above chance (10%)
    counts = rec.activity.reshape(50, -1, 5).sum(axis=2)  # [N, presentations]
    labels = ids[::5]
    train = np.arange(counts.shape[1]) < counts.shape[1] // 2
    cents = np.stack([counts[:, train & (labels == f)].mean(axis=1) for f in range(10)])
    pred = np.argmin(((counts[:, ~train].T[:, None, :] - cents[None]) ** 2).sum(-1), axis=1)
    assert (pred == labels[~train]).mean() > 0.6


def test_calcium_movie_traces_equal_activity():
    rec = make_calcium_movie(n_neurons=12, size=48, n_frames=100)
    assert rec.movie.shape == (100, 48, 48) and len(rec.rois) == 12
    np.testing.assert_allclose(rec.rois.traces(rec.movie), rec.activity, atol=1e-6)
    assert rec.ground_truth["footprints"].max() == 12
    assert rec.ground_truth["spikes"].sum() > 0


def test_new_samples_registered():
    for key in ("network", "stimulus_movie", "calcium_movie"):
        assert key in SAMPLES
    assert make_sample("network", duration=2.0).n_time == 400
