"""What a model can be trained to predict from a :class:`Recording`: its behaviour signals, the stimulus
(frame ids or pixels) or nothing (``unsupervised``), and which one ``target="auto"`` picks.

Used by :mod:`~sparks_gui.engine.dataset` (preparing examples) and :mod:`~sparks_gui.engine.defaults`
(auto values that depend on the target's width); numpy only.
"""

from __future__ import annotations

import re

import numpy as np

from ..data.recording import Recording
from ..errors import SparksError

UNSUPERVISED = "unsupervised"
"""The target of a run that reconstructs the activity itself."""

STIMULUS_TARGETS = ("frame_id", "frames")
"""Targets built from ``recording.stimulus``: the id of the frame on screen (classes, cross-entropy)
and the frame's pixels (regression, downsampled to at most ``MAX_FRAME_PIXELS``)."""
MAX_FRAME_PIXELS = 1024


_EVENT_NAMES = re.compile(
    r"(^|[_\-. ])(events?|ttls?|triggers?|sync|strobes?|digital|codes?|markers?|pulses?)($|[_\-. ])", re.IGNORECASE
)


def is_event_signal(name: str, values) -> bool:
    """Whether a behaviour signal looks like event codes (TTL lines, triggers, markers) rather than a
    continuous variable to decode: an event-like name, or a few distinct integer codes that stay
    mostly at one value."""
    if _EVENT_NAMES.search(name):
        return True
    v = np.asarray(values)
    if v.size == 0 or not np.all(np.isfinite(v)) or not np.allclose(v, np.round(v)):
        return False
    uniq, counts = np.unique(v, return_counts=True)
    return 2 <= len(uniq) <= 16 and counts.max() >= 0.9 * v.size


def default_target(recording: Recording) -> str:
    """What ``target="auto"`` trains on: the first behaviour signal that is not event codes (by its name
    and values, or because the reader found it stamped at irregular instants), else unsupervised."""
    events = set((getattr(recording, "provenance", None) or {}).get("event_behaviour", ()))
    for name, values in recording.behaviour.items():
        if name not in events and not is_event_signal(name, values):
            return name
    return UNSUPERVISED


def resolve_target(recording: Recording, target: str) -> str:
    if target == "auto":
        return default_target(recording)
    if target in STIMULUS_TARGETS and target not in recording.behaviour:
        stim = recording.stimulus or {}
        if "frame_ids" not in stim:
            raise SparksError(
                f"Target '{target}' needs stimulus frame ids, and this recording has none.",
                "Load a recording with a stimulus (e.g. an NWB file with stimulus presentations), or choose "
                f"one of {sorted(recording.behaviour) + ['unsupervised']}.",
            )
        if target == "frames" and stim.get("frames") is None:
            raise SparksError(
                "Target 'frames' needs the stimulus frames themselves; this recording has only frame ids.",
                "Use target='frame_id', or load the stimulus movie with the recording.",
            )
        return target
    if target != UNSUPERVISED:
        recording.target(target)  # raises a SparksError naming the choices
    return target


def frame_pixels(frames: np.ndarray, max_pixels: int = MAX_FRAME_PIXELS) -> tuple[np.ndarray, tuple[int, int]]:
    """Frames [n, H, W] -> [n, h*w] block-averaged so that h*w <= max_pixels; returns the (h, w) too."""
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim == 4:  # colour: average channels
        frames = frames.mean(-1)
    n, H, W = frames.shape
    f = 1
    while (H // f) * (W // f) > max_pixels:
        f += 1
    h, w = H // f, W // f
    small = frames[:, : h * f, : w * f].reshape(n, h, f, w, f).mean((2, 4))
    return small.reshape(n, h * w), (h, w)


def target_values(recording: Recording, target_name: str) -> np.ndarray:
    """The reference signal as [T, k] on the activity clock."""
    if target_name in STIMULUS_TARGETS and target_name not in recording.behaviour:
        ids = np.asarray(recording.stimulus["frame_ids"]).astype(np.int64)
        if target_name == "frame_id":
            blank = int(ids.max(initial=0)) + 1
            return np.where(ids < 0, blank, ids).astype(np.float32)[:, None]  # no frame on screen = its own class
        pix, _ = frame_pixels(recording.stimulus["frames"])
        out = np.zeros((len(ids), pix.shape[1]), dtype=np.float32)
        on = ids >= 0
        out[on] = pix[ids[on]]
        return out
    return recording.behaviour[target_name]
