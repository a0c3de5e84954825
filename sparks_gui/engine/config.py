"""``SparksConfig``: the one configuration object behind the CLI, the GUI form and saved runs."""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..errors import SparksError
from .config_meta import Setting, check_settings, describe, setting
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
PARTNER_SELECTIONS = ("correlation", "local")
"""How the sparse Hebbian variant picks each neuron's partners."""


@dataclass
class SparksConfig:
    """Every hyperparameter of a run, the seed and the data/target selection.

    A run is reproducible from its saved config (JSON or YAML) and seed.

    Each field is declared with :func:`~sparks_gui.engine.config_meta.setting`: its section, help,
    choices, range, form label and whether the GUI form and the command line show it are field
    metadata, read back by :func:`config_fields`.  The CLI's ``--<field>`` options, the Training
    dock's form and :meth:`validate` (choices and ranges) are generated from it.
    """

    # --- data ------------------------------------------------------------------
    data_path: str | None = setting(
        None,
        section="Data",
        help="Recording file, or None for the built-in synthetic sample named by ``sample``.",
        form=False,
        cli=False,
    )
    sample: str = setting(
        "reach",
        section="Data",
        help="Built-in synthetic dataset used when ``data_path`` is None.",
        form=False,
        cli=False,  # train needs a FILE and demo is the reach sample: a --sample option would do nothing
    )
    target: str = setting(
        "auto",
        section="Data",
        help=(
            'Behaviour signal to predict, ``"unsupervised"`` (predict the activity itself), or ``"auto"`` '
            "(the first behaviour signal, unsupervised when there is none)."
        ),
        form=False,
    )
    neurons: list[int] | None = setting(
        None,
        section="Data",
        help="Neuron indices to use (None = all).",
        form=False,
    )
    segment_length: int = setting(
        0,
        section="Data",
        help=(
            "Bins per training example for recordings without trials (0 = auto: 4 STDP time constants, at "
            "least 4 decoder windows, at most 500 bins, at least 10 segments; see ``for_recording``)."
        ),
        form=False,
        auto=True,
    )
    test_fraction: float = setting(
        0.2,
        section="Data",
        help="Fraction of trials/segments held out for testing.",
        form=False,
        min=0.0,
        max=1.0,
        max_open=True,
    )
    bin_factor: int = setting(
        1,
        section="Data",
        help="Sum (spikes) or average (calcium) this many bins together before training.",
        form=False,
        min=1,
    )

    # --- model -----------------------------------------------------------------
    encoder: str = setting(
        "hebbian",
        section="Model",
        help=(
            "Session encoder: ``hebbian`` (default), the controls ``hebbian_symmetric`` (order-blind rule, "
            'same as stdp_rule="symmetric"), ``hebbian_fixed`` (same as learn_traces=False), '
            "``dot_attention`` (softmax attention on smoothed rates), ``mlp`` or ``gru``."
        ),
        choices=ENCODER_CHOICES,
    )
    latent_dim: int = setting(
        0,
        section="Model",
        help=(
            "Latent dimensions (0 = auto: 3 for unsupervised and class targets - a trajectory you can look at "
            "- and 4 per behaviour variable, 3 to 16, for regression targets)."
        ),
        auto=True,
    )
    embed_dim: int = setting(
        32,
        section="Model",
        help=("Width of every neuron token (the value vectors the attention reads out); a multiple of ``n_heads``."),
        min=1,
    )
    n_heads: int = setting(
        1,
        section="Model",
        help="Hebbian attention heads, each with its own traces and value vectors (the paper uses 1).",
        min=1,
    )
    tau_p: int = setting(
        10,
        section="Model",
        help="Past window: number of latents the decoder sees.",
        min=1,
        label="τ past (latents)",
    )
    tau_f: int = setting(
        1,
        section="Model",
        help="Future window: number of reference samples predicted at each step.",
        min=1,
        label="τ future (steps)",
    )
    target_offset: int = setting(
        -1,
        section="Model",
        help=(
            "Steps between the newest latent and the first predicted sample (-1 = auto: 0 for behaviour "
            "targets, 1 for unsupervised, i.e. predict the *next* bins)."
        ),
        min=-1,
    )
    n_conv_blocks: int = setting(
        0,
        section="Model",
        help=(
            "Conventional (dot-product self-attention + feed-forward) blocks over the neuron tokens after the "
            "Hebbian layer, as in the paper's deeper encoders (0 = none: the fast fused read-out)."
        ),
        min=0,
    )
    conv_heads: int = setting(
        4,
        section="Model",
        help="Heads of each conventional block (only with ``n_conv_blocks`` > 0).",
        min=1,
    )
    decoder_layers: int = setting(
        2,
        section="Model",
        help="Hidden layers of the decoder MLP that maps the window of past latents to the prediction.",
        min=0,
    )
    tau_s: float = setting(
        0.0,
        section="Model",
        help=(
            "Initial STDP time constant in seconds (0 = auto: 0.5 s, the behavioural time scale, but at least 3 bins)."
        ),
        auto=True,
        label="τ STDP (s)",
    )
    w_start: float = setting(
        1.0,
        section="Model",
        help="Initial trace increment per spike (times dt).",
        min=0.0,
        min_open=True,
        label="trace increment",
    )
    hebbian_partners: int = setting(
        0,
        section="Model",
        help=(
            "Sparse/local Hebbian variant for large populations: each neuron attends to this many partners "
            "(itself included) instead of all N (0 = dense). Memory and time scale with N x K."
        ),
        min=0,
        label="partners (0 = dense)",
    )
    partner_selection: str = setting(
        "correlation",
        section="Model",
        help=(
            "How partners are chosen: ``correlation`` (the most correlated neurons in the training data) or "
            "``local`` (neighbours in the recording's neuron order, e.g. by depth)."
        ),
        choices=PARTNER_SELECTIONS,
    )
    stdp_rule: str = setting(
        "soft_bounded",
        section="Model",
        help=(
            "Plasticity rule of the Hebbian attention: ``soft_bounded`` (the paper's, attention kept in "
            "bounds), ``additive`` (unbounded) or ``symmetric`` (order-blind control)."
        ),
        choices=STDP_RULES,
    )
    learn_traces: bool = setting(
        True,
        section="Model",
        help="False freezes tau and w (the fixed-trace control).",
    )
    token_ff: bool = setting(
        False,
        section="Model",
        help=(
            "Residual feed-forward block (RMS norm, two gated linear units) on every neuron token after the "
            "Hebbian read-out, as in the reference package. Off by default: it makes training 3.5-5x slower "
            "(every token [B, T, N, E] is materialised) and did not raise the accuracy our defaults reach: "
            "real reaching counts 0.60 with vs 0.63 without; at the reference's fixed settings (12 epochs, lr "
            "1e-3) it speeds up convergence on synthetic reach (0.76 vs 0.60) but our defaults reach 0.82 "
            "there (benchmarks/fidelity_sparks_ai.py, docs/validation.md)."
        ),
        label="token feed-forward",
    )
    input_residual: bool = setting(
        True,
        section="Model",
        help=(
            "Add each neuron's own current activity (a learned per-neuron embedding; counts through log1p) to "
            "its token, beside the Hebbian read-out. On real reaching counts it lifts held-out velocity R2 by "
            "about 0.06 (docs/validation.md); False gives the paper's encoder."
        ),
        label="input residual",
    )
    beta: float = setting(
        0.001,
        section="Model",
        help="Weight of the KL term.",
        min=0.0,
        label="β (KL weight)",
    )
    loss: str = setting(
        "auto",
        section="Model",
        help=("Reconstruction loss; auto = mse for behaviour/calcium, bce for binary spikes, poisson for counts."),
        choices=LOSS_CHOICES,
    )

    # --- training --------------------------------------------------------------
    epochs: int = setting(
        0,
        section="Training",
        help="Passes over the training examples (0 = auto: about 400 optimiser steps, 10 to 100 epochs).",
        auto=True,
    )
    batch_size: int = setting(
        0,
        section="Training",
        help="Examples per optimiser step (0 = auto: about 8 batches per epoch, 4 to 32).",
        auto=True,
    )
    lr: float = setting(
        3e-3,
        section="Training",
        help="Adam learning rate of every parameter (the trace parameters: times ``trace_lr_scale``).",
        min=0.0,
        min_open=True,
        label="learning rate",
    )
    trace_lr_scale: float = setting(
        1.0,
        section="Training",
        help=(
            "Learning rate of the trace time constants and weights (log tau, log w) relative to ``lr``. They "
            "get their own Adam group with eps 1e-12: their per-pair gradients are small (1e-8 to 1e-6 with "
            "the loss averaged over time), close to Adam's default eps."
        ),
        min=0.0,
        label="trace lr × (log τ, log w)",
    )
    weight_decay: float = setting(
        0.0,
        section="Training",
        help="L2 penalty (Adam weight decay) on every parameter; 0 = none.",
        min=0.0,
    )
    grad_clip: float = setting(
        1.0,
        section="Training",
        help="Clip the global gradient norm of each step to this value (0 = no clipping).",
        min=0.0,
        label="gradient clip",
    )
    grad_mode: str = setting(
        "full",
        section="Training",
        help=(
            "``full`` (BPTT over the whole trial), ``truncated`` (chunks of ``chunk_steps``, one update per "
            "chunk), ``online`` (one update per time step, state detached: exact online learning, sequential "
            "and slow) or ``online_chunked`` (the online gradient - truncated to one step - but one update "
            "per chunk of ``chunk_steps``: fast)."
        ),
        choices=GRAD_MODES,
    )
    chunk_steps: int = setting(
        100,
        section="Training",
        help="Time steps per chunk for the ``truncated`` and ``online_chunked`` gradient modes.",
        min=1,
    )
    train_stride: int = setting(
        0,
        section="Training",
        help=(
            "Continuous recordings: training windows of ``segment_length`` bins start every ``train_stride`` "
            "bins, overlapping (0 = auto: a quarter of the segment; ``segment_length`` = no overlap). Held- "
            "out segments never overlap a training window."
        ),
        min=0,
        label="window stride (0 = auto)",
    )
    seed: int = setting(
        0,
        section="Training",
        help=(
            "Random seed of the split, the initial weights, the batches and the latent noise: the same seed, "
            "config and data give the same run."
        ),
        min=0,
    )
    device: str = setting(
        "auto",
        section="Training",
        help=("``auto`` (the first CUDA GPU, else Apple MPS, else the CPU), ``cpu``, ``cuda``, ``cuda:1``, ``mps``."),
        form=False,
    )
    hebbian_backend: str = setting(
        "auto",
        section="Training",
        help=(
            "``auto`` (fused numba kernel on CPU, ``torch_compile`` on CUDA, ``torch`` elsewhere), "
            "``cpu_kernel``, ``torch`` (any device: per-step update, fused readout, checkpointed backward), "
            "``torch_compile`` (the same, step fused by torch.compile) or ``reference`` (the straightforward "
            "per-step loop; slow, memory grows with T x N^2)."
        ),
        choices=HEBBIAN_BACKENDS,
    )
    precision: str = setting(
        "auto",
        section="Training",
        help=(
            "``auto`` (bfloat16 autocast on GPUs that support it, float32 elsewhere), ``fp32`` or ``bf16``. "
            "The Hebbian state recurrence always runs in float32; autocast only affects the readout, the "
            "conventional blocks and the decoder, and the loss is computed in float32."
        ),
        choices=PRECISIONS,
    )
    objective: str = setting(
        "pcc",
        section="Training",
        help=(
            "Training objective: ``pcc`` (the SPARKS predictive-causal decoder of ``target``) or ``mtm`` "
            "(multi-task masked modelling, Zhang et al. 2024: each batch hides neurons, future steps or brain "
            "regions from the encoder and a per-neuron rate head reconstructs the hidden activity; the target "
            "is the activity itself)."
        ),
        choices=OBJECTIVES,
    )
    mtm_schemes: list[str] = setting(
        default_factory=lambda: list(MTM_SCHEMES),
        section="Training",
        help=(
            "MtM masking schemes drawn from, one per sample of each batch: ``neuron``, ``causal``, ``intra_region``, "
            "``inter_region`` (region schemes are skipped when the neurons have no region labels)."
        ),
        choices=MTM_SCHEMES,
        label="MtM schemes",
    )
    mask_ratio: float = setting(
        0.3,
        section="Training",
        help=(
            "MtM: fraction of the neurons (or of the time steps for ``causal``, of one region's neurons for "
            "``intra_region``) hidden from the encoder in each batch, strictly between 0 and 1."
        ),
        min=0.0,
        max=1.0,
        min_open=True,
        max_open=True,
        label="MtM mask ratio",
    )

    # --- reporting -------------------------------------------------------------
    eval_every: int = setting(
        1,
        section="Reporting",
        help="Epochs between test-set evaluations (latent/prediction snapshots go with them).",
        min=1,
    )
    snapshot_trials: int = setting(
        16,
        section="Reporting",
        help="Held-out examples whose latents and predictions are sent to the views after each evaluation.",
        min=0,
    )
    checkpoint_every: int = setting(
        1,
        section="Reporting",
        help=(
            "Epochs between checkpoints (``checkpoint.pt`` in the run folder, to resume from); the last epoch "
            "is always saved."
        ),
        min=1,
    )
    out_dir: str | None = setting(
        None,
        section="Reporting",
        help="Run folder for checkpoints, metrics and exports (None = no files written by the trainer).",
        form=False,
        cli=False,
    )
    extra: dict[str, Any] = setting(
        default_factory=dict,
        section="Reporting",
        help="Free-form user notes; saved with the run, ignored by the engine.",
        form=False,
        cli=False,
    )

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Refuse a wrong type, a value outside its field's choices or range, or settings that contradict
        each other, with a :class:`SparksError` naming the field (types, choices and ranges come from each
        field's :func:`setting` metadata, the same the CLI options and the GUI form are built from)."""
        check_field_types(self)  # wrong types (epochs: ten) -> SparksError naming the field, value and type
        check_settings(self, config_fields())  # choices and ranges

        def need(ok: bool, problem: str, fix: str) -> None:
            if not ok:
                raise SparksError(problem, fix)

        need(
            self.n_conv_blocks == 0 or self.encoder not in ("mlp", "gru"),
            f"n_conv_blocks={self.n_conv_blocks} needs neuron tokens, which the '{self.encoder}' encoder does not make.",
            "Set n_conv_blocks=0, or use a Hebbian or dot_attention encoder.",
        )
        need(
            self.embed_dim % self.n_heads == 0,
            f"embed_dim={self.embed_dim} is not divisible by n_heads={self.n_heads}.",
            "Choose embed_dim as a multiple of n_heads.",
        )
        need(
            self.objective != "mtm" or self.target in ("auto", "unsupervised"),
            f"objective 'mtm' reconstructs the activity itself, but target is '{self.target}'.",
            "Set target='unsupervised' (or 'auto'), or use objective='pcc' to decode a behaviour signal.",
        )

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
        """Read a config from ``.json``, ``.yaml`` or ``.yml`` (keys it leaves out keep their defaults)."""
        return cls.from_dict(read_values(path))

    @classmethod
    def from_preset(cls, name: str) -> SparksConfig:
        """The defaults with the preset ``name`` applied (see :func:`available_presets`)."""
        return cls.from_dict(preset_values(name))

    @staticmethod
    def available_presets() -> list[str]:
        """Names of the bundled presets (``sparks_gui/resources/presets/*.yaml``)."""
        return available_presets()


@functools.lru_cache(maxsize=1)
def config_fields() -> tuple[Setting, ...]:
    """What each :class:`SparksConfig` field is: name, type, default, section, help, choices, range, and
    whether the GUI form and the command line show it (see :class:`~sparks_gui.engine.config_meta.Setting`)."""
    return describe(SparksConfig)


def field_help() -> dict[str, str]:
    """Each field's help text (the tooltip in the form, the ``--help`` of its option)."""
    return {s.name: s.help for s in config_fields()}


AUTO_FIELDS = tuple(s.name for s in config_fields() if s.auto)
"""Fields whose value 0 means "auto": chosen from the recording by :meth:`SparksConfig.for_recording`."""


def read_values(path: str | Path) -> dict[str, Any]:
    """The settings a ``.json``/``.yaml`` config file holds, as a dict (unchecked: ``from_dict`` checks)."""
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
    return values


# ------------------------------------------------------------------ presets
def _presets_dir():
    from importlib.resources import files

    return files("sparks_gui") / "resources" / "presets"


def _preset_key(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def available_presets() -> list[str]:
    """Names of the bundled presets, e.g. ``["behaviour_decoding", "calcium_imaging", ...]``."""
    return sorted(p.name[: -len(".yaml")] for p in _presets_dir().iterdir() if p.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    """The preset file's text (a partial config in YAML with comments saying when to use it)."""
    key = _preset_key(name)
    names = available_presets()
    if key not in names:
        import difflib

        close = difflib.get_close_matches(key, names, n=3, cutoff=0.4)
        raise SparksError(
            f"No preset named '{name}'" + (f" (did you mean {', '.join(close)}?)." if close else "."),
            f"Use one of: {', '.join(names)}.",
        )
    return (_presets_dir() / f"{key}.yaml").read_text(encoding="utf-8")


def preset_values(name: str) -> dict[str, Any]:
    """The settings the preset ``name`` changes (a partial config); names are matched ignoring case,
    spaces and dashes ("sequence discovery" = ``sequence_discovery``)."""
    import yaml

    values = yaml.safe_load(preset_text(name)) or {}
    if not isinstance(values, dict):
        raise SparksError(f"Preset '{name}' does not hold a mapping of settings.", "Write key: value pairs.")
    return values


def preset_description(name: str) -> str:
    """The preset's leading comment (when to use it), as one paragraph."""
    lines = []
    for line in preset_text(name).splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(t for t in lines if t)
