"""Turn a :class:`Recording` (or plain arrays) + a config into training tensors.

Examples are trials when the recording has them, fixed-length segments
otherwise.  Activity becomes ``x`` [n, N, L]; the reference signal becomes
``r`` [n, L, k].  Behaviour targets are z-scored with train-set statistics
(kept so predictions come back in the user's units).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.recording import Recording
from ..errors import SparksError
from .config import SparksConfig
from .defaults import resolve
from .targets import (
    UNSUPERVISED,
    resolve_target,
    target_values,
)


@dataclass
class PreparedData:
    x: np.ndarray
    r: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    loss: str
    target_name: str
    dt: float
    kind: str
    starts: np.ndarray
    r_mean: np.ndarray
    r_std: np.ndarray
    conditions: dict[str, np.ndarray] = field(default_factory=dict)
    target_offset: int = 0

    @property
    def n_out(self) -> int:
        return int(self.r.shape[-1]) if self.loss != "cross_entropy" else int(self.r.max()) + 1

    @property
    def n_neurons(self) -> int:
        return int(self.x.shape[1])

    def denormalise(self, values: np.ndarray) -> np.ndarray:
        return values * self.r_std + self.r_mean if self.loss == "mse" else values


def rebin(activity: np.ndarray, factor: int, kind: str) -> np.ndarray:
    """Sum (spikes) or average (calcium) groups of ``factor`` bins along the last axis."""
    if factor == 1:
        return activity
    T = activity.shape[-1] // factor * factor
    grouped = activity[..., :T].reshape(*activity.shape[:-1], T // factor, factor)
    return grouped.sum(-1) if kind == "spikes" else grouped.mean(-1)


def choose_loss(config_loss: str, target_name: str, kind: str, values: np.ndarray) -> str:
    if config_loss != "auto":
        return config_loss
    if target_name == "frame_id":
        return "cross_entropy"
    if target_name != UNSUPERVISED or kind == "calcium":
        return "mse"
    return "bce" if float(values.max(initial=0.0)) <= 1.0 else "poisson"


def split_indices(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(test_fraction * n))
    n_test = min(max(n_test, 1), n - 1) if test_fraction > 0 and n >= 2 else 0
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def overlapping_windows(
    n_time: int, length: int, held_out: np.ndarray, stride: int, existing: np.ndarray
) -> np.ndarray:
    """Extra training windows ``[start, stop)`` of ``length`` bins every ``stride`` bins of a continuous
    recording that overlap no held-out segment and are not already in ``existing``.

    Overlapping crops multiply the examples of a short recording (data augmentation) without
    letting any training window see a held-out bin.
    """
    starts = np.arange(0, n_time - length + 1, max(1, int(stride)))
    keep = ~np.isin(starts, existing[:, 0])
    for s, e in held_out:
        keep &= (starts + length <= s) | (starts >= e)
    starts = starts[keep]
    return np.stack([starts, starts + length], axis=1).reshape(-1, 2).astype(existing.dtype)


def prepare(recording: Recording, config: SparksConfig) -> PreparedData:
    """Examples, targets, loss and split for ``recording`` under ``config``."""
    if config.segment_length == 0:
        config = resolve(config, recording, warn=False).config
    if config.neurons is not None:
        recording = recording.select(neurons=config.neurons)
    # MtM reconstructs the activity itself (config.validate allows only target auto/unsupervised)
    target_name = UNSUPERVISED if config.objective == "mtm" else resolve_target(recording, config.target)
    f = config.bin_factor
    split = None
    if recording.trials is not None and recording.n_trials >= 2:
        x = recording.trial_tensor()
        behaviour = (
            recording.trial_tensor(target_values(recording, target_name)) if target_name != UNSUPERVISED else None
        )
        starts = recording.trials[:, 0].copy()
        conditions = {k: np.asarray(v) for k, v in recording.conditions.items()}
    else:
        length = min(config.segment_length * f, recording.n_time)
        bounds = recording.segment_bounds(length)
        split = split_indices(len(bounds), config.test_fraction, config.seed)
        bounds = np.concatenate(
            [
                bounds,
                overlapping_windows(
                    recording.n_time, length, bounds[split[1]], config.train_stride * f or max(f, length // 4), bounds
                ),
            ]
        )
        split = (np.concatenate([split[0], np.arange(split[0].size + split[1].size, len(bounds))]), split[1])
        x = np.stack([recording.activity[:, s:e] for s, e in bounds])
        behaviour = (
            np.stack([values[s:e] for s, e in bounds])
            if (values := (None if target_name == UNSUPERVISED else target_values(recording, target_name))) is not None
            else None
        )
        starts = bounds[:, 0].copy()
        conditions = {}
    x = rebin(x, f, recording.kind).astype(np.float32)
    if x.shape[-1] < config.tau_p + config.tau_f:
        raise SparksError(
            f"Examples have only {x.shape[-1]} time bins, fewer than tau_p + tau_f = {config.tau_p + config.tau_f}.",
            "Use longer trials/segments, a smaller bin_factor or smaller tau_p/tau_f.",
        )
    if behaviour is not None and target_name == "frame_id" and f > 1:
        r = behaviour[:, : behaviour.shape[1] // f * f : f].astype(np.float32)  # class of each bin group's first bin
    elif behaviour is not None:
        r = rebin(np.moveaxis(behaviour, 1, 2), f, "calcium")
        r = np.moveaxis(r, 2, 1).astype(np.float32)
    else:
        r = np.moveaxis(x, 1, 2).copy()
    loss = choose_loss(config.loss, target_name, recording.kind, r)
    if loss == "bce":
        r = np.minimum(r, 1.0)
    train_idx, test_idx = split if split is not None else split_indices(len(x), config.test_fraction, config.seed)
    k = r.shape[-1]
    if loss == "mse":
        mean = r[train_idx].reshape(-1, k).mean(0)
        std = r[train_idx].reshape(-1, k).std(0)
        std = np.where(std > 1e-8, std, 1.0)
        r = (r - mean) / std
    else:
        mean, std = np.zeros(k, np.float32), np.ones(k, np.float32)
    offset = config.target_offset
    if config.objective == "mtm":
        offset = 0  # MtM predicts each bin's own (masked) activity
    elif offset < 0:
        offset = 1 if target_name == UNSUPERVISED else 0
    return PreparedData(
        x=np.ascontiguousarray(x),
        r=np.ascontiguousarray(r.astype(np.float32)),
        train_idx=train_idx,
        test_idx=test_idx,
        loss=loss,
        target_name=target_name,
        dt=recording.dt * f,
        kind=recording.kind,
        starts=starts,
        r_mean=mean.astype(np.float32),
        r_std=std.astype(np.float32),
        conditions=conditions,
        target_offset=offset,
    )


def as_recording(data, dt: float = 0.001, kind: str = "spikes", target=None, target_name: str = "target") -> Recording:
    """Accept a Recording, an array [N, T], or trials [n_trials, N, T] (+ an optional target array)."""
    if isinstance(data, Recording):
        if target is not None and not isinstance(target, str):
            raise SparksError(
                "A Recording was given with a target array.",
                "Pass the name of a behaviour signal of the recording (target='hand_pos'), or add the array to recording.behaviour.",
            )
        return data
    arr = np.asarray(data, dtype=np.float32) if not isinstance(data, np.ndarray) else data
    if arr.ndim not in (2, 3):
        raise SparksError(
            f"Neural data must be [neurons, time] or [trials, neurons, time]; got {arr.ndim} dimensions (shape {arr.shape}).",
            "Reshape your array, or build a sparks_gui.Recording.",
        )
    if arr.size == 0:
        raise SparksError(f"Neural data is empty (shape {arr.shape}).", "Pass an array with neurons and time bins.")
    if not np.all(np.isfinite(arr)):
        raise SparksError("Neural data contains NaN or infinite values.", "Replace or remove them before training.")
    trials = None
    if arr.ndim == 3:
        n_trials, n_neurons, length = arr.shape
        trials = np.stack([np.arange(n_trials) * length, np.arange(1, n_trials + 1) * length], axis=1)
        arr = np.concatenate(list(arr), axis=1)
    behaviour = {}
    if target is not None and not isinstance(target, str):
        tgt = np.asarray(target, dtype=np.float32)
        if trials is not None:
            n_trials, length = trials.shape[0], trials[0, 1]
            if tgt.ndim < 2 or tgt.shape[0] != n_trials or tgt.shape[1] != length:
                raise SparksError(
                    f"Target shape {tgt.shape} does not match the data: expected [{n_trials} trials, {length} time bins, k].",
                    "Give one target sample per time bin of every trial.",
                )
            tgt = tgt.reshape(n_trials * length, -1)
        elif tgt.shape[0] != arr.shape[1]:
            raise SparksError(
                f"Target has {tgt.shape[0]} samples but the data has {arr.shape[1]} time bins.",
                "Resample the target onto the neural time bins (one sample per bin).",
            )
        behaviour[target_name] = tgt
    return Recording(activity=arr, dt=dt, kind=kind, behaviour=behaviour, trials=trials, name="array")
