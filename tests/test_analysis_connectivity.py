"""Connectivity: attention averaging, AUROC/AP against known weights, baselines and shuffled null."""

import numpy as np
import pytest

from sparks_gui.analysis.connectivity import (
    connectivity_scores,
    correlation_connectivity,
    effective_connectivity,
    per_condition_connectivity,
    roc_curve_points,
    shuffled_null,
    time_shuffle,
    xcorr_peak_connectivity,
)
from sparks_gui.errors import SparksError


def _sparse_w(N=30, p=0.15, seed=0):
    rng = np.random.default_rng(seed)
    W = (rng.random((N, N)) < p) * rng.uniform(0.5, 1.0, (N, N))
    np.fill_diagonal(W, 0)
    return W


def test_effective_connectivity_averages_time_heads_examples():
    A = np.zeros((4, 2, 3, 3))
    A[:, 0] = 1.0
    A[:, 1] = 3.0
    assert np.allclose(effective_connectivity(A), 2.0)
    assert np.allclose(effective_connectivity(A, heads=1), 3.0)
    A2 = np.arange(4.0)[:, None, None, None] * np.ones((4, 2, 3, 3))
    assert np.allclose(effective_connectivity(A2, time_slice=slice(2, None)), 2.5)
    # list of examples of different lengths: mean of the per-example means
    assert np.allclose(effective_connectivity([np.zeros((5, 1, 3, 3)), np.ones((2, 1, 3, 3))]), 0.5)
    with pytest.raises(SparksError):
        effective_connectivity(np.zeros((3, 4)))


def test_per_condition_connectivity():
    att = np.stack([np.full((2, 1, 2, 2), v) for v in (0.0, 1.0, 2.0, 3.0)])  # [4 examples, T, H, N, N]
    out = per_condition_connectivity(att, ["a", "b", "a", "b"])
    assert list(out) == ["a", "b"]
    assert np.allclose(out["a"], 1.0) and np.allclose(out["b"], 2.0)
    with pytest.raises(SparksError, match="label"):
        per_condition_connectivity(att, ["a"])


def test_auroc_and_ap_hand_cases():
    W = _sparse_w()
    s = connectivity_scores(W, W)
    assert s.auroc == 1.0 and s.average_precision == 1.0
    assert connectivity_scores(-W, W).auroc == 0.0
    # the diagonal is ignored even if it holds the largest scores
    S = W.copy()
    np.fill_diagonal(S, 100.0)
    assert connectivity_scores(S, W).auroc == 1.0
    # noise ~ 0.5 and AP ~ prevalence
    rng = np.random.default_rng(0)
    noise = [connectivity_scores(rng.standard_normal(W.shape), W) for _ in range(20)]
    assert abs(np.mean([n.auroc for n in noise]) - 0.5) < 0.03
    assert abs(np.mean([n.average_precision for n in noise]) - s.prevalence) < 0.03
    # 2 positives, 2 negatives (off-diagonal of 3x3 has 6 pairs; build a 2x2 + diag case by hand)
    W2 = np.array([[0, 1, 0], [0, 0, 1], [0, 0, 0]], float)  # positives (0,1), (1,2); 4 negatives
    S2 = np.array([[9, 0.9, 0.1], [0.2, 9, 0.3], [0.8, 0.4, 9]], float)
    # pos scores 0.9, 0.3; neg 0.1, 0.2, 0.8, 0.4 -> pairs won: 0.9 beats 4, 0.3 beats 2 -> 6/8
    assert connectivity_scores(S2, W2).auroc == pytest.approx(0.75)
    fpr, tpr = roc_curve_points(S2, W2)
    assert fpr[0] == 0 and tpr[-1] == 1


def test_signed_weights_and_threshold():
    W = np.array([[0, 1, -1], [0, 0, 0.05], [0, 0, 0]], float)
    S = np.array([[0, 0.5, -0.6], [0.1, 0, 0.2], [0, 0.01, 0]], float)
    assert connectivity_scores(S, W, absolute_score=True, threshold=0.1).auroc == 1.0
    assert connectivity_scores(S, W, sign="excitatory", threshold=0.1).n_positive == 1
    assert connectivity_scores(S, W, sign="inhibitory").n_positive == 1
    assert np.isnan(connectivity_scores(S, np.zeros((3, 3))).auroc)


def test_correlation_baseline_hand_case():
    t = np.arange(200)
    x = np.stack([np.sin(t / 5), np.sin(t / 5), -np.sin(t / 5), np.cos(t / 7) * 0])
    C = correlation_connectivity(x)
    assert C[0, 1] == pytest.approx(1.0) and C[0, 2] == pytest.approx(-1.0)
    assert C[3, 0] == 0.0  # a silent neuron correlates with nothing


def test_xcorr_peak_finds_a_lagged_copy_in_the_right_direction():
    rng = np.random.default_rng(0)
    src = (rng.random(5000) < 0.1).astype(float)
    tgt = np.roll(src, 2)  # target fires 2 bins after the source
    other = (rng.random(5000) < 0.1).astype(float)
    x = np.stack([src, tgt, other])
    C = xcorr_peak_connectivity(x, max_lag=5)
    assert C[1, 0] == pytest.approx(1.0, abs=1e-3)  # [target, source]
    assert C[0, 1] < 0.1 and abs(C[2, 0]) < 0.1
    W = np.zeros((3, 3))
    W[1, 0] = 1
    assert connectivity_scores(C, W).auroc == 1.0
    assert xcorr_peak_connectivity(x, max_lag=5, subtract_reverse=True)[1, 0] > 0.9


def _glm_network(N=25, T=20000, seed=0):
    """Bernoulli GLM: a spike of j raises i's firing probability in the next bin by W[i, j]."""
    rng = np.random.default_rng(seed)
    W = _sparse_w(N, 0.12, seed) * 0.4
    x = np.zeros((N, T))
    x[:, 0] = rng.random(N) < 0.05
    u = rng.random((T, N))
    for t in range(1, T):
        p = np.clip(0.03 + W @ x[:, t - 1], 0, 1)
        x[:, t] = u[t] < p
    return x, W


def test_baselines_recover_a_glm_network_and_the_shuffled_null_does_not():
    x, W = _glm_network()
    xc = connectivity_scores(xcorr_peak_connectivity(x, max_lag=3), W)
    corr0 = connectivity_scores(correlation_connectivity(x), W)
    corr1 = connectivity_scores(correlation_connectivity(x, smooth_bins=1), W)
    # measured: xcorr-peak AUROC 0.996 / AP 0.98; zero-lag correlation 0.52 (the coupling acts
    # one bin later), smoothed (1 bin) correlation 0.91 (symmetric: cannot tell j->i from i->j)
    assert xc.auroc > 0.95 and xc.average_precision > 0.8
    assert abs(corr0.auroc - 0.5) < 0.1
    assert xc.auroc > corr1.auroc > 0.8
    null = shuffled_null(lambda a: xcorr_peak_connectivity(a, max_lag=3), x, W, n_shuffles=5, seed=0)
    # measured: null AUROC 0.46 +- 0.04, AP 0.10 (= prevalence)
    assert abs(np.mean(null.auroc) - 0.5) < 0.1
    assert np.mean(null.average_precision) < 0.2
    assert null.observed.auroc == pytest.approx(xc.auroc)
    assert null.p_value == pytest.approx(1 / 6)
    assert set(null.summary()) == {"null_auroc_mean", "null_auroc_sd", "null_ap_mean", "p_value"}


def test_time_shuffle_keeps_each_neuron_and_breaks_alignment():
    rng = np.random.default_rng(0)
    x = rng.poisson(1.0, (6, 300)).astype(float)
    xs = time_shuffle(x, seed=1)
    assert xs.shape == x.shape
    assert np.allclose(np.sort(xs, axis=1), np.sort(x, axis=1))  # same values per neuron
    # circular: each row is a roll of the original
    for i in range(6):
        assert any(np.array_equal(np.roll(x[i], s), xs[i]) for s in range(300))
    xp = time_shuffle(x, seed=1, mode="permute")
    assert np.allclose(np.sort(xp, axis=1), np.sort(x, axis=1))
    assert time_shuffle(np.stack([x, x]), seed=2).shape == (2, 6, 300)
    with pytest.raises(SparksError):
        time_shuffle(x, mode="nope")
