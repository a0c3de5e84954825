"""MtM read-outs through the public API (issue 14): predict/score with held-out neurons, per-session
rate heads, multi-session pre-training and fine-tuning, the GLM baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sparks_gui import Sparks, SparksConfig
from sparks_gui.analysis.nlb import co_smoothing, fit_poisson_glms, forward_prediction, smoothed_spikes_glm
from sparks_gui.data.synthetic_multiarea import make_multiarea, make_multiarea_sessions
from sparks_gui.engine.events import EpochEnd, Finished
from sparks_gui.engine.multisession import MultiSessionTrainer
from sparks_gui.errors import SparksError
from sparks_gui.model.sparks import SparksModel

TINY = dict(batch_size=8, latent_dim=4, embed_dim=8, tau_p=2, device="cpu", test_fraction=0.25)


def _rec(seed=0, **kw):
    opts = dict(n_areas=3, neurons_per_area=8, n_trials=16, trial_length=30, dt=0.02, seed=seed)
    opts.update(kw)
    return make_multiarea(**opts)


@pytest.fixture(scope="module")
def fitted():
    rec = _rec()
    return Sparks(SparksConfig(objective="mtm", epochs=3, lr=1e-2, **TINY)).fit(rec), rec


def test_predict_with_heldout_neurons_never_sees_them(fitted):
    est, rec = fitted
    held = [0, 5, 17]
    rates = est.predict(rec, heldout_neurons=held)
    x = rec.trial_tensor()
    assert rates.shape == x.shape and np.all(rates > 0)
    changed = rec.copy() if hasattr(rec, "copy") else None
    x2 = x.copy()
    x2[:, held] = np.random.default_rng(0).poisson(4.0, x2[:, held].shape)
    np.testing.assert_allclose(est.predict(x2, heldout_neurons=held), rates, rtol=0, atol=0)
    x3 = x.copy()
    x3[:, 1] += 3  # a visible neuron: the prediction moves
    assert not np.allclose(est.predict(x3, heldout_neurons=held), rates)
    del changed


def test_predict_heldout_on_a_continuous_recording_matches_the_windowed_latents(fitted):
    est, rec = fitted
    cont = rec.activity[:, :200]
    rates = est.predict(cont, heldout_neurons=[2, 3])
    assert rates.shape == cont.shape
    cont2 = cont.copy()
    cont2[[2, 3]] = 7
    np.testing.assert_array_equal(est.predict(cont2, heldout_neurons=[2, 3]), rates)


def test_score_on_a_recording_equals_the_hand_computed_metrics(fitted):
    est, rec = fitted
    held = np.array([1, 9, 20])
    sc = est.score(rec, heldout_neurons=held)
    x = rec.trial_tensor()
    by_hand = co_smoothing(x, est.predict(rec, heldout_neurons=held), held).bits_per_spike
    assert sc["cosmooth_bps"] == pytest.approx(by_hand, rel=1e-5, abs=1e-7)
    assert sc["heldout_neurons"] == held.tolist()
    assert set(sc["region_bps"]) == {"area0", "area1", "area2"}
    assert sc["forward_steps"] == 6 and np.isfinite(sc["forward_bps"])
    # the held-out set matters: hiding other neurons gives another number
    other = est.score(rec, heldout_neurons=[0, 2, 4])["cosmooth_bps"]
    assert other != pytest.approx(sc["cosmooth_bps"])
    # without arguments: the fit's own held-out metrics
    assert "cosmooth_bps" in est.score()


def test_score_refuses_bad_heldout_and_pcc_cosmoothing(fitted):
    est, rec = fitted
    with pytest.raises(SparksError, match="heldout_neurons"):
        est.score(rec, heldout_neurons=[999])
    with pytest.raises(SparksError, match="Every neuron is held out"):
        est.score(rec, heldout_neurons=np.arange(rec.n_neurons))
    pcc = Sparks(SparksConfig(epochs=1, **TINY)).fit(rec, target="readout")
    with pytest.raises(SparksError, match="objective='mtm'"):
        pcc.score(rec, heldout_neurons=[0])
    with pytest.raises(SparksError, match="objective='mtm'"):
        pcc.predict(rec, heldout_neurons=[0])


def test_pcc_score_on_a_recording_is_r2_of_predict():
    rec = _rec(n_trials=24)
    est = Sparks(SparksConfig(epochs=2, **TINY)).fit(rec, target="readout")
    sc = est.score(rec)
    pred = est.predict(rec)
    true = rec.trial_tensor(rec.behaviour["readout"])
    off = est._meta["target_offset"]
    p, t = pred[:, : pred.shape[1] - off].reshape(-1, 2), true[:, off:].reshape(-1, 2)
    r2 = 1 - ((t - p) ** 2).sum(0) / ((t - t.mean(0)) ** 2).sum(0)
    np.testing.assert_allclose(sc["r2_per_variable"], r2, rtol=1e-4, atol=1e-6)


def test_per_session_rate_heads_and_old_checkpoints():
    m = SparksModel(10, n_out=10, latent_dim=3, embed_dim=8, mtm_outputs=10)
    s = m.add_session(7)
    assert s == 1 and [o.out_features for o in m.mtm_out] == [10, 7]
    z = torch.zeros(2, 5, 3)
    assert m.mtm_log_rates(z, "neuron", 1).shape == (2, 7, 5)
    assert m.mtm_log_rates(z, "neuron", 0).shape == (2, 10, 5)
    own = {id(p) for p in m.session_parameters(1)}
    assert {id(p) for p in m.mtm_out[1].parameters()} <= own
    assert not own & {id(p) for p in m.shared_parameters()}
    assert {id(p) for p in m.mtm_head.parameters()} <= {id(p) for p in m.shared_parameters()}
    assert m.spec()["arch"]["mtm_kernel"] == 2 * 10 + 1  # a centred window of 2 tau_p + 1 bins
    # a checkpoint from before per-session heads: Linear-GELU-Linear on each bin's own latent
    single = SparksModel(10, n_out=10, latent_dim=3, embed_dim=8, mtm_outputs=10, mtm_kernel=1)
    old = {}
    for k, v in single.state_dict().items():
        k = k.replace("mtm_out.0.", "mtm_head.2.").replace("mtm_head.conv.", "mtm_head.0.")
        old[k] = v[..., 0] if k == "mtm_head.0.weight" else v
    spec = single.spec()
    del spec["arch"]["mtm_kernel"]
    again = SparksModel.from_spec(spec)
    again.load_state_dict(old)
    torch.testing.assert_close(again.mtm_out[0].weight, single.mtm_out[0].weight)
    torch.testing.assert_close(again.mtm_head.conv.weight, single.mtm_head.conv.weight)
    z = torch.randn(2, 6, 3)
    torch.testing.assert_close(again.mtm_log_rates(z, "causal"), single.mtm_log_rates(z, "causal"))
    # a rebuilt multi-session model has one head per session
    assert len(SparksModel.from_spec(m.spec()).mtm_out) == 2


def test_multisession_pretraining_shares_the_trunk_and_fine_tunes_a_new_session():
    recs = make_multiarea_sessions(
        n_sessions=3, neurons_per_area=(4, 8), n_areas=2, n_trials=12, trial_length=30, dt=0.02, seed=0
    )
    cfg = SparksConfig(objective="mtm", epochs=2, lr=1e-2, **TINY)
    tr = MultiSessionTrainer(cfg, recs[:2])
    assert len(tr.model.sessions) == 2 and len(tr.model.mtm_out) == 2
    trunk_before = tr.model.mtm_head.conv.weight.detach().clone()
    enc1_before = [p.detach().clone() for p in tr.model.sessions[1].parameters()]
    events = list(tr.run())
    assert isinstance(events[-1], Finished), events[-1]
    ends = [e for e in events if isinstance(e, EpochEnd)]
    assert len(ends) == 2 and {"s0_cosmooth_bps", "s1_cosmooth_bps", "cosmooth_bps"} <= set(ends[-1].metrics)
    assert ends[-1].metrics["cosmooth_bps"] == pytest.approx(
        (ends[-1].metrics["s0_cosmooth_bps"] + ends[-1].metrics["s1_cosmooth_bps"]) / 2
    )
    assert not torch.equal(tr.model.mtm_head.conv.weight, trunk_before)
    assert any(not torch.equal(a, b) for a, b in zip(tr.model.sessions[1].parameters(), enc1_before, strict=False))
    # facade: pre-train, add the unseen session, fine-tune only its own layers
    est = Sparks(cfg).fit_sessions(recs[:2])
    s = est.add_session(recs[2].n_neurons)
    shared = [p.detach().clone() for p in est.model.shared_parameters()]
    est.fit_session(recs[2], s, freeze_shared=True, config=est.config.replace(epochs=1))
    assert all(torch.equal(a, b) for a, b in zip(est.model.shared_parameters(), shared, strict=False))
    sc = est.score(recs[2], session=s)
    assert np.isfinite(sc["cosmooth_bps"]) and len(sc["heldout_neurons"]) == round(0.2 * recs[2].n_neurons)


def test_pcc_sessions_need_targets_of_one_width():
    recs = make_multiarea_sessions(
        n_sessions=2, neurons_per_area=(4, 8), n_areas=2, n_trials=8, trial_length=30, dt=0.02, seed=1
    )
    with pytest.raises(SparksError, match="differ in width"):
        MultiSessionTrainer(SparksConfig(epochs=1, target="unsupervised", **TINY), recs)


# ---------------------------------------------------------------------------- GLM baseline
def test_joint_poisson_glm_matches_scikit_learn():
    from sklearn.linear_model import PoissonRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 6))
    W = rng.normal(size=(6, 3)) * 0.4
    Y = rng.poisson(np.exp(X @ W - 1.0))
    w, b = fit_poisson_glms(X, Y, alpha=1e-2)
    for j in range(3):
        ref = PoissonRegressor(alpha=1e-2, tol=1e-9, max_iter=2000).fit(X, Y[:, j])
        np.testing.assert_allclose(w[:, j], ref.coef_, atol=2e-4)
        assert b[j] == pytest.approx(ref.intercept_, abs=2e-4)
    # and it recovers the generating weights
    np.testing.assert_allclose(w, W, atol=0.1)


def test_smoothed_spikes_glm_predicts_coupled_neurons_above_the_mean_rate():
    rng = np.random.default_rng(1)
    latent = np.cumsum(rng.normal(size=(40, 1, 60)), axis=-1) * 0.15
    gains = rng.uniform(0.5, 1.0, size=(1, 12, 1))
    x = rng.poisson(np.exp(gains * np.sin(latent) + 0.3)).astype(float)
    held = np.array([0, 1, 2])
    keep = np.arange(3, 12)
    rates = smoothed_spikes_glm(x[:30][:, keep], x[:30][:, held], x[30:][:, keep], sigma_bins=1.0)
    assert rates.shape == (10, 3, 60)
    assert co_smoothing(x[30:], rates, held).bits_per_spike > 0.05
    with pytest.raises(SparksError, match="line up"):
        smoothed_spikes_glm(x[:30, keep], x[:20, held], x[30:, keep])


def test_forward_glm_shape_and_null():
    from sparks_gui.analysis.nlb import glm_forward_prediction

    rng = np.random.default_rng(2)
    x = rng.poisson(2.0, size=(30, 5, 40)).astype(float)
    r = glm_forward_prediction(x[:20], x[20:], 8, alpha=10.0)
    assert r.shape == (10, 5, 8)
    # with a strong penalty on pure noise it falls back to (about) the mean rate: about 0 bits/spike
    assert abs(forward_prediction(x[20:], r, 8).bits_per_spike) < 0.05
