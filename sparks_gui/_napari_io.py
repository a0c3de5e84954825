"""npe2 readers and writers (no Qt here): files -> napari layers, layers -> exports.

Readers return ``LayerData`` tuples.  A recording becomes an activity image layer that
carries the :class:`~sparks_gui.data.recording.Recording` in ``metadata["sparks_recording"]``
(and registers it in :mod:`sparks_gui.data.registry`), plus its imaging movie as a lazy
Image layer and its ROI footprints as a Labels layer.  A bare TIFF movie opens as a
lazy Image layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .data import registry
from .errors import SparksError

RECORDING_KEY = "sparks_recording"
RECORDING_SUFFIXES = (".nwb", ".npy", ".npz", ".mat", ".h5", ".hdf5", ".csv", ".csv.gz", ".tsv", ".tsv.gz")
MOVIE_SUFFIXES = (".tif", ".tiff")


class FramesByBin:
    """Lazy ``[n_bins, H, W]`` movie: bin ``t`` shows ``frames[ids[t]]`` (``blank`` where ``ids[t] < 0``).

    Stimulus frames are stored once per frame id; this shows them on the activity clock so
    that napari's time slider steps through bins.  Only the requested bins are built.
    """

    def __init__(self, frames, ids, blank: float | None = None):
        self.frames = np.asarray(frames, dtype=np.float32)
        if self.frames.ndim == 4:  # colour: average channels
            self.frames = self.frames.mean(-1)
        self.ids = np.asarray(ids, dtype=np.int64).ravel()
        self.blank = float(self.frames.mean()) if blank is None else float(blank)
        self.shape = (len(self.ids), *self.frames.shape[1:])
        self.dtype = np.dtype(np.float32)
        self.ndim = 3
        self.size = int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def frame(self, t: int) -> np.ndarray:
        k = int(self.ids[t])
        if 0 <= k < len(self.frames):
            return self.frames[k]
        return np.full(self.shape[1:], self.blank, np.float32)

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)):
            return self.frame(int(first))[rest] if rest else self.frame(int(first))
        idx = np.arange(self.shape[0])[first]
        out = (
            np.stack([self.frame(int(t)) for t in np.atleast_1d(idx)])
            if np.size(idx)
            else np.zeros((0, *self.shape[1:]), np.float32)
        )
        return out[(slice(None), *rest)] if rest else out

    def __array__(self, dtype=None, copy=None):
        arr = self[:]
        return arr if dtype is None else arr.astype(dtype)


def activity_display_scale(n_rows: int, n_cols: int, aspect: float = 2.5) -> tuple[float, float]:
    """Display scale for a neurons x time image: wide recordings are squeezed in time so the image
    is about ``aspect`` times wider than tall (display only; the data are not resampled)."""
    if n_cols > aspect * n_rows and n_rows > 0:
        return (1.0, aspect * n_rows / n_cols)
    return (1.0, 1.0)


def layers_for_recording(rec, movie: bool = True, masks: bool = True, stimulus: bool = True) -> list[tuple]:
    """Activity image (+ lazy movie Image, + ROI Labels, + stimulus movie) layers for ``rec``; registers ``rec``.

    Time runs along the first axis of the movie layers with ``scale`` = frame period (s), so
    napari's time slider is in seconds and a movie and a stimulus at different rates stay in
    step.  When a recording has a movie or stimulus, the activity image (neurons x time, shown
    by the SPARKS raster) starts hidden so it does not cover the frames.
    """
    from ._napari_samples import _layers_for_recording

    registry.register(rec)
    layers = list(_layers_for_recording(rec))
    meta = {RECORDING_KEY: rec, "dt": rec.dt, "kind": rec.kind}
    frames_like = False
    if movie and rec.movie is not None:
        mdt = float(rec.movie_dt or rec.dt)
        layers.append(
            (
                rec.movie,
                {
                    "name": f"{rec.name} movie",
                    "metadata": {**meta, "dt": mdt, "sparks_movie": True, "sparks_role": "movie"},
                    "scale": (mdt, 1.0, 1.0),
                    "colormap": "gray",
                },
                "image",
            )
        )
        frames_like = True
    if masks and rec.rois is not None:
        layers.append(
            (
                rec.rois.labels(),
                {
                    "name": f"{rec.name} ROIs",
                    "opacity": 0.45,
                    "metadata": {**meta, "sparks_rois": True, "sparks_role": "rois"},
                },
                "labels",
            )
        )
    stim = rec.stimulus or {}
    if stimulus and stim.get("frames") is not None and "frame_ids" in stim:
        movie_frames = FramesByBin(stim["frames"], stim["frame_ids"])
        lo, hi = float(movie_frames.frames.min()), float(movie_frames.frames.max())
        layers.append(
            (
                movie_frames,
                {
                    "name": f"{rec.name} stimulus",
                    "metadata": {**meta, "sparks_frames": True, "sparks_role": "stimulus"},
                    "scale": (float(rec.dt), 1.0, 1.0),
                    "colormap": "gray",
                    "contrast_limits": (lo, hi if hi > lo else lo + 1.0),
                },
                "image",
            )
        )
        frames_like = True
    if frames_like and layers and layers[0][2] == "image":
        layers[0][1]["visible"] = False
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


# ------------------------------------------------------------------ writers
def _recording_from_layers(layer_data: list[tuple]):
    for _data, attrs, _kind in layer_data:
        rec = (attrs.get("metadata") or {}).get(RECORDING_KEY)
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

    The results are those of ``metadata["sparks_results"]`` when a layer carries them, else those the
    SPARKS docks registered for the recording (:func:`sparks_gui.data.registry.results_for`): latents,
    orderings, predictions and the run's config in the processing module ``sparks``."""
    from .data.export import export_to_nwb, free_module_name
    from .data.nwb import write_nwb

    rec, meta = _recording_from_layers(layer_data)
    if rec is None:
        raise SparksError(
            "None of the selected layers carries a SPARKS recording.",
            "Select the activity layer of a recording opened or trained with SPARKS.",
        )
    results = dict(meta.get("sparks_results") or registry.results_for(rec) or {})
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
    from .data.atomic import atomic_save

    arr = np.asarray(data)
    atomic_save(path, lambda tmp: np.save(tmp, arr, allow_pickle=False))
    return [path]


def write_csv(path: str, data: Any, attributes: dict) -> list[str]:
    """npe2 single-layer writer: a 1-D/2-D image layer to ``.csv`` (atomic)."""
    from .data.atomic import atomic_write_text
    from .data.export import _csv_text

    arr = np.asarray(data)
    if arr.ndim not in (1, 2):
        raise SparksError(
            f"Layer '{attributes.get('name', '')}' has {arr.ndim} dimensions; CSV holds 1-D or 2-D data.",
            "Save it as .npy instead.",
        )
    atomic_write_text(path, _csv_text(arr))
    return [path]
