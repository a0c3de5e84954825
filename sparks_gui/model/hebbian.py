"""Multi-head Hebbian attention: attention between neurons computed online by STDP.

For every head, batch element and pair (i <- j) three states evolve in time
(see ``SPEC.md``): the pre-synaptic trace P, the post-synaptic trace Q and the
attention coefficient A.  With activity s(t) (length N)::

    P_ij <- a_pre_ij  P_ij + w_pre_ij  dt s_j          a = exp(-dt / tau)
    Q_ij <- a_post_ij Q_ij + w_post_ij dt s_i
    p = min(P, 1), q = min(Q, 1)                         (saturated rates)
    p_eff = f(p, s_i), q_eff = f(q, s_j)                 (k spikes in one bin act as k spikes)
    soft_bounded: A <- clamp(A + (1 - A) p_eff - A q_eff, lo, hi)
    additive:     A <- A + s_i p - s_j q                 (unbounded control)
    symmetric:    A <- clamp(1 - (1 - A)(1 - p_eff)(1 - q_eff), lo, hi)  (order-blind control)
    calcium:      A <- clamp(lam A + (1 - lam)(x_j - x_i), lo, hi)      (traces = activity)

with the per-bin count k (any non-negative real; k <= 0 counts as no spike)::

    f(p, k) = 0                  k <= 0
              k p                0 < k <= 1   (a fractional count is a spike with probability k)
              1 - (1 - p)^k      k > 1        (k spikes in the bin, one after the other)

Counts-safe: the traces stay linear in the counts (they carry the count
information), but the increments of A are convex weights in [0, 1], so A stays in
[0, 1] for soft_bounded and symmetric and |dA'/dA| <= 1 whatever the counts (the
old form A + (1-A) P [s_i>0] - A Q [s_j>0] has dA'/dA = 1 - P - Q, which leaves
[-1, 1] once traces exceed 1: with binned counts it is chaotic and its gradients
overflow).  On 0/1 spikes with traces <= 1 this is exactly the old rule, except
that symmetric, when i and j fire in the same bin, adds (1-A)(P + Q - PQ) instead
of (1-A)(P + Q).  The linear branch for fractional k keeps df/dp <= 1 (the power
form's slope k (1-p)^(k-1) is unbounded at p -> 1 for k < 1).

log tau and log w are learnable per pair and per head.  The output of a head is
A(t) @ V (+ bias): one d_head vector per neuron (neurons are the tokens);
:func:`hebbian_tokens` computes these without storing the attention sequence, and
:func:`hebbian_readout` a linear readout of all of them (when only linear maps follow).

Only the state recurrence is sequential.  It is computed for a whole chunk of
steps at once and everything after it is batched over batch x time.  Backends:
``cpu_kernel`` (fused numba kernels with a hand-written backward), ``torch`` (any
device: the per-step update with the readout fused per segment and gradient
checkpointing every ~sqrt(T) steps, so full BPTT memory does not grow with
T x N^2), ``torch_compile`` (the same with the step fused into one kernel by
``torch.compile``; the default on CUDA) and ``reference`` (the straightforward
per-step loop, kept for tests).
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from . import _hebbian_cpu

RULES = {"soft_bounded": 0, "additive": 1, "calcium": 2, "symmetric": 3}
BACKENDS = ("auto", "torch", "torch_compile", "cpu_kernel", "reference")


@dataclass
class HebbianState:
    """Per-head STDP state carried between chunks: three tensors [B, H, N, N]."""

    pre: torch.Tensor
    post: torch.Tensor
    attn: torch.Tensor

    @classmethod
    def zeros(
        cls, batch: int, heads: int, n: int, device=None, dtype=torch.float32, k: int | None = None
    ) -> HebbianState:
        z = torch.zeros(batch, heads, n, k or n, device=device, dtype=dtype)
        return cls(z, z.clone(), z.clone())

    def detach(self) -> HebbianState:
        return HebbianState(self.pre.detach(), self.post.detach(), self.attn.detach())


def _effective(trace: torch.Tensor, k: torch.Tensor, counts: bool, saturate: bool = True) -> torch.Tensor:
    """f(min(trace, 1), k) of the module docstring; ``k`` >= 0 broadcasts against ``trace``.

    ``counts`` False promises k <= 1 everywhere (0/1 spikes): then f is k p, without the power;
    ``saturate`` False (only with ``counts`` False) promises trace <= 1: then f is k trace.
    """
    if not (counts or saturate):
        return k * trace
    p = torch.clamp(trace, max=1.0)
    if not counts:
        return k * p
    linear = k <= 1
    # exponent 1 where the linear branch is taken, so the unused power has a finite gradient
    kk = torch.where(linear, torch.ones_like(k), k).detach()
    return torch.where(linear, k * p, 1 - (1 - p).pow(kk))


def hebbian_step(
    state: HebbianState,
    s: torch.Tensor,
    a_pre: torch.Tensor,
    c_pre: torch.Tensor,
    a_post: torch.Tensor,
    c_post: torch.Tensor,
    rule: str,
    lo: float,
    hi: float,
    idx: torch.Tensor | None = None,
    counts: bool = True,
    saturate: bool = True,
) -> HebbianState:
    """One step of the recurrence, written exactly as in the module docstring (the reference path).

    ``s`` is [B, N]; parameters are [H, N, K]; the state is [B, H, N, K] with K = N
    (dense) or, for the sparse variant, K partners per neuron given by ``idx`` [N, K].
    ``counts`` False is a promise that every value of ``s`` is <= 1 (0/1 spikes), which
    skips the power of the count formula; ``saturate`` False (with ``counts`` False) also
    promises s >= 0 and traces <= 1, which skips the saturation (see :func:`step_flags`).
    The defaults are always correct.
    """
    s_i = s[:, None, :, None]  # post-synaptic neuron i (rows)
    s_j = s[:, None, None, :] if idx is None else s[:, idx][:, None]  # pre-synaptic neuron j (columns)
    if rule == "calcium":
        v = a_pre * state.attn + (1 - a_pre) * (s_j - s_i)
        return HebbianState(state.pre, state.post, torch.clamp(v, lo, hi))
    pre = a_pre * state.pre + c_pre * s_j
    post = a_post * state.post + c_post * s_i
    A = state.attn
    if rule == "additive":
        if saturate:
            pre_, post_ = torch.clamp(pre, max=1.0), torch.clamp(post, max=1.0)
        else:
            pre_, post_ = pre, post
        return HebbianState(pre, post, A + s_i * pre_ - s_j * post_)
    if counts or saturate:
        s_i, s_j = torch.clamp(s_i, min=0), torch.clamp(s_j, min=0)
    p_eff = _effective(pre, s_i, counts, saturate)
    q_eff = _effective(post, s_j, counts, saturate)
    if rule == "soft_bounded":
        A = torch.clamp(A + (1 - A) * p_eff - A * q_eff, lo, hi)
    else:  # symmetric
        A = torch.clamp(1 - (1 - A) * (1 - p_eff) * (1 - q_eff), lo, hi)
    return HebbianState(pre, post, A)


def has_counts(x: torch.Tensor) -> bool:
    """Whether any value of ``x`` exceeds 1 (binned counts); False for 0/1 spikes and rates <= 1."""
    return bool(x.numel()) and bool((x > 1).any())


def step_flags(state: HebbianState, x: torch.Tensor, a_pre, c_pre, a_post, c_post) -> tuple[bool, bool]:
    """(``counts``, ``saturate``) for :func:`hebbian_step` over the chunk ``x``: the cheapest exact form.

    With 0 <= s <= m (m <= 1) a trace obeys P_t <= max(P_0, c m / (1 - a)) for all t, so when that
    bound is <= 1 for every pair the saturation min(P, 1) never acts and is skipped.  On CUDA the
    checks would synchronise with the host: there the general form is used (it fuses when compiled).
    """
    if x.device.type != "cpu":
        return True, True
    if has_counts(x):
        return True, True
    if not x.numel() or float(x.min()) < 0:
        return False, True
    with torch.no_grad():
        m = float(x.max())
        for trace, a, c in ((state.pre, a_pre, c_pre), (state.post, a_post, c_post)):
            bound = torch.maximum(trace.amax(0), c * m / (1 - a))  # inf where a == 1
            if not bool((bound <= 1).all()):
                return False, True
    return False, False


_GRAD = threading.local()


@contextlib.contextmanager
def one_step_gradients(enabled: bool = True):
    """Within this context, gradients through the Hebbian state are truncated to one step.

    The state entering every step is treated as a constant, so the gradient of the loss at
    step t reaches the trace parameters only through the update at t - exactly the
    gradient of online learning (one update per step, state detached), but for a whole
    chunk at once.  Used by the ``online_chunked`` gradient mode.
    """
    previous = getattr(_GRAD, "one_step", False)
    _GRAD.one_step = enabled
    try:
        yield
    finally:
        _GRAD.one_step = previous


def one_step_enabled() -> bool:
    return getattr(_GRAD, "one_step", False)


def _detached(state: HebbianState) -> HebbianState:
    return HebbianState(state.pre.detach(), state.post.detach(), state.attn.detach())


def hebbian_scan_reference(state, x, a_pre, c_pre, a_post, c_post, rule, lo, hi, idx=None):
    """Per-step loop over ``x`` [B, N, T]: returns (A for every step [B, H, T, N, N], final state)."""
    seq = []
    one_step = one_step_enabled()
    flags = step_flags(state, x, a_pre, c_pre, a_post, c_post)
    for t in range(x.shape[-1]):
        if one_step:
            state = _detached(state)
        state = hebbian_step(state, x[..., t], a_pre, c_pre, a_post, c_post, rule, lo, hi, idx, *flags)
        seq.append(state.attn)
    return torch.stack(seq, dim=2), state


def _np(t: torch.Tensor):
    return t.detach().contiguous().numpy()


_DUMMY5 = np.zeros((1, 1, 1, 1, 1), dtype=np.float32)
_DUMMY4 = np.zeros((1, 1, 1, 1), dtype=np.float32)
_DUMMY3 = np.zeros((1, 1, 1), dtype=np.float32)
_DUMMY_IDX = np.zeros((1, 1), dtype=np.int64)

EVENT_RULES = (0, 1, 3)
"""Rules (soft_bounded, additive, symmetric) with an event-driven kernel for sparse spike trains."""
EVENT_MAX_DENSITY = 0.1
"""Use the event-driven kernels when at most this fraction of (time, neuron) bins is non-zero."""


def _spike_events(s: np.ndarray):
    """CSR of the non-zero neurons of every (b, t) of ``s`` [B, T, N], or None when the input is not sparse."""
    B, T, N = s.shape
    flat = s.reshape(B * T, N)
    nz_rows, nz_cols = np.nonzero(flat)
    if len(nz_cols) > EVENT_MAX_DENSITY * flat.size or np.any(flat[nz_rows, nz_cols] < 0):
        return None
    indptr = np.zeros(B * T + 1, dtype=np.int64)
    np.cumsum(np.bincount(nz_rows, minlength=B * T), out=indptr[1:])
    return indptr, nz_cols.astype(np.int64)


def _count_steps(s: np.ndarray) -> np.ndarray:
    """[B, T] uint8, what the values of step t of batch element b are (the kernels' ``kind``): 0 all <= 1
    (0/1 spikes: no power), 1 those > 1 are integer counts <= 32 (power by squaring), 2 anything else."""
    big = s > 1
    kind = big.any(axis=-1).astype(np.uint8)
    if kind.any():
        odd = big & ((s > 32) | (s != np.floor(s)))
        kind[odd.any(axis=-1)] = 2
    return np.ascontiguousarray(kind)


class _HebbianScanCPU(torch.autograd.Function):
    """The recurrence through the fused numba kernels, with a hand-written backward.

    ``Kt`` None: returns A for every step [B, H, T, N, K].  ``Kt`` [H, R, k, K] (R = N:
    one table per row, R = 1: shared by the rows) and ``tokens`` False: returns the
    fused linear readout [B, T, k] = sum_{h,i,j} A_ij(t) Kt[h, i, :, j]; ``tokens``
    True: every row's own readout [B, T, N, H*k], ``out[b, t, i, h*k + c] =
    sum_j A_ij(t) Kt[h, i, c, j]`` (the value read-out of the tokens).  The readouts never
    store the attention sequence, and nothing of size T x N^2 is saved for backward:
    the kernel recomputes the state history per row.
    """

    @staticmethod
    def forward(
        ctx,
        x_tn,
        P0,
        Q0,
        A0,
        a_pre,
        c_pre,
        a_post,
        c_post,
        Kt,
        rule_code,
        lo,
        hi,
        one_step=False,
        idx=None,
        tokens=False,
    ):
        B, T, N = x_tn.shape
        H, K = a_pre.shape[0], a_pre.shape[2]
        idx_np = _DUMMY_IDX if idx is None else idx.numpy()
        mode = 0 if Kt is None else (2 if tokens else 1)
        inputs = [_np(t) for t in (x_tn, P0, Q0, A0, a_pre, c_pre, a_post, c_post)]
        many = _count_steps(inputs[0])
        P1, Q1, A1 = (torch.empty(B, H, N, K) for _ in range(3))
        Aseq_np, out_np, tok_np, K_np = _DUMMY5, _DUMMY5, _DUMMY4, _DUMMY4
        if mode == 0:
            result = torch.empty(B, H, T, N, K)
            Aseq_np = result.numpy()
        elif mode == 1:
            partial = torch.empty(B, H, -(-N // _hebbian_cpu.ROWS_PER_TASK), T, Kt.shape[2])
            out_np, K_np = partial.numpy(), _np(Kt)
        else:
            result = torch.empty(B, T, N, H * Kt.shape[2])
            tok_np, K_np = result.numpy(), _np(Kt)
        events = None
        if mode != 0 and idx is None and rule_code in EVENT_RULES and not one_step:
            events = _spike_events(inputs[0])
        lo, hi = float(lo), float(hi)
        if events is not None:  # sparse spikes: event-driven kernel (same numbers, ~O(events) work)
            _hebbian_cpu.hebbian_forward_events(
                *inputs,
                rule_code,
                lo,
                hi,
                mode,
                K_np,
                _np(Kt.transpose(2, 3)),
                out_np,
                tok_np,
                P1.numpy(),
                Q1.numpy(),
                A1.numpy(),
                *events,
                many,
            )
        else:
            _hebbian_cpu.hebbian_forward(
                *inputs,
                rule_code,
                lo,
                hi,
                mode,
                K_np,
                Aseq_np,
                out_np,
                tok_np,
                P1.numpy(),
                Q1.numpy(),
                A1.numpy(),
                idx_np,
                idx is not None,
                many,
            )
        if mode == 1:
            result = partial.sum(dim=(1, 2))
        ctx.save_for_backward(x_tn, P0, Q0, A0, a_pre, c_pre, a_post, c_post, Kt if Kt is not None else torch.empty(0))
        ctx.rule_code, ctx.lo, ctx.hi, ctx.mode, ctx.one_step = rule_code, lo, hi, mode, bool(one_step)
        ctx.idx = idx
        ctx.events, ctx.many = events, many
        return result, P1, Q1, A1

    @staticmethod
    def backward(ctx, g_result, gP1, gQ1, gA1):
        x_tn, P0, Q0, A0, a_pre, c_pre, a_post, c_post, Kt = ctx.saved_tensors
        B, T, N = x_tn.shape
        H, K = a_pre.shape[0], a_pre.shape[2]
        mode = ctx.mode
        idx = ctx.idx

        def dense(g, shape):
            return np.zeros(shape, dtype=np.float32) if g is None else _np(g.float())

        gP1, gQ1, gA1 = (dense(g, (B, H, N, K)) for g in (gP1, gQ1, gA1))
        gAseq, gout, gtok, K_np, gK = _DUMMY5, _DUMMY3, _DUMMY4, _DUMMY4, _DUMMY5
        if mode == 0:
            gAseq = dense(g_result, (B, H, T, N, K))
        else:
            nk = Kt.shape[2]
            K_np = _np(Kt)
            if mode == 1:
                gout = dense(g_result, (B, T, nk))
            else:
                gtok = dense(g_result, (B, T, N, H * nk))
            # per row, or for a shared table accumulated per worker block of the kernel; the event kernels
            # keep the table and its gradient pair-major
            shape = (nk, K) if ctx.events is None else (K, nk)
            if Kt.shape[1] == 1:
                gK = np.zeros((min(B * H * N, _hebbian_cpu.BLOCKS), H, 1, *shape), dtype=np.float32)
            else:
                gK = np.empty((B, H, N, *shape), dtype=np.float32)
        gP0, gQ0, gA0 = (torch.empty(B, H, N, K) for _ in range(3))
        g_params = [torch.empty(B, H, N, K) for _ in range(4)]
        inputs = [_np(t) for t in (x_tn, P0, Q0, A0, a_pre, c_pre, a_post, c_post)]
        grads = [gP0.numpy(), gQ0.numpy(), gA0.numpy(), *[g.numpy() for g in g_params], gK]
        if ctx.events is not None:
            if mode == 1:
                Gc = np.zeros((B, T + 1, gout.shape[2]), dtype=np.float32)
                np.cumsum(gout, axis=1, out=Gc[:, 1:])
            else:
                Gc = _DUMMY3
            _hebbian_cpu.hebbian_backward_events(
                *inputs,
                ctx.rule_code,
                ctx.lo,
                ctx.hi,
                mode,
                _np(Kt.transpose(2, 3)),
                gout,
                gtok,
                gP1,
                gQ1,
                gA1,
                *grads,
                *ctx.events,
                Gc,
                ctx.many,
            )
        else:
            _hebbian_cpu.hebbian_backward(
                *inputs,
                ctx.rule_code,
                ctx.lo,
                ctx.hi,
                mode,
                K_np,
                gAseq,
                gout,
                gtok,
                gP1,
                gQ1,
                gA1,
                *grads,
                _hebbian_cpu.segment_length(T, K),
                ctx.one_step,
                _DUMMY_IDX if idx is None else idx.numpy(),
                idx is not None,
                ctx.many,
            )
        g_ap, g_cp, g_aq, g_cq = (g.sum(0) for g in g_params)
        gKt = None
        if mode != 0:
            gKt = torch.from_numpy(gK).sum(0)
            gKt = gKt if ctx.events is None else gKt.transpose(2, 3)
        return None, gP0, gQ0, gA0, g_ap, g_cp, g_aq, g_cq, gKt, None, None, None, None, None, None


def cpu_kernel_available() -> bool:
    return _hebbian_cpu.HAVE_NUMBA


def resolve_backend(x: torch.Tensor, backend: str) -> str:
    """The concrete backend for ``x``: ``auto`` is the numba kernel for float32 CPU tensors (numba
    installed), ``torch_compile`` on CUDA (unless compilation failed before) and ``torch`` elsewhere."""
    if backend == "cpu_kernel" and not cpu_kernel_available():
        raise RuntimeError("hebbian backend 'cpu_kernel' needs numba: pip install numba")
    if backend != "auto":
        return backend
    if x.device.type == "cpu" and x.dtype == torch.float32 and cpu_kernel_available():
        return "cpu_kernel"
    return "torch_compile" if x.device.type == "cuda" and not _COMPILED.get("failed") else "torch"


def hebbian_scan(state, x, a_pre, c_pre, a_post, c_post, rule, lo, hi, backend="auto", idx=None):
    """A for every step of the chunk ``x`` [B, N, T] ([B, H, T, N, N]) and the final state."""
    if resolve_backend(x, backend) == "cpu_kernel":
        Aseq, P1, Q1, A1 = _HebbianScanCPU.apply(
            x.transpose(1, 2).contiguous(),
            state.pre,
            state.post,
            state.attn,
            a_pre,
            c_pre,
            a_post,
            c_post,
            None,
            RULES[rule],
            lo,
            hi,
            one_step_enabled(),
            idx,
        )
        return Aseq, HebbianState(P1, Q1, A1)
    return hebbian_scan_reference(state, x, a_pre, c_pre, a_post, c_post, rule, lo, hi, idx)


def checkpoint_segment(T: int) -> int:
    """Steps between stored states in the torch backend's backward: about sqrt(T)."""
    return max(1, math.ceil(math.sqrt(max(T, 1))))


_COMPILED: dict[str, object] = {}


def compiled_step():
    """:func:`hebbian_step` fused by ``torch.compile`` (one kernel per step forward, one backward)."""
    if "step" not in _COMPILED:
        _COMPILED["step"] = torch.compile(hebbian_step, fullgraph=True, dynamic=False)
    return _COMPILED["step"]


def _project_readout(seq: torch.Tensor, Kflat: torch.Tensor) -> torch.Tensor:
    """Fused readout of a segment's attention ``seq`` [B, S, H, N, K]: [B, S, k]."""
    B, S = seq.shape[:2]
    return seq.reshape(B, S, -1) @ Kflat


def _project_tokens(seq: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """Tokens of a segment's attention ``seq`` [B, S, H, N, K]: [B, S, N, H * d_head]
    (``V`` [H, N, d_head] shared by the rows, or [H, N, K, d_head] gathered per row)."""
    B, S, _, N = seq.shape[:4]
    out = torch.einsum("bshnk,hkd->bsnhd", seq, V) if V.dim() == 3 else torch.einsum("bshnk,hnkd->bsnhd", seq, V)
    return out.reshape(B, S, N, -1)


def _segment_run(
    step, one_step, rule, lo, hi, idx, flags, project, x_seg, P, Q, A, a_pre, c_pre, a_post, c_post, table
):
    """Steps of one segment and their projection ``project(attention [B, S, H, N, K], table)`` (recomputed in
    backward)."""
    state = HebbianState(P, Q, A)
    seq = []
    for t in range(x_seg.shape[-1]):
        if one_step:
            state = _detached(state)
        state = step(state, x_seg[..., t], a_pre, c_pre, a_post, c_post, rule, lo, hi, idx, *flags)
        seq.append(state.attn)
    return project(torch.stack(seq, dim=1), table), state.pre, state.post, state.attn


def _checkpointed(state, x, a_pre, c_pre, a_post, c_post, table, project, rule, lo, hi, idx, segment, compile):
    """The recurrence in segments under activation checkpointing, each segment projected by ``project``."""
    T = x.shape[-1]
    seg = segment or checkpoint_segment(T)
    # the truncation flag is bound now: backward recomputes outside the one_step_gradients context
    step = compiled_step() if compile else hebbian_step
    # the cheapest exact form of the step for this chunk (0/1 input: no power; traces <= 1: no saturation)
    flags = step_flags(state, x, a_pre, c_pre, a_post, c_post)
    fn = functools.partial(_segment_run, step, one_step_enabled(), rule, lo, hi, idx, flags, project)
    tensors = (state.pre, state.post, state.attn, a_pre, c_pre, a_post, c_post, table)
    recompute = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    P, Q, A = state.pre, state.post, state.attn
    outs = []
    for t0 in range(0, T, seg):
        args = (x[..., t0 : t0 + seg], P, Q, A, a_pre, c_pre, a_post, c_post, table)
        out, P, Q, A = checkpoint(fn, *args, use_reentrant=False) if recompute else fn(*args)
        outs.append(out)
    return torch.cat(outs, dim=1), HebbianState(P, Q, A)


def hebbian_readout_checkpointed(
    state,
    x,
    a_pre,
    c_pre,
    a_post,
    c_post,
    Kt,
    rule,
    lo,
    hi,
    idx=None,
    segment: int | None = None,
    compile: bool = False,
):
    """The fused readout in plain torch, for any device (the CUDA path).

    The chunk is cut into segments of ``segment`` steps (default ~sqrt(T)); each runs
    under activation checkpointing, so backward stores only the state at segment starts
    and recomputes one segment at a time: memory O(sqrt(T) N^2) instead of O(T N^2),
    same gradients.  No host synchronisation happens inside the step loop.
    """
    H, N, k, K = Kt.shape
    Kflat = Kt.permute(0, 1, 3, 2).reshape(H * N * K, k)
    return _checkpointed(
        state, x, a_pre, c_pre, a_post, c_post, Kflat, _project_readout, rule, lo, hi, idx, segment, compile
    )


def hebbian_tokens_checkpointed(
    state, x, a_pre, c_pre, a_post, c_post, V, rule, lo, hi, idx=None, segment: int | None = None, compile: bool = False
):
    """:func:`hebbian_tokens` in plain torch, for any device: segments under checkpointing as in
    :func:`hebbian_readout_checkpointed` (memory O(sqrt(T) N^2) besides the tokens themselves)."""
    table = V if idx is None else V[:, idx]  # [H, N, dh] or, sparse, each row's partners [H, N, K, dh]
    return _checkpointed(
        state, x, a_pre, c_pre, a_post, c_post, table, _project_tokens, rule, lo, hi, idx, segment, compile
    )


def _torch_backend(checkpointed, backend, *args):
    """``checkpointed(*args)`` with the compiled step for ``torch_compile`` (eager, with a warning, when
    compilation fails), the eager step for ``torch``."""
    if backend == "torch_compile":
        try:
            return checkpointed(*args, compile=True)
        except torch.cuda.OutOfMemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - no compiler/triton here: the eager step gives the same numbers
            _COMPILED["failed"] = True
            warnings.warn(
                f"torch.compile of the Hebbian step failed ({type(exc).__name__}: {exc}); "
                "using the eager torch backend",
                RuntimeWarning,
                stacklevel=3,
            )
    return checkpointed(*args)


def hebbian_readout(state, x, a_pre, c_pre, a_post, c_post, Kt, rule, lo, hi, backend="auto", idx=None):
    """Fused linear readout sum_{h,i,j} A_ij(t) Kt[h, i, :, j] ([B, T, k]) and the final state.

    Same numbers as ``einsum(hebbian_scan(...)[0], Kt)`` but without storing the
    [B, H, T, N, N] attention sequence (except with the ``reference`` backend).
    """
    backend = resolve_backend(x, backend)
    if backend == "cpu_kernel":
        out, P1, Q1, A1 = _HebbianScanCPU.apply(
            x.transpose(1, 2).contiguous(),
            state.pre,
            state.post,
            state.attn,
            a_pre,
            c_pre,
            a_post,
            c_post,
            Kt.float().contiguous(),
            RULES[rule],
            lo,
            hi,
            one_step_enabled(),
            idx,
        )
        return out, HebbianState(P1, Q1, A1)
    if backend in ("torch", "torch_compile"):
        return _torch_backend(
            hebbian_readout_checkpointed, backend, state, x, a_pre, c_pre, a_post, c_post, Kt, rule, lo, hi, idx
        )
    Aseq, state = hebbian_scan_reference(state, x, a_pre, c_pre, a_post, c_post, rule, lo, hi, idx)
    return torch.einsum("bhtij,hikj->btk", Aseq, Kt), state


def hebbian_tokens(state, x, a_pre, c_pre, a_post, c_post, V, rule, lo, hi, backend="auto", idx=None):
    """Value read-out of every neuron token, without storing the attention sequence.

    Parameters: ``state`` (:class:`HebbianState`, [B, H, N, K] each), ``x`` [B, N, T]
    (0/1 spikes, counts, or calcium activity), the trace parameters [H, N, K] (as from
    :meth:`HebbianAttention.trace_params`), ``V`` [H, N, d_head] (the layer's ``value``),
    ``rule``, ``lo``, ``hi``, ``backend`` and, for the sparse variant, ``idx`` [N, K] (the
    layer's ``partners``: row i reads the values of its K partners, as
    :meth:`HebbianAttention.gathered_value`).

    Returns ``(tokens, final_state)`` with ``tokens`` [B, T, N, H * d_head]::

        tokens[b, t, i, h*d_head:(h+1)*d_head] = sum_m A[b, h, i, m](t) V[h, col(i, m), :]

    where col(i, m) = m (dense) or idx[i, m] (sparse): the heads concatenated along the
    last axis as in :meth:`HebbianAttention.forward`, *without* the value bias and the
    output projection (add ``value_bias`` reshaped to [E] and apply ``out_proj``).
    Same numbers as ``einsum`` of :func:`hebbian_scan`'s [B, H, T, N, K] sequence with V,
    but that sequence is never stored (except with the ``reference`` backend): the numba
    kernels write each row's tokens as they walk it (mode 2, event-driven for sparse
    spikes) and recompute the state history in backward; the torch backends project each
    checkpointed segment.  Gradients reach V, the trace parameters and the initial state.
    """
    backend = resolve_backend(x, backend)
    if backend == "cpu_kernel":
        # the kernels read V as one [d_head, K] table per row: shared (dense) or gathered per row (sparse)
        Vt = V.transpose(1, 2)[:, None] if idx is None else V[:, idx].transpose(2, 3)
        tok, P1, Q1, A1 = _HebbianScanCPU.apply(
            x.transpose(1, 2).contiguous(),
            state.pre,
            state.post,
            state.attn,
            a_pre,
            c_pre,
            a_post,
            c_post,
            Vt.float().contiguous(),
            RULES[rule],
            lo,
            hi,
            one_step_enabled(),
            idx,
            True,
        )
        return tok, HebbianState(P1, Q1, A1)
    if backend in ("torch", "torch_compile"):
        return _torch_backend(
            hebbian_tokens_checkpointed, backend, state, x, a_pre, c_pre, a_post, c_post, V, rule, lo, hi, idx
        )
    Aseq, state = hebbian_scan_reference(state, x, a_pre, c_pre, a_post, c_post, rule, lo, hi, idx)
    B, _, T, N, _ = Aseq.shape
    if idx is None:
        tok = torch.einsum("bhtik,hkd->btihd", Aseq, V)
    else:
        tok = torch.einsum("bhtik,hikd->btihd", Aseq, V[:, idx])
    return tok.reshape(B, T, N, -1), state


def local_partners(n_neurons: int, k: int) -> torch.Tensor:
    """[N, K] partners of each neuron: itself and its nearest neighbours in index order (depth, ROI position)."""
    k = min(k, n_neurons)
    rows = []
    for i in range(n_neurons):
        lo = min(max(0, i - (k - 1) // 2), n_neurons - k)
        rows.append(list(range(lo, lo + k)))
    return torch.tensor(rows, dtype=torch.int64)


def correlation_partners(activity, k: int, smooth_bins: int = 10) -> torch.Tensor:
    """[N, K] partners of each neuron: itself and the K-1 neurons most correlated with it (|r| of smoothed activity).

    ``activity`` is [N, T] (numpy or torch).  Used to pick the pairs of the sparse Hebbian
    variant from the data before training.
    """
    x = torch.as_tensor(activity, dtype=torch.float32)
    n = x.shape[0]
    k = min(k, n)
    if smooth_bins > 1 and x.shape[1] >= smooth_bins:
        x = x[:, : x.shape[1] // smooth_bins * smooth_bins].reshape(n, -1, smooth_bins).sum(-1)
    x = x - x.mean(1, keepdim=True)
    x = x / (x.norm(dim=1, keepdim=True) + 1e-8)
    partners = torch.empty(n, k, dtype=torch.int64)
    for s in range(0, n, 1024):  # blocks of rows keep memory at 1024 x N
        c = (x[s : s + 1024] @ x.T).abs()
        rows = torch.arange(s, min(n, s + 1024))
        c[torch.arange(len(rows)), rows] = float("inf")  # itself first
        partners[s : s + 1024] = torch.topk(c, k, dim=1).indices
    return partners


TRACE_PARAMETERS = ("log_tau_pre", "log_tau_post", "log_w_pre", "log_w_post")
"""Names of the learnable trace parameters (the trainer gives them their own optimiser group)."""


class HebbianAttention(nn.Module):
    """Multi-head Hebbian attention over neuron tokens.

    Parameters
    ----------
    n_neurons, embed_dim, n_heads
        N tokens; output width ``embed_dim`` split over ``n_heads`` heads.
    dt
        Bin width in seconds.
    tau_s, w_start
        Initial time constant (s) and trace weight of every pair.
    stdp_rule
        ``"soft_bounded"`` (default), ``"additive"`` or ``"symmetric"`` (control).
    kind
        ``"spikes"`` (learned traces) or ``"calcium"`` (activity is the trace).
    learn_traces
        False freezes tau and w (the fixed-trace control).
    """

    def __init__(
        self,
        n_neurons: int,
        embed_dim: int = 32,
        n_heads: int = 1,
        dt: float = 0.001,
        tau_s: float = 0.5,
        w_start: float = 1.0,
        stdp_rule: str = "soft_bounded",
        kind: str = "spikes",
        learn_traces: bool = True,
        attn_bounds: tuple[float, float] = (-0.5, 1.5),
        backend: str = "auto",
        n_partners: int = 0,
    ):
        super().__init__()
        if embed_dim % n_heads:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by n_heads={n_heads}")
        rule = "calcium" if kind == "calcium" else stdp_rule
        if rule not in RULES:
            raise ValueError(f"unknown stdp_rule '{stdp_rule}', expected one of {sorted(RULES)}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown hebbian backend '{backend}', expected one of {BACKENDS}")
        self.n_neurons, self.embed_dim, self.n_heads = n_neurons, embed_dim, n_heads
        self.d_head = embed_dim // n_heads
        self.dt, self.rule, self.backend = float(dt), rule, backend
        self.lo, self.hi = attn_bounds if rule != "additive" else (-math.inf, math.inf)
        # sparse/local variant: each neuron attends to K partners (itself included) instead of all N
        self.n_partners = int(n_partners) if 0 < int(n_partners) < n_neurons else 0
        K = self.n_partners or n_neurons
        self.register_buffer("partners", local_partners(n_neurons, K) if self.n_partners else None)
        shape = (n_heads, n_neurons, K)
        init = dict(
            zip(
                TRACE_PARAMETERS, (math.log(tau_s), math.log(tau_s), math.log(w_start), math.log(w_start)), strict=False
            )
        )
        for name, value in init.items():
            p = nn.Parameter(torch.full(shape, value), requires_grad=learn_traces)
            self.register_parameter(name, p)
        bound = 1.0 / math.sqrt(n_neurons)
        self.value = nn.Parameter(torch.empty(n_heads, n_neurons, self.d_head).uniform_(-bound, bound))
        self.value_bias = nn.Parameter(torch.zeros(n_heads, 1, self.d_head))
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def trace_params(self):
        """(a_pre, c_pre, a_post, c_post), each [H, N, N]: decays and per-spike increments."""
        a_pre = torch.exp(-self.dt * torch.exp(-self.log_tau_pre))
        a_post = torch.exp(-self.dt * torch.exp(-self.log_tau_post))
        return a_pre, torch.exp(self.log_w_pre) * self.dt, a_post, torch.exp(self.log_w_post) * self.dt

    def initial_state(self, batch: int, device=None) -> HebbianState:
        return HebbianState.zeros(
            batch, self.n_heads, self.n_neurons, device=device or self.value.device, k=self.n_partners or None
        )

    def set_partners(self, partners) -> None:
        """Choose each neuron's K partners ([N, K] indices; see :func:`correlation_partners`)."""
        if not self.n_partners:
            raise ValueError("this layer is dense; build it with n_partners=K to use partners")
        idx = torch.as_tensor(partners, dtype=torch.int64, device=self.value.device)
        if idx.shape != self.partners.shape:
            raise ValueError(f"partners must be {tuple(self.partners.shape)}, got {tuple(idx.shape)}")
        self.partners.copy_(idx)

    def gathered_value(self) -> torch.Tensor:
        """Value vectors of each row's columns: [H, N, K, d_head] (dense: the same V for every row)."""
        if self.partners is None:
            return self.value[:, None].expand(-1, self.n_neurons, -1, -1)
        return self.value[:, self.partners]

    def attention_sequence(self, x: torch.Tensor, state: HebbianState | None = None, backend: str | None = None):
        """A for every step: ([B, H, T, N, N], final state).  ``x`` is [B, N, T]."""
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        return hebbian_scan(
            state, x, *self.trace_params(), self.rule, self.lo, self.hi, backend or self.backend, idx=self.partners
        )

    def forward(self, x: torch.Tensor, state: HebbianState | None = None):
        """``x`` [B, N, T] -> (tokens [B, T, N, E], A [B, H, T, N, N], final state)."""
        Aseq, state = self.attention_sequence(x, state)
        B, H, T, N, _ = Aseq.shape
        if self.partners is None:
            # one plain GEMM per head ([B*T*N, N] @ [N, dh]); broadcasting matmul would expand V in backward
            heads = [Aseq[:, h].reshape(-1, N) @ self.value[h] + self.value_bias[h] for h in range(H)]
        else:
            Vg = self.gathered_value()  # [H, N, K, dh]
            heads = [torch.einsum("btnk,nkd->btnd", Aseq[:, h], Vg[h]) + self.value_bias[h] for h in range(H)]
        tokens = torch.cat(heads, dim=-1).reshape(B, T, N, self.embed_dim)
        return self.out_proj(tokens), Aseq, state
