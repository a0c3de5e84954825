"""Encoder variants: the paper's controls for the Hebbian session encoder (pure torch).

Every encoder here has the interface of :class:`~sparks_gui.model.sparks.SessionEncoder`:

``forward(x [B, N, T], state, blocks, fused) -> (mu, logvar [B, T, d], new state)``

with a recurrent ``state`` carried across chunks of a trial (so truncated and online
gradient modes see exactly the same forward pass as a whole-trial call) and outputs at
step t that depend on ``x[..., :t+1]`` only (causal).  ``initial_state(batch, device)``
gives the state at the start of a trial; states have ``detach()``.

* :class:`DotAttentionEncoder` (``"dot_attention"``): conventional softmax dot-product
  attention between the N neuron tokens, computed at each step on exponentially smoothed
  rates (time constant ``tau_s``).  Unlike Hebbian attention it sees no spike *order*,
  only co-activity at the current step.  Its attention matrices are available.
* :class:`MLPEncoder` (``"mlp"``): an MLP on the smoothed rates and the last ``window``
  raw bins.
* :class:`GRUEncoder` (``"gru"``): a GRU over time on the activity.

Rates are smoothed with ``r(t) = a r(t-1) + (1 - a) x(t)``, ``a = exp(-dt / tau_s)``.
The Hebbian variants (``"hebbian"``, ``"hebbian_symmetric"``, ``"hebbian_fixed"``) are
built by :func:`sparks_gui.model.sparks.make_session_encoder`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import SparksError

ENCODERS = ("hebbian", "hebbian_symmetric", "hebbian_fixed", "dot_attention", "mlp", "gru")
"""Names accepted by ``SparksConfig.encoder`` / ``SparksModel(encoder=...)``."""

TOKEN_ENCODERS = ("hebbian", "hebbian_symmetric", "hebbian_fixed", "dot_attention")
"""Encoders that produce one token per neuron (the shared conventional blocks apply to them)."""


def latent_stats(out: torch.Tensor, latent_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Split a head's output [..., 2d] into mu and a clamped logvar (shared by every session encoder)."""
    mu, logvar = out.split(latent_dim, dim=-1)
    return mu, logvar.clamp(-12.0, 8.0)


def latent_stats_from_tokens(tokens: torch.Tensor, blocks: nn.ModuleList, head: nn.Linear, latent_dim: int):
    """Neuron tokens [B, T, N, E] -> optional conventional attention blocks -> mu/logvar heads."""
    B, T, N, E = tokens.shape
    if len(blocks):
        flat = tokens.reshape(B * T, N, E)
        for block in blocks:
            flat = block(flat)
        tokens = flat.view(B, T, N, E)
    return latent_stats(head(tokens.reshape(B, T, N * E)), latent_dim)


def smoothing_factor(dt: float, tau_s: float) -> float:
    """Decay per bin ``a = exp(-dt / tau_s)`` of the exponential rate smoother."""
    return math.exp(-float(dt) / float(tau_s))


def exp_smooth(x: torch.Tensor, r0: torch.Tensor, a: float, block: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Causal exponential smoothing ``r(t) = a r(t-1) + (1 - a) x(t)`` along the last axis.

    ``x`` [B, N, T], ``r0`` [B, N] (the value before the first step).  Returns the
    smoothed sequence [B, N, T] and its last value [B, N].  Computed in blocks of
    ``block`` steps with a lower-triangular matrix, so it is exact and vectorised.
    """
    out, r = [], r0
    T = x.shape[-1]
    for t0 in range(0, T, block):
        xb = x[..., t0 : t0 + block]
        K = xb.shape[-1]
        k = torch.arange(K, device=x.device)
        lag = k[:, None] - k[None, :]  # t - s
        powers = torch.tensor(a, dtype=x.dtype, device=x.device) ** lag.clamp(min=0).to(x.dtype)
        L = torch.where(lag >= 0, (1.0 - a) * powers, torch.zeros((), dtype=x.dtype, device=x.device))
        carry = torch.tensor(a, dtype=x.dtype, device=x.device) ** (k + 1).to(x.dtype)
        rb = xb @ L.T + r[..., None] * carry
        out.append(rb)
        r = rb[..., -1]
    if not out:
        return x.new_zeros(x.shape), r0
    return torch.cat(out, dim=-1), r


def input_scale(dt: float, kind: str) -> float:
    """Fixed scale applied to smoothed rates: spikes per bin -> about 1 at 20 Hz; calcium unchanged."""
    return 1.0 if kind == "calcium" else 0.05 / float(dt)


@dataclass
class RateState:
    """State of the rate-based encoders: smoothed rate [B, N] and the last raw bins [B, N, w-1]."""

    rate: torch.Tensor
    tail: torch.Tensor

    def detach(self) -> RateState:
        return RateState(self.rate.detach(), self.tail.detach())


@dataclass
class GRUState:
    """Hidden state of the GRU encoder, [B, hidden]."""

    h: torch.Tensor

    def detach(self) -> GRUState:
        return GRUState(self.h.detach())


class _RateEncoder(nn.Module):
    """Shared plumbing: smoothing constants, state, and a clear error for attention requests."""

    has_attention = False
    window = 1

    def _init_rates(self, n_neurons: int, latent_dim: int, n_heads: int, dt: float, tau_s: float, kind: str) -> None:
        self.n_neurons, self.latent_dim, self.n_heads = int(n_neurons), int(latent_dim), int(n_heads)
        self.kind = kind
        self.decay = smoothing_factor(dt, tau_s)
        self.scale = input_scale(dt, kind)

    def initial_state(self, batch: int, device=None) -> RateState:
        device = device or next(self.parameters()).device
        return RateState(
            torch.zeros(batch, self.n_neurons, device=device),
            torch.zeros(batch, self.n_neurons, self.window - 1, device=device),
        )

    def _rates(self, x: torch.Tensor, state: RateState | None):
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        rate, last = exp_smooth(x, state.rate, self.decay)
        full = torch.cat([state.tail, x], dim=-1)
        tail = full[..., full.shape[-1] - (self.window - 1) :] if self.window > 1 else state.tail
        return rate, full, RateState(last, tail)

    def attention_sequence(self, x: torch.Tensor, state=None):
        raise SparksError(
            f"The '{self.name}' encoder has no attention matrices.",
            "Train a Hebbian or dot_attention encoder to inspect attention.",
        )


class DotAttentionEncoder(_RateEncoder):
    """Softmax dot-product attention between neuron tokens built from smoothed rates.

    Token of neuron i at step t: ``tok_i(t) = u_i(t) e_i + c_i`` (learned value and
    identity embeddings, ``u`` the scaled smoothed rate); queries, keys and values are
    linear maps of the tokens, ``A(t) = softmax_j(q_i . k_j / sqrt(d_head))`` per head,
    output ``tok + W_o [A V]``, then optional shared conventional blocks and the
    mu/logvar head.  Because tokens are affine in ``u``, the scores are computed as
    ``u_i u_j M1 + u_i M2 + u_j M3 + M4`` with [H, N, N] matrices folded from the
    weights: exactly the same numbers, without a per-token projection.
    """

    name = "dot_attention"
    has_attention = True

    def __init__(
        self,
        n_neurons: int,
        embed_dim: int,
        latent_dim: int,
        n_heads: int = 1,
        dt: float = 0.001,
        tau_s: float = 0.5,
        kind: str = "spikes",
        **_ignored,
    ):
        super().__init__()
        if embed_dim % n_heads:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by n_heads={n_heads}")
        self._init_rates(n_neurons, latent_dim, n_heads, dt, tau_s, kind)
        self.embed_dim, self.d_head = embed_dim, embed_dim // n_heads
        self.value_embed = nn.Parameter(torch.randn(n_neurons, embed_dim) / math.sqrt(embed_dim))
        self.id_embed = nn.Parameter(torch.randn(n_neurons, embed_dim) / math.sqrt(embed_dim))
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        self.head = nn.Linear(n_neurons * embed_dim, 2 * latent_dim)

    def _attend(self, x: torch.Tensor, state: RateState | None):
        rate, _, new_state = self._rates(x, state)
        u = (rate * self.scale).transpose(1, 2)  # [B, T, N]
        N, E, H, dh = self.n_neurons, self.embed_dim, self.n_heads, self.d_head
        W, b = self.qkv.weight, self.qkv.bias  # [3E, E], [3E]
        slope = (self.value_embed @ W.T).view(N, 3, H, dh).permute(1, 2, 0, 3)  # d(q,k,v)/du: [3, H, N, dh]
        const = (self.id_embed @ W.T + b).view(N, 3, H, dh).permute(1, 2, 0, 3)  # [3, H, N, dh]
        (qa, ka, va), (qb, kb, vb) = slope, const
        scale = 1.0 / math.sqrt(dh)
        M1, M2 = (qa @ ka.transpose(-1, -2)) * scale, (qa @ kb.transpose(-1, -2)) * scale  # [H, N, N]
        M3, M4 = (qb @ ka.transpose(-1, -2)) * scale, (qb @ kb.transpose(-1, -2)) * scale
        ui, uj = u[:, :, None, :, None], u[:, :, None, None, :]  # [B, T, 1, N, 1], [B, T, 1, 1, N]
        A = torch.softmax(ui * (uj * M1 + M2) + uj * M3 + M4, dim=-1)  # [B, T, H, N, N]
        mixed = (A * uj) @ va + A @ vb  # [B, T, H, N, dh]
        B, T = u.shape[:2]
        mixed = mixed.transpose(2, 3).reshape(B, T, N, E)
        tok = u[..., None] * self.value_embed + self.id_embed  # [B, T, N, E]
        return tok + self.out_proj(mixed), A, new_state

    def attention_sequence(self, x: torch.Tensor, state: RateState | None = None):
        """Attention for every step, [B, H, T, N, N] (row i attends to column j), and the final state."""
        _, A, new_state = self._attend(x, state)
        return A.transpose(1, 2), new_state

    def forward(self, x, state: RateState | None, blocks: nn.ModuleList, fused: bool = False):
        tokens, _, new_state = self._attend(x, state)
        mu, logvar = latent_stats_from_tokens(tokens, blocks, self.head, self.latent_dim)
        return mu, logvar, new_state


class MLPEncoder(_RateEncoder):
    """MLP on the smoothed rates and the last ``window`` raw bins (a short causal window)."""

    name = "mlp"

    def __init__(
        self,
        n_neurons: int,
        embed_dim: int,
        latent_dim: int,
        n_heads: int = 1,
        dt: float = 0.001,
        tau_s: float = 0.5,
        kind: str = "spikes",
        window: int = 3,
        hidden: int | None = None,
        **_ignored,
    ):
        super().__init__()
        self._init_rates(n_neurons, latent_dim, n_heads, dt, tau_s, kind)
        self.window = int(window)
        width = hidden or 4 * embed_dim
        self.net = nn.Sequential(
            nn.Linear(n_neurons * (1 + self.window), width),
            nn.GELU(),
            nn.Linear(width, width),
            nn.GELU(),
            nn.Linear(width, 2 * latent_dim),
        )

    def forward(self, x, state: RateState | None, blocks: nn.ModuleList, fused: bool = False):
        if len(blocks):
            raise ValueError("the mlp encoder has no neuron tokens: use n_conv_blocks=0")
        rate, full, new_state = self._rates(x, state)
        T = x.shape[-1]
        raw = full.unfold(-1, self.window, 1)[:, :, -T:]  # [B, N, T, w], oldest first
        raw_scale = 1.0 if self.kind == "calcium" else 1.0 / math.sqrt(self.scale)
        feats = torch.cat([(rate * self.scale)[..., None], raw * raw_scale], dim=-1)  # [B, N, T, 1 + w]
        feats = feats.permute(0, 2, 1, 3).reshape(x.shape[0], T, -1)
        mu, logvar = latent_stats(self.net(feats), self.latent_dim)
        return mu, logvar, new_state


class GRUEncoder(nn.Module):
    """A GRU over time on the activity: input layer (per session) -> GRU -> mu/logvar head."""

    name = "gru"
    has_attention = False

    def __init__(
        self,
        n_neurons: int,
        embed_dim: int,
        latent_dim: int,
        n_heads: int = 1,
        dt: float = 0.001,
        tau_s: float = 0.5,
        kind: str = "spikes",
        hidden: int | None = None,
        **_ignored,
    ):
        super().__init__()
        self.n_neurons, self.latent_dim, self.n_heads = int(n_neurons), int(latent_dim), int(n_heads)
        self.hidden = int(hidden or 2 * embed_dim)
        self.inp = nn.Linear(n_neurons, embed_dim)
        self.gru = nn.GRU(embed_dim, self.hidden, batch_first=True)
        self.head = nn.Linear(self.hidden, 2 * latent_dim)

    def initial_state(self, batch: int, device=None) -> GRUState:
        return GRUState(torch.zeros(batch, self.hidden, device=device or self.head.weight.device))

    def forward(self, x, state: GRUState | None, blocks: nn.ModuleList, fused: bool = False):
        if len(blocks):
            raise ValueError("the gru encoder has no neuron tokens: use n_conv_blocks=0")
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        seq, h = self.gru(self.inp(x.transpose(1, 2)), state.h[None].contiguous())
        mu, logvar = latent_stats(self.head(seq), self.latent_dim)
        return mu, logvar, GRUState(h[0])

    attention_sequence = _RateEncoder.attention_sequence


ENCODER_CLASSES = {"dot_attention": DotAttentionEncoder, "mlp": MLPEncoder, "gru": GRUEncoder}
