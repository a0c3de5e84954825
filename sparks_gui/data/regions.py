"""Which brain region each neuron is in, from the metadata readers already keep.

Readers store per-neuron labels in :attr:`Recording.neuron_meta`: NWB units tables give
their own columns (``brain_area``, ``location``, ...) and the electrode ``location`` of
each unit; array files give ``area`` / ``region`` columns.  :func:`neuron_regions` picks
the first of those that holds a real label, in the order of :data:`REGION_KEYS` (the same
names the data dock offers as neuron groups).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SparksError

REGION_KEYS: tuple[str, ...] = ("brain_area", "area", "region", "location")
_EMPTY = {"", "none", "nan", "unknown", "n/a"}


def neuron_regions(recording: Any, key: str | None = None) -> np.ndarray | None:
    """One region label (str) per neuron, or None when the recording has none.

    Parameters
    ----------
    recording
        A :class:`~sparks_gui.data.recording.Recording` (anything with ``neuron_meta``).
    key
        Use this ``neuron_meta`` column; by default the first of :data:`REGION_KEYS` whose
        labels are not all empty (``""``, ``"unknown"``, NaN...).
    """
    meta = getattr(recording, "neuron_meta", None) or {}
    if key is not None:
        if key not in meta:
            raise SparksError(
                f"The recording has no neuron metadata '{key}'.",
                f"Choose one of {sorted(meta)} or leave the region key empty.",
            )
        return np.asarray(meta[key]).astype(str)
    for k in REGION_KEYS:
        if k in meta:
            labels = np.asarray(meta[k]).astype(str)
            if any(str(v).strip().lower() not in _EMPTY for v in labels):
                return labels
    return None
