"""Decoded stimulus frames as a lazy napari movie on the recording's bin clock (display only)."""

from __future__ import annotations

import numpy as np


def bin_lookup(
    starts, n_steps: int, offset: int, factor: int, n_bins: int, t0: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """For every recording bin, which (example, prediction step) decodes it; -1 where none does.

    Prediction step ``t`` of an example starting at bin ``s`` decodes the reference at model
    bin ``t + offset``, i.e. recording bins ``s + (t + offset) * factor ... + factor - 1``
    (``t0`` shifts a trimmed training selection back into the full recording).
    """
    ex = np.full(n_bins, -1, np.int64)
    step = np.full(n_bins, -1, np.int64)
    n_valid = max(int(n_steps) - int(offset), 0)
    local = np.arange(n_valid * factor)
    for i, s in enumerate(np.asarray(starts, dtype=np.int64)):
        b = int(t0) + int(s) + int(offset) * factor + local
        ok = (b >= 0) & (b < n_bins)
        ex[b[ok]] = i
        step[b[ok]] = local[ok] // factor
    return ex, step


class DecodedFrames:
    """Lazy ``[n_bins, h, w]`` array: bin ``b`` shows the frame decoded for it, ``blank`` elsewhere.

    ``target="frames"``: the predicted pixels ``predicted[i, t]`` reshaped to ``(h, w)``.
    ``target="frame_id"``: the stimulus frame of the predicted class ``frames[predicted[i, t]]``.
    """

    def __init__(
        self,
        predicted: np.ndarray,
        ex: np.ndarray,
        step: np.ndarray,
        shape_hw: tuple[int, int],
        frames: np.ndarray | None = None,
        blank: float = 0.0,
    ):
        self.predicted = np.asarray(predicted)
        self.ex, self.step = ex, step
        self.frames = None if frames is None else np.asarray(frames, dtype=np.float32)
        self.blank = float(blank)
        self.shape = (len(ex), int(shape_hw[0]), int(shape_hw[1]))
        self.dtype = np.dtype(np.float32)
        self.ndim = 3
        self.size = int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def frame(self, b: int) -> np.ndarray:
        i, t = int(self.ex[b]), int(self.step[b])
        if i < 0:
            return np.full(self.shape[1:], self.blank, np.float32)
        if self.frames is not None:  # class id -> that frame (the extra "blank" class -> blank)
            k = int(round(float(np.ravel(self.predicted[i, t])[0])))
            if 0 <= k < len(self.frames):
                return self.frames[k]
            return np.full(self.shape[1:], self.blank, np.float32)
        return np.asarray(self.predicted[i, t], np.float32).reshape(self.shape[1:])

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        first, rest = key[0], key[1:]
        if isinstance(first, (int, np.integer)):
            f = self.frame(int(first))
            return f[rest] if rest else f
        idx = np.atleast_1d(np.arange(self.shape[0])[first])
        out = np.stack([self.frame(int(b)) for b in idx]) if idx.size else np.zeros((0, *self.shape[1:]), np.float32)
        return out[(slice(None), *rest)] if rest else out

    def __array__(self, dtype=None, copy=None):
        arr = self[:]
        return arr if dtype is None else arr.astype(dtype)


def decoded_frames_for(snapshot, recording, full_n_bins: int, t0: int = 0):
    """``(DecodedFrames, pixel scale (sy, sx))`` for a ``frames`` / ``frame_id`` Predictions snapshot, else None."""
    stim = getattr(recording, "stimulus", None) or {}
    frames = stim.get("frames")
    if snapshot is None or snapshot.target not in ("frames", "frame_id") or frames is None:
        return None
    from .._napari_io import FramesByBin

    movie = FramesByBin(frames, np.zeros(1, np.int64))
    H, W = movie.shape[1:]
    rec_dt = float(recording.dt)
    factor = max(int(round(float(snapshot.dt or rec_dt) / rec_dt)), 1)
    starts = snapshot.starts if snapshot.starts is not None else np.zeros(len(snapshot.predicted), np.int64)
    ex, step = bin_lookup(starts, snapshot.predicted.shape[1], int(snapshot.offset), factor, full_n_bins, t0)
    if snapshot.target == "frames":
        from ..engine.dataset import frame_pixels

        _, (h, w) = frame_pixels(np.asarray(frames)[:1])
        return DecodedFrames(snapshot.predicted, ex, step, (h, w), blank=movie.blank), (H / h, W / w)
    return DecodedFrames(snapshot.predicted, ex, step, (H, W), frames=movie.frames, blank=movie.blank), (1.0, 1.0)
