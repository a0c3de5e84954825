"""Decoding metrics: R2, KNN decoding, frame accuracy, BCE / bits per spike, consistency."""

import numpy as np
import pytest
from scipy.special import gammaln

from sparks_gui.analysis.decoding import (
    binary_cross_entropy,
    bits_per_spike,
    consistency_matrix,
    consistency_r2,
    frame_accuracy,
    knn_decode,
    poisson_nll,
    r2_overall,
    r2_per_variable,
    train_test_split_frames,
)
from sparks_gui.data.synthetic import make_reach
from sparks_gui.errors import SparksError


# ------------------------------------------------------------------ R2
def test_r2_hand_cases():
    y = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    assert np.allclose(r2_per_variable(y, y), 1.0)
    mean_pred = np.broadcast_to(y.mean(axis=0), y.shape)
    assert np.allclose(r2_per_variable(y, mean_pred), 0.0)
    # variable 0 off by 1 everywhere: SS_res = 4, SS_tot = 5 -> R2 = 0.2
    pred = y.copy()
    pred[:, 0] += 1
    assert r2_per_variable(y, pred) == pytest.approx([0.2, 1.0])
    assert r2_overall(y, pred) == pytest.approx(0.6)
    # variance weighting: 1 - 4 / (5 + 500)
    assert r2_overall(y, pred, weighting="variance") == pytest.approx(1 - 4 / 505)
    # worse than the mean is negative; trial layout [n, T, k] is flattened
    assert r2_overall(y, -y) < 0
    assert r2_overall(y.reshape(2, 2, 2), pred.reshape(2, 2, 2)) == pytest.approx(0.6)
    # a constant variable has no R2
    assert np.isnan(r2_per_variable(np.ones(5), np.ones(5))[0])
    with pytest.raises(SparksError, match="shapes"):
        r2_overall(y, y[:3])


# ------------------------------------------------------------------ splits and KNN
def test_split_keeps_trials_whole_and_continuous_at_the_end():
    groups = np.repeat(np.arange(10), 7)
    train, test = train_test_split_frames(70, groups, 0.2, seed=0)
    assert test.sum() == 14
    assert not set(groups[train]) & set(groups[test])
    train, test = train_test_split_frames(100, None, 0.25)
    assert np.all(test[75:]) and not np.any(test[:75])


def test_knn_regression_recovers_a_smooth_function_and_mean_is_zero():
    rng = np.random.default_rng(0)
    T = 2000
    z = rng.uniform(-1, 1, (T, 2))
    y = np.stack([np.sin(2 * z[:, 0]), z[:, 1] ** 2], axis=1)
    res = knn_decode(z, y, seed=0)
    assert res.task == "regression"
    assert res.score > 0.97  # measured 0.997 (k = 5 chosen on validation)
    assert res.n_neighbors in res.validation
    # latents unrelated to the target: held-out R2 about 0 or below
    res0 = knn_decode(rng.standard_normal((T, 2)), y, n_neighbors=50)
    assert res0.score < 0.05


def test_knn_classification_with_per_trial_labels():
    rng = np.random.default_rng(1)
    n, d, T = 40, 3, 25
    labels = np.arange(n) % 4
    centres = rng.standard_normal((4, d)) * 5
    latents = centres[labels][:, :, None] + rng.standard_normal((n, d, T))
    res = knn_decode(latents, labels, n_neighbors=5)
    assert res.task == "classification"
    assert res.score > 0.95  # well-separated clusters
    assert len(res.prediction) == len(res.test_index) == 8 * T  # 20 % of 40 trials, whole
    shuffled = knn_decode(latents, rng.permutation(labels), n_neighbors=5)
    assert shuffled.score < 0.6  # chance 0.25


def test_knn_on_reach_latents_from_kinematics():
    rec = make_reach(n_trials_per_direction=6, seed=0)
    pos = rec.trial_tensor(rec.behaviour["hand_pos"])  # [n, L, 2]
    vel = rec.trial_tensor(rec.behaviour["hand_vel"])
    latents = np.concatenate([pos, vel], axis=2).transpose(0, 2, 1)[:, :, ::10]  # [n, 4, T]
    res = knn_decode(latents, pos[:, ::10], n_neighbors=(1, 5, 10))
    assert res.score > 0.95  # measured 0.99: position is a function of these latents


def test_knn_errors():
    with pytest.raises(SparksError, match="frames"):
        knn_decode(np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(SparksError):
        knn_decode(np.zeros((10, 2)), np.zeros(10), task="magic")


# ------------------------------------------------------------------ frames
def test_frame_accuracy_hand_cases():
    true = np.array([0, 10, 20, 30])
    pred = np.array([0, 12, 26, 899])
    assert frame_accuracy(true, pred, 0) == 0.25
    assert frame_accuracy(true, pred, 2) == 0.5
    assert frame_accuracy(true, pred, 6) == 0.75
    # cyclic movie of 900 frames: 899 is 31 frames from 30 the short way... and 1 from 0
    assert frame_accuracy([0], [899], 1, n_frames=900) == 1.0
    assert frame_accuracy([0], [899], 1) == 0.0


# ------------------------------------------------------------------ spikes
def test_bce_hand_values():
    s = np.array([1, 0, 1, 0])
    assert binary_cross_entropy(s, np.full(4, 0.5)) == pytest.approx(np.log(2))
    assert binary_cross_entropy(s, np.array([0.9, 0.1, 0.9, 0.1])) == pytest.approx(-np.log(0.9))


def test_poisson_nll_hand_value():
    y = np.array([0.0, 1.0, 2.0])
    lam = np.array([1.0, 1.0, 1.0])
    expected = -np.mean(y * 0 - 1 - gammaln(y + 1))
    assert poisson_nll(y, lam) == pytest.approx(expected)


def test_bits_per_spike_true_rate_positive_mean_rate_zero():
    rng = np.random.default_rng(0)
    N, T = 20, 5000
    gain = rng.uniform(0.2, 1, (N, 1))
    wave = np.sin(np.linspace(0, 40, T))[None, :]
    rate = 0.05 + 0.4 * (1 + wave) * gain
    y = rng.poisson(rate).astype(float)
    bps_true = bits_per_spike(y, rate)
    assert bps_true > 0.1  # measured 0.27
    mean_rate = np.broadcast_to(y.mean(axis=1, keepdims=True), y.shape)
    assert bits_per_spike(y, mean_rate) == pytest.approx(0.0, abs=1e-12)
    # rates in Hz with dt
    assert bits_per_spike(y, rate / 0.01, dt=0.01) == pytest.approx(bps_true)
    # trials [n, N, T] with neuron_axis=1
    y3, r3 = y.reshape(N, 5, 1000).transpose(1, 0, 2), rate.reshape(N, 5, 1000).transpose(1, 0, 2)
    assert bits_per_spike(y3, r3, neuron_axis=1) == pytest.approx(bps_true)
    # a wrong model is worse than the null
    assert bits_per_spike(y, 0.05 + 0.4 * (1 - wave) * gain) < 0  # anti-phase rates
    # Bernoulli version on binary spikes
    p = np.clip(rate, 0, 0.95)
    b = (rng.random((N, T)) < p).astype(float)
    assert bits_per_spike(b, p, likelihood="bernoulli") > 0
    assert bits_per_spike(
        b, np.broadcast_to(b.mean(axis=1, keepdims=True), b.shape), likelihood="bernoulli"
    ) == pytest.approx(0.0, abs=1e-12)
    assert np.isnan(bits_per_spike(np.zeros((2, 5)), np.ones((2, 5))))


# ------------------------------------------------------------------ consistency
def test_consistency_r2_hand_cases():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4000, 3))
    M = rng.standard_normal((3, 2))
    assert consistency_r2(a, a @ M + 5.0) == pytest.approx(1.0, abs=1e-6)
    assert abs(consistency_r2(a, rng.standard_normal((4000, 2)))) < 0.02
    # b = a M + noise: R2 = signal variance / total variance
    b = a @ np.eye(3)[:, :1] + rng.standard_normal((4000, 1))  # var 1 + 1
    assert consistency_r2(a, b) == pytest.approx(0.5, abs=0.05)
    # trial layout [n, d, T], split by trials
    at = a.reshape(40, 100, 3).transpose(0, 2, 1)
    bt = (a @ M).reshape(40, 100, 2).transpose(0, 2, 1)
    assert consistency_r2(at, bt) == pytest.approx(1.0, abs=1e-6)
    C = consistency_matrix([a, a @ M @ rng.standard_normal((2, 3)), rng.standard_normal((4000, 3))])
    assert np.isnan(C[0, 0]) and C[0, 1] == pytest.approx(1.0, abs=1e-6) and C[0, 2] < 0.02
    with pytest.raises(SparksError, match="frames"):
        consistency_r2(a, a[:10])


def test_poisson_nll_without_constant_is_the_training_loss():
    y = np.array([[0, 1, 3], [2, 0, 1]], dtype=float)
    lam = np.array([[0.5, 1.0, 2.0], [1.5, 0.2, 0.8]])
    assert poisson_nll(y, lam, constant=False) == pytest.approx(np.mean(lam - y * np.log(lam)))
    assert poisson_nll(y, lam) == pytest.approx(np.mean(lam - y * np.log(lam) + gammaln(y + 1)))


def test_r2_min_variance_marks_nearly_constant_variables():
    t = np.stack([np.linspace(-1, 1, 50), 1 + 1e-3 * np.sin(np.arange(50))], axis=1)
    p = t + 0.1
    r = r2_per_variable(t, p)
    assert np.isfinite(r).all()
    r = r2_per_variable(t, p, min_variance=1e-3)
    assert np.isfinite(r[0]) and np.isnan(r[1])
    assert r[0] == pytest.approx(1 - np.sum(0.1**2 * np.ones(50)) / np.sum((t[:, 0] - t[:, 0].mean()) ** 2))


def test_frame_correlation_per_frame():
    from sparks_gui.analysis import frame_correlation

    true = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
    pred = np.array([[2.0, 4.0, 6.0], [1.0, 2.0, 3.0], [1.0, 0.0, 1.0]])
    r = frame_correlation(true, pred)
    assert r[0] == pytest.approx(1.0) and np.isnan(r[1]) and r[2] == pytest.approx(-1.0)
    assert frame_correlation(true[None], pred[None]).shape == (1, 3)
