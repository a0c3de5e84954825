"""ROI footprints (calcium imaging): sparse per-ROI pixel lists with dense views on demand.

A suite2p ``stat.npy`` or an NWB ``PlaneSegmentation`` ``pixel_mask`` already stores
ROIs as pixel lists; dense ``[n_rois, H, W]`` stacks are built only when asked for
(a 500-ROI 512x512 dense stack would be 500 MB).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import SparksError


class RoiMasks:
    """Weighted pixel masks of ``n`` ROIs on an image of ``shape`` (H, W).

    Parameters
    ----------
    shape
        ``(H, W)`` of the imaging plane.
    ypix, xpix, weights
        One integer/float array per ROI (row, column, weight of each pixel).
    """

    def __init__(
        self,
        shape: tuple[int, int],
        ypix: Sequence[np.ndarray],
        xpix: Sequence[np.ndarray],
        weights: Sequence[np.ndarray] | None = None,
    ):
        self.shape = (int(shape[0]), int(shape[1]))
        if len(ypix) != len(xpix) or (weights is not None and len(weights) != len(ypix)):
            raise SparksError(
                "ROI masks have different numbers of row, column and weight lists.",
                "Give one ypix, xpix (and weight) array per ROI.",
            )
        self.ypix = [np.asarray(y, dtype=np.int64).ravel() for y in ypix]
        self.xpix = [np.asarray(x, dtype=np.int64).ravel() for x in xpix]
        self.weights = [
            np.ones(len(y), np.float32) if weights is None else np.asarray(weights[i], np.float32).ravel()
            for i, y in enumerate(self.ypix)
        ]
        for i, (y, x, w) in enumerate(zip(self.ypix, self.xpix, self.weights, strict=False)):
            if not (len(y) == len(x) == len(w)):
                raise SparksError(
                    f"ROI {i} has {len(y)} rows, {len(x)} columns and {len(w)} weights.",
                    "Give the same number of rows, columns and weights for each ROI.",
                )
            if len(y) and (y.min() < 0 or x.min() < 0 or y.max() >= self.shape[0] or x.max() >= self.shape[1]):
                raise SparksError(
                    f"ROI {i} has pixels outside the {self.shape} image.",
                    "Check the image size (Ly, Lx) that goes with these masks.",
                )

    # ----------------------------------------------------------- constructors
    @classmethod
    def from_dense(cls, masks: Any) -> RoiMasks:
        """From an ``[n, H, W]`` stack (nonzero pixels are the footprint, values its weights)."""
        m = np.asarray(masks)
        if m.ndim != 3:
            raise SparksError(
                f"Image masks have shape {m.shape}; expected [n_rois, height, width].", "Stack one 2-D mask per ROI."
            )
        ys, xs, ws = [], [], []
        for k in range(m.shape[0]):
            y, x = np.nonzero(m[k])
            ys.append(y)
            xs.append(x)
            ws.append(m[k][y, x])
        return cls(m.shape[1:], ys, xs, ws)

    @classmethod
    def from_labels(cls, labels: Any) -> RoiMasks:
        """From a label image ``[H, W]`` (0 = background, ROI k has value k + 1)."""
        lab = np.asarray(labels)
        n = int(lab.max())
        ys, xs = [], []
        for k in range(1, n + 1):
            y, x = np.nonzero(lab == k)
            ys.append(y)
            xs.append(x)
        return cls(lab.shape, ys, xs)

    # -------------------------------------------------------------- views
    def __len__(self) -> int:
        return len(self.ypix)

    def __repr__(self) -> str:
        return f"RoiMasks({len(self)} ROIs on {self.shape[0]}x{self.shape[1]})"

    def dense(self, i: int) -> np.ndarray:
        out = np.zeros(self.shape, np.float32)
        out[self.ypix[i], self.xpix[i]] = self.weights[i]
        return out

    def to_dense(self) -> np.ndarray:
        """``[n, H, W]`` float32 stack (allocates n*H*W*4 bytes)."""
        out = np.zeros((len(self), *self.shape), np.float32)
        for i in range(len(self)):
            out[i, self.ypix[i], self.xpix[i]] = self.weights[i]
        return out

    def labels(self) -> np.ndarray:
        """``[H, W]`` int32 label image for a napari Labels layer (ROI i -> i + 1; heavier weight wins overlaps)."""
        lab = np.zeros(self.shape, np.int32)
        best = np.full(self.shape, -np.inf, np.float32)
        for i in range(len(self)):
            y, x, w = self.ypix[i], self.xpix[i], self.weights[i]
            win = w > best[y, x]
            lab[y[win], x[win]] = i + 1
            best[y[win], x[win]] = w[win]
        return lab

    def centroids(self) -> np.ndarray:
        """``[n, 2]`` weighted (row, column) centres; NaN for empty ROIs."""
        out = np.full((len(self), 2), np.nan)
        for i in range(len(self)):
            w = np.abs(self.weights[i])
            if w.sum() > 0:
                out[i] = [np.average(self.ypix[i], weights=w), np.average(self.xpix[i], weights=w)]
        return out

    def subset(self, idx) -> RoiMasks:
        idx = np.arange(len(self))[np.asarray(idx)] if np.asarray(idx).dtype == bool else np.asarray(idx).ravel()
        return RoiMasks(
            self.shape, [self.ypix[i] for i in idx], [self.xpix[i] for i in idx], [self.weights[i] for i in idx]
        )

    def traces(self, movie: Any, chunk: int = 256, normalise: bool = True) -> np.ndarray:
        """Weighted mean of each ROI's pixels in every frame of ``movie`` ``[T, H, W]`` -> ``[n, T]``.

        The movie is read ``chunk`` frames at a time, so a memory-mapped or lazy movie
        is never loaded whole.
        """
        T = int(movie.shape[0])
        if tuple(movie.shape[1:3]) != self.shape:
            raise SparksError(
                f"The movie frames are {tuple(movie.shape[1:3])} but the ROI masks are for {self.shape}.",
                "Use the masks made for this movie (same field of view and size).",
            )
        flat = [y * self.shape[1] + x for y, x in zip(self.ypix, self.xpix, strict=False)]
        norms = [max(float(w.sum()), 1e-12) if normalise else 1.0 for w in self.weights]
        out = np.zeros((len(self), T), np.float32)
        for s in range(0, T, chunk):
            block = np.asarray(movie[s : s + chunk], dtype=np.float32).reshape(-1, self.shape[0] * self.shape[1])
            for i in range(len(self)):
                out[i, s : s + len(block)] = block[:, flat[i]] @ self.weights[i] / norms[i]
        return out

    def equals(self, other: RoiMasks) -> bool:
        """Same image size and the same weighted footprints (pixel order ignored)."""
        if not isinstance(other, RoiMasks) or other.shape != self.shape or len(other) != len(self):
            return False
        return all(np.array_equal(self.dense(i), other.dense(i)) for i in range(len(self)))
