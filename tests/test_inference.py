"""Whole-recording inference: overlapping windows of the training length, stitched (engine/inference.py).

Exactness of the stitching and shapes on a small untrained model; on a long synthetic
sequence (40 x the training example length) a trained model's windowed latents stay in
the range of per-segment latents and keep the oscillation, while one single pass drifts.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sparks_gui.analysis.ordering import neuron_order_from_phase, pca_phase, phase_agreement, ring_phase
from sparks_gui.analysis.oscillation import phase_signal_psd, spectral_peak
from sparks_gui.data.recording import Recording
from sparks_gui.data.synthetic import make_sequence
from sparks_gui.engine.config import SparksConfig
from sparks_gui.engine.facade import Sparks
from sparks_gui.engine.inference import (
    attention_at,
    run_continuous,
    run_single_pass,
    run_windows,
    window_plan,
)
from sparks_gui.errors import SparksError
from sparks_gui.model.sparks import SparksModel, prediction_from_output


# ------------------------------------------------------------------------------ helpers
def _model(n: int = 7, n_out: int = 7, seed: int = 0, **kw) -> SparksModel:
    torch.manual_seed(seed)
    return SparksModel(n, n_out, latent_dim=3, embed_dim=8, tau_p=3, dt=0.05, tau_s=0.3, w_start=5.0, **kw).eval()


def _spikes(n: int, T: int, seed: int = 0, p: float = 0.15) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, T)) < p).astype(np.float32)


@torch.no_grad()
def _direct(model, window: np.ndarray, loss: str = "poisson"):
    """The model on one window from a reset state: mu [L, d], predictions [L, tau_f, k]."""
    out = model(torch.from_numpy(np.ascontiguousarray(window[None])), 0, sample=False)
    return out.mu[0].numpy(), prediction_from_output(out.pred, loss)[0].numpy()


def neuron_phases(activity: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Each neuron's activity-weighted circular mean of the population phase."""
    return neuron_order_from_phase(activity, phase).key


def _poisson_nll(rate: np.ndarray, counts: np.ndarray) -> float:
    return float(np.mean(rate - counts * np.log(rate + 1e-8)))


def peak_frequency(phase: np.ndarray, dt: float) -> float:
    f, p = phase_signal_psd(phase, dt=dt, nperseg=len(phase) // 2)
    return spectral_peak(f, p).frequency


# ----------------------------------------------------------------------------- the plan
@pytest.mark.parametrize("T", [1, 37, 100, 101, 149, 150, 151, 999, 1000, 1234])
@pytest.mark.parametrize("W,R", [(0, 0), (50, 0), (50, 10), (99, 0), (30, 69)])
def test_window_plan_tiles_the_recording_with_enough_history(T, W, R):
    L = 100
    plan = window_plan(T, L, W, R)
    assert plan.own_start[0] == 0 and plan.own_stop[-1] == T
    assert np.array_equal(plan.own_start[1:], plan.own_stop[:-1])  # tiles [0, T), no gaps, no overlaps
    assert np.all(plan.own_stop > plan.own_start)
    Lw = min(L, T)
    assert plan.length == Lw and np.all(plan.starts >= 0) and np.all(plan.starts + Lw <= T)
    assert np.all(np.diff(plan.starts) > 0)
    k, pos = plan.owner(np.arange(T))
    assert np.all(pos >= 0) and np.all(pos < Lw)
    first = k == 0
    assert np.array_equal(pos[first], np.arange(first.sum()))  # the first window keeps all its bins
    if plan.n_windows > 1:
        assert pos[~first].min() >= W + R  # owned bins: at least W + R bins of history before them
        assert np.all(plan.own_start[1:] - R - plan.starts[1:] >= W)  # ramps: the incoming window has >= W
        assert plan.n_windows == int(np.ceil((T - L) / (L - W - R))) + 1


def test_window_plan_rejects_bad_settings():
    with pytest.raises(SparksError, match="warm-up"):
        window_plan(500, 100, 100)
    with pytest.raises(SparksError, match="warm-up"):
        window_plan(500, 100, -1)
    with pytest.raises(SparksError, match="Crossfade"):
        window_plan(500, 100, 60, 40)
    with pytest.raises(SparksError, match="outside"):
        window_plan(500, 100).owner([500])
    p = window_plan(500, 100)  # defaults: W = L // 2, R = L // 10
    assert (p.warmup, p.crossfade) == (50, 10)


# ---------------------------------------------------------------- exactness and shapes
@pytest.mark.parametrize("T", [25, 60, 61, 143, 200])
def test_stitched_output_is_the_window_that_owns_each_bin(T):
    model, x, L = _model(), _spikes(7, T), 40
    res = run_windows(model, x, 0, "poisson", L, warmup=15, crossfade=0, batch_windows=3)
    mu, pred, plan = res["mu"], res["pred"], res["plan"]
    assert mu.shape == (T, 3) and pred.shape == (T, 1, 7)
    assert mu.dtype == np.float32 and pred.dtype == np.float32
    k_of, pos = plan.owner(np.arange(T))
    for k in range(plan.n_windows):
        s = plan.starts[k]
        mu_k, pred_k = _direct(model, x[:, s : s + plan.length])
        sel = np.flatnonzero(k_of == k)
        np.testing.assert_allclose(mu[sel], mu_k[pos[sel]], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(pred[sel], pred_k[pos[sel]], rtol=1e-5, atol=1e-5)


def test_batch_invariance_and_single_pass():
    model, x = _model(), _spikes(7, 333)
    outs = [run_windows(model, x, 0, "poisson", 50, batch_windows=b) for b in (1, 4, 1000)]
    for o in outs[1:]:
        np.testing.assert_allclose(o["mu"], outs[0]["mu"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(o["pred"], outs[0]["pred"], rtol=1e-5, atol=1e-5)
    mu_all, _ = _direct(model, x)
    sp = run_single_pass(model, x, 0, "poisson")
    np.testing.assert_allclose(sp["mu"], mu_all, rtol=1e-5, atol=1e-5)
    sp2 = run_continuous(model, x, 0, "poisson", 50, mode="single_pass")
    np.testing.assert_array_equal(sp2["mu"], sp["mu"])
    # a recording no longer than a window is one window: the same as a single pass
    short = run_windows(model, x[:, :50], 0, "poisson", 50)
    np.testing.assert_allclose(short["mu"], mu_all[:50], rtol=1e-5, atol=1e-5)
    with pytest.raises(SparksError, match="mode"):
        run_continuous(model, x, 0, "poisson", 50, mode="chunks")


def test_crossfade_blends_the_two_windows_linearly():
    model, x, L, W, R = _model(), _spikes(7, 300), 60, 20, 8
    res = run_windows(model, x, 0, "poisson", L, W, R)
    plan, mu = res["plan"], res["mu"]
    exact = run_windows(model, x, 0, "poisson", L, W + R, 0)["mu"]  # the same windows, no ramps
    assert np.array_equal(exact.shape, mu.shape)
    ramp = np.zeros(300, bool)
    for k in range(1, plan.n_windows):
        a = plan.own_start[k]
        ramp[a - R : a] = True
        mu_in, _ = _direct(model, x[:, plan.starts[k] : plan.starts[k] + L])
        w = np.arange(1, R + 1) / (R + 1)
        expected = (1 - w[:, None]) * exact[a - R : a] + w[:, None] * mu_in[a - R - plan.starts[k] : a - plan.starts[k]]
        np.testing.assert_allclose(mu[a - R : a], expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mu[~ramp], exact[~ramp], rtol=1e-6, atol=1e-6)


def test_attention_at_times_comes_from_the_owning_window():
    model, x, L = _model(), _spikes(7, 230), 50
    times = np.array([0, 3, 49, 50, 77, 120, 199, 229, 50])
    A = attention_at(model, x, times, 0, L, warmup=20, crossfade=5)
    assert A.shape == (len(times), 1, 7, 7) and A.dtype == np.float32
    plan = window_plan(230, L, 20, 5)
    k_of, pos = plan.owner(times)
    enc = model.sessions[0]
    with torch.no_grad():
        for i, (k, p) in enumerate(zip(k_of, pos, strict=False)):
            s = plan.starts[k]
            Aw, _ = enc.attention_sequence(torch.from_numpy(x[None, :, s : s + L]))
            np.testing.assert_allclose(A[i], Aw[0, :, p].numpy(), rtol=1e-5, atol=1e-6)
        A_all, _ = enc.attention_sequence(torch.from_numpy(x[None]))
    single = attention_at(model, x, times, 0, L, mode="single_pass")
    np.testing.assert_allclose(single, A_all[0][:, times].transpose(0, 1).numpy(), rtol=1e-5, atol=1e-6)
    # a tiny memory budget (one window per call) changes nothing
    np.testing.assert_allclose(attention_at(model, x, times, 0, L, 20, crossfade=5, max_bytes=1), A, rtol=1e-6)
    with pytest.raises(SparksError, match="times"):
        attention_at(model, x, [230], 0, L)


def test_cross_entropy_predictions_are_class_ids_and_never_blended():
    model, x = _model(n_out=4), _spikes(7, 180)
    res = run_windows(model, x, 0, "cross_entropy", 40, 10, 5)
    assert res["pred"].shape == (180, 1) and res["pred"].dtype.kind in "iu"
    assert set(np.unique(res["pred"])) <= set(range(4))


# --------------------------------------------------------------------------- the facade
@pytest.fixture(scope="module")
def small_fit():
    rec = make_sequence(n_neurons=12, duration=60.0, dt=0.1, period=10.0, seed=1)
    cfg = SparksConfig(
        target="unsupervised",
        segment_length=50,
        batch_size=8,
        latent_dim=3,
        embed_dim=8,
        epochs=1,
        seed=0,
        eval_every=1000,
        snapshot_trials=1,
    )
    return Sparks(cfg).fit(rec, target="unsupervised"), rec


def test_facade_paths_shapes_and_exactness(small_fit):
    est, rec = small_fit
    T, N = rec.n_time, rec.n_neurons
    assert est.example_length == 50
    lat = est.transform(rec, crossfade=0)
    assert lat.shape == (T, 3) and lat.dtype == np.float32
    res = run_windows(est.model, rec.activity, 0, est._meta["loss"], 50, crossfade=0)
    np.testing.assert_array_equal(lat, res["mu"])
    pred = est.predict(rec)
    assert pred.shape == (T, N) and np.all(pred >= 0)  # Poisson rates in data units
    np.testing.assert_allclose(est.transform(rec.activity), est.transform(rec), rtol=1e-6)  # array == Recording
    assert est.transform(rec, mode="single_pass").shape == (T, 3)
    A = est.attention(rec, every=100)
    assert A.shape == (len(range(0, T, 100)), 1, N, N)
    A2 = est.attention(rec, times=[0, 100, 599])
    np.testing.assert_allclose(A2[:2], A[:2], rtol=1e-6)
    # trials (and the training examples) stay per trial, from a reset state
    trials = np.stack([rec.activity[:, s : s + 50] for s in range(0, 500, 50)])
    lt = est.transform(trials)
    assert lt.shape == (10, 3, 50)
    np.testing.assert_allclose(lt[3].T, _direct(est.model, trials[3])[0], rtol=1e-5, atol=1e-5)
    assert est.transform().shape[1:] == (3, 50)
    assert est.attention(trials, example=2, every=5).shape == (10, 1, N, N)
    with pytest.raises(SparksError, match="mode"):
        est.transform(rec, mode="online")
    with pytest.raises(SparksError, match="warm-up"):
        est.transform(rec, warmup=50)


def test_facade_uses_the_stored_example_length(small_fit, tmp_path):
    est, rec = small_fit
    loaded = Sparks.load(est.save(tmp_path / "m.pt"))
    assert loaded.example_length == 50
    np.testing.assert_allclose(loaded.transform(rec), est.transform(rec), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------ long continuous recordings
LONG = {"n_neurons": 40, "duration": 400.0, "dt": 0.1, "period": 30.0, "peak_hz": 1.0, "baseline_hz": 0.05, "seed": 0}
"""A sparse travelling sequence: 4000 bins, 40 x the training example length (100 bins)."""


def _fit_long(**overrides):
    rec = make_sequence(**LONG)
    settings = {
        "target": "unsupervised",
        "segment_length": 100,
        "batch_size": 4,
        "w_start": 20.0,
        "tau_s": 0.3,
        "latent_dim": 3,
        "epochs": 8,
        "seed": 0,
        "eval_every": 1000,
        "snapshot_trials": 1,
    }
    cfg = SparksConfig(**{**settings, **overrides})
    return Sparks(cfg).fit(rec, target="unsupervised"), rec


def _segments(act: np.ndarray, L: int) -> np.ndarray:
    return np.stack([act[:, s : s + L] for s in range(0, act.shape[1] - L + 1, L)])


@pytest.fixture(scope="module")
def long_fit():
    return _fit_long()


def test_long_recording_keeps_the_oscillation(long_fit):
    """Windowed latents oscillate at the PCA angle's frequency and order neurons like PCA; one pass does not."""
    est, rec = long_fit
    act, dt = rec.activity, rec.dt
    ph_pca = pca_phase(act, smooth_bins=2.0)
    f_pca = peak_frequency(ph_pca, dt)
    assert f_pca == pytest.approx(1 / LONG["period"], rel=0.15)  # the PCA angle finds the sequence
    win = est.transform(rec)
    single = est.transform(rec, mode="single_pass")
    seg = np.transpose(est.transform(_segments(act, 100)), (0, 2, 1))
    assert np.abs(win).max() <= 1.5 * np.abs(seg).max()
    f_win = peak_frequency(ring_phase(win), dt)
    assert f_win == pytest.approx(f_pca, rel=0.1)
    agree_win = phase_agreement(neuron_phases(act, ring_phase(win)), neuron_phases(act, ph_pca))
    agree_single = phase_agreement(neuron_phases(act, ring_phase(single)), neuron_phases(act, ph_pca))
    assert agree_win >= 0.7
    # the failure windows fix: one pass over 40 example lengths loses the oscillation
    f_single = peak_frequency(ring_phase(single), dt)
    assert abs(f_single - f_pca) > 0.3 * f_pca
    assert agree_single < agree_win - 0.1


def test_long_recording_magnitude_stays_in_training_range_where_a_single_pass_drifts():
    """With the unbounded (additive) STDP rule the attention integrates the whole past: one pass drifts
    linearly; windowed latents stay within the per-segment range."""
    est, rec = _fit_long(stdp_rule="additive", epochs=5)
    act = rec.activity
    seg_max = np.abs(est.transform(_segments(act, 100))).max()
    win = est.transform(rec)
    single = est.transform(rec, mode="single_pass")
    assert np.abs(win).max() <= 1.5 * seg_max
    assert np.abs(single).max() > 1.5 * seg_max
    tenth = len(single) // 10
    assert np.abs(single[-tenth:]).max() > 1.5 * np.abs(single[:tenth]).max()  # it keeps growing
    assert np.abs(win[-tenth:]).max() <= 1.2 * np.abs(win[:tenth]).max()


def test_long_recording_predictions_match_per_segment_ones(long_fit):
    est, rec = long_fit
    act, L = rec.activity, 100
    segs = _segments(act, L)
    per_seg = np.concatenate(list(est.predict(segs)), axis=0)  # [n * L, N] rates
    # windows without warm-up are the segments themselves: identical outputs
    aligned = est.predict(rec, warmup=0, crossfade=0)
    np.testing.assert_allclose(aligned[: len(per_seg)], per_seg, rtol=1e-5, atol=1e-6)
    # default windows: in each segment's interior (>= the warm-up of history) the same predictions
    windowed = est.predict(rec)
    pos = np.arange(len(per_seg)) % L
    inner = pos >= 50
    r = np.corrcoef(windowed[: len(per_seg)][inner].ravel(), per_seg[inner].ravel())[0, 1]
    assert r > 0.9
    n = len(per_seg) - 1
    truth = act[:, 1 : n + 1].T  # unsupervised: entry t predicts bin t + 1
    keep = inner[:n]
    assert _poisson_nll(windowed[:n][keep], truth[keep]) <= 1.02 * _poisson_nll(per_seg[:n][keep], truth[keep])
    assert est.predict(rec).shape == (rec.n_time, rec.n_neurons)


def test_recording_object_with_single_trial_is_continuous(small_fit):
    est, rec = small_fit
    one = Recording(activity=rec.activity, dt=rec.dt, kind=rec.kind, trials=np.array([[0, rec.n_time]]))
    assert est.transform(one).shape == (rec.n_time, 3)


# ---------------------------------------------------------------- CLI and GUI exports
def test_cli_train_writes_whole_recording_latents_and_predictions(tmp_path):
    from sparks_gui.cli import train_and_export

    rec = make_sequence(n_neurons=10, duration=40.0, dt=0.1, period=10.0, seed=2)
    cfg = SparksConfig(
        target="unsupervised",
        segment_length=60,
        bin_factor=2,
        batch_size=8,
        latent_dim=2,
        embed_dim=8,
        epochs=1,
        seed=0,
        eval_every=1000,
        snapshot_trials=1,
    )
    train_and_export(cfg, rec, tmp_path / "run", task="t", progress=False)
    lat = np.load(tmp_path / "run" / "recording_latents.npy")
    pred = np.load(tmp_path / "run" / "recording_predictions.npy")
    assert lat.shape == (rec.n_time // 2, 2) and pred.shape == (rec.n_time // 2, 10)
    est = Sparks.load(tmp_path / "run" / "model.pt")
    assert est.example_length == 60
    np.testing.assert_allclose(lat, est.transform(rec), rtol=1e-5, atol=1e-6)  # same windows as the facade
    np.testing.assert_allclose(pred, est.predict(rec), rtol=1e-5, atol=1e-6)


def test_gui_exports_and_ordering_use_the_whole_recording(small_fit, tmp_path):
    """The GUI's whole-recording results (exports, latent-phase ordering) are the facade's windowed ones."""
    from types import SimpleNamespace

    from sparks_gui.engine.runs import data_meta
    from sparks_gui.gui.exports import whole_recording_results

    est, rec = small_fit
    trainer = SimpleNamespace(model=est.model, config=est.config, data=est.data_, history=[{}])
    session = SimpleNamespace(trainer=trainer, training_recording=lambda: rec, running=False)
    res = whole_recording_results(session)
    np.testing.assert_allclose(res["latents"], est.transform(rec), rtol=1e-6)
    np.testing.assert_allclose(res["predictions"], est.predict(rec), rtol=1e-6)
    assert res["activity"].shape == rec.activity.shape and res["dt"] == rec.dt
    assert whole_recording_results(session) is res  # cached for the same run, recording and epoch
    assert data_meta(est.data_)["example_length"] == 50
    session.running = True
    session._whole_recording_cache = None
    assert whole_recording_results(session) is None  # never while training runs
    trials = Recording(activity=rec.activity, dt=rec.dt, trials=np.array([[0, 300], [300, 600]]))
    session = SimpleNamespace(trainer=trainer, training_recording=lambda: trials, running=False)
    assert whole_recording_results(session) is None  # trials stay per trial
