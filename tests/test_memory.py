"""The memory estimate (engine/memory.py): exact parameter counts, the right order of magnitude
against a measured peak, and configs that cannot fit refused before anything is allocated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import numpy as np
import pytest

from sparks_gui.data.synthetic import make_reach
from sparks_gui.engine.config import SparksConfig
from sparks_gui.engine.memory import (
    SKIP_ENV,
    available_memory,
    check_memory,
    estimate_memory,
    format_bytes,
    parameter_counts,
)
from sparks_gui.errors import SparksError


def _tiny_reach():
    return make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=3)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"token_ff": True, "input_residual": False, "n_conv_blocks": 2, "conv_heads": 2},
        {"encoder": "hebbian_fixed", "hebbian_partners": 5, "partner_selection": "local"},
        {"encoder": "hebbian_symmetric", "learn_traces": False, "token_ff": True},
        {"encoder": "dot_attention", "n_conv_blocks": 1, "conv_heads": 2},
        {"encoder": "mlp"},
        {"encoder": "gru", "decoder_layers": 0},
    ],
)
def test_parameter_counts_equal_the_built_model(changes):
    from sparks_gui.engine.trainer import build_model

    cfg = SparksConfig(
        latent_dim=5, embed_dim=8, n_heads=2, tau_p=4, tau_f=2, decoder_layers=3, tau_s=0.1, epochs=1, batch_size=2
    ).replace(**changes)
    data = SimpleNamespace(
        n_neurons=12, n_out=3, dt=0.01, kind="spikes", x=np.zeros((4, 12, 30), np.float32), train_idx=np.arange(4)
    )
    model = build_model(cfg, data)
    counts = parameter_counts(cfg, 12, 3)
    assert sum(c for c, _ in counts.values()) == sum(p.numel() for p in model.parameters())
    assert sum(c for c, t in counts.values() if t) == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_activation_parts_scale_with_batch_heads_neurons_and_the_token_path():
    base = SparksConfig(latent_dim=4, embed_dim=32, n_heads=1, batch_size=8, epochs=1, tau_s=0.1)

    def part(cfg, name, n=100):
        est = estimate_memory(cfg, n, 2, 200, "cpu", n_examples=cfg.batch_size, n_train=cfg.batch_size)
        return sum(b for k, b in est.as_dict().items() if k.startswith(name) and "(training batch)" in k)

    state = part(base, "Hebbian state")
    assert state == pytest.approx(16 * 8 * 100 * 100 * 4)  # ~16 [B, H, N, N] float32 tensors in the CPU backward
    assert part(base.replace(batch_size=16), "Hebbian state") == pytest.approx(2 * state)
    assert part(base.replace(n_heads=4), "Hebbian state") == pytest.approx(4 * state)
    assert part(base, "Hebbian state", n=200) == pytest.approx(4 * state)
    assert part(base, "neuron tokens") == 0  # fused read-out: no [B, T, N, E] tokens
    tokens = part(base.replace(token_ff=True), "neuron tokens")
    assert tokens >= 8 * 200 * 100 * 32 * 4 * 10  # [B, T, N, E] kept ~17 times
    assert part(base.replace(token_ff=True, embed_dim=64), "neuron tokens") == pytest.approx(2 * tokens)
    # the torch backend keeps ~sqrt(T) steps of state; the reference backend every step
    torch_state = part(base.replace(hebbian_backend="torch"), "Hebbian state")
    ref_state = part(base.replace(hebbian_backend="reference"), "Hebbian state")
    assert state < torch_state < ref_state


def test_a_huge_latent_dim_is_refused_with_the_estimate_and_the_fix():
    from sparks_gui.engine.dataset import prepare

    rec = _tiny_reach()
    cfg = SparksConfig(epochs=1, batch_size=8, latent_dim=100000, target="hand_pos").for_recording(rec, warn=False)
    data = prepare(rec, cfg)
    est = estimate_memory(cfg, data.n_neurons, data.n_out, data.x.shape[-1])
    assert est.total > 1e12 and est.largest.name.startswith("decoder")  # the decoder alone: terabytes
    with pytest.raises(SparksError) as err:
        check_memory(cfg, data, "cpu")
    message = str(err.value)
    assert "TB" in message and "decoder" in message and "available" in message
    assert "latent_dim" in err.value.fix and "100000" in err.value.fix


def test_a_normal_config_fits_and_a_tiny_budget_refuses_it(monkeypatch):
    from sparks_gui.engine.dataset import prepare

    rec = _tiny_reach()
    cfg = SparksConfig(epochs=1, target="hand_pos").for_recording(rec, warn=False)
    data = prepare(rec, cfg)
    est = check_memory(cfg, data, "cpu")  # does not raise here
    assert 1e5 < est.total < 1e9
    free = available_memory("cpu")
    assert free is None or free > est.total
    with pytest.raises(SparksError) as err:
        check_memory(cfg, data, "cpu", available=est.total // 10)
    assert format_bytes(est.total) in str(err.value) and err.value.fix
    monkeypatch.setenv(SKIP_ENV, "1")
    assert check_memory(cfg, data, "cpu", available=1).total == est.total


def test_trainer_refuses_before_allocating():
    """The Trainer checks before building the model, so CLI, GUI and scripts get the same SparksError."""
    from sparks_gui.engine.trainer import Trainer

    rec = _tiny_reach()
    t0 = time.perf_counter()
    with pytest.raises(SparksError) as err:
        Trainer(SparksConfig(epochs=1, batch_size=8, latent_dim=100000, target="hand_pos"), rec)
    assert time.perf_counter() - t0 < 20  # refused from the estimate, not after trying to allocate terabytes
    assert "memory" in str(err.value) and "latent_dim" in err.value.fix
    trainer = Trainer(SparksConfig(epochs=1, batch_size=8, target="hand_pos"), rec)
    assert trainer.memory.total > 0


PROBE = textwrap.dedent("""
    import json, os, resource, sys
    import numpy as np
    from sparks_gui.data.recording import Recording
    from sparks_gui.engine.config import SparksConfig
    from sparks_gui.engine.memory import estimate_for_data
    from sparks_gui.engine.trainer import Trainer

    rng = np.random.default_rng(0)
    def rec(n, segments, length):
        act = (rng.random((n, segments * length)) < 0.05).astype(np.float32)
        beh = rng.standard_normal((segments * length, 2)).astype(np.float32)
        return Recording(activity=act, dt=0.01, behaviour={"v": beh}, name="probe")
    changes = json.loads(sys.argv[1])
    base = dict(epochs=1, tau_s=0.1, target="v", snapshot_trials=4, **changes)
    # warm-up on a tiny problem of the same kind (loads the compiled kernels), not measured
    small = Trainer(SparksConfig(**dict(base, segment_length=20, train_stride=20, batch_size=2)), rec(6, 10, 20))
    for _ in small.run():
        pass
    del small
    def rss():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    data = rec(100, 24, 200)
    before = rss()
    trainer = Trainer(SparksConfig(**dict(base, segment_length=200, train_stride=200)), data)
    for ev in trainer.run():
        assert type(ev).__name__ != "Failed", ev.message
    trainer.evaluate(np.arange(len(trainer.data.x)))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    est = estimate_for_data(trainer.config, trainer.data, trainer.device)
    print(json.dumps({"estimate": est.total, "measured": peak - before}))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the resident size")
def test_estimate_matches_a_measured_peak_in_order_of_magnitude():
    """One epoch on the token path (token_ff: [B, T, N, E] tokens dominate, ~0.5 GB): the estimate
    is within a factor 3 of the peak resident memory the run added."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    changes = {"token_ff": True, "latent_dim": 4, "batch_size": 16}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(changes)], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    row = json.loads(out.stdout.strip().splitlines()[-1])
    assert row["measured"] > 2e8  # the run did allocate what we meant to measure
    assert row["measured"] / 3 < row["estimate"] < 3 * row["measured"], row
