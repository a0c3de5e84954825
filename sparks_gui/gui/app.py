"""Start napari with the SPARKS docks arranged (``sparks-gui``), or add them to a viewer."""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, field
from typing import Any

from ..errors import SparksError

DOCKS = ("data", "training", "export", "raster", "latents", "attention", "decoding", "masked")


@dataclass
class SparksDocks:
    """The SPARKS part of one napari window: its widgets and dock widgets by name (``DOCKS``), and the
    links between the session and napari's layers and dims.  The window owns it; the session (the
    model) knows nothing of docks."""

    widgets: dict[str, Any] = field(default_factory=dict)
    docks: dict[str, Any] = field(default_factory=dict)
    links: Any = None


_WINDOWS: weakref.WeakKeyDictionary[Any, SparksDocks] = weakref.WeakKeyDictionary()


def docks_for(viewer) -> SparksDocks | None:
    """The SPARKS docks of ``viewer`` (None until :func:`add_sparks_docks` has added them)."""
    return _WINDOWS.get(viewer)


def _check_display() -> None:
    if (
        os.name == "posix"
        and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
        and os.environ.get("QT_QPA_PLATFORM") not in ("offscreen", "minimal", "cocoa")
    ):
        import sys

        if sys.platform.startswith("linux"):
            raise SparksError(
                "No display found (DISPLAY is not set), so the napari window cannot open.",
                "Run on a desktop, under 'xvfb-run sparks-gui', or train headless with 'sparks-gui demo --headless'.",
            )


def quiet_qt_warnings() -> None:
    """Hide napari's start-up notices about the Qt binding (PyQt5 deprecation, Qt6-only theme
    detection): they are about napari's packaging, not about the user's data."""
    import warnings

    warnings.filterwarnings("ignore", message=r".*PyQt5 backend is deprecated.*")
    warnings.filterwarnings("ignore", message=r".*System theme detection requires a Qt6 backend.*")
    try:  # napari shows the PyQt5 notice as a toast (not a Python warning) from its main window
        import napari._qt.qt_main_window as qt_main_window

        qt_main_window.SHOW_QT_WARNING = False
    except Exception:  # noqa: BLE001 - private napari detail; a visible notice is harmless
        pass


def dismiss_notifications(viewer) -> None:
    """Close the notification toasts currently shown in ``viewer``'s window."""
    try:
        from napari._qt.dialogs.qt_notification import NapariQtNotification

        for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
            toast.close()
    except Exception:  # noqa: BLE001 - cosmetic
        pass


def add_sparks_docks(viewer) -> dict:
    """Add every SPARKS dock to ``viewer`` in the standard arrangement; returns the widgets by name.

    Right, full height: Data, Training and Export (tabbed; the training form and loss curve need the
    column's height).  Bottom: the raster above the decoding traces (masked neurons as a tab), then
    the latents with the attention matrix as a tab.  napari's own layer list and controls stay on the
    left, full height.  (With the attention matrix under the right column, at 1472x920 and below it got
    ~120-250 px of height next to the training form.)
    """
    from ._links import NapariLinks
    from ._session import session_for
    from .data_widget import DataWidget
    from .export_widget import ExportWidget
    from .training_widget import TrainingWidget
    from .views import AttentionView, DecodingView, LatentView, MaskedNeuronsView, RasterView

    session = session_for(viewer)
    data = DataWidget(viewer, session)
    w = {
        "data": data,
        "training": TrainingWidget(viewer, session, choose_target=data.choose_target),
        "export": ExportWidget(viewer, session),
        "raster": RasterView(viewer, session),
        "latents": LatentView(viewer, session),
        "attention": AttentionView(viewer, session),
        "decoding": DecodingView(viewer, session),
        "masked": MaskedNeuronsView(viewer, session),
    }
    docks = {}
    add = viewer.window.add_dock_widget
    # the tall data dock scrolls instead of imposing their full height on the window
    # (which would leave too little height for the views at the bottom)
    docks["data"] = add(_scrolling(w["data"]), name="SPARKS data", area="right")
    docks["training"] = add(w["training"], name="SPARKS training", area="right", tabify=True)
    docks["export"] = add(w["export"], name="SPARKS export", area="right", tabify=True)
    docks["raster"] = add(w["raster"], name="Raster", area="bottom")
    docks["latents"] = add(w["latents"], name="Latents", area="bottom")
    docks["attention"] = add(w["attention"], name="Attention", area="bottom")
    docks["decoding"] = add(w["decoding"], name="Decoding", area="bottom")
    docks["masked"] = add(w["masked"], name="Masked neurons", area="bottom")
    try:
        from qtpy.QtCore import Qt

        win = viewer.window._qt_window
        # napari's layer controls + layer list take the full height on the left, so that their
        # minimum heights do not squeeze the SPARKS views at the bottom
        win.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        # the right column too: the training form and loss curve get the window's height
        win.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        # right: [data | training | export]; bottom: [raster over decoding] | [latents | attention]
        win.splitDockWidget(docks["raster"], docks["latents"], Qt.Horizontal)
        win.splitDockWidget(docks["raster"], docks["decoding"], Qt.Vertical)
        win.tabifyDockWidget(docks["latents"], docks["attention"])
        # masked neurons (MtM) shares the decoding slot as a tab; an MtM run brings it to the front
        win.tabifyDockWidget(docks["decoding"], docks["masked"])
        docks["decoding"].raise_()
        docks["latents"].raise_()
    except Exception:  # noqa: BLE001 - layout is cosmetic
        pass
    window = _WINDOWS[viewer] = SparksDocks(widgets=w, docks=docks)
    arrange_docks(viewer)
    window.links = NapariLinks(viewer, session)
    ref = weakref.ref(viewer)
    session.run_started.connect(lambda _ev: _front_for_objective(session, ref()))
    return w


def _front_for_objective(session, viewer) -> None:
    """Bring the view that shows the run's main result to the front of the decoding slot: the masked
    neurons for an MtM run, the decoding for a PCC run."""
    cfg = session.results.config or session.config
    window = docks_for(viewer) if viewer is not None else None
    docks = window.docks if window is not None else {}
    mtm = getattr(cfg, "objective", "pcc") == "mtm"
    dock = docks.get("masked" if mtm else "decoding")
    try:
        if dock is None:
            return
        dock.raise_()
        win = session.viewer.window._qt_window
        H = win.height()
        if mtm and dock.height() < int(H * 0.25):  # room for a rate trace (the decoding slot is short)
            from qtpy.QtCore import Qt

            win.resizeDocks([docks["raster"], dock], [int(H * 0.24), int(H * 0.27)], Qt.Vertical)
    except (RuntimeError, AttributeError, KeyError):  # the window is closing / headless: layout is cosmetic
        pass


def _scrolling(widget):
    """``widget`` inside a frameless vertical scroll area (for docks taller than the window allows)."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QFrame, QScrollArea

    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    area.setWidget(widget)
    area.setMinimumWidth(widget.minimumSizeHint().width() + 16)
    return area


def arrange_docks(viewer) -> None:
    """Size the SPARKS docks for the current window size (call again after resizing the window)."""
    from qtpy.QtCore import Qt

    window = docks_for(viewer)
    if window is None:
        return
    docks = window.docks
    try:
        win = viewer.window._qt_window
        W, H = max(win.width(), 1200), max(win.height(), 800)
        left = 0  # width of the left dock column, when it spans the full height (see add_sparks_docks)
        if win.corner(Qt.BottomLeftCorner) == Qt.LeftDockWidgetArea:
            left = max(
                (
                    d.width()
                    for d in win.findChildren(type(docks["raster"]))
                    if d.isVisible() and not d.isFloating() and win.dockWidgetArea(d) == Qt.LeftDockWidgetArea
                ),
                default=0,
            )
        right = max(380, int(W * 0.25))
        bottom = W - 40 - left - right
        # the views get 58% of the height (62% below 900 px, 70% below 850 px: a laptop; the canvas above them shows the
        # same activity as the raster, or the movie); in it the raster 58%, the decoding traces 42% (46% below 900 px)
        views = int(H * (0.58 if H >= 900 else 0.62 if H >= 850 else 0.70))
        win.resizeDocks([docks["data"]], [right], Qt.Horizontal)
        win.resizeDocks([docks["raster"], docks["latents"]], [int(bottom * 0.55), int(bottom * 0.45)], Qt.Horizontal)
        share = 0.42 if H >= 900 else 0.46  # a short window: the decoding plot keeps >= ~70 px of traces
        win.resizeDocks(
            [docks["raster"], docks["decoding"]], [int(views * (1 - share)), int(views * share)], Qt.Vertical
        )
        win.resizeDocks([docks["latents"]], [views], Qt.Vertical)
        docks["data"].raise_()  # a new window opens on the Data tab (the last tab added would be showing)
    except Exception:  # noqa: BLE001 - layout is cosmetic
        pass


def _fit_to_screen(viewer, fraction: float = 0.92) -> None:
    """Give the window most of the screen (napari's default size leaves the SPARKS views cramped)."""
    try:
        win = viewer.window._qt_window
        screen = win.screen() if hasattr(win, "screen") else None
        if screen is None:
            return
        avail = screen.availableGeometry()
        w, h = int(avail.width() * fraction), int(avail.height() * fraction)
        if w > win.width() or h > win.height():
            win.resize(max(w, win.width()), max(h, win.height()))
            win.move(avail.x() + (avail.width() - win.width()) // 2, avail.y() + (avail.height() - win.height()) // 2)
        arrange_docks(viewer)
    except Exception:  # noqa: BLE001 - layout is cosmetic
        pass


def make_viewer(file: str | None = None, sample: str | None = None, show: bool = True):
    """A napari viewer with the SPARKS docks and ``file`` (a recording) or the built-in ``sample`` opened."""
    quiet_qt_warnings()
    import napari

    viewer = napari.Viewer(title="SPARKS", show=show)
    add_sparks_docks(viewer)
    if show:
        _fit_to_screen(viewer)
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
    if show:
        viewer.reset_view()
    return viewer


def launch(file: str | None = None, sample: str | None = None) -> int:
    """Open napari (blocking until the window closes); returns an exit status."""
    _check_display()
    import napari

    make_viewer(file, sample)
    napari.run()
    return 0
