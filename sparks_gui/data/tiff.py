"""TIFF / OME-TIFF imaging movies via tifffile, opened lazily.

Uncompressed, contiguous files are memory-mapped (``tifffile.memmap``, read-only);
anything else (compressed, tiled, multi-file) becomes a dask array reading one page
per frame on demand.  Nothing is read until pixels are asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SparksError
from .recording import Recording
from .rois import RoiMasks

TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


class _PageStack:
    """Array-like over the pages of a TIFF series: ``stack[i]`` reads page ``i`` only."""

    def __init__(self, path: Path, series: int = 0):
        import tifffile

        self._tif = tifffile.TiffFile(path)
        s = self._tif.series[series]
        self._pages = s.pages
        page_shape = tuple(self._pages[0].shape)
        self.dtype = np.dtype(s.dtype)
        self.shape = (len(self._pages),) + page_shape
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        idx = np.arange(self.shape[0])[key[0]]
        rest = key[1:]
        if np.ndim(idx) == 0:
            return self._pages[int(idx)].asarray()[rest]
        out = np.empty((len(idx),) + self.shape[1:], self.dtype)
        for j, i in enumerate(idx):
            out[j] = self._pages[int(i)].asarray()
        return out[(slice(None),) + rest]


def open_movie(path: str | Path, series: int = 0):
    """Open a TIFF/OME-TIFF movie lazily: a read-only ``numpy.memmap`` or a dask array, frames first."""
    import tifffile

    path = Path(path)
    if not path.exists():
        raise SparksError(f"File '{path}' does not exist.", "Check the path (and that the drive is mounted).")
    with open(path, "rb") as fh:
        if fh.read(4) not in TIFF_MAGIC:
            raise SparksError(f"'{path.name}' is not a TIFF file.", "Pass a .tif/.tiff/.ome.tif movie.")
    try:
        arr = tifffile.memmap(path, mode="r", series=series)
        return arr if arr.ndim >= 3 else arr[None]
    except Exception:  # noqa: BLE001 - compressed/tiled: fall back to page-wise reading
        pass
    try:
        stack = _PageStack(path, series)
    except Exception as exc:  # noqa: BLE001
        raise SparksError(
            f"Could not read '{path.name}' as a TIFF movie ({exc}).",
            "Check that the file is complete (a truncated copy cannot be read).",
        ) from exc
    import dask.array as da

    return da.from_array(
        stack, chunks=(1,) + stack.shape[1:], asarray=True, name=False, meta=np.empty((0,) * stack.ndim, stack.dtype)
    )


def frame_interval(path: str | Path) -> float | None:
    """Seconds per frame from ImageJ (``finterval``) or OME (``TimeIncrement``) metadata, if present."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            ij = tif.imagej_metadata or {}
            if ij.get("finterval"):
                return float(ij["finterval"])
            ome = tif.ome_metadata
            if ome and "TimeIncrement=" in ome:
                return float(ome.split('TimeIncrement="', 1)[1].split('"', 1)[0])
    except Exception:  # noqa: BLE001
        return None
    return None


def read_tiff(path: str | Path, rois: Any = None, dt: float | None = None, **_ignored) -> Recording:
    """A calcium :class:`Recording` from a movie and ROI footprints (traces = weighted ROI means).

    ``rois`` is a :class:`RoiMasks`, an ``[n, H, W]`` mask stack, an ``[H, W]`` label image, or
    the path of a label image (.tif / .npy).  The movie stays lazy (attached as ``movie``).
    """
    path = Path(path)
    movie = open_movie(path)
    if rois is None:
        raise SparksError(
            f"'{path.name}' is an imaging movie: it has no neural traces until ROIs are given.",
            "Pass rois= (RoiMasks, a label image or its .tif/.npy path), or run suite2p and open its folder.",
        )
    if isinstance(rois, (str, Path)):
        rp = Path(rois)
        lab = np.load(rp) if rp.suffix == ".npy" else np.asarray(open_movie(rp))
        rois = np.squeeze(lab)
    if not isinstance(rois, RoiMasks):
        arr = np.asarray(rois)
        rois = RoiMasks.from_labels(arr) if arr.ndim == 2 else RoiMasks.from_dense(arr)
    if movie.ndim != 3:
        raise SparksError(
            f"'{path.name}' has shape {movie.shape}; traces need a [frames, height, width] movie.",
            "Save one channel / one z-plane per file.",
        )
    dt = dt or frame_interval(path)
    if dt is None:
        raise SparksError(
            f"'{path.name}' does not store its frame interval.", "Pass dt (seconds per frame), e.g. dt=1/30."
        )
    traces = rois.traces(movie)
    cen = rois.centroids()
    return Recording(
        activity=traces,
        dt=dt,
        kind="calcium",
        rois=rois,
        movie=movie,
        movie_dt=dt,
        name=path.stem,
        neuron_meta={"centroid_row": cen[:, 0], "centroid_col": cen[:, 1]},
        provenance={"source": str(path), "reader": "tiff"},
    )
