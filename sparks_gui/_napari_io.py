"""npe2 readers and writers (no Qt here): files -> napari layers, layers -> exports.

Readers return ``LayerData`` tuples.  A recording becomes an activity image layer that
carries the :class:`~sparks_gui.data.recording.Recording` in ``metadata["sparks_recording"]``
(and registers it in :mod:`sparks_gui.data.registry`), plus its imaging movie as a lazy
Image layer and its ROI footprints as a Labels layer.  A bare TIFF movie opens as a
lazy Image layer.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .data import registry
from .errors import SparksError

RECORDING_KEY = "sparks_recording"
RECORDING_SUFFIXES = (".nwb", ".npy", ".npz", ".mat", ".h5", ".hdf5", ".csv")
MOVIE_SUFFIXES = (".tif", ".tiff")


def layers_for_recording(rec, movie: bool = True, masks: bool = True) -> list[tuple]:
    """Activity image (+ lazy movie Image, + ROI Labels) layers for ``rec``; registers ``rec``."""
    from ._napari_samples import _layers_for_recording

    registry.register(rec)
    layers = list(_layers_for_recording(rec))
    meta = {RECORDING_KEY: rec, "dt": rec.dt, "kind": rec.kind}
    if movie and rec.movie is not None:
        layers.append((rec.movie, {"name": f"{rec.name} movie", "metadata": {**meta, "sparks_movie": True}}, "image"))
    if masks and rec.rois is not None:
        layers.append((rec.rois.labels(), {"name": f"{rec.name} ROIs", "metadata": meta, "opacity": 0.5}, "labels"))
    return layers


def _is_recording_dir(p: Path) -> bool:
    from .data.io import detect_format

    try:
        return detect_format(p) in ("suite2p", "phy")
    except SparksError:
        return False


def get_reader(path: str | list[str]) -> Callable | None:
    """npe2 ``get_reader``: a reader for NWB, suite2p/phy folders, array files and TIFF movies, else None."""
    if isinstance(path, list):
        if not path or any(get_reader(p) is None for p in path):
            return None
        return read_paths
    p = Path(path)
    if p.is_dir():
        return read_paths if _is_recording_dir(p) else None
    name = p.name.lower()
    if name.endswith(MOVIE_SUFFIXES) or name.endswith(RECORDING_SUFFIXES):
        return read_paths
    return None


def _read_one(p: Path) -> list[tuple]:
    from .data.io import detect_format, load_recording

    fmt = detect_format(p)
    if fmt == "tiff":
        from .data.tiff import open_movie

        return [(open_movie(p), {"name": p.stem, "metadata": {"source": str(p)}}, "image")]
    options: dict[str, Any] = {}
    if fmt == "nwb":
        from .data.nwb import nwb_contents

        cands = nwb_contents(p)["activity"]
        if len(cands) > 1:
            warnings.warn(f"'{p.name}' holds several activity sources ({', '.join(cands)}); opened '{cands[0]}'. "
                          "Use the SPARKS data panel or load_recording(activity_key=...) for another.", stacklevel=2)
            options["activity_key"] = cands[0]
    rec = load_recording(p, **options)
    return layers_for_recording(rec)


def read_paths(path: str | list[str]) -> list[tuple]:
    """npe2 reader function."""
    paths = path if isinstance(path, list) else [path]
    layers: list[tuple] = []
    for p in paths:
        layers.extend(_read_one(Path(p)))
    return layers


# ------------------------------------------------------------------ writers
def _recording_from_layers(layer_data: list[tuple]):
    for data, attrs, _kind in layer_data:
        rec = (attrs.get("metadata") or {}).get(RECORDING_KEY)
        if rec is not None:
            return rec, attrs.get("metadata") or {}
    return None, {}


def write_nwb_layers(path: str, layer_data: list[tuple]) -> list[str]:
    """npe2 multi-layer writer (.nwb): the Recording carried by the layers, plus any SPARKS results
    in ``metadata["sparks_results"]`` (``latents``, ``order``, ``predictions``, ``neuron_summaries``),
    into a new NWB file (or a copy of the source NWB).  Never modifies the source."""
    from .data.export import export_to_nwb
    from .data.nwb import write_nwb

    rec, meta = _recording_from_layers(layer_data)
    if rec is None:
        raise SparksError("None of the selected layers carries a SPARKS recording.",
                          "Select the activity layer of a recording opened or trained with SPARKS.")
    results = dict(meta.get("sparks_results") or {})
    src = rec.provenance.get("source")
    source = Path(src) if src and str(src).lower().endswith(".nwb") and Path(src).exists() else None
    if results or source is not None:
        export_to_nwb(path, source=source, recording=rec, latents=results.get("latents"),
                      predictions=results.get("predictions"), order=results.get("order"),
                      neuron_summaries=results.get("neuron_summaries"), overwrite=True)
    else:
        write_nwb(rec, path, overwrite=True)
    return [path]


def write_npy(path: str, data: Any, attributes: dict) -> list[str]:
    """npe2 single-layer writer: an image/labels layer (an embedding, an ordering) to ``.npy`` (atomic)."""
    from .data.atomic import atomic_save

    arr = np.asarray(data)
    atomic_save(path, lambda tmp: np.save(tmp, arr, allow_pickle=False))
    return [path]


def write_csv(path: str, data: Any, attributes: dict) -> list[str]:
    """npe2 single-layer writer: a 1-D/2-D image layer to ``.csv`` (atomic)."""
    from .data.export import _csv_text
    from .data.atomic import atomic_write_text

    arr = np.asarray(data)
    if arr.ndim not in (1, 2):
        raise SparksError(f"Layer '{attributes.get('name', '')}' has {arr.ndim} dimensions; CSV holds 1-D or 2-D data.",
                          "Save it as .npy instead.")
    atomic_write_text(path, _csv_text(arr))
    return [path]
