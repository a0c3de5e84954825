"""``SparksConfig``: the one configuration object behind the CLI, the GUI form and saved runs."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import SparksError
from .config_types import check_field_types

GRAD_MODES = ("full", "truncated", "online", "online_chunked")
HEBBIAN_BACKENDS = ("auto", "cpu_kernel", "torch", "torch_compile", "reference")
PRECISIONS = ("auto", "fp32", "bf16")
STDP_RULES = ("soft_bounded", "additive", "symmetric")
LOSS_CHOICES = ("auto", "mse", "bce", "poisson", "cross_entropy")
OBJECTIVES = ("pcc", "mtm")
"""Training objectives: PCC decoding (SPARKS) or multi-task masked modelling (MtM)."""
MTM_SCHEMES = ("neuron", "causal", "intra_region", "inter_region")
"""MtM masking schemes (same as ``sparks_gui.model.masking.SCHEMES``; kept here so the config imports no torch)."""
ENCODER_CHOICES = ("hebbian", "hebbian_symmetric", "hebbian_fixed", "dot_attention", "mlp", "gru")
"""Session encoders (same as ``sparks_gui.model.encoders.ENCODERS``; kept here so the config imports no torch)."""


AUTO_FIELDS = ("segment_length", "batch_size", "epochs", "tau_s", "latent_dim")
"""Fields whose value 0 means "auto": chosen from the recording by :meth:`SparksConfig.for_recording`."""


@dataclass
class SparksConfig:
    """Every hyperparameter of a run, the seed and the data/target selection.

    A run is reproducible from its saved config (JSON or YAML) and seed.
    """

    # --- data and target -------------------------------------------------------
    data_path: str | None = None
    """Recording file, or None for the built-in synthetic sample named by ``sample``."""
    sample: str = "reach"
    """Built-in synthetic dataset used when ``data_path`` is None."""
    target: str = "auto"
    """Behaviour signal to predict, ``"unsupervised"`` (predict the activity itself),
    or ``"auto"`` (the first behaviour signal, unsupervised when there is none)."""
    neurons: list[int] | None = None
    """Neuron indices to use (None = all)."""
    segment_length: int = 0
    """Bins per training example for recordings without trials (0 = auto: 4 STDP time constants,
    at least 4 decoder windows, at most 500 bins, at least 10 segments; see ``for_recording``)."""
    train_stride: int = 0
    """Continuous recordings: training windows of ``segment_length`` bins start every ``train_stride``
    bins, overlapping (0 = auto: a quarter of the segment; ``segment_length`` = no overlap).
    Held-out segments never overlap a training window."""
    test_fraction: float = 0.2
    """Fraction of trials/segments held out for testing."""
    bin_factor: int = 1
    """Sum (spikes) or average (calcium) this many bins together before training."""

    # --- model ----------------------------------------------------------------
    encoder: str = "hebbian"
    """Session encoder: ``hebbian`` (default), the controls ``hebbian_symmetric`` (order-blind
    rule, same as stdp_rule="symmetric"), ``hebbian_fixed`` (same as learn_traces=False),
    ``dot_attention`` (softmax attention on smoothed rates), ``mlp`` or ``gru``."""
    latent_dim: int = 0
    """Latent dimensions (0 = auto: 3 for unsupervised and class targets - a trajectory you can
    look at - and 4 per behaviour variable, 3 to 16, for regression targets)."""
    embed_dim: int = 32
    """Width of every neuron token (the value vectors the attention reads out); a multiple of ``n_heads``."""
    n_heads: int = 1
    """Hebbian attention heads, each with its own traces and value vectors (the paper uses 1)."""
    tau_p: int = 10
    """Past window: number of latents the decoder sees."""
    tau_f: int = 1
    """Future window: number of reference samples predicted at each step."""
    target_offset: int = -1
    """Steps between the newest latent and the first predicted sample (-1 = auto:
    0 for behaviour targets, 1 for unsupervised, i.e. predict the *next* bins)."""
    n_conv_blocks: int = 0
    """Conventional (dot-product self-attention + feed-forward) blocks over the neuron tokens after the
    Hebbian layer, as in the paper's deeper encoders (0 = none: the fast fused read-out)."""
    conv_heads: int = 4
    """Heads of each conventional block (only with ``n_conv_blocks`` > 0)."""
    decoder_layers: int = 2
    """Hidden layers of the decoder MLP that maps the window of past latents to the prediction."""
    tau_s: float = 0.0
    """Initial STDP time constant in seconds (0 = auto: 0.5 s, the behavioural time scale, but at
    least 3 bins)."""
    w_start: float = 1.0
    """Initial trace increment per spike (times dt)."""
    hebbian_partners: int = 0
    """Sparse/local Hebbian variant for large populations: each neuron attends to this many
    partners (itself included) instead of all N (0 = dense).  Memory and time scale with N x K."""
    partner_selection: str = "correlation"
    """How partners are chosen: ``correlation`` (the most correlated neurons in the training
    data) or ``local`` (neighbours in the recording's neuron order, e.g. by depth)."""
    stdp_rule: str = "soft_bounded"
    """Plasticity rule of the Hebbian attention: ``soft_bounded`` (the paper's, attention kept in
    bounds), ``additive`` (unbounded) or ``symmetric`` (order-blind control)."""
    learn_traces: bool = True
    """False freezes tau and w (the fixed-trace control)."""
    trace_lr_scale: float = 1.0
    """Learning rate of the trace time constants and weights (log tau, log w) relative to ``lr``.
    They get their own Adam group with eps 1e-12: their per-pair gradients are small (1e-8 to
    1e-6 with the loss averaged over time), close to Adam's default eps."""
    token_ff: bool = False
    """Residual feed-forward block (RMS norm, two gated linear units) on every neuron token
    after the Hebbian read-out, as in the reference package.  Off by default: it makes training
    3.5-5x slower (every token [B, T, N, E] is materialised) and did not raise the accuracy our
    defaults reach: real reaching counts 0.60 with vs 0.63 without; at the reference's fixed
    settings (12 epochs, lr 1e-3) it speeds up convergence on synthetic reach (0.76 vs 0.60)
    but our defaults reach 0.82 there (benchmarks/fidelity_sparks_ai.py, docs/validation.md)."""
    input_residual: bool = True
    """Add each neuron's own current activity (a learned per-neuron embedding; counts through
    log1p) to its token, beside the Hebbian read-out.  On real reaching counts it lifts held-out
    velocity R2 by about 0.06 (docs/validation.md); False gives the paper's encoder."""
    beta: float = 0.001
    """Weight of the KL term."""
    loss: str = "auto"
    """Reconstruction loss; auto = mse for behaviour/calcium, bce for binary spikes, poisson for counts."""

    # --- training -------------------------------------------------------------
    objective: str = "pcc"
    """Training objective: ``pcc`` (the SPARKS predictive-causal decoder of ``target``) or ``mtm``
    (multi-task masked modelling, Zhang et al. 2024: each batch hides neurons, future steps or
    brain regions from the encoder and a per-neuron rate head reconstructs the hidden activity;
    the target is the activity itself)."""
    mtm_schemes: list[str] = field(default_factory=lambda: list(MTM_SCHEMES))
    """MtM masking schemes drawn from, one per batch: ``neuron``, ``causal``, ``intra_region``,
    ``inter_region`` (region schemes are skipped when the neurons have no region labels)."""
    mask_ratio: float = 0.3
    """MtM: fraction of the neurons (or of the time steps for ``causal``, of one region's neurons
    for ``intra_region``) hidden from the encoder in each batch, strictly between 0 and 1."""
    epochs: int = 0
    """Passes over the training examples (0 = auto: about 400 optimiser steps, 10 to 100 epochs)."""
    batch_size: int = 0
    """Examples per optimiser step (0 = auto: about 8 batches per epoch, 4 to 32)."""
    lr: float = 3e-3
    """Adam learning rate of every parameter (the trace parameters: times ``trace_lr_scale``)."""
    weight_decay: float = 0.0
    """L2 penalty (Adam weight decay) on every parameter; 0 = none."""
    grad_clip: float = 1.0
    """Clip the global gradient norm of each step to this value (0 = no clipping)."""
    grad_mode: str = "full"
    """``full`` (BPTT over the whole trial), ``truncated`` (chunks of ``chunk_steps``,
    one update per chunk), ``online`` (one update per time step, state detached: exact
    online learning, sequential and slow) or ``online_chunked`` (the online gradient -
    truncated to one step - but one update per chunk of ``chunk_steps``: fast)."""
    chunk_steps: int = 100
    """Time steps per chunk for the ``truncated`` and ``online_chunked`` gradient modes."""
    seed: int = 0
    """Random seed of the split, the initial weights, the batches and the latent noise: the same seed,
    config and data give the same run."""
    device: str = "auto"
    """``auto`` (the first CUDA GPU, else Apple MPS, else the CPU), ``cpu``, ``cuda``, ``cuda:1``, ``mps``."""
    hebbian_backend: str = "auto"
    """``auto`` (fused numba kernel on CPU, ``torch_compile`` on CUDA, ``torch`` elsewhere),
    ``cpu_kernel``, ``torch`` (any device: per-step update, fused readout, checkpointed
    backward), ``torch_compile`` (the same, step fused by torch.compile) or ``reference``
    (the straightforward per-step loop; slow, memory grows with T x N^2)."""
    precision: str = "auto"
    """``auto`` (bfloat16 autocast on GPUs that support it, float32 elsewhere), ``fp32`` or
    ``bf16``.  The Hebbian state recurrence always runs in float32; autocast only affects the
    readout, the conventional blocks and the decoder, and the loss is computed in float32."""

    # --- what the trainer reports -------------------------------------------
    eval_every: int = 1
    """Epochs between test-set evaluations (latent/prediction snapshots go with them)."""
    snapshot_trials: int = 16
    """Held-out examples whose latents and predictions are sent to the views after each evaluation."""
    checkpoint_every: int = 1
    """Epochs between checkpoints (``checkpoint.pt`` in the run folder, to resume from); the last epoch
    is always saved."""
    out_dir: str | None = None
    """Run folder for checkpoints, metrics and exports (None = no files written by the trainer)."""

    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form user notes; saved with the run, ignored by the engine."""

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        check_field_types(self)  # wrong types (epochs: ten) -> SparksError naming the field, value and type

        def need(ok: bool, problem: str, fix: str) -> None:
            if not ok:
                raise SparksError(problem, fix)

        need(self.grad_mode in GRAD_MODES, f"grad_mode '{self.grad_mode}' is unknown.", f"Use one of {GRAD_MODES}.")
        need(self.stdp_rule in STDP_RULES, f"stdp_rule '{self.stdp_rule}' is unknown.", f"Use one of {STDP_RULES}.")
        need(self.encoder in ENCODER_CHOICES, f"encoder '{self.encoder}' is unknown.", f"Use one of {ENCODER_CHOICES}.")
        need(
            self.n_conv_blocks == 0 or self.encoder not in ("mlp", "gru"),
            f"n_conv_blocks={self.n_conv_blocks} needs neuron tokens, which the '{self.encoder}' encoder does not make.",
            "Set n_conv_blocks=0, or use a Hebbian or dot_attention encoder.",
        )
        need(self.loss in LOSS_CHOICES, f"loss '{self.loss}' is unknown.", f"Use one of {LOSS_CHOICES}.")
        for name in (
            "embed_dim",
            "n_heads",
            "tau_p",
            "tau_f",
            "chunk_steps",
            "bin_factor",
            "eval_every",
            "checkpoint_every",
        ):
            need(
                int(getattr(self, name)) >= 1,
                f"{name}={getattr(self, name)} must be at least 1.",
                f"Set {name} to a positive integer.",
            )
        need(self.w_start > 0, f"w_start={self.w_start} must be positive.", "Use e.g. w_start=1.0.")
        for name in AUTO_FIELDS:
            need(
                getattr(self, name) >= 0,
                f"{name}={getattr(self, name)} must be positive (or 0 = auto).",
                f"Set {name} to a positive value, or 0 to choose it from the recording.",
            )
        need(
            int(self.train_stride) >= 0,
            f"train_stride={self.train_stride} must be >= 0.",
            "Use 0 (auto) or a stride in bins.",
        )
        need(
            self.embed_dim % self.n_heads == 0,
            f"embed_dim={self.embed_dim} is not divisible by n_heads={self.n_heads}.",
            "Choose embed_dim as a multiple of n_heads.",
        )
        need(0.0 <= self.test_fraction < 1.0, f"test_fraction={self.test_fraction} must be in [0, 1).", "Use e.g. 0.2.")
        need(
            self.hebbian_partners >= 0,
            f"hebbian_partners={self.hebbian_partners} must be >= 0.",
            "Use 0 (dense) or K >= 2.",
        )
        need(
            self.partner_selection in ("correlation", "local"),
            f"partner_selection '{self.partner_selection}' is unknown.",
            "Use 'correlation' or 'local'.",
        )
        need(self.lr > 0, f"lr={self.lr} must be positive.", "Use e.g. 3e-3.")
        need(
            self.trace_lr_scale >= 0,
            f"trace_lr_scale={self.trace_lr_scale} must be >= 0.",
            "Use 1 (same learning rate as the rest) or 0 to keep the traces where they start.",
        )
        need(
            self.hebbian_backend in HEBBIAN_BACKENDS,
            f"hebbian_backend '{self.hebbian_backend}' is unknown.",
            f"Use one of {HEBBIAN_BACKENDS}.",
        )
        need(self.objective in OBJECTIVES, f"objective '{self.objective}' is unknown.", f"Use one of {OBJECTIVES}.")
        bad = [s for s in self.mtm_schemes if s not in MTM_SCHEMES]
        need(
            not bad and len(self.mtm_schemes) > 0,
            f"mtm_schemes {list(self.mtm_schemes)} holds unknown or no schemes.",
            f"Use some of {list(MTM_SCHEMES)}.",
        )
        need(
            0.0 < self.mask_ratio < 1.0,
            f"mask_ratio={self.mask_ratio} must lie strictly between 0 and 1.",
            "Use e.g. mask_ratio=0.3.",
        )
        need(
            self.objective != "mtm" or self.target in ("auto", "unsupervised"),
            f"objective 'mtm' reconstructs the activity itself, but target is '{self.target}'.",
            "Set target='unsupervised' (or 'auto'), or use objective='pcc' to decode a behaviour signal.",
        )
        need(self.precision in PRECISIONS, f"precision '{self.precision}' is unknown.", f"Use one of {PRECISIONS}.")

    def for_recording(self, recording, warn: bool = True) -> SparksConfig:
        """This config with every "auto" (0) field chosen from ``recording``; explicit values are kept.

        ``sparks_gui.engine.defaults.resolve`` gives the reasons for each choice too.
        """
        from .defaults import resolve

        return resolve(self, recording, warn=warn).config

    @property
    def auto_fields(self) -> list[str]:
        """The fields still left at "auto" (0)."""
        return [k for k in AUTO_FIELDS if getattr(self, k) == 0]

    # ------------------------------------------------------------ conversions
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SparksConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SparksError(
                f"Unknown configuration keys: {', '.join(unknown)}.",
                f"Remove them or fix the spelling; valid keys are: {', '.join(sorted(known))}.",
            )
        return cls(**values)

    def replace(self, **changes) -> SparksConfig:
        return self.from_dict({**self.to_dict(), **changes})

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            from ..data.atomic import atomic_write_text

            atomic_write_text(path, text)
        return text

    def to_yaml(self, path: str | Path | None = None) -> str:
        import yaml

        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            from ..data.atomic import atomic_write_text

            atomic_write_text(path, text)
        return text

    @classmethod
    def load(cls, path: str | Path) -> SparksConfig:
        """Read a config from ``.json``, ``.yaml`` or ``.yml``."""
        p = Path(path)
        if not p.exists():
            raise SparksError(f"Config file '{p}' does not exist.", "Check the path.")
        text = p.read_text()
        try:
            if p.suffix.lower() in (".yaml", ".yml"):
                import yaml

                values = yaml.safe_load(text) or {}
            else:
                values = json.loads(text)
        except Exception as exc:  # noqa: BLE001 - any parse error becomes a user message
            raise SparksError(f"Config file '{p}' could not be parsed: {exc}.", "Fix the JSON/YAML syntax.") from exc
        if not isinstance(values, dict):
            raise SparksError(f"Config file '{p}' does not hold a mapping of settings.", "Write key: value pairs.")
        return cls.from_dict(values)
