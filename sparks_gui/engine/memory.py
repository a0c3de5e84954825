"""How much memory a run needs, estimated from its config before anything is allocated.

:func:`check_memory` is called by the :class:`~sparks_gui.engine.trainer.Trainer` before it
builds the model, so the CLI, the GUI and scripts all refuse a config that cannot fit (e.g.
``latent_dim`` 100000, whose decoder alone would take terabytes) with a
:class:`~sparks_gui.errors.SparksError` that gives the estimate, the part that dominates it and
the settings that shrink it - instead of an allocator error, the OOM killer or a swapping machine.

The estimate counts

* the parameters, their gradients and Adam's two moments (4 x float32 per trainable weight),
  by part: encoder head (N x E x 2 latent_dim), Hebbian trace parameters (4 x H x N x K),
  decoder (latent_dim x tau_p inputs), conventional blocks, ...;
* the activations of one training batch for the chunk that is back-propagated at once
  (the whole example for ``grad_mode="full"``): the Hebbian state (3 x [B, H, N, K] carried,
  about 16 of them in the CPU kernel's backward; the checkpointed segments of the torch
  backends; the whole [B, H, T, N, K] sequence for the reference backend or when conventional
  blocks need every step's attention), the fused read-out table ([H, N, 2 latent_dim, K], and
  its per-example gradient on CPU), the neuron tokens [B, T, N, E] of the token path
  (``token_ff``, conventional blocks), dot-product attention [B, T, H, N, N], the latents and
  the decoder's windows [B, T, latent_dim x tau_p];
* the larger of that and one evaluation batch (no gradients, up to 64 examples), plus the
  attention snapshot the views receive and the latents/predictions of all examples.

It aims at the right order of magnitude (tests compare it with measured peaks), not at the
byte: it is a guard against configs that cannot run, not a scheduler.  Set the environment
variable ``SPARKS_SKIP_MEMORY_CHECK=1`` to train anyway.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import SparksError

FLOAT = 4
"""Bytes per float32 (parameters, states and activations are float32; bf16 autocast is ignored)."""

EVAL_BATCH = 64
"""``Trainer.evaluate`` runs batches of ``max(batch_size, 64)`` examples."""

ATTENTION_SNAPSHOT_BYTES = 256e6
"""``Trainer.attention`` keeps one example's attention sequence under about this size."""

SKIP_ENV = "SPARKS_SKIP_MEMORY_CHECK"

HEBBIAN_ENCODERS = ("hebbian", "hebbian_symmetric", "hebbian_fixed")


@dataclass
class Part:
    """One contribution to the estimate: its size in bytes and the settings that shrink it."""

    name: str
    nbytes: float
    fix: str


@dataclass
class MemoryEstimate:
    """Memory a config needs, by part (bytes), and the parameter count behind it."""

    parts: list[Part]
    n_parameters: int
    n_trainable: int
    device: str
    batch_size: int
    chunk_steps: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return int(sum(p.nbytes for p in self.parts))

    @property
    def largest(self) -> Part:
        return max(self.parts, key=lambda p: p.nbytes)

    def as_dict(self) -> dict[str, int]:
        """Bytes by part name (the parts are disjoint; their sum is :attr:`total`)."""
        return {p.name: int(p.nbytes) for p in self.parts}

    def describe(self, top: int = 3) -> str:
        """``"2.0 TB: decoder weights 2.0 TB, ..."`` (the ``top`` largest parts)."""
        parts = sorted(self.parts, key=lambda p: -p.nbytes)[:top]
        return f"{format_bytes(self.total)}: " + ", ".join(f"{p.name} {format_bytes(p.nbytes)}" for p in parts)


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 kB"`` (decimal units, as memory is sold)."""
    n = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"  # pragma: no cover


# ----------------------------------------------------------------------------- parameters
def _linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def parameter_counts(config, n_neurons: int, n_out: int) -> dict[str, tuple[int, bool]]:
    """Parameters of the model :func:`~sparks_gui.engine.trainer.build_model` builds, by part:
    ``{part: (count, trainable)}``.  Exact for every encoder (tests compare with the model)."""
    N, E, H, d = int(n_neurons), int(config.embed_dim), int(config.n_heads), int(config.latent_dim)
    enc = config.encoder
    parts: dict[str, tuple[int, bool]] = {}
    if enc in HEBBIAN_ENCODERS:
        K = _partners(config, N)
        learn = bool(config.learn_traces) and enc != "hebbian_fixed"
        parts["Hebbian trace parameters"] = (4 * H * N * K, learn)
        enc_params = N * E + E + _linear(E, E)  # value, value_bias, out_proj
        if config.input_residual:
            enc_params += N * E
        if config.token_ff:
            enc_params += E + _linear(E, 2 * E) + _linear(E, 2 * E)
        parts["encoder"] = (enc_params, True)
        parts["encoder head"] = (_linear(N * E, 2 * d), True)
    elif enc == "dot_attention":
        parts["encoder"] = (2 * N * E + _linear(E, 3 * E) + _linear(E, E), True)
        parts["encoder head"] = (_linear(N * E, 2 * d), True)
    elif enc == "mlp":
        width = 4 * E
        parts["encoder"] = (_linear(N * 4, width) + _linear(width, width), True)  # window 3: 1 + 3 features
        parts["encoder head"] = (_linear(width, 2 * d), True)
    elif enc == "gru":
        hidden = 2 * E
        parts["encoder"] = (_linear(N, E) + 3 * hidden * (E + hidden) + 6 * hidden, True)
        parts["encoder head"] = (_linear(hidden, 2 * d), True)
    else:  # an encoder added later: the head at least
        parts["encoder head"] = (_linear(N * E, 2 * d), True)
    if config.n_conv_blocks:
        per_block = 4 * E + _linear(E, 3 * E) + _linear(E, E) + _linear(E, 2 * E) + _linear(2 * E, E)
        parts["conventional blocks"] = (int(config.n_conv_blocks) * per_block, True)
    d_in, d_out = d * int(config.tau_p), int(n_out) * int(config.tau_f)
    width = max(8, (d_in + d_out) // 2)
    layers = int(config.decoder_layers)
    if layers:
        dec = _linear(d_in, width) + (layers - 1) * _linear(width, width) + _linear(width, d_out)
    else:
        dec = _linear(d_in, d_out)
    parts["decoder"] = (dec, True)
    return parts


def _partners(config, n_neurons: int) -> int:
    k = int(config.hebbian_partners)
    return k if 0 < k < n_neurons and config.encoder in HEBBIAN_ENCODERS else n_neurons


# ----------------------------------------------------------------------------- the estimate
def _device_type(device) -> str:
    return str(getattr(device, "type", None) or str(device).split(":")[0] or "cpu")


def _hebbian_backend(config, device_type: str) -> str:
    """The backend ``hebbian.resolve_backend`` picks for float32 input on this device."""
    backend = config.hebbian_backend
    if backend != "auto":
        return backend
    if device_type == "cpu":
        try:
            from ..model.hebbian import cpu_kernel_available

            return "cpu_kernel" if cpu_kernel_available() else "torch"
        except ImportError:  # pragma: no cover
            return "torch"
    return "torch_compile" if device_type == "cuda" else "torch"


def estimate_memory(
    config,
    n_neurons: int,
    n_out: int,
    length: int,
    device="cpu",
    n_examples: int | None = None,
    n_train: int | None = None,
    model=None,
    parameters=None,
) -> MemoryEstimate:
    """Memory (bytes, by part) that training ``config`` on examples of ``n_neurons`` x ``length``
    bins with ``n_out`` outputs per step needs on ``device``.

    ``config`` must have its "auto" fields resolved (``SparksConfig.for_recording``); a
    ``batch_size`` of 0 counts as 32, a ``latent_dim`` of 0 as 16 (their largest auto values).
    ``model`` (already built, e.g. for fine-tuning): its weights exist, so only gradients, Adam
    state and activations are counted, for ``parameters`` (default: every trainable weight).
    """
    N, L, k = int(n_neurons), max(1, int(length)), max(1, int(n_out))
    E, H = int(config.embed_dim), int(config.n_heads)
    d = int(config.latent_dim) or 16
    enc = config.encoder
    dtype = _device_type(device)
    n_ex = None if n_examples is None else int(n_examples)
    B = int(config.batch_size) or 32
    if n_train is not None:
        B = max(1, min(B, int(n_train)))
    Be = max(B, EVAL_BATCH) if n_ex is None else max(1, min(max(B, EVAL_BATCH), n_ex))
    Tc = {
        "full": L,
        "truncated": min(int(config.chunk_steps), L),
        "online": 1,
        "online_chunked": min(int(config.chunk_steps), L),
    }.get(config.grad_mode, L)
    K = _partners(config, N)
    fix_model = (
        f"Lower latent_dim (now {d}) or embed_dim (now {E}), or train on fewer neurons "
        f"(now {N}; the neurons setting, or hebbian_partners for large populations)."
    )
    fix_batch = (
        f"Lower batch_size (now {B}) or segment_length (now {L} bins per example), or train on fewer neurons (now {N})."
    )
    parts: list[Part] = []

    # --- parameters, gradients and Adam state ---------------------------------------------
    counts = parameter_counts(config, N, k)
    n_params = sum(c for c, _ in counts.values())
    n_trainable = sum(c for c, t in counts.values() if t)
    if model is not None:  # weights exist already: gradients and Adam moments of what will train
        # a generator of parameters is not consumed here (the trainer needs it): count every weight then
        ps = list(parameters) if isinstance(parameters, (list, tuple)) else list(model.parameters())
        n_params = sum(p.numel() for p in model.parameters())
        n_trainable = sum(p.numel() for p in ps if p.requires_grad)
        parts.append(Part("gradients and Adam state", 3 * FLOAT * n_trainable, fix_model))
    else:
        fixes = {
            "decoder": (
                f"Lower latent_dim (now {d}; 3 to 16 is usual) or tau_p (now {config.tau_p}): the decoder "
                f"reads latent_dim x tau_p = {d * int(config.tau_p)} inputs."
            ),
            "encoder head": (
                f"Lower latent_dim (now {d}; 3 to 16 is usual) or embed_dim (now {E}): the encoder head "
                f"maps N x embed_dim = {N * E} token values to 2 x latent_dim."
            ),
            "Hebbian trace parameters": (
                f"Use hebbian_partners (e.g. 64) or fewer heads (n_heads now {H}) or "
                f"fewer neurons (now {N}): the traces hold 4 x n_heads x N x N values."
            ),
        }
        for name, (count, trainable) in counts.items():
            per = FLOAT * (4 if trainable else 1)  # weight + gradient + two Adam moments
            parts.append(
                Part(
                    f"{name} weights" + (" + gradients + Adam" if trainable else ""),
                    per * count,
                    fixes.get(name, fix_model),
                )
            )
        if K < N:
            parts.append(Part("Hebbian partner table", 8 * N * K, fix_model))

    # --- activations: one training batch (chunk Tc, with gradients) vs one evaluation batch --
    train: dict[str, float] = {}
    evals: dict[str, float] = {}
    fixes_act: dict[str, str] = {}
    backend = _hebbian_backend(config, dtype)
    tokens_path = bool(config.token_ff) or int(config.n_conv_blocks) > 0
    tok_units = 0.0  # [B, T, N, E] tensors kept for backward
    if enc in HEBBIAN_ENCODERS:
        S, Se = B * H * N * K, Be * H * N * K  # one state tensor [B, H, N, K]
        fixes_act["Hebbian state"] = (
            fix_batch + f" On a GPU, grad_mode truncated (chunk_steps now {config.chunk_steps}) keeps fewer steps."
        )
        unfused = int(config.n_conv_blocks) > 0 or backend == "reference"
        if unfused and (backend == "cpu_kernel"):
            # the whole attention sequence [B, H, T, N, K] (and its gradient), then tokens from it
            train["Hebbian state"] = (2 * Tc + 16) * S
            evals["Hebbian state"] = (L + 6) * Se
        elif unfused or backend == "reference":
            # reference per-step loop: every step's state kept for backward
            train["Hebbian state"] = 11 * Tc * S
            evals["Hebbian state"] = (L + 6) * Se
        elif backend == "cpu_kernel":
            # the kernel keeps only x and the initial state; backward allocates ~10 more [B, H, N, K]
            train["Hebbian state"] = 16 * S
            evals["Hebbian state"] = 6 * Se
        else:  # torch / torch_compile: segments of ~sqrt(T) steps under activation checkpointing; a
            # segment's recomputation keeps ~50 [B, H, N, K] tensors per step (measured with the eager step)
            seg = max(1, math.ceil(math.sqrt(Tc)))
            train["Hebbian state"] = (3 * math.ceil(Tc / seg) + 50 * seg + 6) * S
            evals["Hebbian state"] = (10 + seg) * Se
        if not tokens_path:
            # fused read-out table [H, N, 2d, K] folded from the head (+ gradients; [N, E, 2d] on the way)
            table = H * N * 2 * d * K + N * E * 2 * d
            per_example = B * H * N * 2 * d * K if backend == "cpu_kernel" else 0  # CPU backward: per example
            train["fused read-out table"] = 3 * table + per_example
            evals["fused read-out table"] = 2 * table
            batch_note = f" or batch_size (now {B})" if per_example else ""
            fixes_act["fused read-out table"] = (
                f"Lower latent_dim (now {d}){batch_note}, or train on fewer neurons "
                f"(now {N}): the table holds n_heads x N x N x 2 latent_dim values."
            )
        if tokens_path:
            tok_units += 4 + (2 if config.input_residual else 0) + (11 if config.token_ff else 0)
    elif enc == "dot_attention":
        A, Ae = B * Tc * H * N * N, Be * L * H * N * N
        train["dot-product attention"] = 9 * A
        evals["dot-product attention"] = 3 * Ae
        fixes_act["dot-product attention"] = fix_batch
        tok_units += 5
    elif enc == "mlp":
        train["encoder activations"] = B * Tc * (3 * 4 * N + 4 * 4 * E)
        evals["encoder activations"] = Be * L * (4 * N + 2 * 4 * E)
        fixes_act["encoder activations"] = fix_batch
    elif enc == "gru":
        hidden = 2 * E
        train["encoder activations"] = B * Tc * (2 * E + 8 * hidden)
        evals["encoder activations"] = Be * L * (E + 2 * hidden)
        fixes_act["encoder activations"] = fix_batch
    if int(config.n_conv_blocks) and enc in HEBBIAN_ENCODERS + ("dot_attention",):
        ch = int(config.conv_heads)
        nb = int(config.n_conv_blocks)
        tok_units += 15 * nb
        train["conventional-block attention"] = nb * 3 * B * Tc * ch * N * N
        evals["conventional-block attention"] = 2 * Be * L * ch * N * N
        fixes_act["conventional-block attention"] = fix_batch + f" Or fewer conventional blocks (now {nb})."
    if tok_units:
        train["neuron tokens"] = tok_units * B * Tc * N * E
        evals["neuron tokens"] = 4 * Be * L * N * E
        fixes_act["neuron tokens"] = fix_batch + (
            " Or token_ff false (the feed-forward block keeps ~11 copies of the [batch, time, N, embed_dim] tokens)."
            if config.token_ff
            else ""
        )
    # latents, the decoder's windows and hidden layers, targets and the loss
    d_in, d_out = d * int(config.tau_p), k * int(config.tau_f)
    width = max(8, (d_in + d_out) // 2)
    per_step = 10 * d + d_in + 2 * width * int(config.decoder_layers) + 6 * d_out
    train["latents and decoder activations"] = B * (Tc + int(config.tau_p)) * per_step
    evals["latents and decoder activations"] = Be * L * (2 * d + d_in + width + 2 * d_out)
    fixes_act["latents and decoder activations"] = (
        f"Lower latent_dim (now {d}) or tau_p (now {config.tau_p}), or batch_size (now {B})."
    )
    train["batch inputs"] = B * L * (N + k)
    evals["batch inputs"] = Be * L * (N + k)
    fixes_act["batch inputs"] = fix_batch
    t_total, e_total = sum(train.values()), sum(evals.values())
    use, label = (train, "training batch") if t_total >= e_total else (evals, "evaluation batch")
    for name, floats in use.items():
        parts.append(Part(f"{name} ({label})", FLOAT * floats, fixes_act[name]))

    # --- what the views and the results receive ----------------------------------------------
    if enc in HEBBIAN_ENCODERS + ("dot_attention",):
        snap = min(ATTENTION_SNAPSHOT_BYTES, FLOAT * H * N * K * L) * (3 if enc == "dot_attention" else 1.5)
        parts.append(Part("attention snapshot", snap, "Train on fewer neurons."))
    if n_ex is not None:
        parts.append(
            Part(
                "latents and predictions of every example",
                FLOAT * 2 * n_ex * L * (d + k),
                f"Lower latent_dim (now {d}), or use a shorter recording.",
            )
        )
    return MemoryEstimate(
        parts,
        int(n_params),
        int(n_trainable),
        dtype,
        B,
        Tc,
        details={"backend": backend, "n_neurons": N, "length": L, "n_out": k, "partners": K},
    )


def estimate_for_data(config, data, device="cpu", model=None, parameters=None) -> MemoryEstimate:
    """:func:`estimate_memory` for a :class:`~sparks_gui.engine.dataset.PreparedData`."""
    return estimate_memory(
        config,
        data.n_neurons,
        data.n_out,
        data.x.shape[-1],
        device,
        n_examples=len(data.x),
        n_train=len(data.train_idx),
        model=model,
        parameters=parameters,
    )


# ----------------------------------------------------------------------------- what is free
def available_memory(device="cpu") -> int | None:
    """Bytes this process can still allocate on ``device`` (None when unknown).

    CPU (and Apple MPS, whose memory is the system's): the system's available memory, lowered
    to the container's (cgroup) limit and this process's address-space limit when those are
    tighter.  CUDA: the GPU's free memory plus what torch's cache holds unused.
    """
    dtype = _device_type(device)
    if dtype == "cuda":
        try:
            import torch

            index = getattr(device, "index", None)
            index = torch.cuda.current_device() if index is None else index
            free, _ = torch.cuda.mem_get_info(index)
            cached = torch.cuda.memory_reserved(index) - torch.cuda.memory_allocated(index)
            return int(free + max(0, cached))
        except Exception:  # noqa: BLE001 - no answer: no check
            return None
    if dtype not in ("cpu", "mps"):
        return None
    candidates = [v for v in (_system_available(), _cgroup_available(), _rlimit_available()) if v is not None]
    return min(candidates) if candidates else None


def _system_available() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 - psutil missing: /proc
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> int | None:
    """cgroup v2 (``memory.max`` - ``memory.current``) or v1 limit of this process's container."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            with open(limit_file) as fh:
                raw = fh.read().strip()
            if raw == "max":
                return None
            limit = int(raw)
            if limit >= 1 << 60:  # v1 "no limit"
                return None
            with open(usage_file) as fh:
                usage = int(fh.read().strip())
            return max(0, limit - usage)
        except (OSError, ValueError):
            continue
    return None


def _rlimit_available() -> int | None:
    """Room left under ``ulimit -v`` (RLIMIT_AS), when one is set."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft in (resource.RLIM_INFINITY, -1):
            return None
        with open("/proc/self/statm") as fh:
            vms = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        return max(0, soft - vms)
    except (ImportError, OSError, ValueError, AttributeError):
        return None


# ----------------------------------------------------------------------------- the check
def check_memory(
    config, data, device="cpu", model=None, parameters=None, available: int | None = None
) -> MemoryEstimate:
    """Raise :class:`SparksError` (with the estimate and the fix) when training ``config`` on
    ``data`` needs more memory than ``device`` has available; return the estimate otherwise.

    ``available`` overrides the measured free memory (bytes).  The environment variable
    ``SPARKS_SKIP_MEMORY_CHECK=1`` turns the refusal off.
    """
    est = estimate_for_data(config, data, device, model=model, parameters=parameters)
    if os.environ.get(SKIP_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return est
    free = available_memory(device) if available is None else int(available)
    if free is None or est.total <= free:
        return est
    big = est.largest
    where = "GPU" if est.device == "cuda" else ("memory" if est.device in ("cpu", "mps") else est.device)
    raise SparksError(
        f"This run needs about {format_bytes(est.total)} of memory, but {format_bytes(free)} of {where} is available "
        f"on {device}. The largest part is the {big.name} ({format_bytes(big.nbytes)}); in all {est.describe()}.",
        f"{big.fix} (Estimate from engine/memory.py; set {SKIP_ENV}=1 to train anyway.)",
    )
