"""The size and resolution of an exported figure or view image (no Qt, no matplotlib here)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SparksError

UNITS = ("in", "px")
MAX_PIXELS = 200_000_000
"""Largest image (width x height pixels) an export may ask for (~800 MB of RGBA)."""


@dataclass(frozen=True)
class ImageSize:
    """Width and height in inches or pixels, and the resolution (dots per inch).

    ``height == 0`` keeps the aspect ratio of the figure or view.  A view exported at ``dpi`` is laid
    out at ``pixels * 96 / dpi`` screen pixels and painted scaled, so its text and lines are ``dpi / 96``
    times the on-screen size: a 6 in wide image looks the same at 100 or 300 DPI, only sharper.
    """

    width: float = 6.0
    height: float = 0.0
    unit: str = "in"
    dpi: float = 200.0

    def __post_init__(self):
        if self.unit not in UNITS:
            raise SparksError(f"Unknown size unit '{self.unit}'.", f"Use one of {UNITS}.")
        if not (self.width > 0):
            raise SparksError(f"The image width must be positive (got {self.width}).", "Enter a width above 0.")
        if not (self.height >= 0):
            raise SparksError(
                f"The image height must be 0 (auto) or positive (got {self.height}).",
                "Enter a height above 0, or 0 to keep the aspect ratio.",
            )
        if not (10 <= self.dpi <= 2400):
            raise SparksError(f"A resolution of {self.dpi} DPI is outside 10-2400.", "Use e.g. 150, 300 or 600 DPI.")

    def _px(self, value: float) -> int:
        return max(1, int(round(value * self.dpi if self.unit == "in" else value)))

    def pixels(self, aspect: float) -> tuple[int, int]:
        """``(width, height)`` in pixels; ``aspect`` (height / width) is used when ``height`` is 0 (auto)."""
        w = self._px(self.width)
        h = self._px(self.height) if self.height > 0 else max(1, int(round(w * float(aspect))))
        if w * h > MAX_PIXELS:
            raise SparksError(f"An image of {w} x {h} pixels is too large to export.", "Lower the size or the DPI.")
        return w, h

    def figsize(self, aspect: float) -> tuple[float, float]:
        """matplotlib ``figsize`` (inches) that saves at ``dpi`` to exactly :meth:`pixels` (matplotlib
        truncates the pixel size, so a quarter pixel is added)."""
        w, h = self.pixels(aspect)
        return (w + 0.25) / self.dpi, (h + 0.25) / self.dpi


def resolve(size: ImageSize | None, default: tuple[float, float], default_dpi: float = 150.0):
    """``(figsize, dpi, exact)`` for a matplotlib figure whose own size is ``default`` (inches):
    ``exact`` is False without a requested size (keep the figure's size and a tight bounding box)."""
    if size is None:
        return default, default_dpi, False
    return size.figsize(default[1] / default[0]), float(size.dpi), True
