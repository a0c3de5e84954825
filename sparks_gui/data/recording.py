"""The :class:`Recording`: one validated container for neural activity and what goes with it.

Activity is stored neurons x time at a fixed step ``dt`` (seconds).  Behaviour
signals are stored by name as time x k arrays on the same clock.  Trials are
``[start, stop)`` bin indices.  Everything is plain numpy so that ``data/``
imports without torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SparksError

KINDS = ("spikes", "calcium")


def _as_2d_time_major(name: str, values: Any, n_time: int) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise SparksError(
            f"Behaviour signal '{name}' has {arr.ndim} dimensions; expected time x k.",
            "Pass a 1-D array (one variable) or a 2-D array with time along the first axis.",
        )
    if arr.shape[0] != n_time and arr.shape[1] == n_time:
        arr = arr.T
    if arr.shape[0] != n_time:
        raise SparksError(
            f"Behaviour signal '{name}' has {arr.shape[0]} samples but the activity has {n_time} time bins.",
            "Resample the behaviour onto the activity clock (same dt and duration) before building the Recording.",
        )
    if not np.all(np.isfinite(arr)):
        raise SparksError(
            f"Behaviour signal '{name}' contains NaN or infinite values.",
            "Interpolate the gaps or drop those time bins before training.",
        )
    return np.ascontiguousarray(arr)


@dataclass
class Recording:
    """Neural activity (neurons x time) plus behaviour, trials and metadata.

    Parameters
    ----------
    activity
        Array ``[n_neurons, n_time]``: spike counts per bin (``kind="spikes"``) or
        calcium traces (``kind="calcium"``).
    dt
        Bin width in seconds.
    kind
        ``"spikes"`` or ``"calcium"``.
    behaviour
        Named signals, each ``[n_time, k]`` (1-D arrays are accepted as k = 1).
    trials
        Integer array ``[n_trials, 2]`` of ``[start, stop)`` bin indices, or None.
    conditions
        Per-trial labels by name, each of length ``n_trials`` (e.g. reach direction).
    neuron_ids
        One id per neuron (defaults to ``0..N-1``).
    neuron_meta
        Per-neuron metadata columns by name (brain area, quality label, ...).
    ground_truth
        For synthetic data: the known answers (neuron order, phase, connectivity ...).
    provenance
        Where the data came from (source path, reader, parameters).
    """

    activity: np.ndarray
    dt: float
    kind: str = "spikes"
    behaviour: dict[str, np.ndarray] = field(default_factory=dict)
    trials: np.ndarray | None = None
    conditions: dict[str, np.ndarray] = field(default_factory=dict)
    neuron_ids: np.ndarray | None = None
    neuron_meta: dict[str, np.ndarray] = field(default_factory=dict)
    ground_truth: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    name: str = "recording"

    def __post_init__(self) -> None:
        act = np.asarray(self.activity)
        if act.ndim != 2:
            raise SparksError(
                f"Activity must be a 2-D array neurons x time; got {act.ndim} dimensions with shape {act.shape}.",
                "Reshape to [n_neurons, n_time] (use one Recording per session).",
            )
        if act.size == 0 or act.shape[0] == 0 or act.shape[1] == 0:
            raise SparksError(
                f"Activity is empty (shape {act.shape}).",
                "Check that the file holds data and that the neuron/time selection is not empty.",
            )
        act = act.astype(np.float32, copy=False)
        if not np.all(np.isfinite(act)):
            bad = int(np.count_nonzero(~np.isfinite(act)))
            raise SparksError(
                f"Activity contains {bad} NaN or infinite values.",
                "Replace them (e.g. interpolate calcium gaps, or set missing spike bins to 0) before training.",
            )
        if self.kind not in KINDS:
            raise SparksError(f"Unknown recording kind '{self.kind}'.", f"Use one of {KINDS}.")
        if self.kind == "spikes" and np.any(act < 0):
            raise SparksError(
                "Spike activity has negative values.",
                "Spike data must be counts per bin (>= 0); for continuous signals use kind='calcium'.",
            )
        if not (np.isfinite(self.dt) and self.dt > 0):
            raise SparksError(f"Bin width dt={self.dt} is not a positive number of seconds.", "Pass dt in seconds, e.g. 0.001.")
        self.activity = np.ascontiguousarray(act)
        n_time = act.shape[1]
        self.behaviour = {k: _as_2d_time_major(k, v, n_time) for k, v in dict(self.behaviour).items()}
        if self.trials is not None:
            tr = np.asarray(self.trials)
            if tr.ndim != 2 or tr.shape[1] != 2:
                raise SparksError(f"Trials must be [n_trials, 2] start/stop bins; got shape {tr.shape}.", "Pass one (start, stop) pair per trial.")
            tr = tr.astype(np.int64)
            if np.any(tr[:, 0] < 0) or np.any(tr[:, 1] > n_time) or np.any(tr[:, 1] <= tr[:, 0]):
                raise SparksError(
                    f"Some trials fall outside the recording (0..{n_time}) or have stop <= start.",
                    "Give trial bounds as bin indices with 0 <= start < stop <= n_time.",
                )
            self.trials = tr
            for k, v in self.conditions.items():
                if len(v) != len(tr):
                    raise SparksError(f"Condition '{k}' has {len(v)} values for {len(tr)} trials.", "Give one value per trial.")
        if self.neuron_ids is None:
            self.neuron_ids = np.arange(act.shape[0])
        elif len(self.neuron_ids) != act.shape[0]:
            raise SparksError(f"{len(self.neuron_ids)} neuron ids for {act.shape[0]} neurons.", "Give one id per neuron.")

    # ------------------------------------------------------------------ basics
    @property
    def n_neurons(self) -> int:
        return int(self.activity.shape[0])

    @property
    def n_time(self) -> int:
        return int(self.activity.shape[1])

    @property
    def duration(self) -> float:
        return self.n_time * self.dt

    @property
    def n_trials(self) -> int:
        return 0 if self.trials is None else len(self.trials)

    def summary(self) -> dict[str, Any]:
        """Numbers a user wants to see first: neurons, duration, dt, rates."""
        rates = self.activity.mean(axis=1) / self.dt if self.kind == "spikes" else self.activity.mean(axis=1)
        return {
            "name": self.name,
            "kind": self.kind,
            "n_neurons": self.n_neurons,
            "n_time": self.n_time,
            "dt_s": self.dt,
            "duration_s": self.duration,
            "n_trials": self.n_trials,
            "behaviour": {k: v.shape[1] for k, v in self.behaviour.items()},
            "mean_rate_hz" if self.kind == "spikes" else "mean_activity": float(np.mean(rates)),
        }

    def target(self, name: str) -> np.ndarray:
        """The behaviour signal ``name`` as ``[n_time, k]``; a clear error if unknown."""
        if name not in self.behaviour:
            raise SparksError(
                f"Target '{name}' is not in this recording.",
                f"Choose one of {sorted(self.behaviour)} or use 'unsupervised'.",
            )
        return self.behaviour[name]

    def trial_tensor(self, values: np.ndarray | None = None) -> np.ndarray:
        """Cut ``values`` ([n_time, ...] behaviour or None for activity) into equal-length trials.

        Activity comes back as ``[n_trials, n_neurons, L]``, behaviour as
        ``[n_trials, L, k]``.  Trials of unequal length are cropped to the shortest.
        """
        if self.trials is None:
            raise SparksError("This recording has no trials.", "Use segments (Recording.segments) or define trials.")
        length = int(np.min(self.trials[:, 1] - self.trials[:, 0]))
        if values is None:
            return np.stack([self.activity[:, s : s + length] for s, _ in self.trials])
        return np.stack([values[s : s + length] for s, _ in self.trials])

    def segment_bounds(self, length: int) -> np.ndarray:
        """Non-overlapping ``[start, stop)`` segments of ``length`` bins covering the recording."""
        if length <= 0:
            raise SparksError(f"Segment length {length} must be positive.", "Use a length in bins, e.g. 500.")
        n = self.n_time // length
        if n == 0:
            raise SparksError(
                f"The recording ({self.n_time} bins) is shorter than one segment ({length} bins).",
                "Use a shorter segment length.",
            )
        starts = np.arange(n) * length
        return np.stack([starts, starts + length], axis=1)

    def select(self, neurons=None, time: tuple[int, int] | None = None) -> "Recording":
        """A new Recording restricted to ``neurons`` (indices or mask) and a ``time`` bin range."""
        idx = np.arange(self.n_neurons) if neurons is None else np.asarray(neurons)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        if idx.size == 0:
            raise SparksError("The neuron selection is empty.", "Select at least one neuron.")
        t0, t1 = (0, self.n_time) if time is None else time
        trials = None
        conditions = {}
        if self.trials is not None:
            keep = (self.trials[:, 0] >= t0) & (self.trials[:, 1] <= t1)
            trials = self.trials[keep] - t0
            conditions = {k: np.asarray(v)[keep] for k, v in self.conditions.items()}
            if len(trials) == 0:
                trials = None
                conditions = {}
        return Recording(
            activity=self.activity[idx, t0:t1],
            dt=self.dt,
            kind=self.kind,
            behaviour={k: v[t0:t1] for k, v in self.behaviour.items()},
            trials=trials,
            conditions=conditions,
            neuron_ids=np.asarray(self.neuron_ids)[idx],
            neuron_meta={k: np.asarray(v)[idx] for k, v in self.neuron_meta.items()},
            ground_truth=dict(self.ground_truth),
            provenance={**self.provenance, "selection": {"neurons": idx.tolist() if idx.size < 50 else f"{idx.size} neurons", "time": [t0, t1]}},
            name=self.name,
        )
