"""Start napari with SPARKS loaded (the full docks arrive with the GUI issue)."""

from __future__ import annotations

import os

from ..errors import SparksError


def _check_display() -> None:
    if os.name == "posix" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
            and os.environ.get("QT_QPA_PLATFORM") not in ("offscreen", "minimal", "cocoa"):
        import sys

        if sys.platform.startswith("linux"):
            raise SparksError(
                "No display found (DISPLAY is not set), so the napari window cannot open.",
                "Run on a desktop, under 'xvfb-run sparks-gui', or train headless with 'sparks-gui demo --headless'.",
            )


def make_viewer(file: str | None = None, sample: str | None = None, show: bool = True):
    """A napari viewer with ``file`` (a recording) or the built-in ``sample`` opened."""
    import napari

    viewer = napari.Viewer(title="SPARKS", show=show)
    if file is not None:
        from .._napari_samples import _layers_for_recording
        from ..data.io import load_recording

        rec = load_recording(file)
        for data, kwargs, kind in _layers_for_recording(rec):
            getattr(viewer, f"add_{kind}")(data, **kwargs)
    elif sample is not None:
        viewer.open_sample("sparks-gui", sample)
    return viewer


def launch(file: str | None = None, sample: str | None = None) -> int:
    """Open napari (blocking until the window closes); returns an exit status."""
    _check_display()
    import napari

    make_viewer(file, sample)
    napari.run()
    return 0
