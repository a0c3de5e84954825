"""npe2 writers (no Qt here): SPARKS layers -> NWB (recording + results), ``.npy`` and ``.csv``.

Never writes into a source file; every file is written to a temporary name and renamed.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SparksError
from .layers import RESULTS_KEY, recording_of

# results of a recording, for the NWB writer, which sees only the layers (napari's Save)
_RESULTS: dict[int, tuple[weakref.ref, Any]] = {}


def set_results_provider(rec, provider) -> None:
    """Say where the SPARKS results of ``rec`` come from: ``provider()`` returns the keyword arguments of
    :func:`sparks_gui.data.export.export_to_nwb` (latents, order, config …), or None while there are none.
    The GUI session registers one per recording it shows; the entry goes when ``rec`` is freed."""
    for k, (ref, _p) in list(_RESULTS.items()):  # drop entries of freed recordings
        if ref() is None:
            _RESULTS.pop(k, None)
    _RESULTS[id(rec)] = (weakref.ref(rec), provider)


def results_for(rec) -> dict | None:
    """The results registered for ``rec`` (see :func:`set_results_provider`), or None."""
    entry = _RESULTS.get(id(rec))
    if entry is None or entry[0]() is not rec:
        return None
    return entry[1]()


def _recording_from_layers(layer_data: list[tuple]):
    for _data, attrs, _kind in layer_data:
        rec = recording_of(attrs)
        if rec is not None:
            return rec, attrs.get("metadata") or {}
    return None, {}


NWB_RESULT_KEYS = (
    "latents",
    "latent_dt",
    "latent_start",
    "predictions",
    "order",
    "neuron_summaries",
    "neuron_index",
    "examples",
    "config",
)
"""Results the SPARKS NWB writer stores (keyword arguments of ``data.export.export_to_nwb``)."""


def write_nwb_layers(path: str, layer_data: list[tuple]) -> list[str]:
    """npe2 multi-layer writer (.nwb): the Recording carried by the layers, plus its SPARKS results,
    into a new NWB file (or a copy of the source NWB).  Never modifies the source.

    The results are those of ``metadata[RESULTS_KEY]`` when a layer carries them, else those the
    SPARKS docks registered for the recording (:func:`results_for`): latents,
    orderings, predictions and the run's config in the processing module ``sparks``."""
    from ..data.export import export_to_nwb, free_module_name
    from ..data.nwb import write_nwb

    rec, meta = _recording_from_layers(layer_data)
    if rec is None:
        raise SparksError(
            "None of the selected layers carries a SPARKS recording.",
            "Select the activity layer of a recording opened or trained with SPARKS.",
        )
    results = dict(meta.get(RESULTS_KEY) or results_for(rec) or {})
    results = {k: v for k, v in results.items() if k in NWB_RESULT_KEYS and v is not None}
    src = rec.provenance.get("source")
    source = Path(src) if src and str(src).lower().endswith(".nwb") and Path(src).exists() else None
    if results or source is not None:
        export_to_nwb(
            path, source=source, recording=rec, module_name=free_module_name(source), overwrite=True, **results
        )
    else:
        write_nwb(rec, path, overwrite=True)
    return [path]


def write_npy(path: str, data: Any, attributes: dict) -> list[str]:
    """npe2 single-layer writer: an image/labels layer (an embedding, an ordering) to ``.npy`` (atomic)."""
    from ..data.atomic import atomic_save

    arr = np.asarray(data)
    atomic_save(path, lambda tmp: np.save(tmp, arr, allow_pickle=False))
    return [path]


def write_csv(path: str, data: Any, attributes: dict) -> list[str]:
    """npe2 single-layer writer: a 1-D/2-D image layer to ``.csv`` (atomic)."""
    from ..data.atomic import atomic_write_text
    from ..data.export import _csv_text

    arr = np.asarray(data)
    if arr.ndim not in (1, 2):
        raise SparksError(
            f"Layer '{attributes.get('name', '')}' has {arr.ndim} dimensions; CSV holds 1-D or 2-D data.",
            "Save it as .npy instead.",
        )
    atomic_write_text(path, _csv_text(arr))
    return [path]
