"""What a SPARKS napari layer is: one role type and the metadata keys that carry it.

Every layer SPARKS makes carries its role under ``metadata[ROLE_KEY]`` (a :class:`LayerRole`
value) and, when it shows a recording, the :class:`~sparks_gui.data.recording.Recording` under
``metadata[RECORDING_KEY]``, so the docks, the writers and the view links find their layers by
role instead of by name.  No Qt, no napari import.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

import numpy as np

RECORDING_KEY = "sparks_recording"
"""Layer metadata key holding the Recording a layer shows."""
ROLE_KEY = "sparks_role"
"""Layer metadata key holding the layer's :class:`LayerRole` value (a plain string)."""
RESULTS_KEY = "sparks_results"
"""Optional layer metadata key: SPARKS results for the NWB writer (keyword arguments of
:func:`sparks_gui.data.export.export_to_nwb`)."""


class LayerRole(str, Enum):
    """What a SPARKS layer shows."""

    ACTIVITY = "activity"
    """neurons x time image of the recording (what the Data dock lists)"""
    MOVIE = "movie"
    """the recording's imaging movie, time in seconds along the first axis"""
    ROIS = "rois"
    """the ROI footprints as labels (label = neuron index + 1)"""
    STIMULUS = "stimulus"
    """the stimulus movie on the recording's bin clock"""
    DECODED = "decoded"
    """stimulus frames decoded by a SPARKS run, on the recording's bin clock"""


MOVIE_ROLES = (LayerRole.MOVIE, LayerRole.STIMULUS, LayerRole.DECODED)
"""Roles whose first axis is time (napari's time slider steps through them)."""


def tag(metadata: dict | None, role: LayerRole, recording: Any = None, **extra) -> dict:
    """``metadata`` (copied) with ``role`` and, when given, ``recording`` and ``extra`` entries."""
    out = dict(metadata or {})
    out.update(extra)
    out[ROLE_KEY] = LayerRole(role).value
    if recording is not None:
        out[RECORDING_KEY] = recording
    return out


def _metadata(layer: Any) -> dict:
    if isinstance(layer, dict):  # a LayerData tuple's attributes, or metadata itself
        return layer.get("metadata", layer) or {}
    return getattr(layer, "metadata", None) or {}


def role_of(layer: Any) -> LayerRole | None:
    """The :class:`LayerRole` of a napari layer (or of its metadata / LayerData attributes), else None.

    A layer that carries a recording but no role is its activity layer."""
    meta = _metadata(layer)
    value = meta.get(ROLE_KEY)
    if value is None:
        return LayerRole.ACTIVITY if RECORDING_KEY in meta else None
    try:
        return LayerRole(value)
    except ValueError:
        return None


def recording_of(layer: Any) -> Any:
    """The Recording a layer carries, else None."""
    return _metadata(layer).get(RECORDING_KEY)


def find_layers(layers: Iterable, *roles: LayerRole, recording: Any = None) -> list:
    """The layers of ``layers`` whose role is one of ``roles`` (any SPARKS role when none is given),
    restricted to those showing ``recording`` when it is given."""
    wanted = {LayerRole(r) for r in roles}
    out = []
    for ly in layers:
        role = role_of(ly)
        if role is None or (wanted and role not in wanted):
            continue
        if recording is not None and recording_of(ly) is not recording:
            continue
        out.append(ly)
    return out


# ------------------------------------------------------------------ the layers of a recording
def activity_display_scale(n_rows: int, n_cols: int, aspect: float = 2.5) -> tuple[float, float]:
    """Display scale for a neurons x time image: wide recordings are squeezed in time so the image
    is about ``aspect`` times wider than tall (display only; the data are not resampled)."""
    if n_cols > aspect * n_rows and n_rows > 0:
        return (1.0, aspect * n_rows / n_cols)
    return (1.0, 1.0)


def activity_layer(rec) -> tuple:
    """The activity image layer of ``rec`` (neurons x time), carrying the Recording."""
    act = rec.activity
    if rec.kind == "spikes" and act.shape[1] > 20000:
        # show the first 20 s of spikes as a raster image (analysis always uses the full data)
        act = act[:, : int(20.0 / rec.dt)]
    lo, hi = float(np.percentile(act, 1)), float(np.percentile(act, 99.5))
    # rows: neurons; columns: time bins, squeezed for display so a long recording is not a thin strip
    return (
        act,
        {
            "name": f"{rec.name} activity",
            "colormap": "gray_r" if rec.kind == "spikes" else "magma",
            "contrast_limits": (lo, max(hi, lo + 1e-6)),
            "metadata": tag({"dt": rec.dt, "kind": rec.kind}, LayerRole.ACTIVITY, rec),
            "scale": activity_display_scale(*act.shape),
        },
        "image",
    )


def layers_for_recording(rec, movie: bool = True, masks: bool = True, stimulus: bool = True) -> list[tuple]:
    """Activity image (+ lazy movie Image, + ROI Labels, + stimulus movie) layers for ``rec``.

    Time runs along the first axis of the movie layers with ``scale`` = frame period (s), so
    napari's time slider is in seconds and a movie and a stimulus at different rates stay in
    step.  When a recording has a movie or stimulus, the activity image (neurons x time, shown
    by the SPARKS raster) starts hidden so it does not cover the frames.
    """
    from .frames import LazyFrames

    layers = [activity_layer(rec)]
    meta = {"dt": rec.dt, "kind": rec.kind}
    frames_like = False
    if movie and rec.movie is not None:
        mdt = float(rec.movie_dt or rec.dt)
        layers.append(
            (
                rec.movie,
                {
                    "name": f"{rec.name} movie",
                    "metadata": tag({**meta, "dt": mdt}, LayerRole.MOVIE, rec),
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
                {"name": f"{rec.name} ROIs", "opacity": 0.45, "metadata": tag(meta, LayerRole.ROIS, rec)},
                "labels",
            )
        )
    stim = rec.stimulus or {}
    if stimulus and stim.get("frames") is not None and "frame_ids" in stim:
        movie_frames = LazyFrames(stim["frames"], stim["frame_ids"])
        lo, hi = float(movie_frames.frames.min()), float(movie_frames.frames.max())
        layers.append(
            (
                movie_frames,
                {
                    "name": f"{rec.name} stimulus",
                    "metadata": tag(meta, LayerRole.STIMULUS, rec),
                    "scale": (float(rec.dt), 1.0, 1.0),
                    "colormap": "gray",
                    "contrast_limits": (lo, hi if hi > lo else lo + 1.0),
                },
                "image",
            )
        )
        frames_like = True
    if frames_like:
        layers[0][1]["visible"] = False
    return layers
