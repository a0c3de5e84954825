"""Input checks shared by the analysis modules (numpy only, no torch, no Qt)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SparksError


def as_activity(activity: Any, name: str = "activity", min_neurons: int = 2, min_time: int = 2) -> np.ndarray:
    """Activity as float64 ``[N, T]``.

    Accepts a :class:`~sparks_gui.data.recording.Recording` (its ``activity``), an
    array ``[N, T]``, or trials ``[n_trials, N, T]`` which are concatenated along time.
    """
    if hasattr(activity, "activity") and not isinstance(activity, np.ndarray):
        activity = activity.activity
    arr = np.asarray(activity, dtype=np.float64)
    if arr.ndim == 3:
        arr = np.concatenate(list(arr), axis=1)
    if arr.ndim != 2:
        raise SparksError(
            f"{name} must be neurons x time [N, T] (or trials [n, N, T]); got shape {arr.shape}.",
            "Pass Recording.activity or an array with neurons along the first axis.",
        )
    if arr.shape[0] < min_neurons or arr.shape[1] < min_time:
        raise SparksError(
            f"{name} has shape {arr.shape}; need at least {min_neurons} neurons and {min_time} time bins.",
            "Pass more neurons / a longer recording.",
        )
    check_finite(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise SparksError(f"{name} contains {bad} NaN or infinite values.", "Remove or interpolate them first.")


def as_frames(values: Any, name: str, layout: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Flatten latents/targets to frames ``[M, k]`` plus the trial index of each frame.

    ``layout="latents"``: ``[T, d]`` (continuous) or ``[n, d, T]`` (trials, the layout of
    :meth:`Sparks.transform`).  ``layout="target"``: ``[T]``, ``[T, k]`` or ``[n, T, k]`` / ``[n, T]``.
    The second return value is ``None`` for continuous data.
    """
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise SparksError(f"{name} must be numeric; got dtype {arr.dtype}.", "Pass a numeric numpy array.")
    if layout == "latents":
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim == 2:
            groups = None
        elif arr.ndim == 3:
            n, d, T = arr.shape
            groups = np.repeat(np.arange(n), T)
            arr = np.transpose(arr, (0, 2, 1)).reshape(n * T, d)
        else:
            raise SparksError(
                f"{name} must be [T, d] or [n_trials, d, T]; got shape {arr.shape}.", "Pass Sparks.transform() output."
            )
    else:
        if arr.ndim == 1:
            arr, groups = arr[:, None], None
        elif arr.ndim == 2:
            groups = None
        elif arr.ndim == 3:
            n, T, k = arr.shape
            groups = np.repeat(np.arange(n), T)
            arr = arr.reshape(n * T, k)
        else:
            raise SparksError(
                f"{name} must be [T], [T, k] or [n_trials, T, k]; got shape {arr.shape}.",
                "Reshape the target to time-major layout.",
            )
    if arr.dtype.kind == "f":
        check_finite(arr, name)
    return arr, groups


def rng_from(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
