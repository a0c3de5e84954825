"""The GUI's ordering menu, mapped onto :mod:`sparks_gui.analysis.ordering` (where the orderings live)."""

from __future__ import annotations

import numpy as np

from ..analysis import ordering as _analysis
from ..errors import SparksError

ORDERINGS = ("original", "SPARKS latent phase", "correlation", "PCA angle")


def compute_order(
    name: str, activity: np.ndarray, latents: np.ndarray | None = None, latent_activity: np.ndarray | None = None
) -> np.ndarray:
    """Row order for ``activity`` ``[N, T]`` by the ordering ``name`` (one of :data:`ORDERINGS`).

    ``latents`` ``[n, L, d]`` and ``latent_activity`` ``[n, N, L]`` (the activity of the same
    examples) are needed for ``"SPARKS latent phase"``; without them (or with d < 2) the
    original order is kept.
    """
    n = activity.shape[0]
    if name == "original" or n < 3:
        return np.arange(n)
    if name == "SPARKS latent phase":
        if latents is None or latent_activity is None:
            return np.arange(n)
        act = np.concatenate(list(latent_activity), axis=1)  # [N, n_ex * L], same time order as the latents
        try:
            result = _analysis.neuron_order_from_latents(act, np.transpose(latents, (0, 2, 1)))
        except SparksError:  # a 1-D latent has no phase
            return np.arange(n)
    elif name == "correlation":
        result = _analysis.order_by_correlation(activity)
    elif name == "PCA angle":
        result = _analysis.order_by_pca_angle(activity)
    else:
        raise ValueError(f"unknown ordering {name!r}")
    return np.asarray(result.order, dtype=np.int64)
