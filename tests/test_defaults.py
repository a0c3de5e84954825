"""Data-aware defaults ("auto" config fields), overlapping training windows and undefined metrics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from sparks_gui.data.recording import Recording
from sparks_gui.engine.config import AUTO_FIELDS, SparksConfig
from sparks_gui.engine.dataset import overlapping_windows, prepare
from sparks_gui.engine.defaults import MAX_SEGMENT, resolve
from sparks_gui.errors import SparksError, SparksWarning


def _continuous(n_time: int, dt: float, n: int = 12, seed: int = 0) -> Recording:
    rng = np.random.default_rng(seed)
    x = rng.poisson(0.3, size=(n, n_time)).astype(np.float32)
    beh = np.cumsum(rng.normal(size=(n_time, 2)), axis=0).astype(np.float32)
    return Recording(activity=x, dt=dt, kind="spikes", behaviour={"pos": beh})


def test_defaults_are_auto_and_resolved_from_the_recording():
    cfg = SparksConfig()
    assert set(cfg.auto_fields) == set(AUTO_FIELDS)
    # 1,200 bins of 50 ms: the old fixed 500-bin segment left 1 training example
    r = resolve(cfg, _continuous(1200, 0.05))
    c = r.config
    assert c.auto_fields == []
    assert 4 * (c.tau_p + c.tau_f) <= c.segment_length <= 1200 // 10
    assert 1200 // c.segment_length >= 10
    assert 4 <= c.batch_size <= 32 and 10 <= c.epochs <= 200
    assert c.tau_s == pytest.approx(0.5)
    assert set(r.notes) == set(AUTO_FIELDS) and all(r.notes.values())
    # long recording at 1 ms: capped at MAX_SEGMENT bins
    assert resolve(cfg, _continuous(200_000, 0.001, n=4)).config.segment_length == MAX_SEGMENT
    # coarse bins (4 Hz imaging): tau_s at least 3 bins
    assert resolve(cfg, _continuous(5000, 0.25)).config.tau_s == pytest.approx(0.75)


def test_explicit_values_are_kept():
    cfg = SparksConfig(segment_length=77, batch_size=5, epochs=3, tau_s=0.2, latent_dim=3)
    r = resolve(cfg, _continuous(1200, 0.05))
    assert (r.config.segment_length, r.config.batch_size, r.config.epochs, r.config.tau_s) == (77, 5, 3, 0.2)
    assert r.notes == {}
    assert cfg.for_recording(_continuous(1200, 0.05)) == r.config


def test_too_few_examples_and_nothing_held_out_warn():
    rec = _continuous(300, 0.05)
    with pytest.warns(SparksWarning, match="training example"):
        resolve(SparksConfig(segment_length=150), rec)
    with pytest.warns(SparksWarning, match="nothing is held out"):
        resolve(SparksConfig(segment_length=150, test_fraction=0.0), rec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve(SparksConfig(), _continuous(3000, 0.05))  # enough data: silent


def test_negative_values_are_refused():
    with pytest.raises(SparksError, match="0 = auto"):
        SparksConfig(epochs=-1)


def test_overlapping_training_windows_never_touch_held_out_segments():
    rec = _continuous(2000, 0.05)
    data = prepare(rec, SparksConfig(segment_length=100, test_fraction=0.2, seed=3))
    starts = data.starts
    test = [(s, s + 100) for s in starts[data.test_idx]]
    assert len(test) == 4  # 20 non-overlapping segments, 4 held out
    train = starts[data.train_idx]
    assert len(train) > 16  # overlapping windows add examples (16 without them)
    for s in train:
        assert all(s + 100 <= a or s >= b for a, b in test), s
    # every training window holds exactly the activity at its start
    for i in data.train_idx[:5]:
        np.testing.assert_array_equal(data.x[i], rec.activity[:, starts[i] : starts[i] + 100])
    # no overlap asked: the plain segments only
    plain = prepare(rec, SparksConfig(segment_length=100, train_stride=100, test_fraction=0.2, seed=3))
    assert len(plain.train_idx) == 16


def test_overlapping_windows_helper():
    held = np.array([[40, 60]])
    existing = np.array([[0, 20], [20, 40], [40, 60], [60, 80]])
    w = overlapping_windows(100, 20, held, 5, existing)
    assert w[:, 0].tolist() == [5, 10, 15, 65, 70, 75, 80]  # never inside (20, 60) minus the existing starts


def test_trainer_resolves_auto_fields_and_r2_undefined_on_constant_target():
    from sparks_gui.engine.events import EpochEnd
    from sparks_gui.engine.trainer import Trainer

    rec = _continuous(600, 0.05)
    rec.behaviour["flat"] = np.ones((600, 1), dtype=np.float32)
    rec.behaviour["flat"][:5] = 0.0  # varies only at the very start of the recording
    tr = Trainer(SparksConfig(target="flat", epochs=1, segment_length=50, seed=0, test_fraction=0.1), rec)
    assert tr.config.batch_size > 0 and tr.config.tau_s > 0
    assert set(tr.config_notes) == {"batch_size", "tau_s", "latent_dim"} and tr.config.latent_dim == 4
    assert np.all(tr.data.starts[tr.data.test_idx] >= 50)  # the held-out segment is constant
    ends = [e for e in tr.run() if isinstance(e, EpochEnd)]
    m = ends[-1].metrics
    assert np.isnan(m["r2"]) and "cannot be computed" in m["r2_note"]


def test_rebinned_counts_train_without_nan_at_default_settings():
    """bin_factor > 1 turns 1 ms spikes into counts (here up to ~10 per bin): the defaults train, finite."""
    import torch

    from sparks_gui.engine.events import EpochEnd, Failed
    from sparks_gui.engine.trainer import Trainer

    rng = np.random.default_rng(1)
    n, T = 20, 40_000
    rate = 0.05 + 0.25 * (np.sin(np.arange(T) / 400.0)[None] > 0)  # 50-300 Hz at 1 ms
    x = (rng.random((n, T)) < rate).astype(np.float32)
    rec = Recording(activity=x, dt=0.001, kind="spikes", behaviour={"drive": rate[0][:, None].astype(np.float32)})
    tr = Trainer(SparksConfig(target="drive", bin_factor=20, epochs=2, seed=0), rec)
    assert tr.data.x.max() >= 8  # real counts reach the Hebbian layer
    events = list(tr.run())
    assert not any(isinstance(e, Failed) for e in events), [e.message for e in events if isinstance(e, Failed)]
    losses = [e.train_loss for e in events if isinstance(e, EpochEnd)]
    assert len(losses) == 2 and all(np.isfinite(losses))
    # gradients at the trained point are finite and bounded on a batch of counts
    xb = torch.from_numpy(tr.data.x[tr.data.train_idx[:4]])
    out = tr.model(xb, sample=False)
    out.mu.pow(2).mean().backward()
    norms = [p.grad.norm().item() for p in tr.model.parameters() if p.grad is not None]
    assert norms and all(np.isfinite(norms)) and max(norms) < 1e3


def test_auto_target_skips_event_codes():
    """With only TTL/event codes as behaviour, auto trains unsupervised; a real variable beside them is chosen."""
    from sparks_gui.engine.targets import default_target, is_event_signal, resolve_target

    rng = np.random.default_rng(0)
    act = (rng.random((5, 400)) < 0.1).astype(np.float32)
    codes = np.zeros(400)
    codes[::50] = 3  # a trigger every 50 bins
    only_events = Recording(act, dt=0.01, behaviour={"events": codes, "stim_code": codes})
    assert default_target(only_events) == "unsupervised" and resolve_target(only_events, "auto") == "unsupervised"
    speed = np.abs(rng.normal(size=400))
    both = Recording(act, dt=0.01, behaviour={"TTL": codes, "running_speed": speed})
    assert resolve_target(both, "auto") == "running_speed"
    assert is_event_signal("lever", codes) and not is_event_signal("position", np.linspace(0, 1, 400))
    assert not is_event_signal("licks_rate", speed)
    assert resolve_target(both, "TTL") == "TTL"  # asked for by name: used
