"""The SPARKS model: per-session Hebbian encoder + shared blocks + PCC decoder (pure torch).

Shapes: activity ``x`` is [B, N, T]; latents are [B, T, d]; decoder predictions
are [B, T, tau_f, k] (k outputs per future step: behaviour variables, neurons,
or class logits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SparksError
from .encoders import ENCODER_CLASSES, ENCODERS, TOKEN_ENCODERS, latent_stats, latent_stats_from_tokens
from .hebbian import HebbianAttention, HebbianState, hebbian_readout, hebbian_tokens, one_step_enabled

LOSSES = ("mse", "bce", "poisson", "cross_entropy")


def pick_device(requested: str = "auto") -> torch.device:
    """cuda > mps > cpu when ``requested`` is "auto"; otherwise exactly what was asked.

    A request this machine cannot meet (a name torch does not know, CUDA on a torch built
    without it or with no GPU visible, a GPU index past the last one, MPS off a Mac) raises
    :class:`~sparks_gui.errors.SparksError` saying what to use instead.
    """
    if requested is None or str(requested).strip().lower() in ("", "auto"):
        return _best_device()
    name = str(requested).strip()
    use_instead = "Use device 'cpu' (--device cpu), or 'auto' for the best device this machine has."
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise SparksError(
            f"device '{name}' is not a device name torch knows.",
            f"{use_instead} Device names are auto, cpu, cuda, cuda:N and mps.",
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = (
                f"this torch ({torch.__version__}) was built without CUDA"
                if torch.version.cuda is None
                else "no CUDA GPU is visible (driver, CUDA_VISIBLE_DEVICES?)"
            )
            raise SparksError(
                f"device '{name}' was requested, but {why}.",
                f"{use_instead} For a GPU, install a CUDA build of torch (pytorch.org).",
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise SparksError(
                f"device '{name}' was requested, but this machine has {count} CUDA GPU(s) "
                f"(cuda:0 to cuda:{count - 1}).",
                f"Use --device cuda:0 .. cuda:{count - 1}, auto, or --device cpu.",
            )
    elif device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise SparksError(
                f"device '{name}' was requested, but MPS (Apple-silicon GPU) is not available here.", use_instead
            )
    elif device.type != "cpu":
        try:
            torch.zeros(1, device=device)
        except Exception as exc:  # noqa: BLE001 - any failure means the device cannot be used
            raise SparksError(
                f"device '{name}' cannot be used here ({type(exc).__name__}: {exc}).", use_instead
            ) from None
    return device


def _best_device() -> torch.device:
    """cuda > mps > cpu: the first this machine has."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (None: plain float32).

    ``auto`` uses bfloat16 on CUDA devices that support it (no loss scaling needed) and
    float32 elsewhere; ``bf16`` asks for it on any device (CPU autocast included).
    """
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


def autocast(dtype: torch.dtype | None, device: torch.device):
    """``torch.autocast`` to ``dtype`` on ``device`` (see :func:`autocast_dtype`); a no-op context for None."""
    return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


class ConventionalBlock(nn.Module):
    """Dot-product self-attention over the N neuron tokens + feed-forward (pre-norm residual)."""

    def __init__(self, embed_dim: int, n_heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dim)
        self.attn = nn.MultiheadAttention(embed_dim, n_heads, batch_first=True)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.ff = nn.Sequential(nn.Linear(embed_dim, 2 * embed_dim), nn.GELU(), nn.Linear(2 * embed_dim, embed_dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # [M, N, E]
        h = self.norm1(tokens)
        tokens = tokens + self.attn(h, h, h, need_weights=False)[0]
        return tokens + self.ff(self.norm2(tokens))


class RMSNorm(nn.Module):
    """Root-mean-square normalisation over the last axis with a learned gain."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.gain = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.gain


class TokenFeedForward(nn.Module):
    """Residual feed-forward block applied to every neuron token: ``x + FF(x)``.

    FF = RMS norm -> linear (E -> 2E) -> gated linear unit -> linear (E -> 2E) -> gated linear unit,
    as described for the reference package in SPEC.md.  Without it the latent is a linear
    function of the attention matrix.
    """

    def __init__(self, embed_dim: int):
        super().__init__()
        self.norm = RMSNorm(embed_dim)
        self.up = nn.Linear(embed_dim, 2 * embed_dim)
        self.down = nn.Linear(embed_dim, 2 * embed_dim)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = F.glu(self.up(self.norm(tokens)), dim=-1)
        return tokens + F.glu(self.down(h), dim=-1)


class SessionEncoder(nn.Module):
    """The per-session part of the encoder: Hebbian attention, token feed-forward and the mu/logvar head.

    ``token_ff`` adds the residual feed-forward block on every neuron token after the
    attention read-out.  ``input_residual`` adds each neuron's own current activity to its
    token (a learned embedding per neuron, like a transformer's token embedding under the
    attention residual), so that the latent sees the present bin as well as the Hebbian history.
    """

    def __init__(
        self,
        n_neurons: int,
        embed_dim: int,
        latent_dim: int,
        token_ff: bool = False,
        input_residual: bool = False,
        **hebbian_kw,
    ):
        super().__init__()
        self.n_neurons = n_neurons
        self.latent_dim = latent_dim
        self.hebbian = HebbianAttention(n_neurons, embed_dim, **hebbian_kw)
        self.token_ff = TokenFeedForward(embed_dim) if token_ff else None
        self.input_embed = (
            nn.Parameter(torch.randn(n_neurons, embed_dim) / math.sqrt(embed_dim)) if input_residual else None
        )
        self._compress_counts = hebbian_kw.get("kind", "spikes") != "calcium"
        # mu and logvar heads, stacked: one linear map of the flattened [N * E] tokens
        self.head = nn.Linear(n_neurons * embed_dim, 2 * latent_dim)

    has_attention = True

    @property
    def n_heads(self) -> int:
        return self.hebbian.n_heads

    def initial_state(self, batch: int, device=None) -> HebbianState:
        return self.hebbian.initial_state(batch, device)

    def attention_sequence(self, x: torch.Tensor, state: HebbianState | None = None):
        """A for every step: ([B, H, T, N, N], final state)."""
        return self.hebbian.attention_sequence(x, state)

    def readout_kernel(self):
        """Fold value projection, output projection and heads into (Kt [H, N, 2d, N], const [2d]).

        Valid when nothing non-linear sits between the attention matrix and the
        heads (no conventional blocks): then mu/logvar(t) = sum_ij A_ij(t) K_ij + const.
        """
        heb = self.hebbian
        N, E, H, dh = heb.n_neurons, heb.embed_dim, heb.n_heads, heb.d_head
        W_head = self.head.weight.view(2 * self.latent_dim, N, E)  # [k, i, e]
        M = torch.einsum("kie,ef->ifk", W_head, heb.out_proj.weight)  # [i, f, k]
        M = M.view(N, H, dh, 2 * self.latent_dim)
        if heb.partners is None:
            Kt = torch.einsum("hjf,ihfk->hikj", heb.value, M)
        else:  # sparse variant: row i reads the value vectors of its own K partners
            Kt = torch.einsum("himf,ihfk->hikm", heb.gathered_value(), M)
        token_bias = heb.out_proj(heb.value_bias.reshape(1, E))  # [1, E], identical for every neuron
        const = torch.einsum("kie,e->k", W_head, token_bias[0]) + self.head.bias
        return Kt, const

    def _input_values(self, x: torch.Tensor) -> torch.Tensor:
        """Each neuron's current activity [B, T, N] as the input residual sees it (counts through log1p)."""
        s = x.transpose(1, 2)
        return torch.log1p(s.clamp_min(0)) if self._compress_counts else s

    def _input_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Each neuron's current activity times its embedding: [B, T, N, E]."""
        return self._input_values(x)[..., None] * self.input_embed

    def forward(self, x, state: HebbianState | None, blocks: nn.ModuleList, fused: bool):
        heb = self.hebbian
        if state is None:
            state = heb.initial_state(x.shape[0], x.device)
        if fused and len(blocks) == 0 and self.token_ff is None:
            Kt, const = self.readout_kernel()
            out, state = hebbian_readout(
                state, x, *heb.trace_params(), Kt, heb.rule, heb.lo, heb.hi, heb.backend, idx=heb.partners
            )
            if self.input_embed is not None:  # linear in the input: fold the head into one [N, 2d] map
                W_head = self.head.weight.view(2 * self.latent_dim, self.n_neurons, -1)
                out = out + self._input_values(x) @ torch.einsum("kie,ie->ik", W_head, self.input_embed)
            mu, logvar = latent_stats(out + const, self.latent_dim)
        elif fused and len(blocks) == 0:  # feed-forward block: tokens without storing the attention sequence
            tok, state = hebbian_tokens(
                state, x, *heb.trace_params(), heb.value, heb.rule, heb.lo, heb.hi, heb.backend, idx=heb.partners
            )
            tokens = heb.out_proj(tok + heb.value_bias.reshape(-1))
            if self.input_embed is not None:
                tokens = tokens + self._input_tokens(x)
            tokens = self.token_ff(tokens)
            mu, logvar = latent_stats_from_tokens(tokens, blocks, self.head, self.latent_dim)
        else:
            tokens, _, state = heb(x, state)  # [B, T, N, E]
            if self.input_embed is not None:
                tokens = tokens + self._input_tokens(x)
            if self.token_ff is not None:
                tokens = self.token_ff(tokens)
            mu, logvar = latent_stats_from_tokens(tokens, blocks, self.head, self.latent_dim)
        return mu, logvar, state


def make_session_encoder(
    encoder: str, n_neurons: int, embed_dim: int, latent_dim: int, n_heads: int = 1, **kw
) -> nn.Module:
    """The session encoder named ``encoder`` (one of :data:`~sparks_gui.model.encoders.ENCODERS`).

    ``hebbian_symmetric`` is the Hebbian encoder with ``stdp_rule="symmetric"`` and
    ``hebbian_fixed`` the one with ``learn_traces=False``; ``kw`` holds the Hebbian
    options (dt, tau_s, kind, ...), of which the other encoders use dt, tau_s and kind.
    """
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder '{encoder}', expected one of {ENCODERS}")
    if encoder in ENCODER_CLASSES:
        kw = {k: v for k, v in kw.items() if k not in ("token_ff", "input_residual")}
        return ENCODER_CLASSES[encoder](n_neurons, embed_dim, latent_dim, n_heads=n_heads, **kw)
    if encoder == "hebbian_symmetric":
        kw["stdp_rule"] = "symmetric"
    elif encoder == "hebbian_fixed":
        kw["learn_traces"] = False
    return SessionEncoder(n_neurons, embed_dim, latent_dim, n_heads=n_heads, **kw)


class PCCDecoder(nn.Module):
    """Maps the window of the last tau_p latents to the next tau_f samples of the reference."""

    def __init__(self, latent_dim: int, tau_p: int, tau_f: int, n_out: int, hidden_layers: int = 2):
        super().__init__()
        self.tau_p, self.tau_f, self.n_out = tau_p, tau_f, n_out
        d_in, d_out = latent_dim * tau_p, n_out * tau_f
        width = max(8, (d_in + d_out) // 2)
        layers: list[nn.Module] = []
        last = d_in
        for _ in range(hidden_layers):
            layers += [nn.Linear(last, width), nn.ReLU()]
            last = width
        layers.append(nn.Linear(last, d_out))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, z_tail: torch.Tensor) -> torch.Tensor:
        """``z`` [B, T, d] with the previous tau_p - 1 latents ``z_tail`` -> [B, T, tau_f, k]."""
        one_step = one_step_enabled()
        full = torch.cat([z_tail, z.detach() if one_step else z], dim=1)
        windows = full.unfold(1, self.tau_p, 1)  # [B, T, d, tau_p]
        B, T = windows.shape[:2]
        flat = windows.transpose(2, 3).reshape(B, T, -1)  # oldest first
        if one_step:  # gradient truncated to one step: only the newest latent of each window carries it
            flat = torch.cat([flat[..., : -z.shape[-1]], z], dim=-1)
        return self.net(flat).view(B, T, self.tau_f, self.n_out)


class MtMTrunk(nn.Module):
    """Shared MtM read-out trunk: a temporal convolution over a centred window of latents (+ task token).

    ``[B, T, C] -> [B, T, hidden]``; the window is ``kernel`` bins (zero-padded at the ends), so
    each bin's rate is read from the latents around it, as a smoothing of the latent path.
    ``kernel=1`` reads each bin's own latent only.
    """

    def __init__(self, in_dim: int, hidden: int, kernel: int):
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"mtm_kernel must be a positive odd number of bins, got {kernel}")
        self.hidden = int(hidden)
        self.conv = nn.Conv1d(in_dim, hidden, kernel, padding=kernel // 2)
        self.act = nn.GELU()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv(h.transpose(1, 2))).transpose(1, 2)


@dataclass
class ModelState:
    """Everything carried across chunks of a trial: the encoder state and the latent window.

    ``hebbian`` holds the session encoder's state (a :class:`HebbianState` for the
    Hebbian encoders; the other encoders' own state objects, all with ``detach()``).
    """

    hebbian: HebbianState
    z_tail: torch.Tensor

    @property
    def encoder(self):
        """The session encoder's state (same object as ``hebbian``)."""
        return self.hebbian

    def detach(self) -> ModelState:
        return ModelState(self.hebbian.detach(), self.z_tail.detach())


@dataclass
class ModelOutput:
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    pred: torch.Tensor
    state: ModelState


MTM_TOKEN_DIM = 8
"""Size of the MtM task token concatenated to the latents before the per-neuron rate head."""


class SparksModel(nn.Module):
    """SPARKS: Hebbian-attention VAE encoder and PCC decoder, with one encoder per session.

    Parameters
    ----------
    n_neurons
        Neuron count of each session (a list for several sessions).
    n_out
        Outputs per predicted step (behaviour variables, neurons, or classes).
    latent_dim, embed_dim, n_heads, tau_p, tau_f, n_conv_blocks, conv_heads
        Architecture (see ``SparksConfig``).
    hebbian_kw
        Passed to :class:`HebbianAttention` (dt, tau_s, w_start, stdp_rule, kind, learn_traces, backend).
    encoder
        Session encoder: ``"hebbian"`` (default), ``"hebbian_symmetric"``, ``"hebbian_fixed"``,
        ``"dot_attention"``, ``"mlp"`` or ``"gru"`` (see :mod:`sparks_gui.model.encoders`).
    """

    def __init__(
        self,
        n_neurons: int | list[int],
        n_out: int,
        latent_dim: int = 3,
        embed_dim: int = 32,
        n_heads: int = 1,
        tau_p: int = 10,
        tau_f: int = 1,
        n_conv_blocks: int = 0,
        conv_heads: int = 4,
        decoder_layers: int = 2,
        fused_readout: bool = True,
        encoder: str = "hebbian",
        mtm_outputs: int = 0,
        mtm_kernel: int | None = None,
        **hebbian_kw,
    ):
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"unknown encoder '{encoder}', expected one of {ENCODERS}")
        if n_conv_blocks and encoder not in TOKEN_ENCODERS:
            raise ValueError(f"the '{encoder}' encoder has no neuron tokens: use n_conv_blocks=0")
        self.encoder = encoder
        self.latent_dim, self.embed_dim, self.n_heads = latent_dim, embed_dim, n_heads
        self.tau_p, self.tau_f, self.n_out = tau_p, tau_f, n_out
        self.fused_readout = fused_readout
        self._hebbian_kw = dict(hebbian_kw)
        self._arch = dict(
            n_out=n_out,
            latent_dim=latent_dim,
            embed_dim=embed_dim,
            n_heads=n_heads,
            tau_p=tau_p,
            tau_f=tau_f,
            n_conv_blocks=n_conv_blocks,
            conv_heads=conv_heads,
            decoder_layers=decoder_layers,
            fused_readout=fused_readout,
        )
        if encoder != "hebbian":  # old specs (no key) rebuild as Hebbian
            self._arch["encoder"] = encoder
        if mtm_outputs:  # PCC-only specs (no key) rebuild without the MtM head
            self._arch["mtm_outputs"] = int(mtm_outputs)
        self._session_kw: list[dict] = []
        self.sessions = nn.ModuleList()
        for n in [n_neurons] if isinstance(n_neurons, int) else list(n_neurons):
            self.add_session(n)
        self.blocks = nn.ModuleList(ConventionalBlock(embed_dim, conv_heads) for _ in range(n_conv_blocks))
        self.decoder = PCCDecoder(latent_dim, tau_p, tau_f, n_out, decoder_layers)
        self.mtm_head: nn.Module | None = None
        self.task_token: nn.Module | None = None
        self.mtm_out = nn.ModuleList()
        """MtM: one rate read-out per session ([hidden] -> that session's neurons); the trunk is shared."""
        if mtm_outputs:
            from .masking import TaskToken

            self.task_token = TaskToken(MTM_TOKEN_DIM)
            hidden = max(64, 2 * latent_dim)
            kernel = 2 * tau_p + 1 if mtm_kernel is None else int(mtm_kernel)
            self._arch["mtm_kernel"] = kernel
            self.mtm_head = MtMTrunk(latent_dim + MTM_TOKEN_DIM, hidden, kernel)
            for enc in self.sessions:
                self.mtm_out.append(nn.Linear(hidden, enc.n_neurons))
            self._register_load_state_dict_pre_hook(_rename_single_session_mtm_head)

    def mtm_log_rates(self, z: torch.Tensor, scheme, session: int = 0) -> torch.Tensor:
        """MtM read-out: latents ``z`` [B, T, d] and the masking scheme (its task token) -> log-rates [B, N, T].

        One value per neuron of ``session`` and bin (log-rate for spikes, the value itself for
        calcium) from the latents of a window of bins centred on it (``mtm_kernel`` bins; the
        latents themselves come from the masked input only, so a masked entry is predicted from
        what the encoder saw).  The trunk is shared by all sessions; each session has its own
        output layer.
        """
        if self.mtm_head is None:
            raise ValueError("this model has no MtM head: build it with mtm_outputs=n_neurons (objective='mtm')")
        B, T, _ = z.shape
        token = self.task_token(scheme, B).to(z.dtype)[:, None, :].expand(B, T, -1)
        hidden = self.mtm_head(torch.cat([z, token], dim=-1))
        return self.mtm_out[session](hidden).float().transpose(1, 2)

    @torch.no_grad()
    def init_mtm_rates(self, session: int, x: np.ndarray, likelihood: str = "poisson") -> None:
        """Start a session's rate read-out at each neuron's mean (log mean count for spikes) over ``x`` [n, N, T].

        Without it the read-out starts at rate 1 per bin, far above typical spike counts, and spends
        its first hundreds of steps learning the neurons' mean rates.
        """
        out = self.mtm_out[session]
        mean = np.asarray(x, dtype=np.float64).mean(axis=(0, 2))
        value = np.log(np.maximum(mean, 1e-4)) if likelihood == "poisson" else mean
        out.bias.copy_(torch.as_tensor(value, dtype=out.bias.dtype, device=out.bias.device))
        out.weight.mul_(0.1)

    def add_session(self, n_neurons: int, **overrides) -> int:
        """Add an encoder for a new recording (its own neuron count); returns its session index.

        The conventional blocks and the decoder stay shared, so a new session can be
        fine-tuned into a trained model (optionally freezing the shared part).
        """
        kw = {**self._hebbian_kw, **overrides}
        encoder = kw.pop("encoder", self.encoder)
        self._session_kw.append({"n_neurons": int(n_neurons), **overrides})
        self.sessions.append(
            make_session_encoder(encoder, n_neurons, self.embed_dim, self.latent_dim, n_heads=self.n_heads, **kw)
        )
        if getattr(self, "mtm_head", None) is not None:  # MtM: the new session gets its own rate read-out
            self.mtm_out.append(nn.Linear(self.mtm_head.hidden, int(n_neurons)).to(self.mtm_head.conv.weight.device))
        return len(self.sessions) - 1

    def spec(self) -> dict:
        """Constructor arguments that rebuild this architecture (used by checkpoints)."""
        return {
            "arch": dict(self._arch),
            "hebbian": dict(self._hebbian_kw),
            "sessions": [dict(s) for s in self._session_kw],
        }

    @classmethod
    def from_spec(cls, spec: dict) -> SparksModel:
        sessions = spec["sessions"]
        arch = dict(spec["arch"])
        if arch.get("mtm_outputs") and "mtm_kernel" not in arch:
            arch["mtm_kernel"] = 1  # MtM models from before the windowed read-out
        model = cls(sessions[0]["n_neurons"], **arch, **spec["hebbian"])
        first = {k: v for k, v in sessions[0].items() if k != "n_neurons"}
        if first:  # the first session had its own overrides: rebuild it with them
            model.sessions = nn.ModuleList()
            model.mtm_out = nn.ModuleList()
            model._session_kw = []
            model.add_session(sessions[0]["n_neurons"], **first)
        for s in sessions[1:]:
            model.add_session(s["n_neurons"], **{k: v for k, v in s.items() if k != "n_neurons"})
        return model

    def shared_parameters(self):
        """Parameters shared by all sessions (conventional blocks, decoder, MtM trunk and task token)."""
        shared = list(self.blocks.parameters()) + list(self.decoder.parameters())
        if self.mtm_head is not None:
            shared += list(self.mtm_head.parameters()) + list(self.task_token.parameters())
        return shared

    def session_parameters(self, session: int) -> list:
        """Parameters of one session only: its encoder and (MtM) its rate read-out."""
        params = list(self.sessions[session].parameters())
        if self.mtm_head is not None:
            params += list(self.mtm_out[session].parameters())
        return params

    def initial_state(self, batch: int, session: int = 0, device=None) -> ModelState:
        enc = self.sessions[session]
        device = device or next(self.parameters()).device
        return ModelState(
            enc.initial_state(batch, device), torch.zeros(batch, self.tau_p - 1, self.latent_dim, device=device)
        )

    def encode(self, x: torch.Tensor, session: int = 0, state: ModelState | None = None):
        """``x`` [B, N, T] -> (mu, logvar [B, T, d], new encoder state)."""
        enc = self.sessions[session]
        if x.shape[1] != enc.n_neurons:
            raise ValueError(f"session {session} expects {enc.n_neurons} neurons, got {x.shape[1]}")
        heb_state = None if state is None else state.hebbian
        return enc(x, heb_state, self.blocks, self.fused_readout)

    def forward(
        self,
        x: torch.Tensor,
        session: int = 0,
        state: ModelState | None = None,
        sample: bool = True,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
    ) -> ModelOutput:
        """``noise`` (same shape as the latents) replaces the draw from ``generator`` when given."""
        if state is None:
            state = self.initial_state(x.shape[0], session, x.device)
        mu, logvar, heb_state = self.encode(x, session, state)
        mu, logvar = mu.float(), logvar.float()  # float32 outside any autocast region (no-op otherwise)
        if sample:
            eps = (
                noise
                if noise is not None
                else torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
            )
            z = mu + torch.exp(0.5 * logvar) * eps
        else:
            z = mu
        pred = self.decoder(z, state.z_tail).float()
        tail = torch.cat([state.z_tail, z], dim=1)[:, z.shape[1] :] if self.tau_p > 1 else state.z_tail
        return ModelOutput(mu, logvar, z, pred, ModelState(heb_state, tail))


def _rename_single_session_mtm_head(state_dict, prefix, *args) -> None:
    """Checkpoints from before per-session MtM read-outs: ``mtm_head`` was Linear-GELU-Linear (one
    session, each bin's own latent); their specs rebuild with ``mtm_kernel=1``."""
    for suffix in ("weight", "bias"):
        old = f"{prefix}mtm_head.2.{suffix}"
        if old in state_dict:
            state_dict[f"{prefix}mtm_out.0.{suffix}"] = state_dict.pop(old)
        first = f"{prefix}mtm_head.0.{suffix}"
        if first in state_dict:
            value = state_dict.pop(first)
            state_dict[f"{prefix}mtm_head.conv.{suffix}"] = value[..., None] if suffix == "weight" else value


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma) || N(0, I)) summed over latent dims, averaged over batch and time."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1).mean()


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, loss: str) -> torch.Tensor:
    """Mean loss over valid (batch, step, future-step) entries.

    ``pred`` [B, T, tau_f, k]; ``target`` [B, T, tau_f, k] (class ids [B, T, tau_f]
    for cross-entropy); ``mask`` [B, T, tau_f] booleans.
    """
    if loss == "cross_entropy":
        per = F.cross_entropy(pred.flatten(0, 2), target.flatten().long(), reduction="none").view(mask.shape)
    else:
        if loss == "mse":
            per = (pred - target).pow(2)
        elif loss == "bce":
            per = F.binary_cross_entropy_with_logits(pred, target, reduction="none")
        elif loss == "poisson":
            per = F.poisson_nll_loss(pred, target, log_input=True, full=False, reduction="none")
        else:
            raise ValueError(f"unknown loss '{loss}', expected one of {LOSSES}")
        per = per.mean(-1)
    m = mask.to(per.dtype)
    return (per * m).sum() / m.sum().clamp_min(1.0)


def prediction_from_output(pred: torch.Tensor, loss: str) -> torch.Tensor:
    """Decoder output -> prediction in data units (probability, rate, value or class id)."""
    if loss == "bce":
        return torch.sigmoid(pred)
    if loss == "poisson":
        return torch.exp(pred)
    if loss == "cross_entropy":
        return pred.argmax(-1)
    return pred
