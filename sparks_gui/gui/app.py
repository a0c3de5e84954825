"""Start napari with the SPARKS docks arranged (``sparks-gui``), or add them to a viewer."""

from __future__ import annotations

import os

from ..errors import SparksError

DOCKS = ("data", "training", "export", "raster", "latents", "attention", "decoding")


def _check_display() -> None:
    if os.name == "posix" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) \
            and os.environ.get("QT_QPA_PLATFORM") not in ("offscreen", "minimal", "cocoa"):
        import sys

        if sys.platform.startswith("linux"):
            raise SparksError(
                "No display found (DISPLAY is not set), so the napari window cannot open.",
                "Run on a desktop, under 'xvfb-run sparks-gui', or train headless with 'sparks-gui demo --headless'.",
            )


def add_sparks_docks(viewer) -> dict:
    """Add every SPARKS dock to ``viewer`` in the standard arrangement; returns the widgets by name.

    Right: Data, Training and Export (tabbed).  Bottom: the raster above the decoding
    traces, then the latents and the attention matrix.  napari's own layer list and
    controls stay on the left.
    """
    from ._links import NapariLinks
    from ._session import session_for
    from .data_widget import DataWidget
    from .export_widget import ExportWidget
    from .training_widget import TrainingWidget
    from .views import AttentionView, DecodingView, LatentView, RasterView

    session = session_for(viewer)
    w = {
        "data": DataWidget(viewer, session),
        "training": TrainingWidget(viewer, session),
        "export": ExportWidget(viewer, session),
        "raster": RasterView(viewer, session),
        "latents": LatentView(viewer, session),
        "attention": AttentionView(viewer, session),
        "decoding": DecodingView(viewer, session),
    }
    docks = {}
    add = viewer.window.add_dock_widget
    docks["data"] = add(w["data"], name="SPARKS data", area="right")
    docks["training"] = add(w["training"], name="SPARKS training", area="right", tabify=True)
    docks["export"] = add(w["export"], name="SPARKS export", area="right", tabify=True)
    docks["raster"] = add(w["raster"], name="Raster", area="bottom")
    docks["latents"] = add(w["latents"], name="Latents", area="bottom")
    docks["attention"] = add(w["attention"], name="Attention", area="bottom")
    docks["decoding"] = add(w["decoding"], name="Decoding", area="bottom")
    try:
        from qtpy.QtCore import Qt

        win = viewer.window._qt_window
        # bottom: [raster over decoding] | latents | attention
        win.splitDockWidget(docks["raster"], docks["latents"], Qt.Horizontal)
        win.splitDockWidget(docks["latents"], docks["attention"], Qt.Horizontal)
        win.splitDockWidget(docks["raster"], docks["decoding"], Qt.Vertical)
        win.resizeDocks([docks["raster"], docks["latents"], docks["attention"]], [760, 440, 400], Qt.Horizontal)
        win.resizeDocks([docks["raster"], docks["decoding"]], [270, 210], Qt.Vertical)
        win.resizeDocks([docks["latents"]], [480], Qt.Vertical)
        win.resizeDocks([docks["data"]], [400], Qt.Horizontal)
        docks["data"].raise_()
    except Exception:  # noqa: BLE001 - layout is cosmetic
        pass
    session.links = NapariLinks(viewer, session)
    session.widgets = w
    session.docks = docks
    return w


def make_viewer(file: str | None = None, sample: str | None = None, show: bool = True):
    """A napari viewer with the SPARKS docks and ``file`` (a recording) or the built-in ``sample`` opened."""
    import napari

    viewer = napari.Viewer(title="SPARKS", show=show)
    widgets = add_sparks_docks(viewer)
    if file is not None:
        from ..data.io import load_recording
        from .data_widget import add_recording_layers

        try:
            rec = load_recording(file)
        except SparksError as exc:
            from napari.utils.notifications import show_error

            show_error(str(exc))
        else:
            add_recording_layers(viewer, rec)
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
