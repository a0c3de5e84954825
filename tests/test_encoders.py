"""Encoder variants (the paper's controls): shapes, causality, chunking, training, sessions, config."""

import math

import numpy as np
import pytest
import torch

from sparks_gui.engine.config import ENCODER_CHOICES, SparksConfig
from sparks_gui.engine.events import AttentionSnapshot, Finished
from sparks_gui.engine.trainer import Trainer
from sparks_gui.errors import SparksError
from sparks_gui.model.encoders import ENCODERS, GRUState, RateState, exp_smooth
from sparks_gui.model.hebbian import HebbianState
from sparks_gui.model.sparks import SessionEncoder, SparksModel

ALL = list(ENCODERS)


def _spikes(B, N, T, p=0.15, seed=0):
    return (torch.rand(B, N, T, generator=torch.Generator().manual_seed(seed)) < p).float()


def _model(encoder, N=8, **kw):
    torch.manual_seed(0)
    return SparksModel(N, n_out=2, latent_dim=3, embed_dim=8, tau_p=4, dt=0.01, tau_s=0.05, encoder=encoder, **kw)


def test_config_and_model_agree_on_the_names():
    assert tuple(ENCODER_CHOICES) == tuple(ENCODERS)
    assert SparksConfig().encoder == "hebbian"
    with pytest.raises(SparksError, match="encoder 'lstm' is unknown"):
        SparksConfig(encoder="lstm")
    with pytest.raises(SparksError, match="neuron tokens"):
        SparksConfig(encoder="gru", n_conv_blocks=1)
    SparksConfig(encoder="dot_attention", n_conv_blocks=1)  # token encoder: fine


def test_exp_smooth_matches_the_recursion_across_blocks():
    x = torch.rand(2, 3, 150)
    r0 = torch.rand(2, 3)
    a = 0.9
    out, last = exp_smooth(x, r0, a, block=64)
    r, ref = r0.clone(), []
    for t in range(150):
        r = a * r + (1 - a) * x[..., t]
        ref.append(r)
    torch.testing.assert_close(out, torch.stack(ref, -1), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(last, ref[-1], rtol=1e-5, atol=1e-6)
    # a single spike decays geometrically: r(t) = (1 - a) a^t
    imp = torch.zeros(1, 1, 10)
    imp[..., 0] = 1.0
    out, _ = exp_smooth(imp, torch.zeros(1, 1), 0.5)
    torch.testing.assert_close(out[0, 0], 0.5 * 0.5 ** torch.arange(10.0))


@pytest.mark.parametrize("encoder", ALL)
def test_shapes_and_state_types(encoder):
    B, N, T = 3, 8, 25
    model = _model(encoder, N)
    out = model(_spikes(B, N, T))
    assert out.mu.shape == out.logvar.shape == out.z.shape == (B, T, 3)
    assert out.pred.shape == (B, T, 1, 2)
    assert torch.isfinite(out.pred).all() and torch.isfinite(out.logvar).all()
    st = out.state.hebbian
    assert out.state.encoder is st
    expected = {"dot_attention": RateState, "mlp": RateState, "gru": GRUState}.get(encoder, HebbianState)
    assert isinstance(st, expected)
    detached = out.state.detach()
    assert type(detached.hebbian) is expected
    if encoder.startswith("hebbian"):
        assert isinstance(model.sessions[0], SessionEncoder)


def test_hebbian_controls_are_the_kernel_options():
    sym, fixed, base = _model("hebbian_symmetric"), _model("hebbian_fixed"), _model("hebbian")
    assert sym.sessions[0].hebbian.rule == "symmetric" and base.sessions[0].hebbian.rule == "soft_bounded"
    assert not fixed.sessions[0].hebbian.log_tau_pre.requires_grad
    assert base.sessions[0].hebbian.log_tau_pre.requires_grad
    # same weights, different rule -> different latents
    sym.load_state_dict(base.state_dict())
    x = _spikes(2, 8, 30, p=0.3)
    assert (sym(x, sample=False).mu - base(x, sample=False).mu).abs().max() > 1e-4


@pytest.mark.parametrize("encoder", ALL)
def test_causality(encoder):
    """Changing the input after step t leaves latents and predictions at steps <= t unchanged."""
    model = _model(encoder).eval()
    x = _spikes(2, 8, 40, p=0.2, seed=1)
    x2 = x.clone()
    x2[..., 21:] = 1.0 - x2[..., 21:]
    o1, o2 = model(x, sample=False), model(x2, sample=False)
    torch.testing.assert_close(o1.mu[:, :21], o2.mu[:, :21], rtol=0, atol=1e-6)
    torch.testing.assert_close(o1.pred[:, :21], o2.pred[:, :21], rtol=0, atol=1e-6)
    assert (o1.mu[:, 21:] - o2.mu[:, 21:]).abs().max() > 1e-4


@pytest.mark.parametrize("encoder", ALL)
def test_chunked_forward_equals_whole_trial(encoder):
    model = _model(encoder).eval()
    x = _spikes(2, 8, 100, p=0.2, seed=2)  # longer than the 64-step smoothing block
    whole = model(x, sample=False)
    st = model.initial_state(2)
    parts = []
    for t0 in range(0, 100, 15):
        o = model(x[..., t0 : t0 + 15], state=st, sample=False)
        parts.append(o.pred)
        st = o.state
    torch.testing.assert_close(torch.cat(parts, 1), whole.pred, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("encoder", ["dot_attention", "mlp", "gru"])
def test_multi_session_per_session_input_layers(encoder):
    model = SparksModel([5, 12], n_out=2, latent_dim=3, embed_dim=8, dt=0.01, encoder=encoder)
    assert model.add_session(20) == 2
    for s, n in enumerate([5, 12, 20]):
        assert model(_spikes(2, n, 15), session=s).pred.shape == (2, 15, 1, 2)
    with pytest.raises(ValueError, match="expects 5 neurons"):
        model(_spikes(2, 12, 15), session=0)
    model.zero_grad()
    model(_spikes(2, 20, 15), session=2).pred.sum().backward()
    assert model.decoder.net[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.sessions[0].parameters())
    rebuilt = SparksModel.from_spec(model.spec())
    rebuilt.load_state_dict(model.state_dict())
    assert [type(s).__name__ for s in rebuilt.sessions] == [type(s).__name__ for s in model.sessions]
    x = _spikes(2, 12, 15)
    torch.testing.assert_close(rebuilt(x, 1, sample=False).mu, model(x, 1, sample=False).mu)


def test_mixed_encoders_across_sessions_and_conv_block_rule():
    model = SparksModel(6, n_out=1, latent_dim=2, embed_dim=8, dt=0.01)
    model.add_session(9, encoder="gru")
    assert type(model.sessions[1]).__name__ == "GRUEncoder"
    assert model(_spikes(1, 9, 10), session=1).mu.shape == (1, 10, 2)
    with pytest.raises(ValueError, match="no neuron tokens"):
        SparksModel(6, n_out=1, encoder="mlp", n_conv_blocks=1)
    tok = SparksModel(6, n_out=1, embed_dim=8, conv_heads=2, encoder="dot_attention", n_conv_blocks=1, dt=0.01)
    assert tok(_spikes(2, 6, 12)).mu.shape == (2, 12, 3)


def test_dot_attention_rows_are_distributions_and_mlp_has_none():
    model = _model("dot_attention", N=6)
    A, _ = model.sessions[0].attention_sequence(_spikes(2, 6, 9))
    assert A.shape == (2, 1, 9, 6, 6)
    torch.testing.assert_close(A.sum(-1), torch.ones(2, 1, 9, 6))
    with pytest.raises(SparksError, match="no attention"):
        _model("mlp").sessions[0].attention_sequence(_spikes(1, 8, 5))


def _reach_like(n_trials=24, N=12, L=40, seed=0):
    """Neurons whose rates follow a 2-D target: a decodable toy problem."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, L)
    ang = rng.uniform(0, 2 * np.pi, n_trials)
    y = np.stack([np.cos(ang)[:, None] * t, np.sin(ang)[:, None] * t], -1).astype(np.float32)  # [n, L, 2]
    w = rng.normal(size=(2, N))
    rate = np.clip(0.15 + 0.25 * (y @ w), 0.0, 0.9)
    x = (rng.random(rate.shape) < rate).astype(np.float32).transpose(0, 2, 1)  # [n, N, L]
    return x, y


@pytest.mark.parametrize("encoder", ALL)
def test_each_encoder_trains_with_finite_decreasing_loss(encoder):
    x, y = _reach_like()
    cfg = SparksConfig(
        encoder=encoder,
        epochs=6,
        batch_size=8,
        embed_dim=8,
        latent_dim=2,
        tau_p=3,
        tau_s=0.05,
        lr=1e-2,
        eval_every=6,
        test_fraction=0.25,
    )
    from sparks_gui.engine.dataset import as_recording

    trainer = Trainer(cfg, as_recording(x, dt=0.01, kind="spikes", target=y))
    events = list(trainer.run())
    fin = events[-1]
    assert isinstance(fin, Finished), getattr(fin, "message", fin)
    hist = [h["train_loss"] for h in trainer.history]
    assert all(math.isfinite(v) for v in hist)
    assert hist[-1] < hist[0]
    assert math.isfinite(fin.metrics["r2"])
    snaps = [e for e in events if isinstance(e, AttentionSnapshot)]
    if encoder in ("mlp", "gru"):
        assert snaps == []  # no attention: the snapshot is skipped, the run still finishes
    else:
        assert snaps and snaps[-1].mean.shape == (1, 12, 12)


def test_facade_multi_session_fine_tune_with_gru():
    from sparks_gui import Sparks

    x, y = _reach_like(n_trials=16, N=10)
    x2, y2 = _reach_like(n_trials=16, N=7, seed=1)
    est = Sparks(SparksConfig(encoder="gru", epochs=2, batch_size=8, embed_dim=8, latent_dim=2, tau_p=3))
    est.fit(x, target=y, dt=0.01)
    s = est.add_session(7)
    est.fit_session(x2, s, target=y2, freeze_shared=True)
    assert est.transform(x2, session=s).shape == (16, 2, 40)
    with pytest.raises(SparksError, match="no attention"):
        est.attention()


def test_dot_attention_factored_scores_equal_direct_qkv():
    """The folded score matrices give exactly softmax(q k^T / sqrt(dh)) V of the tokens."""
    from sparks_gui.model.encoders import DotAttentionEncoder

    torch.manual_seed(0)
    enc = DotAttentionEncoder(7, 8, 3, n_heads=2, dt=0.01, tau_s=0.05)
    x = _spikes(2, 7, 20, p=0.3)
    tokens, A, _ = enc._attend(x, None)
    rate, _, _ = enc._rates(x, None)
    u = (rate * enc.scale).transpose(1, 2)
    tok = u[..., None] * enc.value_embed + enc.id_embed
    q, k, v = enc.qkv(tok).view(2, 20, 7, 3, 2, 4).permute(3, 0, 1, 4, 2, 5)
    direct = torch.softmax(q @ k.transpose(-1, -2) / 2.0, -1)
    torch.testing.assert_close(A, direct, rtol=1e-5, atol=1e-6)
    mixed = (direct @ v).transpose(2, 3).reshape(2, 20, 7, 8)
    torch.testing.assert_close(tokens, tok + enc.out_proj(mixed), rtol=1e-5, atol=1e-5)
