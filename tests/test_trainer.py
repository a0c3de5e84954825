"""Trainer: learning floors, gradient modes, exact resume, cancel, NaN handling."""

import numpy as np
import pytest
import torch

from sparks_gui.data.synthetic import make_reach, make_sequence
from sparks_gui.engine.checkpoint import load_checkpoint
from sparks_gui.engine.config import SparksConfig
from sparks_gui.engine.events import (
    AttentionSnapshot,
    CheckpointWritten,
    EpochEnd,
    Failed,
    Finished,
    LatentSnapshot,
    Predictions,
    Started,
    StepProgress,
)
from sparks_gui.engine.trainer import Trainer
from sparks_gui.errors import SparksError


def _events(trainer):
    return list(trainer.run())


def _tiny_reach(**kw):
    return make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=3, **kw)


TINY = dict(target="hand_pos", epochs=2, batch_size=4, bin_factor=4, latent_dim=2, embed_dim=8, tau_p=3)


def test_supervised_reach_r2_above_floor():
    """Hand position from held-out trials, latent d = 3 (5 ms bins to keep the suite fast)."""
    rec = make_reach(n_trials_per_direction=12, seed=1)
    cfg = SparksConfig(target="hand_pos", epochs=15, bin_factor=5, batch_size=16, lr=3e-3, latent_dim=3, seed=0)
    events = _events(Trainer(cfg, rec))
    fin = events[-1]
    assert isinstance(fin, Finished) and not fin.cancelled
    last = [e for e in events if isinstance(e, EpochEnd)][-1]
    assert last.metrics["r2"] >= 0.8, last.metrics


def test_unsupervised_sequence_beats_mean_rate():
    """Predicting the next bins of a travelling sequence: held-out Poisson NLL well below the mean-rate null.

    The true-rate oracle reaches a ratio of about 0.80 on this data.
    """
    rec = make_sequence(duration=300, seed=1)
    cfg = SparksConfig(
        target="unsupervised",
        epochs=15,
        segment_length=100,
        batch_size=4,
        lr=3e-3,
        latent_dim=3,
        w_start=20.0,
        tau_s=0.3,
        seed=0,
    )
    events = _events(Trainer(cfg, rec))
    last = [e for e in events if isinstance(e, EpochEnd)][-1]
    assert last.metrics["nll_ratio"] < 0.92, last.metrics
    assert last.metrics["poisson_nll"] < last.metrics["baseline_poisson_nll"]


def test_event_stream_is_complete_and_typed():
    rec = _tiny_reach()
    cfg = SparksConfig(**TINY, snapshot_trials=3)
    events = _events(Trainer(cfg, rec))
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[-1] is Finished
    started = events[0]
    steps = [e for e in events if isinstance(e, StepProgress)]
    assert len(steps) == started.total_steps == started.steps_per_epoch * 2
    assert all(s.eta_s >= 0 and np.isfinite(s.loss) for s in steps)
    assert steps[-1].eta_s == pytest.approx(0.0, abs=1e-6)
    lat = [e for e in events if isinstance(e, LatentSnapshot)][-1]
    L = 200 // 4
    assert lat.latents.shape == (3, L, 2)
    assert set(lat.conditions) >= {"direction"}
    att = [e for e in events if isinstance(e, AttentionSnapshot)][-1]
    assert att.mean.shape == att.last.shape == (1, 65, 65)
    assert att.every == 1 and att.sequence.shape == (L, 1, 65, 65)
    np.testing.assert_allclose(att.sequence.mean(0), att.mean, rtol=1e-5, atol=1e-6)
    pred = [e for e in events if isinstance(e, Predictions)][-1]
    assert pred.predicted.shape == pred.true.shape == (3, L, 2)


@pytest.mark.parametrize("mode", ["full", "truncated", "online", "online_chunked"])
def test_gradient_modes_train(mode):
    rec = _tiny_reach()
    cfg = SparksConfig(**{**TINY, "epochs": 1}, grad_mode=mode, chunk_steps=16)
    trainer = Trainer(cfg, rec)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    events = _events(trainer)
    assert isinstance(events[-1], Finished), events[-1]
    moved = [not torch.equal(a, b.detach()) for a, b in zip(before, trainer.model.parameters(), strict=False)]
    assert all(moved)  # every parameter (tau, w, V, heads, decoder) was updated


def test_truncated_first_chunk_gradient_equals_full_gradient_of_that_chunk():
    """Truncated BPTT's first update uses exactly the gradient of the loss on the first chunk."""
    rec = _tiny_reach()
    cfg = SparksConfig(**{**TINY, "epochs": 1}, grad_mode="truncated", chunk_steps=10)
    tr = Trainer(cfg, rec)
    x = torch.from_numpy(tr.data.x[:2])
    r = torch.from_numpy(tr.data.r[:2])
    g1 = torch.Generator().manual_seed(0)
    loss_a, _, _ = tr._batch_loss(x, r, 0, 10, None, g1)
    grads_a = torch.autograd.grad(loss_a, list(tr.model.parameters()), allow_unused=True)
    g2 = torch.Generator().manual_seed(0)
    loss_b, _, _ = tr._batch_loss(x[..., :10], r, 0, 10, None, g2)
    grads_b = torch.autograd.grad(loss_b, list(tr.model.parameters()), allow_unused=True)
    for a, b in zip(grads_a, grads_b, strict=False):
        if a is not None:
            torch.testing.assert_close(a, b)


def test_resume_from_checkpoint_equals_uninterrupted_run(tmp_path):
    rec = _tiny_reach()
    full_cfg = SparksConfig(**{**TINY, "epochs": 4}, out_dir=str(tmp_path / "full"))
    full = Trainer(full_cfg, rec)
    _events(full)
    half_cfg = full_cfg.replace(epochs=2, out_dir=str(tmp_path / "half"))
    half = Trainer(half_cfg, rec)
    ev = _events(half)
    ck = [e for e in ev if isinstance(e, CheckpointWritten)][-1].path
    assert load_checkpoint(ck)["epoch"] == 2
    resumed = Trainer(full_cfg.replace(out_dir=str(tmp_path / "resumed")), rec, resume=ck)
    ev2 = _events(resumed)
    assert ev2[0].resumed and ev2[0].epoch == 2
    assert len([e for e in ev2 if isinstance(e, StepProgress)]) == 2 * ev2[0].steps_per_epoch
    for (name, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values(), strict=False):
        assert torch.equal(a, b), (name, (a - b).abs().max())
    assert [h["train_loss"] for h in resumed.history] == pytest.approx([h["train_loss"] for h in full.history])


def test_cancel_stops_within_one_batch():
    rec = _tiny_reach()
    trainer = Trainer(SparksConfig(**{**TINY, "epochs": 50}), rec)
    seen = []
    for ev in trainer.run():
        seen.append(ev)
        if isinstance(ev, StepProgress) and ev.step == 3:
            trainer.cancel()
    steps = [e for e in seen if isinstance(e, StepProgress)]
    assert len(steps) == 3
    assert isinstance(seen[-1], Finished) and seen[-1].cancelled


def test_cancel_interrupts_an_online_batch():
    """In online mode one batch is many updates: cancel takes effect at the next step, not the next batch."""
    rec = _tiny_reach()
    trainer = Trainer(SparksConfig(**{**TINY, "epochs": 5}, grad_mode="online"), rec)
    calls = {"n": 0}
    original = trainer._batch_loss

    def counting(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            trainer.cancel()
        return original(*args, **kwargs)

    trainer._batch_loss = counting
    events = _events(trainer)
    assert isinstance(events[-1], Finished) and events[-1].cancelled
    assert calls["n"] == 5  # stopped right after the update in progress


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    rec = _tiny_reach()
    cfg = SparksConfig(**{**TINY, "epochs": 3}, out_dir=str(tmp_path))
    trainer = Trainer(cfg, rec)
    steps_per_epoch = None
    original = trainer._batch_loss
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss, recon, out = original(*args, **kwargs)
        if calls["n"] > steps_per_epoch:  # epoch 2 goes bad
            loss = loss * float("nan")
        return loss, recon, out

    trainer._batch_loss = poisoned
    events = []
    for ev in trainer.run():
        events.append(ev)
        if isinstance(ev, Started):
            steps_per_epoch = ev.steps_per_epoch
    fail = events[-1]
    assert isinstance(fail, Failed)
    assert "NaN" in fail.message and "learning rate" in fail.message
    assert fail.checkpoint is not None and load_checkpoint(fail.checkpoint)["epoch"] == 1
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())  # the bad step was not applied


def test_frame_id_target_trains_as_classification():
    from sparks_gui.data.synthetic_network import make_stimulus_movie

    rec = make_stimulus_movie(n_repeats=12, seed=2)
    cfg = SparksConfig(
        target="frame_id", epochs=12, batch_size=4, latent_dim=8, lr=3e-3, w_start=20.0, tau_s=0.1, seed=0
    )
    events = _events(Trainer(cfg, rec))
    assert isinstance(events[-1], Finished), events[-1]
    started = events[0]
    assert started.loss == "cross_entropy"
    last = [e for e in events if isinstance(e, EpochEnd)][-1]
    assert last.metrics["accuracy"] > 3 / 30, last.metrics  # well above chance (1/30) on held-out repeats


def test_frames_target_is_pixel_regression():
    from sparks_gui.data.synthetic_network import make_stimulus_movie
    from sparks_gui.engine.dataset import prepare

    rec = make_stimulus_movie(n_repeats=3, seed=2)
    d = prepare(rec, SparksConfig(target="frames"))
    assert d.loss == "mse" and d.r.shape == (3, 150, 256)  # 16 x 16 frames fit under the pixel cap
    with pytest.raises(SparksError, match="stimulus"):
        prepare(make_sequence(duration=20), SparksConfig(target="frame_id"))


def test_sparse_hebbian_variant_trains_and_stays_close_to_dense():
    """K partners per neuron (chosen by correlation): trains, state is [B, H, N, K], R2 near the dense model's."""
    rec = make_reach(n_trials_per_direction=12, seed=1)
    base = dict(target="hand_pos", epochs=15, bin_factor=5, batch_size=16, lr=3e-3, latent_dim=3, seed=0)
    dense = _events(Trainer(SparksConfig(**base), rec))
    trainer = Trainer(SparksConfig(**base, hebbian_partners=16), rec)
    sparse = _events(trainer)
    heb = trainer.model.sessions[0].hebbian
    assert heb.partners.shape == (65, 16) and heb.log_tau_pre.shape == (1, 65, 16)
    r2_dense = [e for e in dense if isinstance(e, EpochEnd)][-1].metrics["r2"]
    r2_sparse = [e for e in sparse if isinstance(e, EpochEnd)][-1].metrics["r2"]
    assert r2_sparse >= 0.8 and r2_sparse > r2_dense - 0.1, (r2_sparse, r2_dense)


def test_torch_backend_trains_like_the_cpu_kernel():
    """The device-agnostic torch path (the CUDA path) gives the CPU kernel's training run to float tolerance."""
    rec = _tiny_reach()
    runs = {}
    for backend in ("cpu_kernel", "torch"):
        cfg = SparksConfig(**{**TINY, "epochs": 2}, hebbian_backend=backend, precision="fp32")
        tr = Trainer(cfg, rec)
        losses = [e.train_loss for e in _events(tr) if isinstance(e, EpochEnd)]
        runs[backend] = (losses, [p.detach().clone() for p in tr.model.parameters()])
    np.testing.assert_allclose(runs["torch"][0], runs["cpu_kernel"][0], rtol=1e-4)
    for a, b in zip(runs["torch"][1], runs["cpu_kernel"][1], strict=False):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


def test_bf16_mixed_precision_trains_to_the_fp32_floor():
    """bf16 autocast (readout, decoder) with float32 state and loss: same learning, outputs stay float32."""
    rec = make_reach(n_trials_per_direction=6, seed=1)
    r2 = {}
    for precision in ("fp32", "bf16"):
        cfg = SparksConfig(
            target="hand_pos", epochs=8, bin_factor=5, batch_size=16, latent_dim=3, seed=0, precision=precision
        )
        tr = Trainer(cfg, rec)
        events = _events(tr)
        r2[precision] = [e for e in events if isinstance(e, EpochEnd)][-1].metrics["r2"]
        lat = [e for e in events if isinstance(e, LatentSnapshot)][-1]
        assert lat.latents.dtype == np.float32 and np.isfinite(lat.latents).all()
    assert tr._amp_dtype == torch.bfloat16
    assert r2["bf16"] > 0.2 and abs(r2["bf16"] - r2["fp32"]) < 0.05, r2  # 8 short epochs: fp32 reaches ~0.3


def test_trace_parameters_have_their_own_learning_rate():
    """log tau / log w sit in their own Adam group (lr x trace_lr_scale, eps 1e-12): scale 0 freezes
    them, a larger scale moves them further; everything else trains the same way."""
    rec = _tiny_reach()
    moved = {}
    for scale in (0.0, 1.0, 10.0):
        tr = Trainer(SparksConfig(**TINY, trace_lr_scale=scale), rec)
        heb = tr.model.sessions[0].hebbian
        before = heb.log_tau_pre.detach().clone()
        groups = tr._param_groups()
        assert len(groups) == 2 and groups[1]["eps"] == 1e-12
        assert groups[1]["lr"] == pytest.approx(tr.config.lr * scale)
        assert {id(p) for p in groups[1]["params"]} == {
            id(getattr(heb, n)) for n in ("log_tau_pre", "log_tau_post", "log_w_pre", "log_w_post")
        }
        _events(tr)
        moved[scale] = float((heb.log_tau_pre.detach() - before).abs().max())
    assert moved[0.0] == 0.0
    assert 0 < moved[1.0] < moved[10.0]
    with pytest.raises(SparksError, match="trace_lr_scale"):
        SparksConfig(**TINY, trace_lr_scale=-1.0).validate()


def _old_metrics(d, idx, pred):
    """The held-out metrics as Trainer._metrics computed them by hand (float32, before it used analysis)."""
    off = d.target_offset
    true, p = d.r[idx][:, off:], pred[:, : d.x.shape[-1] - off]
    if d.loss == "mse":
        k = true.shape[-1]
        flat, pf = true.reshape(-1, k), p.reshape(-1, k)
        per = 1.0 - ((flat - pf) ** 2).sum(0) / ((flat - flat.mean(0)) ** 2).sum(0)
        per = np.where(flat.var(0) > 1e-3, per, np.nan)
        return {"r2": float(np.nanmean(per)), "r2_per_variable": list(per)}
    rate = d.r[d.train_idx].reshape(-1, d.r.shape[-1]).mean(0)
    eps = 1e-6
    if d.loss == "bce":
        pp, rr = np.clip(p, eps, 1 - eps), np.clip(rate, eps, 1 - eps)
        nll = -(true * np.log(pp) + (1 - true) * np.log(1 - pp)).mean()
        null = -(true * np.log(rr) + (1 - true) * np.log(1 - rr)).mean()
        return {"bce": nll, "baseline_bce": null, "bce_ratio": nll / null}
    nll = (p - true * np.log(p + eps)).mean()
    null = (rate - true * np.log(rate + eps)).mean()
    return {"poisson_nll": nll, "baseline_poisson_nll": null, "nll_ratio": nll / null}


@pytest.mark.parametrize(
    "target, bin_factor, loss",
    [("hand_pos", 4, "mse"), ("unsupervised", 1, "bce"), ("unsupervised", 8, "poisson")],
)
def test_held_out_metrics_match_hand_computed_values(target, bin_factor, loss):
    """R2 / BCE / Poisson NLL of the trainer (computed by sparks_gui.analysis) equal the formulas the
    trainer used to write out itself: float64 sums instead of float32, and rates floored at eps
    instead of shifted by eps, move them by less than 1e-4 (relative)."""
    import dataclasses

    rec = make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=3)
    if loss == "bce":  # spike indicators
        rec = dataclasses.replace(rec, activity=np.minimum(rec.activity, 1))
    tr = Trainer(SparksConfig(target=target, bin_factor=bin_factor, latent_dim=2, embed_dim=8, tau_p=3), rec)
    d = tr.data
    assert d.loss == loss
    idx = d.test_idx
    rng = np.random.default_rng(0)
    if loss == "mse":
        pred = (d.r[idx] + rng.normal(0, 0.7, d.r[idx].shape)).astype(np.float32)
    elif loss == "bce":
        pred = rng.uniform(0.01, 0.6, d.r[idx].shape).astype(np.float32)
    else:
        pred = rng.uniform(0.05, 3.0, d.r[idx].shape).astype(np.float32)
    got, want = tr._metrics(idx, pred), _old_metrics(d, idx, pred)
    assert set(got) == set(want)
    for key, value in want.items():
        np.testing.assert_allclose(got[key], value, rtol=1e-4, err_msg=key)
    if loss == "mse":  # a perfect prediction scores 1, the held-out mean 0
        assert tr._metrics(idx, d.r[idx].copy())["r2"] == pytest.approx(1.0)
        mean = np.broadcast_to(d.r[idx][:, d.target_offset :].reshape(-1, 2).mean(0), d.r[idx].shape).copy()
        assert tr._metrics(idx, mean)["r2"] == pytest.approx(0.0, abs=1e-6)


def test_prediction_snapshots_carry_their_scores():
    """The Predictions event carries the R2 the decoding view shows (computed by the engine)."""
    from sparks_gui.analysis import r2_per_variable

    rec = make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=3)
    tr = Trainer(SparksConfig(target="hand_pos", bin_factor=4, latent_dim=2, embed_dim=8, tau_p=3), rec)
    idx = tr.data.test_idx
    ev = tr.evaluate(idx)
    snap = next(e for e in tr.snapshot_events(0, idx, ev) if isinstance(e, Predictions))
    off, T = snap.offset, snap.predicted.shape[1] - snap.offset
    k = snap.true.shape[-1]
    want = r2_per_variable(snap.true[:, off : off + T].reshape(-1, k), snap.predicted[:, :T].reshape(-1, k))
    np.testing.assert_allclose(snap.r2_per_variable, want)
    assert snap.accuracy is None and snap.frame_correlation is None
