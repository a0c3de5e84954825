"""Data-aware defaults: the "auto" values of :class:`SparksConfig` worked out from the recording.

Fields left at ``0`` ("auto") are chosen from the recording's length, bin width, rate and
trial structure; every choice comes with a sentence saying why, so the CLI, the GUI and saved
runs can show it.  Explicit values are never changed.  Problems that make a run meaningless
(too few examples, nothing held out) are reported as :class:`~sparks_gui.errors.SparksWarning`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..data.recording import Recording
from ..errors import SparksWarning
from .targets import UNSUPERVISED, resolve_target, target_values

if TYPE_CHECKING:  # the config imports this module (SparksConfig.for_recording): only its type here
    from .config import SparksConfig

STATE_WINDOWS = 4.0
"""Automatic training windows of continuous recordings last this many STDP time constants: long
enough for the Hebbian state to settle, short enough to give many examples.  On real reaching
counts 2 s windows beat 6 s ones (held-out R2 0.62 vs 0.50, docs/validation.md)."""
MAX_SEGMENT = 500
"""Longest automatic training window, in bins (time and memory grow with it)."""
MIN_SEGMENTS = 10
"""A continuous recording is cut into at least this many segments when it is long enough."""
TARGET_STEPS = 400
"""Automatic epochs aim at about this many optimiser steps in all."""
MIN_TRAIN_EXAMPLES = 8


@dataclass
class ResolvedConfig:
    """A config with every "auto" field filled in, and why each value was chosen."""

    config: SparksConfig
    notes: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{k} = {getattr(self.config, k)}: {why}" for k, why in self.notes.items()]
        return "\n".join(lines + [f"warning: {w}" for w in self.warnings])


def resolve(config: SparksConfig, recording: Recording, warn: bool = True) -> ResolvedConfig:
    """Fill the "auto" (0) fields of ``config`` from ``recording``; explicit values are kept."""
    rec = recording.select(neurons=config.neurons) if config.neurons is not None else recording
    f = max(1, int(config.bin_factor))
    dt = rec.dt * f
    n_time = rec.n_time // f
    changes: dict[str, object] = {}
    notes: dict[str, str] = {}
    problems: list[str] = []
    window = config.tau_p + config.tau_f
    trials = rec.trials is not None and rec.n_trials >= 2

    # --- training examples ------------------------------------------------------
    if trials:
        n_examples = rec.n_trials
        length = int(np.min(rec.trials[:, 1] - rec.trials[:, 0])) // f
        if config.segment_length == 0:
            changes["segment_length"] = length
            notes["segment_length"] = f"the recording has {rec.n_trials} trials; each trial is one example"
    else:
        length = config.segment_length
        if length == 0:
            shortest = max(4 * window, 20)
            tau = config.tau_s or _auto_tau(dt)
            length = max(round(STATE_WINDOWS * tau / dt), shortest)
            length = min(length, MAX_SEGMENT, max(n_time // MIN_SEGMENTS, shortest))
            length = max(min(length, n_time), min(shortest, n_time))
            changes["segment_length"] = length
            notes["segment_length"] = (
                f"{length} bins = {length * dt:.3g} s: {STATE_WINDOWS:g} STDP time constants "
                f"(tau_s {tau:g} s, so the state settles within a window), at least "
                f"{shortest} bins (4 decoder windows), at most {MAX_SEGMENT}, and at least "
                f"{MIN_SEGMENTS} segments of the {n_time}-bin recording where possible"
            )
        n_examples = max(n_time // max(length, 1), 0)
    n_test = (
        0
        if config.test_fraction <= 0 or n_examples < 2
        else min(max(round(config.test_fraction * n_examples), 1), n_examples - 1)
    )
    n_train = n_examples - n_test
    if not trials and n_examples:
        stride = config.train_stride or max(1, length // 4)
        n_train = max(n_train, (n_time - length) // stride + 1 - n_test * math.ceil(2 * length / stride))
    if n_test == 0:
        problems.append(
            f"nothing is held out ({n_examples} example(s), test_fraction={config.test_fraction}): "
            "no test metric can be computed; use more/shorter segments or a test_fraction > 0"
        )
    if n_train < MIN_TRAIN_EXAMPLES:
        problems.append(
            f"only {n_train} training example(s) of {length} bins: the model will overfit; "
            "use a shorter segment_length, more trials or a longer recording"
        )

    changes.update(_latent_values(config, rec, notes))
    changes.update(_training_values(config, n_train, notes))
    changes.update(_hebbian_values(config, dt, length, notes))
    resolved = config.replace(**changes) if changes else config
    if warn:
        for p in problems:
            warnings.warn(p, SparksWarning, stacklevel=3)
    return ResolvedConfig(resolved, notes, problems)


def _latent_dim_for(n_outputs: int | None) -> int:
    return 3 if n_outputs is None else int(min(16, max(3, 4 * n_outputs)))


def _latent_values(config: SparksConfig, rec: Recording, notes: dict[str, str]) -> dict[str, int]:
    if config.latent_dim != 0:
        return {}
    try:
        name = resolve_target(rec, config.target)
    except Exception:  # noqa: BLE001 - an unknown target is reported by prepare(); 3 until then
        name = UNSUPERVISED
    k = None if name in (UNSUPERVISED, "frame_id") else int(target_values(rec, name).shape[1])
    d = _latent_dim_for(k)
    notes["latent_dim"] = (
        "a trajectory you can look at (unsupervised or class target)"
        if k is None
        else f"4 per variable of '{name}' ({k}), between 3 and 16"
    )
    return {"latent_dim": d}


def _auto_tau(dt: float) -> float:
    return max(0.5, 3 * dt)


def _training_values(config: SparksConfig, n_train: int, notes: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    if config.batch_size == 0:
        out["batch_size"] = int(min(32, max(4, n_train // 8)))
        b = out["batch_size"]
        notes["batch_size"] = (
            f"{-(-n_train // b)} batches per epoch from {n_train} training examples "
            "(aim: 8 batches, batch size between 4 and 32)"
        )
    bs = out.get("batch_size", config.batch_size)
    if config.epochs == 0:
        steps = max(1, math.ceil(max(n_train, 1) / bs))
        out["epochs"] = int(min(100, max(10, math.ceil(TARGET_STEPS / steps))))
        notes["epochs"] = f"about {TARGET_STEPS} optimiser steps at {steps} per epoch (between 10 and 100)"
    return out


def _hebbian_values(config: SparksConfig, dt: float, length: int, notes: dict[str, str]) -> dict[str, float]:
    out: dict[str, float] = {}
    if config.tau_s == 0:
        out["tau_s"] = round(_auto_tau(dt), 6)
        notes["tau_s"] = "0.5 s (behavioural time scale), at least 3 bins"
    return out


def resolve_for_data(
    config: SparksConfig, x: np.ndarray, n_train: int, dt: float, n_outputs: int | None = None
) -> SparksConfig:
    """Fill the "auto" fields from already prepared examples ``x`` [n, N, L] (no segment choice left);
    ``n_outputs`` is the number of regression outputs (None: unsupervised or classes)."""
    if not config.auto_fields:
        return config
    notes: dict[str, str] = {}
    changes = {**_training_values(config, n_train, notes), **_hebbian_values(config, dt, x.shape[-1], notes)}
    if config.segment_length == 0:
        changes["segment_length"] = int(x.shape[-1])
    if config.latent_dim == 0:
        changes["latent_dim"] = _latent_dim_for(n_outputs)
    return config.replace(**changes)
