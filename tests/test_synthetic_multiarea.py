"""Synthetic multi-area set: shapes, region labels, recoverable directed coupling, rates, sessions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from sparks_gui.data.regions import REGION_KEYS, neuron_regions
from sparks_gui.data.synthetic_multiarea import chain_coupling, make_multiarea, make_multiarea_sessions
from sparks_gui.errors import SparksError


def test_shapes_trials_and_ground_truth():
    rec = make_multiarea(n_areas=3, neurons_per_area=[10, 20, 15], latent_dim=4, n_trials=20, trial_length=50, seed=1)
    assert rec.kind == "spikes" and rec.activity.shape == (45, 1000)
    assert rec.n_trials == 20 and rec.trials[3].tolist() == [150, 200]
    assert rec.conditions["condition"].shape == (20,)
    x, bounds = rec.examples()
    assert x.shape == (20, 45, 50)
    gt = rec.ground_truth
    assert gt["latents"].shape == (3, 4, 1000) and gt["rates"].shape == (45, 1000)
    np.testing.assert_allclose(gt["latents"].std(axis=(1, 2)), 1.0, rtol=1e-5)  # unit variance per area
    assert gt["coupling"].tolist() == chain_coupling(3).tolist() and gt["lag_bins"] == 5
    assert rec.behaviour["readout"].shape == (1000, 2)
    np.testing.assert_allclose(rec.behaviour["readout"], gt["latents"][2, :2].T, rtol=1e-6)
    cont = make_multiarea(n_trials=10, trial_length=50, continuous=True, neurons_per_area=5)
    assert cont.trials is None and cont.n_time == 500 and not cont.conditions


def test_region_labels_where_loader_and_gui_look():
    rec = make_multiarea(n_areas=3, neurons_per_area=[10, 20, 15], n_trials=5, seed=2, area_names=["VISp", "LP", "CA1"])
    labels = rec.neuron_meta["brain_area"]
    assert "brain_area" in REGION_KEYS
    assert {str(v): int(np.sum(labels == v)) for v in np.unique(labels)} == {"VISp": 10, "LP": 20, "CA1": 15}
    names = np.asarray(rec.ground_truth["area_names"])
    assert np.array_equal(names[rec.ground_truth["area_of_neuron"]], labels)
    assert not np.array_equal(labels, np.sort(labels))  # interleaved: only the labels tell areas apart
    assert np.array_equal(neuron_regions(rec), labels)
    sub = rec.select(neurons=np.flatnonzero(labels == "LP")[:4])
    assert neuron_regions(sub).tolist() == ["LP"] * 4
    ordered = make_multiarea(neurons_per_area=3, n_trials=2, shuffle_neurons=False)
    assert ordered.neuron_meta["brain_area"].tolist() == ["area0"] * 3 + ["area1"] * 3 + ["area2"] * 3


def test_neuron_regions_fallbacks():
    class R:
        neuron_meta = {"location": np.array(["", "", ""]), "area": np.array(["a", "b", "a"])}

    assert neuron_regions(R()).tolist() == ["a", "b", "a"]  # empty locations skipped
    R.neuron_meta = {"location": np.array(["unknown"] * 3)}
    assert neuron_regions(R()) is None
    assert neuron_regions(R(), key="location").tolist() == ["unknown"] * 3
    with pytest.raises(SparksError, match="no neuron metadata"):
        neuron_regions(R(), key="brain_area")
    R.neuron_meta = {}
    assert neuron_regions(R()) is None


def test_region_labels_survive_nwb_round_trip(tmp_path):
    pytest.importorskip("pynwb")
    from sparks_gui.data.nwb import read_nwb, write_nwb

    rec = make_multiarea(n_trials=4, neurons_per_area=4, seed=3)
    write_nwb(rec, tmp_path / "multiarea.nwb")
    back = read_nwb(tmp_path / "multiarea.nwb")
    assert np.array_equal(neuron_regions(back), rec.neuron_meta["brain_area"])


def _area_pcs(rec, a, k=2):
    idx = rec.ground_truth["area_of_neuron"] == a
    X = gaussian_filter1d(rec.activity[idx].astype(float), 2, axis=1).T
    X = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(X[: len(X) // 2], full_matrices=False)
    return X @ vt[:k].T


def _heldout_r2(X, Y):
    n = len(X)
    h = n // 2
    Xa = np.c_[X, np.ones(n)]
    W = np.linalg.lstsq(Xa[:h], Y[:h], rcond=None)[0]
    P = Xa[h:] @ W
    return 1 - np.sum((Y[h:] - P) ** 2) / np.sum((Y[h:] - Y[h:].mean(axis=0)) ** 2)


def _granger_gain(rec, src, tgt):
    """Held-out R2 gained on area tgt's activity by adding area src's activity lagged by the true lag."""
    lag = rec.ground_truth["lag_bins"]
    s, t = _area_pcs(rec, src), _area_pcs(rec, tgt)
    own, y = t[:-lag], t[lag:]
    return _heldout_r2(np.c_[own, s[:-lag]], y) - _heldout_r2(own, y)


@pytest.mark.parametrize("seed, continuous", [(0, False), (1, True), (2, False)])
def test_directed_coupling_is_recoverable_from_spikes(seed, continuous):
    rec = make_multiarea(n_areas=3, neurons_per_area=40, n_trials=60, continuous=continuous, seed=seed)
    ab, ba = _granger_gain(rec, 0, 1), _granger_gain(rec, 1, 0)
    bc, cb = _granger_gain(rec, 1, 2), _granger_gain(rec, 2, 1)
    assert ab > 0.07 and ab > ba + 0.05  # area0 drives area1 ...
    assert bc > 0.07 and bc > cb + 0.025  # ... and area1 drives area2, not the reverse
    assert abs(ba) < 0.03


def test_no_coupling_no_directed_gain():
    rec = make_multiarea(n_areas=2, neurons_per_area=40, n_trials=60, coupling=np.zeros((2, 2)), seed=4)
    assert abs(_granger_gain(rec, 0, 1)) < 0.02 and abs(_granger_gain(rec, 1, 0)) < 0.02
    # the reverse chain: the direction follows the coupling matrix, not the area order
    rev = make_multiarea(n_areas=2, neurons_per_area=40, n_trials=60, coupling=[[0, 1], [0, 0]], seed=4)
    assert _granger_gain(rev, 1, 0) > _granger_gain(rev, 0, 1) + 0.04


@pytest.mark.parametrize("link", ["exp", "softplus"])
def test_rates_in_a_realistic_range(link):
    rec = make_multiarea(n_trials=40, link=link, seed=5)
    hz = rec.activity.mean(axis=1) / rec.dt
    assert 3.0 < hz.mean() < 15.0
    assert hz.min() > 0.5 and hz.max() < 40.0
    expected = rec.ground_truth["rates"]
    assert expected.max() / rec.dt <= 150.0 + 1e-3
    assert np.all(expected > 0)
    # the rates are modulated (not flat): within-neuron coefficient of variation of the expected rate
    cv = expected.std(axis=1) / expected.mean(axis=1)
    assert np.median(cv) > 0.3
    # expected counts match the empirical counts
    assert abs(rec.activity.sum() / expected.sum() - 1) < 0.02


def _area0_frequency(rec):
    z = rec.ground_truth["latents"][0].T  # area 0 has no input in a chain
    F = np.linalg.lstsq(z[:-1], z[1:], rcond=None)[0].T
    return np.abs(np.angle(np.linalg.eigvals(F))).max() / (2 * np.pi * rec.dt)


def test_sessions_share_dynamics_with_different_neurons():
    sessions = make_multiarea_sessions(n_sessions=3, neurons_per_area=(10, 30), n_trials=40, continuous=True, seed=0)
    assert [s.ground_truth["session"] for s in sessions] == [0, 1, 2]
    counts = [tuple(np.unique(s.neuron_meta["brain_area"], return_counts=True)[1]) for s in sessions]
    assert len(set(counts)) == 3 and all(10 <= c <= 30 for cs in counts for c in cs)
    assert all(sorted(set(s.neuron_meta["brain_area"])) == ["area0", "area1", "area2"] for s in sessions)
    f_true = sessions[0].ground_truth["frequencies_hz"]
    for s in sessions[1:]:
        np.testing.assert_array_equal(s.ground_truth["frequencies_hz"], f_true)
        np.testing.assert_array_equal(s.ground_truth["coupling"], sessions[0].ground_truth["coupling"])
        assert not np.allclose(s.ground_truth["latents"], sessions[0].ground_truth["latents"])  # own trajectory
    freqs = [_area0_frequency(s) for s in sessions]
    assert max(freqs) - min(freqs) < 0.15 and abs(np.mean(freqs) - f_true[0]) < 0.3
    other = make_multiarea(continuous=True, n_trials=40, dynamics_seed=9, frequencies_hz=[3.5, 2.0, 1.5])
    assert abs(_area0_frequency(other) - f_true[0]) > 1.0
    again = make_multiarea_sessions(n_sessions=3, neurons_per_area=(10, 30), n_trials=40, continuous=True, seed=0)
    assert all(np.array_equal(a.activity, b.activity) for a, b in zip(sessions, again, strict=False))


def test_bad_arguments():
    with pytest.raises(SparksError, match="neurons_per_area"):
        make_multiarea(n_areas=3, neurons_per_area=[10, 10])
    with pytest.raises(SparksError, match="latent_dim"):
        make_multiarea(latent_dim=3)
    with pytest.raises(SparksError, match="coupling"):
        make_multiarea(coupling=np.zeros((2, 2)))
    with pytest.raises(SparksError, match="link"):
        make_multiarea(link="relu")
    with pytest.raises(SparksError, match="area_names"):
        make_multiarea(area_names=["a", "a", "b"])
    with pytest.raises(SparksError, match="n_sessions"):
        make_multiarea_sessions(n_sessions=0)


def test_metrics_on_the_synthetic_set():
    from sparks_gui.analysis import co_smoothing, linear_probe, nlb_bits_per_spike, region_bits_per_spike

    rec = make_multiarea(n_trials=40, seed=6)
    rates = rec.ground_truth["rates"]
    held = np.arange(0, rec.n_neurons, 4)
    assert co_smoothing(rec.activity, rates, held).bits_per_spike > 0.1  # the true rates beat each mean rate
    per_area = region_bits_per_spike(rec.activity, rates, rec.neuron_meta["brain_area"])
    assert set(per_area) == {"area0", "area1", "area2"} and all(v.bits_per_spike > 0.1 for v in per_area.values())
    assert nlb_bits_per_spike(rec.trial_tensor(), np.stack([rates[:, a:b] for a, b in rec.trials])) > 0.1
    lat = rec.ground_truth["latents"].reshape(-1, rec.n_time).T  # [T, A*d]
    assert linear_probe(lat, rec.behaviour["readout"]).r2 > 0.99
