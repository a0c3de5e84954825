"""Lazy movies on a recording's bin clock (display only): the stimulus and the decoded frames.

One class, :class:`LazyFrames`: bin ``t`` shows ``images[index[t]]`` (``blank`` where
``index[t] < 0``).  Only the bins napari asks for are built.
"""

from __future__ import annotations

import numpy as np


class LazyFrames:
    """Lazy ``[n_bins, H, W]`` float32 movie: bin ``t`` shows ``images[index[t]]``, ``blank`` where ``index[t] < 0``.

    Stimulus frames are stored once per frame id (``index`` = the recording's frame ids); decoded
    frames once per (example, prediction step).  Colour images ``[K, H, W, 3]`` are shown as their
    channel mean.  ``blank`` defaults to the mean of ``images``.
    """

    def __init__(self, images, index, blank: float | None = None):
        self.frames = np.asarray(images, dtype=np.float32)
        if self.frames.ndim == 4:  # colour: average channels
            self.frames = self.frames.mean(-1)
        self.ids = np.asarray(index, dtype=np.int64).ravel()
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
        idx = np.atleast_1d(np.arange(self.shape[0])[first])
        out = np.stack([self.frame(int(t)) for t in idx]) if idx.size else np.zeros((0, *self.shape[1:]), np.float32)
        return out[(slice(None), *rest)] if rest else out

    def __array__(self, dtype=None, copy=None):
        arr = self[:]
        return arr if dtype is None else arr.astype(dtype)


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


def decoded_frames(
    predicted: np.ndarray,
    ex: np.ndarray,
    step: np.ndarray,
    shape_hw: tuple[int, int],
    frames: np.ndarray | None = None,
    blank: float = 0.0,
) -> LazyFrames:
    """The decoded movie: bin ``b`` shows what example ``ex[b]`` predicted at step ``step[b]`` (``blank`` where -1).

    Without ``frames`` (``target="frames"``): the predicted pixels ``predicted[i, t]`` reshaped to
    ``shape_hw``.  With ``frames`` (``target="frame_id"``): the stimulus frame of the predicted class,
    ``frames[round(predicted[i, t])]`` (a class outside the frames, e.g. the extra "blank" class, is blank).
    """
    pred = np.asarray(predicted)
    n_ex, n_steps = pred.shape[:2]
    ex = np.asarray(ex, np.int64)
    step = np.asarray(step, np.int64)
    on = ex >= 0
    index = np.full(len(ex), -1, np.int64)
    if frames is not None:
        cls = np.rint(pred.reshape(n_ex, n_steps, -1)[..., 0].astype(np.float64))
        k = cls[ex[on], step[on]].astype(np.int64)
        index[on] = np.where((k >= 0) & (k < len(frames)), k, -1)
        return LazyFrames(frames, index, blank=blank)
    index[on] = ex[on] * n_steps + step[on]
    return LazyFrames(pred.reshape(n_ex * n_steps, int(shape_hw[0]), int(shape_hw[1])), index, blank=blank)


def decoded_frames_for(snapshot, recording, full_n_bins: int, t0: int = 0):
    """``(LazyFrames, pixel scale (sy, sx))`` for a ``frames`` / ``frame_id`` Predictions snapshot, else None."""
    stim = getattr(recording, "stimulus", None) or {}
    frames = stim.get("frames")
    if snapshot is None or snapshot.target not in ("frames", "frame_id") or frames is None:
        return None
    movie = LazyFrames(frames, np.zeros(1, np.int64))
    H, W = movie.shape[1:]
    rec_dt = float(recording.dt)
    factor = max(int(round(float(snapshot.dt or rec_dt) / rec_dt)), 1)
    starts = snapshot.starts if snapshot.starts is not None else np.zeros(len(snapshot.predicted), np.int64)
    ex, step = bin_lookup(starts, snapshot.predicted.shape[1], int(snapshot.offset), factor, full_n_bins, t0)
    if snapshot.target == "frames":
        from ..engine.targets import frame_pixels

        _, (h, w) = frame_pixels(np.asarray(frames)[:1])
        return decoded_frames(snapshot.predicted, ex, step, (h, w), blank=movie.blank), (H / h, W / w)
    return decoded_frames(snapshot.predicted, ex, step, (H, W), frames=movie.frames, blank=movie.blank), (1.0, 1.0)
