"""The raster's ordering menu: the analysis registry (:mod:`sparks_gui.analysis.ordering`) by its labels.

The menu lists :func:`~sparks_gui.analysis.ordering.available_orderings` (rastermap only when it is
installed) under :func:`~sparks_gui.analysis.ordering.ordering_label`; :func:`compute_order` hands
the choice to :func:`~sparks_gui.analysis.ordering.compute_ordering` with what the session has, and
keeps the rows' order when an ordering's inputs (latents, attention) are not there yet.
"""

from __future__ import annotations

import numpy as np

from ..analysis import ordering as registry
from ..errors import SparksError


def menu() -> list[str]:
    """The orderings the raster offers, as menu labels, in the registry's order."""
    return [registry.ordering_label(m) for m in registry.available_orderings()]


def tooltip() -> str:
    """The raster menu's tooltip: every choice and what it needs."""
    lines = [f"{registry.ordering_label(m)}: {what}" for m, what in registry.available_orderings().items()]
    return "Row order\n" + "\n".join(lines)


def compute_order(
    name: str,
    activity: np.ndarray,
    latents: np.ndarray | None = None,
    latent_activity: np.ndarray | None = None,
    attention: np.ndarray | None = None,
) -> np.ndarray:
    """Row order for ``activity`` ``[N, T]`` by the ordering ``name`` (a menu label or method name).

    ``latents`` ``[n, L, d]`` and ``latent_activity`` ``[n, N, L]`` (the activity of the same
    examples) are needed for the latent phase, ``attention`` ``[..., N, N]`` for attention
    clustering; without them (or with a 1-D latent) the original order is kept.
    """
    method = registry.ordering_method(name)
    n = activity.shape[0]
    if method == registry.ORIGINAL or n < 3:
        return np.arange(n)
    if method == registry.LATENT_PHASE:
        if latents is None or latent_activity is None:
            return np.arange(n)
        act = np.concatenate(list(latent_activity), axis=1)  # [N, n_ex * L], same time order as the latents
        try:
            result = registry.compute_ordering(method, act, latents=np.transpose(latents, (0, 2, 1)))
        except SparksError:  # a 1-D latent has no phase
            return np.arange(n)
    elif method == registry.ATTENTION_CLUSTERING:
        if attention is None or np.shape(attention)[-1] != n:
            return np.arange(n)
        result = registry.compute_ordering(method, attention=attention)
    else:
        result = registry.compute_ordering(method, activity)
    return np.asarray(result.order, dtype=np.int64)
