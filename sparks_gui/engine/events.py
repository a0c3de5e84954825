"""Typed events yielded by :meth:`Trainer.run`; plain data so any consumer (CLI, GUI, tests) can use them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Event:
    epoch: int


@dataclass
class Started(Event):
    total_steps: int
    steps_per_epoch: int
    n_train: int
    n_test: int
    device: str
    target: str
    loss: str
    resumed: bool = False
    n_neurons: int = 0
    """Neurons the model reads (after the config's neuron selection)."""


@dataclass
class StepProgress(Event):
    step: int
    """Global optimiser-batch index (1-based) across all epochs."""
    total_steps: int
    loss: float
    elapsed_s: float
    eta_s: float
    trial_steps_per_s: float


@dataclass
class EpochEnd(Event):
    train_loss: float
    test_loss: float | None
    metrics: dict[str, float]
    elapsed_s: float
    eta_s: float


@dataclass
class LatentSnapshot(Event):
    latents: np.ndarray
    """[n_examples, T, d] posterior means."""
    example_idx: np.ndarray
    conditions: dict[str, np.ndarray] = field(default_factory=dict)
    split: str = "test"
    starts: np.ndarray | None = None
    """Start bin of each example in the original recording (its own dt)."""
    dt: float = 0.0
    """Bin width of the latents in seconds (recording dt x bin_factor)."""


@dataclass
class AttentionSnapshot(Event):
    mean: np.ndarray
    """[H, N, N] attention averaged over the time of one example."""
    last: np.ndarray
    """[H, N, N] attention at the last step of that example."""
    example: int = 0
    sequence: np.ndarray | None = None
    """[T // every, H, N, N] attention over the example's time (subsampled to stay under ~64 MB)."""
    every: int = 1
    """Time stride of ``sequence`` in bins."""
    starts: np.ndarray | None = None
    """Start bin of *every* example of the run in the original recording (its own dt): which example
    the time cursor is in."""
    example_bins: int = 0
    """Bins per example (of the latents' dt)."""
    dt: float = 0.0
    """Bin width of the examples in seconds (recording dt x bin_factor)."""


@dataclass
class Predictions(Event):
    predicted: np.ndarray
    """[n_examples, T, k] first predicted future step, in data units."""
    true: np.ndarray
    example_idx: np.ndarray
    target: str = ""
    starts: np.ndarray | None = None
    """Start bin of each example in the original recording (its own dt)."""
    dt: float = 0.0
    """Bin width of the predictions in seconds (recording dt x bin_factor)."""
    offset: int = 0
    """Entry t predicts the reference at t + offset."""
    masked_neurons: np.ndarray | None = None
    """MtM: the neurons hidden from the encoder (``predicted`` holds every neuron's rate, [n, T, N],
    the masked ones predicted from the others; ``true`` the counts); None for PCC."""
    loss: str = ""
    """The run's loss: ``"mse"`` (regression, data units), ``"bce"`` or ``"poisson"``."""
    likelihood: str | None = None
    """MtM: the read-out's likelihood, ``"poisson"`` (spike counts) or ``"gaussian"`` (calcium); None for PCC."""
    r2_per_variable: np.ndarray | None = None
    """[k] R2 of each variable over these examples (offset applied, data units); regression targets
    only (``mse`` loss), else None."""
    accuracy: float | None = None
    """``frame_id`` targets: fraction of bins whose decoded frame id is right; else None."""
    frame_correlation: np.ndarray | None = None
    """``frames`` targets: [n, T - offset] Pearson r of each decoded frame with the true frame; else None."""


@dataclass
class CheckpointWritten(Event):
    path: str


@dataclass
class Finished(Event):
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    cancelled: bool = False


@dataclass
class Failed(Event):
    message: str
    checkpoint: str | None = None
    traceback: str | None = None
    """The formatted traceback of an unexpected exception (a bug), for ``--debug`` and bug reports;
    None for user errors (``SparksError``) and NaN losses."""
