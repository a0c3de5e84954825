"""npe2 reader (no Qt here): files -> napari layers.

A recording becomes the layers of :func:`~sparks_gui.napari.layers.layers_for_recording`: an
activity image that carries the :class:`~sparks_gui.data.recording.Recording`, plus its imaging
movie, ROI footprints and stimulus movie when it has them, each tagged with its
:class:`~sparks_gui.napari.layers.LayerRole`.  A bare TIFF movie opens as a lazy Image layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import SparksError
from .layers import layers_for_recording

RECORDING_SUFFIXES = (".nwb", ".npy", ".npz", ".mat", ".h5", ".hdf5", ".csv", ".csv.gz", ".tsv", ".tsv.gz")
MOVIE_SUFFIXES = (".tif", ".tiff")


def _is_recording_dir(p: Path) -> bool:
    from ..data.io import detect_format

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
    from ..data.io import detect_format, load_recording

    fmt = detect_format(p)
    if fmt == "tiff":
        from ..data.tiff import open_movie

        return [(open_movie(p), {"name": p.stem, "metadata": {"source": str(p)}}, "image")]
    options: dict[str, Any] = {}
    if fmt == "nwb":
        from ..data.nwb import nwb_contents

        cands = nwb_contents(p)["activity"]
        if len(cands) > 1:
            warnings.warn(
                f"'{p.name}' holds several activity sources ({', '.join(cands)}); opened '{cands[0]}'. "
                "Use the SPARKS data panel or load_recording(activity_key=...) for another.",
                stacklevel=2,
            )
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
