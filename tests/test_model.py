"""SPARKS model: shapes, causality, gradients, calcium traces, trial resets, sessions."""

import pytest
import torch

from sparks_gui.model.sparks import SparksModel, kl_divergence, reconstruction_loss


def _spikes(B, N, T, p=0.1, seed=0):
    return (torch.rand(B, N, T, generator=torch.Generator().manual_seed(seed)) < p).float()


@pytest.mark.parametrize(
    "kw",
    [
        dict(),  # fused readout (default)
        dict(fused_readout=False),
        dict(n_conv_blocks=1, conv_heads=2),
        dict(n_heads=2, tau_f=3, tau_p=4),
        dict(kind="calcium"),
        dict(stdp_rule="additive", backend="torch"),
        dict(stdp_rule="symmetric"),
    ],
)
def test_shapes(kw):
    B, N, T, d, k = 3, 9, 25, 4, 2
    model = SparksModel(N, n_out=k, latent_dim=d, embed_dim=8, dt=0.01, **kw)
    x = torch.rand(B, N, T) if kw.get("kind") == "calcium" else _spikes(B, N, T)
    out = model(x)
    tau_f = kw.get("tau_f", 1)
    assert out.mu.shape == out.logvar.shape == out.z.shape == (B, T, d)
    assert out.pred.shape == (B, T, tau_f, k)
    assert out.state.hebbian.attn.shape == (B, kw.get("n_heads", 1), N, N)
    assert out.state.z_tail.shape == (B, kw.get("tau_p", 10) - 1, d)
    assert torch.isfinite(out.pred).all()


def test_fused_readout_equals_token_path():
    torch.manual_seed(0)
    a = SparksModel(11, n_out=2, latent_dim=3, embed_dim=8, n_heads=2, dt=0.005)
    b = SparksModel(11, n_out=2, latent_dim=3, embed_dim=8, n_heads=2, dt=0.005, fused_readout=False)
    b.load_state_dict(a.state_dict())
    x = _spikes(2, 11, 30, seed=1)
    ma, _, _ = a.encode(x)
    mb, _, _ = b.encode(x)
    torch.testing.assert_close(ma, mb, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(), dict(n_conv_blocks=1, conv_heads=2), dict(kind="calcium")])
def test_causality(kw):
    """Changing the input after step t leaves latents and predictions at steps <= t unchanged."""
    torch.manual_seed(1)
    model = SparksModel(8, n_out=2, latent_dim=3, embed_dim=8, dt=0.01, **kw).eval()
    x = torch.rand(2, 8, 40) if kw.get("kind") == "calcium" else _spikes(2, 8, 40, p=0.2)
    x2 = x.clone()
    x2[..., 21:] = torch.rand_like(x2[..., 21:]).round()
    o1, o2 = model(x, sample=False), model(x2, sample=False)
    torch.testing.assert_close(o1.mu[:, :21], o2.mu[:, :21], rtol=0, atol=0)
    torch.testing.assert_close(o1.pred[:, :21], o2.pred[:, :21], rtol=0, atol=0)
    assert (o1.mu[:, 21:] - o2.mu[:, 21:]).abs().max() > 1e-6


@pytest.mark.parametrize("backend", ["torch", "auto"])
def test_gradients_reach_tau_and_w(backend):
    torch.manual_seed(2)
    model = SparksModel(6, n_out=1, latent_dim=2, embed_dim=4, dt=0.01, tau_s=0.05, backend=backend)
    x = _spikes(4, 6, 60, p=0.3)
    out = model(x)
    loss = reconstruction_loss(
        out.pred, torch.randn_like(out.pred), torch.ones(out.pred.shape[:3], dtype=torch.bool), "mse"
    ) + kl_divergence(out.mu, out.logvar)
    loss.backward()
    heb = model.sessions[0].hebbian
    for p in (heb.log_tau_pre, heb.log_tau_post, heb.log_w_pre, heb.log_w_post):
        assert p.grad is not None and p.grad.abs().sum() > 0
        assert p.grad.shape == (1, 6, 6)  # one parameter per neuron pair and head


def test_fixed_traces_are_not_learnable():
    model = SparksModel(5, n_out=1, learn_traces=False)
    heb = model.sessions[0].hebbian
    assert not heb.log_tau_pre.requires_grad and not heb.log_w_post.requires_grad


def test_calcium_uses_activity_as_traces():
    """Calcium: A <- lam A + (1 - lam)(x_j - x_i): after one step from zero A is (1-lam)(x_j - x_i)."""
    model = SparksModel(4, n_out=1, kind="calcium", dt=0.1, tau_s=1.0)
    heb = model.sessions[0].hebbian
    x = torch.tensor([[0.1, 0.5, 0.2, 0.9]]).T[None]  # [1, 4, 1]
    A, _ = heb.attention_sequence(x)
    lam = torch.exp(torch.tensor(-0.1 / 1.0))
    expected = (1 - lam) * (x[0, :, 0][None, :] - x[0, :, 0][:, None])
    torch.testing.assert_close(A[0, 0, 0], expected, rtol=1e-5, atol=1e-6)
    # and the spike-rule traces are not involved
    assert heb.rule == "calcium"


def test_trials_are_independent_within_a_batch():
    """Each trial starts from a zero state: a batch gives the same latents as trials run alone."""
    torch.manual_seed(3)
    model = SparksModel(7, n_out=2, latent_dim=3, embed_dim=8, dt=0.01).eval()
    x = _spikes(3, 7, 30, p=0.2)
    together = model(x, sample=False).mu
    alone = torch.cat([model(x[i : i + 1], sample=False).mu for i in range(3)])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)
    # the state carried out of a trial is not zero (so resetting matters)
    assert model(x, sample=False).state.hebbian.attn.abs().max() > 0


def test_chunked_forward_equals_whole_trial():
    """Carrying the state between chunks (truncated BPTT) gives the same forward pass as one call."""
    torch.manual_seed(4)
    model = SparksModel(7, n_out=2, latent_dim=3, embed_dim=8, tau_p=5, dt=0.01).eval()
    x = _spikes(2, 7, 40, p=0.2)
    whole = model(x, sample=False)
    st = model.initial_state(2)
    parts = []
    for t0 in range(0, 40, 15):
        o = model(x[..., t0 : t0 + 15], state=st, sample=False)
        parts.append(o.pred)
        st = o.state
    torch.testing.assert_close(torch.cat(parts, 1), whole.pred, rtol=1e-5, atol=1e-6)


def test_multi_session_different_neuron_counts_share_decoder():
    model = SparksModel([5, 12], n_out=2, latent_dim=3, embed_dim=8, dt=0.01)
    s2 = model.add_session(20)
    assert s2 == 2 and len(model.sessions) == 3
    for s, n in enumerate([5, 12, 20]):
        out = model(_spikes(2, n, 15), session=s)
        assert out.pred.shape == (2, 15, 1, 2)
    with pytest.raises(ValueError, match="expects 5 neurons"):
        model(_spikes(2, 12, 15), session=0)
    # shared decoder: a gradient from session 2 reaches the decoder but not session 0's encoder
    model.zero_grad()
    model(_spikes(2, 20, 15), session=2).pred.sum().backward()
    assert model.decoder.net[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.sessions[0].parameters())
    rebuilt = SparksModel.from_spec(model.spec())
    rebuilt.load_state_dict(model.state_dict())
    assert [s.n_neurons for s in rebuilt.sessions] == [5, 12, 20]


def test_online_chunked_gradient_equals_sum_of_online_step_gradients():
    """One-step-truncated gradient of a chunk == the summed gradients exact online learning would use
    (one step at a time, state and past latents detached), at fixed parameters."""
    from sparks_gui.model.hebbian import one_step_gradients

    torch.manual_seed(5)
    model = SparksModel(6, n_out=2, latent_dim=2, embed_dim=4, tau_p=3, dt=0.01, tau_s=0.05)
    x = _spikes(2, 6, 12, p=0.3)
    target = torch.randn(2, 12, 1, 2)
    mask = torch.ones(2, 1, 1, dtype=torch.bool)
    params = list(model.parameters())
    # chunked: one forward over 12 steps; sum of per-step losses
    with one_step_gradients():
        out = model(x, sample=False)
    loss = sum(reconstruction_loss(out.pred[:, t : t + 1], target[:, t : t + 1], mask, "mse") for t in range(12))
    g_chunk = torch.autograd.grad(loss, params, allow_unused=True)
    # online: step by step, detaching the carried state
    state = model.initial_state(2)
    g_online = [torch.zeros_like(p) for p in params]
    for t in range(12):
        o = model(x[..., t : t + 1], state=state, sample=False)
        lt = reconstruction_loss(o.pred, target[:, t : t + 1], mask, "mse")
        for acc, g in zip(g_online, torch.autograd.grad(lt, params, allow_unused=True), strict=False):
            if g is not None:
                acc += g
        state = o.state.detach()
    for a, b in zip(g_chunk, g_online, strict=False):
        torch.testing.assert_close(torch.zeros_like(b) if a is None else a, b, rtol=1e-4, atol=1e-5)
