"""Adapter between the GUI and the neuron-ordering analysis.

The orderings themselves belong in :mod:`sparks_gui.analysis.ordering`.  This module
calls those functions when they are importable and otherwise falls back to small local
versions so that the GUI works on its own.  The fallbacks are deliberately simple and
will be removed once ``analysis.ordering`` is in place everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ORDERINGS = ("original", "SPARKS latent phase", "correlation", "PCA angle")


def _analysis(name: str) -> Callable | None:
    try:
        from ..analysis import ordering as mod  # noqa: PLC0415
    except Exception:  # noqa: BLE001 - not written yet / optional
        return None
    return getattr(mod, name, None)


def _as_order(result, n: int) -> np.ndarray | None:
    """Accept an index array or an object with an ``order`` attribute; None unless it is a permutation of n."""
    order = getattr(result, "order", result)
    if isinstance(result, tuple):
        order = result[0]
    try:
        order = np.asarray(order, dtype=np.int64).ravel()
    except Exception:  # noqa: BLE001
        return None
    if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
        return None
    return order


def _try(name: str, n: int, *args) -> np.ndarray | None:
    fn = _analysis(name)
    if fn is None:
        return None
    try:
        return _as_order(fn(*args), n)
    except Exception:  # noqa: BLE001 - signature drift: use the local version
        return None


def _zscore_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    sd = x.std(axis=1, keepdims=True)
    return x / np.where(sd > 1e-12, sd, 1.0)


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or x.shape[1] < width:
        return x
    kernel = np.ones(width) / width
    from scipy.ndimage import convolve1d

    return convolve1d(x, kernel, axis=1, mode="nearest")


def _local_pca_angle(activity: np.ndarray) -> np.ndarray:
    z = _zscore_rows(_smooth(activity, 5))
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    loadings = u[:, :2] * s[:2]
    return np.argsort(np.arctan2(loadings[:, 1], loadings[:, 0]), kind="stable")


def _local_correlation(activity: np.ndarray) -> np.ndarray:
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    z = _zscore_rows(_smooth(activity, 5))
    c = np.clip(z @ z.T / z.shape[1], -1, 1)
    d = 1.0 - c
    np.fill_diagonal(d, 0.0)
    d = (d + d.T) / 2
    return leaves_list(linkage(squareform(d, checks=False), method="average")).astype(np.int64)


def latent_phase(latents: np.ndarray) -> np.ndarray:
    """Phase (radians) of each latent sample in the plane of its first two principal components.

    ``latents`` is ``[n_examples, T, d]``; returns ``[n_examples, T]``.
    """
    flat = latents.reshape(-1, latents.shape[-1]).astype(np.float64)
    flat = flat - flat.mean(0)
    if flat.shape[1] == 1:
        return np.zeros(latents.shape[:2])
    _, _, vt = np.linalg.svd(flat, full_matrices=False)
    proj = flat @ vt[:2].T
    return np.arctan2(proj[:, 1], proj[:, 0]).reshape(latents.shape[:2])


def _local_phase_order(activity: np.ndarray, phase: np.ndarray) -> np.ndarray:
    w = np.clip(np.asarray(activity, dtype=np.float64), 0, None)
    vec = w @ np.exp(1j * phase)  # activity-weighted circular mean of the phase, per neuron
    return np.argsort(np.angle(vec), kind="stable")


def compute_order(name: str, activity: np.ndarray, latents: np.ndarray | None = None,
                  latent_activity: np.ndarray | None = None) -> np.ndarray:
    """Row order for ``activity`` ``[N, T]`` by the ordering ``name`` (one of :data:`ORDERINGS`).

    ``latents`` ``[n, L, d]`` and ``latent_activity`` ``[n, N, L]`` (the activity of the same
    examples) are needed for ``"SPARKS latent phase"``; without them the original order is kept.
    """
    n = activity.shape[0]
    if name == "original" or n < 3:
        return np.arange(n)
    if name == "SPARKS latent phase":
        if latents is None or latent_activity is None:
            return np.arange(n)
        phase = latent_phase(latents)  # [n_ex, L]
        act = np.concatenate(list(latent_activity), axis=1)  # [N, n_ex * L]
        ph = phase.reshape(-1)
        got = _try("neuron_order_from_phase", n, act, ph)
        return got if got is not None else _local_phase_order(act, ph)
    if name == "correlation":
        got = _try("order_by_correlation", n, activity)
        return got if got is not None else _local_correlation(activity)
    if name == "PCA angle":
        got = _try("order_by_pca_angle", n, activity)
        return got if got is not None else _local_pca_angle(activity)
    raise ValueError(f"unknown ordering {name!r}")
