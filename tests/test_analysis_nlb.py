"""NLB bits per spike, co-smoothing, forward prediction, region bits/spike, linear probe."""

from __future__ import annotations

import numpy as np
import pytest

from sparks_gui.analysis import (
    co_smoothing,
    forward_prediction,
    linear_probe,
    nlb_bits_per_spike,
    nlb_bits_per_spike_per_neuron,
    region_bits_per_spike,
)
from sparks_gui.analysis.nlb import _ridge_loo_fit
from sparks_gui.errors import SparksError

LN2 = np.log(2.0)

# Two neurons, two bins.  Neuron 0: counts (1, 0), mean 0.5; neuron 1: counts (0, 2), mean 1.
SPIKES = np.array([[1.0, 0.0], [0.0, 2.0]])
RATES = np.array([[1.0, 0.5], [0.5, 2.0]])
# LL(y; r) = y ln r - r - ln y!
# neuron 0: LL(rates) = (0 - 1) + (-0.5) = -1.5 ; LL(null) = (ln .5 - .5) + (-.5) = -ln2 - 1
#           gain = ln2 - 0.5 nats over 1 spike
# neuron 1: LL(rates) = (-0.5) + (2 ln2 - 2 - ln2) ; LL(null) = (-1) + (0 - 1 - ln2)
#           gain = 2 ln2 - 0.5 nats over 2 spikes
BPS0 = (LN2 - 0.5) / LN2
BPS1 = (2 * LN2 - 0.5) / (2 * LN2)
POOLED = (3 * LN2 - 1.0) / (3 * LN2)


def test_bits_per_spike_hand_computed():
    assert np.isclose(BPS0, 1 - 0.5 / LN2) and np.isclose(POOLED, 1 - 1 / (3 * LN2))  # the algebra above
    np.testing.assert_allclose(nlb_bits_per_spike_per_neuron(SPIKES, RATES), [BPS0, BPS1], rtol=1e-12)
    assert nlb_bits_per_spike(SPIKES, RATES) == pytest.approx(POOLED, rel=1e-12)
    # Hz + dt gives the same numbers
    assert nlb_bits_per_spike(SPIKES, RATES / 0.01, dt=0.01) == pytest.approx(POOLED, rel=1e-12)


def test_trial_layout_pools_over_trials_and_time():
    trials = np.transpose(SPIKES)[:, :, None]  # two trials of one bin: [2, N, 1]
    rates = np.transpose(RATES)[:, :, None]
    assert nlb_bits_per_spike(trials, rates) == pytest.approx(POOLED, rel=1e-12)
    np.testing.assert_allclose(nlb_bits_per_spike_per_neuron(trials, rates), [BPS0, BPS1], rtol=1e-12)


def test_mean_rate_scores_zero_and_true_rates_positive():
    rng = np.random.default_rng(0)
    true = rng.uniform(0.02, 0.3, (20, 1)) * (1 + 0.9 * np.sin(np.linspace(0, 20, 3000)))[None, :]
    y = rng.poisson(true).astype(float)
    mean = np.broadcast_to(y.mean(axis=1, keepdims=True), y.shape)
    assert nlb_bits_per_spike(y, mean) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(nlb_bits_per_spike_per_neuron(y, mean), 0.0, atol=1e-12)
    assert nlb_bits_per_spike(y, true) > 0.1
    assert np.all(nlb_bits_per_spike_per_neuron(y, true) > 0)
    shuffled = true[:, rng.permutation(true.shape[1])]
    assert nlb_bits_per_spike(y, shuffled) < 0  # a wrong time course is worse than the mean


def test_neuron_without_spikes_is_nan_and_left_out_of_pool():
    y = np.vstack([SPIKES, np.zeros((1, 2))])
    r = np.vstack([RATES, np.full((1, 2), 0.3)])
    per = nlb_bits_per_spike_per_neuron(y, r)
    assert np.isnan(per[2])
    assert nlb_bits_per_spike(y, r) == pytest.approx(POOLED, rel=1e-12)
    assert np.isnan(nlb_bits_per_spike(np.zeros((2, 3)), np.ones((2, 3))))


def test_co_smoothing_selects_heldout_neurons():
    y = np.vstack([SPIKES[1], [3.0, 1.0], SPIKES[0]])  # neuron 0 = old 1, neuron 2 = old 0
    r = np.vstack([RATES[1], [9.0, 9.0], RATES[0]])
    res = co_smoothing(y, r, heldout_neurons=[2, 0])
    assert res.bits_per_spike == pytest.approx(POOLED, rel=1e-12)
    np.testing.assert_allclose(res.per_neuron, [BPS0, BPS1], rtol=1e-12)
    assert res.neurons.tolist() == [2, 0] and res.n_spikes == 3
    only = co_smoothing(y, r[[2, 0]], heldout_neurons=[2, 0])  # rates of the held-out neurons only
    assert only.bits_per_spike == pytest.approx(POOLED, rel=1e-12)
    mask = co_smoothing(y, r, heldout_neurons=np.array([True, False, True]))
    assert mask.bits_per_spike == pytest.approx(POOLED, rel=1e-12)
    assert set(res.as_dict()) == {"bits_per_spike", "per_neuron", "neurons", "n_spikes"}


def test_forward_prediction_hand_computed():
    y = np.array([[1.0, 0.0, 3.0], [0.0, 2.0, 1.0]])
    r = np.array([[5.0, 5.0, 1.5], [5.0, 5.0, 1.0]])  # the first two steps must not matter
    # last step only; null = the held-out step's own mean = (3, 1)
    # neuron 0: 3 ln 1.5 - 1.5 - (3 ln 3 - 3) = 1.5 - 3 ln 2 nats over 3 spikes
    # neuron 1: rate = null -> 0
    res = forward_prediction(y, r, heldout_steps=1)
    np.testing.assert_allclose(res.per_neuron, [(1.5 - 3 * LN2) / (3 * LN2), 0.0], atol=1e-12)
    assert res.bits_per_spike == pytest.approx((1.5 - 3 * LN2) / (4 * LN2), rel=1e-12)
    assert res.steps.tolist() == [2]
    same = forward_prediction(y, r[:, 2:], heldout_steps=[2])  # rates of the held-out steps only
    assert same.bits_per_spike == pytest.approx(res.bits_per_spike, rel=1e-12)
    one = forward_prediction(y, r, heldout_steps=1, neurons=[1])
    assert one.bits_per_spike == pytest.approx(0.0, abs=1e-12)
    # trials: steps index the last axis of every trial
    trials = np.stack([y, y])
    assert forward_prediction(trials, np.stack([r, r]), 1).bits_per_spike == pytest.approx(
        res.bits_per_spike, rel=1e-12
    )


def test_region_bits_per_spike_pools_within_region():
    y = np.vstack([SPIKES[0], [3.0, 1.0], SPIKES[1]])
    r = np.vstack([RATES[0], [2.0, 2.0], RATES[1]])
    out = region_bits_per_spike(y, r, ["CA1", "LP", "CA1"])
    assert set(out) == {"CA1", "LP"}
    assert out["CA1"].bits_per_spike == pytest.approx(POOLED, rel=1e-12)
    assert out["CA1"].neurons.tolist() == [0, 2]
    # LP: counts (3, 1), mean 2 = rate -> 0
    assert out["LP"].bits_per_spike == pytest.approx(0.0, abs=1e-12)
    one = region_bits_per_spike(y, r, np.array(["CA1", "LP", "CA1"]), region="CA1")
    assert one.bits_per_spike == pytest.approx(POOLED, rel=1e-12)
    ints = region_bits_per_spike(y, r, [0, 1, 0], region=0)
    assert ints.bits_per_spike == pytest.approx(POOLED, rel=1e-12)


@pytest.mark.parametrize(
    "spikes, rates, match",
    [
        (SPIKES, RATES[:, :1], "shape"),
        (SPIKES, -RATES, "negative"),
        (SPIKES, np.where(RATES > 1, np.nan, RATES), "NaN"),
        (np.where(SPIKES > 1, np.nan, SPIKES), RATES, "NaN"),
        (-SPIKES, RATES, "negative"),
        (SPIKES[0], RATES[0], "shape"),
    ],
)
def test_bad_inputs_raise_sparks_error(spikes, rates, match):
    with pytest.raises(SparksError, match=match) as info:
        nlb_bits_per_spike(spikes, rates)
    assert info.value.fix


def test_bad_selections_raise_sparks_error():
    with pytest.raises(SparksError, match="outside"):
        co_smoothing(SPIKES, RATES, [0, 5])
    with pytest.raises(SparksError, match="expected"):
        co_smoothing(SPIKES, RATES[:, :1], [0])
    with pytest.raises(SparksError, match="repeated"):
        co_smoothing(SPIKES, RATES, [0, 0])
    with pytest.raises(SparksError, match="heldout_steps"):
        forward_prediction(SPIKES, RATES, 3)
    with pytest.raises(SparksError, match="labels"):
        region_bits_per_spike(SPIKES, RATES, ["a"])
    with pytest.raises(SparksError, match="no neurons"):
        region_bits_per_spike(SPIKES, RATES, ["a", "b"], region="c")


def test_ridge_loo_matches_brute_force():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 4))
    Y = X @ rng.normal(size=(4, 2)) + rng.normal(size=(30, 2))
    alphas = np.array([0.01, 1.0, 10.0, 100.0])
    coef, icpt, best = _ridge_loo_fit(X, Y, alphas)

    def fit(Xt, Yt, a):
        xm, ym = Xt.mean(0), Yt.mean(0)
        w = np.linalg.solve((Xt - xm).T @ (Xt - xm) + a * np.eye(4), (Xt - xm).T @ (Yt - ym))
        return w, ym - xm @ w

    errs = []
    for a in alphas:
        e = 0.0
        for i in range(30):
            keep = np.arange(30) != i
            w, b = fit(X[keep], Y[keep], a)
            e += np.sum((X[i] @ w + b - Y[i]) ** 2)
        errs.append(e)
    assert best == alphas[int(np.argmin(errs))]
    w, b = fit(X, Y, best)
    np.testing.assert_allclose(coef, w, rtol=1e-8)
    np.testing.assert_allclose(icpt, b, rtol=1e-8, atol=1e-12)


def test_linear_probe_recovers_linear_behaviour_and_not_noise():
    rng = np.random.default_rng(2)
    lat = rng.normal(size=(600, 5))
    beh = lat @ rng.normal(size=(5, 2)) + 0.1 * rng.normal(size=(600, 2))
    res = linear_probe(lat, beh)
    assert res.r2 > 0.95 and res.r2_per_variable.shape == (2,) and res.predictions.shape == (600, 2)
    exact = linear_probe(lat, lat @ np.ones(5), alphas=[0.0])
    assert exact.r2 == pytest.approx(1.0, abs=1e-9)
    noise = linear_probe(lat, rng.normal(size=600))
    assert noise.r2 < 0.05
    # trials layout of Sparks.transform: latents [n, d, T], behaviour [n, T, k]
    lat_tr = lat.reshape(20, 30, 5).transpose(0, 2, 1)
    beh_tr = beh.reshape(20, 30, 2)
    tr = linear_probe(lat_tr, beh_tr, n_folds=4)
    assert tr.r2 > 0.95 and tr.n_folds == 4 and tr.alphas.shape == (4,)


def test_linear_probe_guards():
    lat = np.zeros((40, 2))
    with pytest.raises(SparksError, match="frames"):
        linear_probe(lat, np.zeros(39))
    with pytest.raises(SparksError, match="NaN"):
        linear_probe(np.full((40, 2), np.nan), np.zeros(40))
    with pytest.raises(SparksError, match="n_folds"):
        linear_probe(lat, np.zeros(40), n_folds=1)
    with pytest.raises(SparksError, match="trials"):
        linear_probe(np.zeros((3, 2, 10)), np.zeros((3, 10)), n_folds=5)
