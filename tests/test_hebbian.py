"""The fused CPU kernel and the checkpointed torch path must give the per-step reference's numbers, forward and backward."""

import pytest
import torch

from sparks_gui.model.hebbian import (
    HebbianAttention,
    HebbianState,
    cpu_kernel_available,
    hebbian_readout,
    hebbian_scan,
    hebbian_scan_reference,
)

pytestmark = pytest.mark.skipif(not cpu_kernel_available(), reason="numba not installed")

RULE_KIND = [("soft_bounded", "spikes"), ("additive", "spikes"), ("symmetric", "spikes"), ("calcium", "calcium")]


def _inputs(rule, B=3, N=7, T=40, H=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, N, T, generator=g) if rule == "calcium" else (torch.rand(B, N, T, generator=g) < 0.25).float()
    heb = HebbianAttention(
        N,
        embed_dim=4 * H,
        n_heads=H,
        dt=0.01,
        tau_s=0.05,
        stdp_rule=rule if rule != "calcium" else "soft_bounded",
        kind="calcium" if rule == "calcium" else "spikes",
    )
    with torch.no_grad():  # heterogeneous per-pair parameters so every pair is exercised differently
        for p in (heb.log_tau_pre, heb.log_tau_post, heb.log_w_pre, heb.log_w_post):
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    state = HebbianState(
        0.1 * torch.rand(B, H, N, N, generator=g),
        0.1 * torch.rand(B, H, N, N, generator=g),
        0.2 * torch.rand(B, H, N, N, generator=g),
    )
    return heb, x, state


@pytest.mark.parametrize("rule,kind", RULE_KIND)
def test_scan_kernel_equals_reference_forward_and_backward(rule, kind):
    heb, x, state = _inputs(rule)
    params = heb.trace_params()
    weights = torch.randn(
        x.shape[0], heb.n_heads, x.shape[-1], heb.n_neurons, heb.n_neurons, generator=torch.Generator().manual_seed(1)
    )
    results = {}
    for backend in ("reference", "torch", "cpu_kernel"):
        heb.zero_grad()
        st = HebbianState(*(t.clone().requires_grad_(True) for t in (state.pre, state.post, state.attn)))
        Aseq, final = hebbian_scan(st, x, *heb.trace_params(), heb.rule, heb.lo, heb.hi, backend)
        loss = (Aseq * weights).sum() + final.attn.pow(2).sum() + final.pre.sum() + final.post.sum()
        loss.backward()
        results[backend] = (
            Aseq.detach(),
            final.attn.detach(),
            [
                torch.zeros_like(p) if p.grad is None else p.grad.clone()
                for p in (heb.log_tau_pre, heb.log_tau_post, heb.log_w_pre, heb.log_w_post)
            ],
            [torch.zeros_like(t) if t.grad is None else t.grad.clone() for t in (st.pre, st.post, st.attn)],
        )
    ref, ker = results["reference"], results["cpu_kernel"]
    assert ref[0].shape == (3, heb.n_heads, 40, 7, 7)
    torch.testing.assert_close(ker[0], ref[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ker[1], ref[1], rtol=1e-5, atol=1e-5)
    for a, b in zip(ker[2] + ker[3], ref[2] + ref[3], strict=False):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    # gradients reach the learnable time constants (calcium: only the decay, tau_pre, is used)
    used = [0] if rule == "calcium" else [0, 1, 2, 3]
    assert all(ref[2][k].abs().max() > 0 for k in used)
    del params


@pytest.mark.parametrize("rule,kind", RULE_KIND)
def test_fused_readout_equals_einsum_of_reference(rule, kind):
    heb, x, state = _inputs(rule, seed=3)
    Kt = torch.randn(heb.n_heads, heb.n_neurons, 5, heb.n_neurons, generator=torch.Generator().manual_seed(2))
    outs = {}
    for backend in ("reference", "torch", "cpu_kernel"):
        heb.zero_grad()
        K = Kt.clone().requires_grad_(True)
        out, final = hebbian_readout(state, x, *heb.trace_params(), K, heb.rule, heb.lo, heb.hi, backend)
        (out.pow(2).sum() + final.attn.sum()).backward()
        outs[backend] = (out.detach(), K.grad.clone(), heb.log_tau_pre.grad.clone())
    assert outs["reference"][0].shape == (3, 40, 5)
    for fast in ("torch", "cpu_kernel"):
        for a, b in zip(outs[fast], outs["reference"], strict=False):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_causality_future_spikes_do_not_change_past_attention():
    heb, x, state = _inputs("soft_bounded", T=50)
    A1, _ = hebbian_scan(state, x, *heb.trace_params(), heb.rule, heb.lo, heb.hi, "cpu_kernel")
    x2 = x.clone()
    x2[..., 30:] = 1.0 - x2[..., 30:]
    A2, _ = hebbian_scan(state, x2, *heb.trace_params(), heb.rule, heb.lo, heb.hi, "cpu_kernel")
    torch.testing.assert_close(A1[:, :, :30], A2[:, :, :30], rtol=0, atol=0)
    assert (A1[:, :, 30:] - A2[:, :, 30:]).abs().max() > 1e-3


def test_spike_order_sets_sign_of_attention():
    """j fires before i -> A_ij potentiated; i before j -> depressed (soft-bounded STDP)."""
    N, T = 2, 20
    x = torch.zeros(1, N, T)
    x[0, 1, 5] = 1.0  # neuron 1 (pre) fires first
    x[0, 0, 8] = 1.0  # then neuron 0 (post)
    heb = HebbianAttention(N, embed_dim=4, dt=0.001, tau_s=0.01)
    A, _ = heb.attention_sequence(x, backend="torch")
    A = A[0, 0, -1]
    assert A[0, 1] > 0.5 * torch.exp(torch.tensor(-3e-3 / 0.01)) * 0.001  # potentiated by the pre trace
    assert A[1, 0] <= 0  # reverse pair: depression only (bounded below)
    assert A[0, 1] > A[1, 0]


def test_reference_scan_matches_step_by_step():
    heb, x, state = _inputs("additive", T=10)
    Aseq, _ = hebbian_scan_reference(state, x, *heb.trace_params(), heb.rule, heb.lo, heb.hi)
    Aseq2, final2 = hebbian_scan_reference(state, x[..., :4], *heb.trace_params(), heb.rule, heb.lo, heb.hi)
    Aseq3, _ = hebbian_scan_reference(final2, x[..., 4:], *heb.trace_params(), heb.rule, heb.lo, heb.hi)
    torch.testing.assert_close(torch.cat([Aseq2, Aseq3], dim=2), Aseq)


@pytest.mark.parametrize("segment", [1, 7, 13])
@pytest.mark.parametrize("rule,kind", [("soft_bounded", "spikes"), ("calcium", "calcium")])
def test_checkpointed_backward_equals_reference(monkeypatch, segment, rule, kind):
    """Long chunks recompute the history from checkpoints every S steps: same gradients for any S."""
    from sparks_gui.model import _hebbian_cpu
    from sparks_gui.model import hebbian as hebbian_module

    monkeypatch.setattr(_hebbian_cpu, "segment_length", lambda T, N=0: segment)
    monkeypatch.setattr(hebbian_module, "checkpoint_segment", lambda T: segment)
    heb, x, state = _inputs(rule, seed=5)
    Kt = torch.randn(heb.n_heads, heb.n_neurons, 3, heb.n_neurons, generator=torch.Generator().manual_seed(4))
    grads = {}
    for backend in ("reference", "torch", "cpu_kernel"):
        heb.zero_grad()
        K = Kt.clone().requires_grad_(True)
        out, _ = hebbian_readout(state, x, *heb.trace_params(), K, heb.rule, heb.lo, heb.hi, backend)
        out.pow(2).sum().backward()
        grads[backend] = (K.grad.clone(), heb.log_tau_pre.grad.clone())
    for fast in ("torch", "cpu_kernel"):
        for a, b in zip(grads[fast], grads["reference"], strict=False):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rule,kind", RULE_KIND)
def test_one_step_truncation_kernel_equals_reference(rule, kind):
    from sparks_gui.model.hebbian import one_step_gradients

    heb, x, state = _inputs(rule, seed=8)
    Kt = torch.randn(heb.n_heads, heb.n_neurons, 3, heb.n_neurons, generator=torch.Generator().manual_seed(9))
    grads = {}
    for backend in ("reference", "torch", "cpu_kernel"):
        heb.zero_grad()
        with one_step_gradients():
            out, _ = hebbian_readout(state, x, *heb.trace_params(), Kt, heb.rule, heb.lo, heb.hi, backend)
        out.pow(2).sum().backward()
        grads[backend] = [
            torch.zeros_like(p) if p.grad is None else p.grad.clone()
            for p in (heb.log_tau_pre, heb.log_w_pre, heb.log_tau_post, heb.log_w_post)
        ]
    for fast in ("torch", "cpu_kernel"):
        for a, b in zip(grads[fast], grads["reference"], strict=False):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("rule,kind", RULE_KIND)
def test_sparse_partners_kernel_equals_reference(rule, kind):
    """Sparse variant (K partners per neuron): fused kernel == per-step reference, forward and gradients."""
    from sparks_gui.model.hebbian import correlation_partners

    g = torch.Generator().manual_seed(11)
    N, K, B, T = 9, 4, 2, 30
    x = torch.rand(B, N, T, generator=g) if kind == "calcium" else (torch.rand(B, N, T, generator=g) < 0.3).float()
    heb = HebbianAttention(
        N,
        embed_dim=4,
        dt=0.01,
        tau_s=0.05,
        stdp_rule=rule if kind != "calcium" else "soft_bounded",
        kind=kind,
        n_partners=K,
    )
    heb.set_partners(correlation_partners(x[0], K, smooth_bins=1))
    assert heb.partners.shape == (N, K) and torch.equal(heb.partners[:, 0], torch.arange(N))  # itself first
    Kt = torch.randn(1, N, 3, K, generator=g)
    res = {}
    for backend in ("reference", "torch", "cpu_kernel"):
        heb.zero_grad()
        Kr = Kt.clone().requires_grad_(True)
        out, final = hebbian_readout(
            heb.initial_state(B), x, *heb.trace_params(), Kr, heb.rule, heb.lo, heb.hi, backend, idx=heb.partners
        )
        out.pow(2).sum().backward()
        A, _ = heb.attention_sequence(x, backend=backend)
        res[backend] = (out.detach(), A, final.attn, Kr.grad, heb.log_tau_pre.grad.clone())
    assert res["reference"][1].shape == (B, 1, T, N, K)
    for fast in ("torch", "cpu_kernel"):
        for a, b in zip(res[fast], res["reference"], strict=False):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_sparse_model_fused_readout_equals_token_path():
    """Sparse variant inside the full model: the fused readout equals attention -> values -> heads."""
    from sparks_gui.model.sparks import SparksModel

    torch.manual_seed(0)
    N, K = 10, 4
    fused = SparksModel(N, n_out=2, latent_dim=2, embed_dim=4, dt=0.01, n_partners=K)
    tokens = SparksModel(N, n_out=2, latent_dim=2, embed_dim=4, dt=0.01, n_partners=K, fused_readout=False)
    x = (torch.rand(2, N, 20) < 0.3).float()
    for m in (fused, tokens):
        m.sessions[0].hebbian.set_partners(torch.stack([torch.roll(torch.arange(N), -s) for s in (0, 1, 3, 7)], 1))
    tokens.load_state_dict(fused.state_dict())
    a, b = fused(x, sample=False), tokens(x, sample=False)
    assert a.state.hebbian.attn.shape == (2, 1, N, K)
    torch.testing.assert_close(a.mu, b.mu, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("rule", ["soft_bounded", "additive", "symmetric"])
def test_event_driven_kernel_equals_reference_on_sparse_spikes(rule, monkeypatch):
    """Sparse spike trains take the event-driven kernels; same forward and gradients as the per-step reference."""
    from sparks_gui.model import _hebbian_cpu

    calls = {"events": 0}
    original = _hebbian_cpu.hebbian_backward_events

    def counting(*args):
        calls["events"] += 1
        return original(*args)

    monkeypatch.setattr(_hebbian_cpu, "hebbian_backward_events", counting)
    g = torch.Generator().manual_seed(21)
    B, N, T, H = 3, 8, 60, 2
    x = (torch.rand(B, N, T, generator=g) < 0.06).float()
    x[0, 2, 10] = 2.0  # a bin with two spikes
    heb = HebbianAttention(N, embed_dim=4 * H, n_heads=H, dt=0.01, tau_s=0.05, stdp_rule=rule)
    with torch.no_grad():
        for p in (heb.log_tau_pre, heb.log_tau_post, heb.log_w_pre, heb.log_w_post):
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    state = HebbianState(
        0.1 * torch.rand(B, H, N, N, generator=g),
        0.1 * torch.rand(B, H, N, N, generator=g),
        0.2 * torch.rand(B, H, N, N, generator=g),
    )
    Kt = torch.randn(H, N, 5, N, generator=g)
    res = {}
    for backend in ("reference", "torch", "cpu_kernel"):
        heb.zero_grad()
        st = HebbianState(*(t.clone().requires_grad_(True) for t in (state.pre, state.post, state.attn)))
        K = Kt.clone().requires_grad_(True)
        out, final = hebbian_readout(st, x, *heb.trace_params(), K, heb.rule, heb.lo, heb.hi, backend)
        (out.pow(2).sum() + final.attn.pow(2).sum() + final.pre.sum() + 0.5 * final.post.sum()).backward()
        res[backend] = [
            out.detach(),
            final.pre.detach(),
            final.post.detach(),
            final.attn.detach(),
            K.grad,
            st.pre.grad,
            st.post.grad,
            st.attn.grad,
            heb.log_tau_pre.grad,
            heb.log_tau_post.grad,
            heb.log_w_pre.grad,
            heb.log_w_post.grad,
        ]
    assert calls["events"] == 1
    for fast in ("torch", "cpu_kernel"):
        for a, b in zip(res[fast], res["reference"], strict=False):
            torch.testing.assert_close(a, b, rtol=2e-4, atol=2e-4)


def test_compiled_torch_step_equals_reference():
    """``torch_compile`` (the CUDA default) fuses each step with torch.compile: same forward and gradients."""
    import warnings

    from sparks_gui.model import hebbian as hebbian_module

    heb, x, state = _inputs("soft_bounded", seed=13, T=24)
    Kt = torch.randn(heb.n_heads, heb.n_neurons, 3, heb.n_neurons, generator=torch.Generator().manual_seed(14))
    res = {}
    for backend in ("reference", "torch_compile"):
        heb.zero_grad()
        st = HebbianState(*(t.clone().requires_grad_(True) for t in (state.pre, state.post, state.attn)))
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message="torch.compile of the Hebbian step")  # no silent eager fallback
            out, final = hebbian_readout(st, x, *heb.trace_params(), Kt, heb.rule, heb.lo, heb.hi, backend)
        (out.pow(2).sum() + final.attn.sum()).backward()
        res[backend] = [
            out.detach(),
            final.attn.detach(),
            st.attn.grad,
            heb.log_tau_pre.grad.clone(),
            heb.log_w_post.grad.clone(),
        ]
    assert not hebbian_module._COMPILED.get("failed")
    for a, b in zip(res["torch_compile"], res["reference"], strict=False):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_config_lists_the_same_backends_as_the_model():
    """The config keeps its own (torch-free) list of backends; it must name exactly the model's."""
    from sparks_gui.engine.config import HEBBIAN_BACKENDS
    from sparks_gui.model.hebbian import BACKENDS

    assert set(HEBBIAN_BACKENDS) == set(BACKENDS)


# ------------------------------------------------------------------------------------------- token readout


def _token_case(rule, data, sparse, B=2, N=7, T=36, H=2, seed=40):
    """A layer (dense, or 4 partners per neuron), input (0/1 spikes, counts up to 20, or sparse counts that
    take the event-driven kernels) and a random initial state."""
    g = torch.Generator().manual_seed(seed)
    kind = "calcium" if rule == "calcium" else "spikes"
    heb = HebbianAttention(
        N,
        embed_dim=3 * H,
        n_heads=H,
        dt=0.01,
        tau_s=0.05,
        w_start=4.0,
        stdp_rule=rule if kind == "spikes" else "soft_bounded",
        kind=kind,
        n_partners=4 if sparse else 0,
    )
    with torch.no_grad():
        for p in (heb.log_tau_pre, heb.log_tau_post, heb.log_w_pre, heb.log_w_post):
            p.add_(0.3 * torch.randn(p.shape, generator=g))
        heb.value.normal_(generator=g)
    if sparse:
        heb.set_partners(torch.stack([torch.roll(torch.arange(N), -s) for s in (0, 1, 3, 5)], 1))
    if data == "binary":
        x = (torch.rand(B, N, T, generator=g) < 0.3).float()
    elif data == "counts":
        x = torch.poisson(4 * torch.rand(1, N, 1, generator=g).expand(B, N, T).contiguous(), generator=g).clamp(max=20)
        x[0, 1, 3] = 20.0
    else:  # sparse counts
        x = (torch.rand(B, N, T, generator=g) < 0.06).float() * torch.randint(1, 21, (B, N, T), generator=g).float()
    if kind == "calcium":
        x = x / (1 + x.max())
    K = heb.n_partners or N
    state = HebbianState(
        0.3 * torch.rand(B, H, N, K, generator=g),
        0.3 * torch.rand(B, H, N, K, generator=g),
        0.5 * torch.rand(B, H, N, K, generator=g),
    )
    weights = torch.randn(B, T, N, heb.embed_dim, generator=g)
    return heb, x, state, weights


def _token_results(heb, x, state, weights, backend, scan=False, one_step=False):
    """Tokens and every gradient of a loss on them and the final state; ``scan``: through einsum of hebbian_scan."""
    from sparks_gui.model.hebbian import hebbian_tokens, one_step_gradients

    heb.zero_grad()
    st = HebbianState(*(t.clone().requires_grad_(True) for t in (state.pre, state.post, state.attn)))
    with one_step_gradients(one_step):
        if scan:
            Aseq, final = hebbian_scan(st, x, *heb.trace_params(), heb.rule, heb.lo, heb.hi, backend, idx=heb.partners)
            B, _, T, N, _ = Aseq.shape
            tok = torch.einsum("bhtik,hikd->btihd", Aseq, heb.gathered_value()).reshape(B, T, N, -1)
        else:
            tok, final = hebbian_tokens(
                st, x, *heb.trace_params(), heb.value, heb.rule, heb.lo, heb.hi, backend, idx=heb.partners
            )
    ((tok * weights).sum() + tok.pow(2).sum() + final.attn.pow(2).sum() + final.pre.sum()).backward()
    grads = [
        torch.zeros_like(p) if p.grad is None else p.grad.clone()
        for p in (heb.value, heb.log_tau_pre, heb.log_tau_post, heb.log_w_pre, heb.log_w_post)
    ]
    state_grads = [torch.zeros_like(t) if t.grad is None else t.grad for t in (st.pre, st.post, st.attn)]
    return [tok.detach(), final.pre.detach(), final.post.detach(), final.attn.detach(), *grads, *state_grads]


def _assert_results_close(res, ref, rtol=1e-4):
    for a, b in zip(res, ref, strict=False):
        torch.testing.assert_close(a, b, rtol=rtol, atol=rtol * (float(b.abs().max()) + 1e-6))


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("data", ["binary", "counts", "sparse_counts"])
@pytest.mark.parametrize("rule,kind", RULE_KIND)
def test_tokens_equal_einsum_of_scan(rule, kind, data, sparse, monkeypatch):
    """hebbian_tokens == einsum(hebbian_scan, V) per row, forward and gradients (V, trace parameters, state),
    for every backend; sparse spikes take the event-driven kernels."""
    from sparks_gui.model import _hebbian_cpu

    calls = {"events": 0}
    original = _hebbian_cpu.hebbian_backward_events

    def counting(*args):
        calls["events"] += 1
        return original(*args)

    monkeypatch.setattr(_hebbian_cpu, "hebbian_backward_events", counting)
    heb, x, state, weights = _token_case(rule, data, sparse)
    ref = _token_results(heb, x, state, weights, "reference", scan=True)
    assert ref[0].shape == (2, 36, 7, heb.embed_dim)
    for backend in ("reference", "torch", "cpu_kernel"):
        _assert_results_close(_token_results(heb, x, state, weights, backend), ref)
    uses_events = data == "sparse_counts" and not sparse and rule in ("soft_bounded", "additive", "symmetric")
    assert calls["events"] == int(uses_events)


@pytest.mark.parametrize("rule,kind", [("soft_bounded", "spikes"), ("calcium", "calcium")])
def test_tokens_one_step_truncation_and_checkpoints(rule, kind, monkeypatch):
    """Truncated (one-step) gradients, and short checkpoint segments in both backward passes: same numbers."""
    from sparks_gui.model import _hebbian_cpu
    from sparks_gui.model import hebbian as hebbian_module

    heb, x, state, weights = _token_case(rule, "counts", False, seed=41)
    ref = _token_results(heb, x, state, weights, "reference", one_step=True)
    for backend in ("torch", "cpu_kernel"):
        _assert_results_close(_token_results(heb, x, state, weights, backend, one_step=True), ref)
    monkeypatch.setattr(_hebbian_cpu, "segment_length", lambda T, N=0: 7)
    monkeypatch.setattr(hebbian_module, "checkpoint_segment", lambda T: 7)
    ref = _token_results(heb, x, state, weights, "reference")
    for backend in ("torch", "cpu_kernel"):
        _assert_results_close(_token_results(heb, x, state, weights, backend), ref)


@pytest.mark.parametrize("sparse", [False, True])
def test_tokens_plus_bias_and_projection_equal_the_layer_forward(sparse):
    """How a caller uses hebbian_tokens: out_proj(tokens + value_bias) is exactly HebbianAttention.forward's tokens."""
    from sparks_gui.model.hebbian import hebbian_tokens

    heb, x, _, _ = _token_case("soft_bounded", "counts", sparse, seed=42)
    with torch.no_grad():
        heb.value_bias.normal_()
    expected, _, final_a = heb(x)
    tok, final_b = hebbian_tokens(
        heb.initial_state(x.shape[0]),
        x,
        *heb.trace_params(),
        heb.value,
        heb.rule,
        heb.lo,
        heb.hi,
        "cpu_kernel",
        idx=heb.partners,
    )
    out = heb.out_proj(tok + heb.value_bias.reshape(-1))
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(final_b.attn, final_a.attn)


def test_compiled_tokens_equal_reference():
    import warnings

    heb, x, state, weights = _token_case("soft_bounded", "counts", False, T=12, seed=43)
    ref = _token_results(heb, x, state, weights, "reference")
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="torch.compile of the Hebbian step")
        _assert_results_close(_token_results(heb, x, state, weights, "torch_compile"), ref)
