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
    name
        A short label shown in the GUI and in exported file names.
    stimulus
        ``{"frame_ids": [n_time] int (-1 = no frame), "frames": [n_frames, H, W(, 3)]}``:
        which stimulus frame was on screen in each bin, and the frames when available.
    movie
        Imaging movie ``[n_frames, H, W]``, kept lazy (memory-mapped / dask); never loaded whole.
    movie_dt
        Frame period of ``movie`` in seconds (its frame 0 is at ``start_time``).
    rois
        :class:`~sparks_gui.data.rois.RoiMasks`, one footprint per neuron (calcium).
    start_time
        Time in seconds (source clock) of the left edge of bin 0.
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
    stimulus: dict[str, Any] = field(default_factory=dict)
    movie: Any = None
    movie_dt: float | None = None
    rois: Any = None
    start_time: float = 0.0

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
            raise SparksError(
                f"Bin width dt={self.dt} is not a positive number of seconds.", "Pass dt in seconds, e.g. 0.001."
            )
        self.activity = np.ascontiguousarray(act)
        n_time = act.shape[1]
        self.behaviour = {k: _as_2d_time_major(k, v, n_time) for k, v in dict(self.behaviour).items()}
        if self.trials is not None:
            tr = np.asarray(self.trials)
            if tr.ndim != 2 or tr.shape[1] != 2:
                raise SparksError(
                    f"Trials must be [n_trials, 2] start/stop bins; got shape {tr.shape}.",
                    "Pass one (start, stop) pair per trial.",
                )
            tr = tr.astype(np.int64)
            if np.any(tr[:, 0] < 0) or np.any(tr[:, 1] > n_time) or np.any(tr[:, 1] <= tr[:, 0]):
                raise SparksError(
                    f"Some trials fall outside the recording (0..{n_time}) or have stop <= start.",
                    "Give trial bounds as bin indices with 0 <= start < stop <= n_time.",
                )
            self.trials = tr
            for k, v in self.conditions.items():
                if len(v) != len(tr):
                    raise SparksError(
                        f"Condition '{k}' has {len(v)} values for {len(tr)} trials.", "Give one value per trial."
                    )
        if self.neuron_ids is None:
            self.neuron_ids = np.arange(act.shape[0])
        elif len(self.neuron_ids) != act.shape[0]:
            raise SparksError(
                f"{len(self.neuron_ids)} neuron ids for {act.shape[0]} neurons.", "Give one id per neuron."
            )
        for k, v in self.neuron_meta.items():
            if len(v) != act.shape[0]:
                raise SparksError(
                    f"Neuron metadata '{k}' has {len(v)} values for {act.shape[0]} neurons.",
                    "Give one value per neuron.",
                )
        if self.rois is not None and len(self.rois) != act.shape[0]:
            raise SparksError(
                f"There are {len(self.rois)} ROI masks but {act.shape[0]} activity traces.",
                "Use the masks and traces of the same segmentation (one ROI per trace), or drop the masks.",
            )
        if self.stimulus:
            self.stimulus = dict(self.stimulus)
            if "frame_ids" in self.stimulus:
                ids = np.asarray(self.stimulus["frame_ids"]).astype(np.int64).ravel()
                if len(ids) != n_time:
                    raise SparksError(
                        f"Stimulus frame_ids has {len(ids)} entries for {n_time} time bins.",
                        "Give the id of the frame shown in each bin (-1 for none).",
                    )
                frames = self.stimulus.get("frames")
                if frames is not None and ids.size and ids.max() >= len(frames):
                    raise SparksError(
                        f"Stimulus frame id {int(ids.max())} but only {len(frames)} frames are stored.",
                        "Frame ids must index the stored frames (0..n_frames-1).",
                    )
                self.stimulus["frame_ids"] = ids
        if self.movie is not None:
            if len(getattr(self.movie, "shape", ())) < 3:
                raise SparksError(
                    f"The imaging movie has shape {getattr(self.movie, 'shape', None)}; expected [frames, H, W].",
                    "Pass a 3-D array-like movie (frames first).",
                )
            if self.movie_dt is None:
                self.movie_dt = self.dt
        self.start_time = float(self.start_time)

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

    def select(self, neurons=None, time: tuple[int, int] | None = None, trials=None) -> Recording:
        """A new Recording restricted to ``neurons``, a ``time`` bin range and/or ``trials``.

        Parameters
        ----------
        neurons
            Indices or a boolean mask over neurons.
        time
            ``(start, stop)`` bin range; trials that do not fit entirely inside are dropped.
        trials
            Indices or a boolean mask over trials: their bins are concatenated in the given
            order, and the new recording's trials are the selected ones renumbered.
        """
        idx = np.arange(self.n_neurons) if neurons is None else np.asarray(neurons)
        if idx.dtype == bool:
            if idx.size != self.n_neurons:
                raise SparksError(
                    f"The neuron mask has {idx.size} entries for {self.n_neurons} neurons.",
                    "Give one entry per neuron.",
                )
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).ravel()
        if idx.size == 0:
            raise SparksError("The neuron selection is empty.", "Select at least one neuron.")
        if idx.min() < -self.n_neurons or idx.max() >= self.n_neurons:
            raise SparksError(
                f"Neuron index {int(idx.max())} is out of range (recording has {self.n_neurons}).",
                f"Use indices 0..{self.n_neurons - 1}.",
            )
        sel_info: dict[str, Any] = {"neurons": idx.tolist() if idx.size < 50 else f"{idx.size} neurons"}
        if trials is not None:
            if self.trials is None:
                raise SparksError("Trials were selected but this recording has no trials.", "Select by time instead.")
            tix = np.asarray(trials)
            tix = np.flatnonzero(tix) if tix.dtype == bool else tix.astype(np.int64).ravel()
            if tix.size == 0:
                raise SparksError("The trial selection is empty.", "Select at least one trial.")
            if tix.max() >= self.n_trials or tix.min() < -self.n_trials:
                raise SparksError(
                    f"Trial index {int(tix.max())} is out of range ({self.n_trials} trials).",
                    f"Use indices 0..{self.n_trials - 1}.",
                )
            bounds = self.trials[tix]
            bins = np.concatenate([np.arange(a, b) for a, b in bounds])
            lengths = bounds[:, 1] - bounds[:, 0]
            ends = np.cumsum(lengths)
            new_trials = np.stack([ends - lengths, ends], axis=1)
            conditions = {k: np.asarray(v)[tix] for k, v in self.conditions.items()}
            sel_info["trials"] = tix.tolist() if tix.size < 50 else f"{tix.size} trials"
            movie, start = None, self.start_time
        else:
            t0, t1 = (0, self.n_time) if time is None else (int(time[0]), int(time[1]))
            if not (0 <= t0 < t1 <= self.n_time):
                raise SparksError(
                    f"Time range {t0}..{t1} is outside the recording (0..{self.n_time} bins) or empty.",
                    "Give (start, stop) bins with 0 <= start < stop <= n_time.",
                )
            bins = slice(t0, t1)
            new_trials, conditions = None, {}
            if self.trials is not None:
                keep = (self.trials[:, 0] >= t0) & (self.trials[:, 1] <= t1)
                new_trials = self.trials[keep] - t0
                conditions = {k: np.asarray(v)[keep] for k, v in self.conditions.items()}
                if len(new_trials) == 0:
                    new_trials, conditions = None, {}
            sel_info["time"] = [t0, t1]
            start = self.start_time + t0 * self.dt
            movie = None
            if self.movie is not None:
                f0 = int(round(t0 * self.dt / self.movie_dt))
                f1 = int(round(t1 * self.dt / self.movie_dt))
                movie = self.movie[f0:f1] if (f0, f1) != (0, int(self.movie.shape[0])) else self.movie
        stimulus = dict(self.stimulus)
        if "frame_ids" in stimulus:
            stimulus["frame_ids"] = stimulus["frame_ids"][bins]
        return Recording(
            activity=self.activity[idx][:, bins],
            dt=self.dt,
            kind=self.kind,
            behaviour={k: v[bins] for k, v in self.behaviour.items()},
            trials=new_trials,
            conditions=conditions,
            neuron_ids=np.asarray(self.neuron_ids)[idx],
            neuron_meta={k: np.asarray(v)[idx] for k, v in self.neuron_meta.items()},
            ground_truth=dict(self.ground_truth),
            provenance={**self.provenance, "selection": sel_info},
            name=self.name,
            stimulus=stimulus,
            movie=movie,
            movie_dt=self.movie_dt if movie is not None else None,
            rois=None if self.rois is None else self.rois.subset(idx),
            start_time=start,
        )

    def bin(self, dt: float) -> Recording:
        """Re-bin onto a coarser clock ``dt`` (an integer multiple of the current ``dt``).

        Spike counts are summed, calcium traces and behaviour averaged, stimulus frame
        ids take the first bin of each group, trial bounds are rounded outwards (start
        down, stop up) and trailing bins that do not fill a whole new bin are dropped.
        """
        factor = dt / self.dt
        k = int(round(factor))
        if k < 1 or abs(factor - k) > 1e-6 * max(1.0, factor):
            raise SparksError(
                f"New bin width {dt} s is not a whole multiple of the current {self.dt} s.",
                f"Use a multiple such as {self.dt * 2:g} or {self.dt * 10:g}.",
            )
        if k == 1:
            return self
        T = self.n_time // k
        if T == 0:
            raise SparksError(
                f"The recording ({self.n_time} bins) is shorter than one new bin ({k} bins).", "Use a smaller dt."
            )
        n = self.n_neurons
        blocks = self.activity[:, : T * k].reshape(n, T, k)
        act = blocks.sum(axis=2) if self.kind == "spikes" else blocks.mean(axis=2)
        behaviour = {name: v[: T * k].reshape(T, k, -1).mean(axis=1) for name, v in self.behaviour.items()}
        trials, conditions = None, {}
        if self.trials is not None:
            st = self.trials[:, 0] // k
            sp = np.minimum(-(-self.trials[:, 1] // k), T)
            keep = sp > st
            if keep.any():
                trials = np.stack([st[keep], sp[keep]], axis=1)
                conditions = {c: np.asarray(v)[keep] for c, v in self.conditions.items()}
        stimulus = dict(self.stimulus)
        if "frame_ids" in stimulus:
            stimulus["frame_ids"] = stimulus["frame_ids"][: T * k : k]
        gt = {}
        for key, v in self.ground_truth.items():  # per-bin ground truth follows the clock
            if isinstance(v, np.ndarray) and v.ndim == 1 and v.shape[0] == self.n_time:
                v = v[: T * k : k]
            gt[key] = v
        return Recording(
            activity=act,
            dt=self.dt * k,
            kind=self.kind,
            behaviour=behaviour,
            trials=trials,
            conditions=conditions,
            neuron_ids=self.neuron_ids,
            neuron_meta=dict(self.neuron_meta),
            ground_truth=gt,
            provenance={**self.provenance, "binned": {"from_dt": self.dt, "factor": k}},
            name=self.name,
            stimulus=stimulus,
            movie=self.movie,
            movie_dt=self.movie_dt,
            rois=self.rois,
            start_time=self.start_time,
        )

    def examples(self, segment_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The tensors the trainer consumes: ``(x [n, N, L], bounds [n, 2])``.

        Trials (cropped to the shortest) when the recording has at least two, else
        non-overlapping segments of ``segment_length`` bins (default: the whole recording).
        """
        if self.trials is not None and self.n_trials >= 2:
            x = self.trial_tensor()
            L = x.shape[2]
            return x, np.stack([self.trials[:, 0], self.trials[:, 0] + L], axis=1)
        bounds = self.segment_bounds(segment_length or self.n_time)
        return np.stack([self.activity[:, s:e] for s, e in bounds]), bounds

    def time_of_bins(self) -> np.ndarray:
        """Left edge of every bin on the source clock, in seconds."""
        return self.start_time + np.arange(self.n_time) * self.dt
