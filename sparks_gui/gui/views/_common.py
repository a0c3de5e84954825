"""Small pieces shared by the views: clocked redraws, colours, export, toolbars."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from qtpy.QtCore import QCoreApplication, QEvent, QPoint, QRect, QSize, Qt
from qtpy.QtGui import QImage, QPainter
from qtpy.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMenu,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

BACKGROUND = "#262930"  # napari dark theme canvas colour
FOREGROUND = "#d0d3d8"
LEGEND_BRUSH = (38, 41, 48, 150)  # translucent background: legends stay legible over the data

VIEW_OPTIONS = {"antialias": False, "background": BACKGROUND, "foreground": FOREGROUND}
"""pyqtgraph options of the SPARKS views (napari's dark theme).  pyqtgraph reads the foreground (axes,
labels) only from its global options; they are applied when the first SPARKS view is created
(:func:`use_view_options`), never on import.  Image items set their axis order themselves."""


def use_view_options() -> None:
    """Apply :data:`VIEW_OPTIONS` to pyqtgraph (once a SPARKS view is made; importing changes nothing)."""
    if any(pg.getConfigOption(k) != v for k, v in VIEW_OPTIONS.items()):
        pg.setConfigOptions(**VIEW_OPTIONS)


def colormap(name: str) -> pg.ColorMap:
    try:
        return pg.colormap.get(name)
    except Exception:  # noqa: BLE001
        return pg.colormap.get(name, source="matplotlib")


def colour_table(name: str, n: int) -> list:
    cmap = colormap(name)
    return [cmap.map(x, mode="qcolor") for x in (np.linspace(0, 1, n) if n > 1 else [0.5])]


def category_colours(n: int) -> list:
    """Distinct colours for ``n`` ordered categories (cyclic map, e.g. reach directions)."""
    cmap = colormap("CET-C6")
    return [cmap.map(i / max(n, 1), mode="qcolor") for i in range(n)]


COMBO_CHROME = 32  # px around a combo's text: padding and the drop-down arrow
MAX_COMBO_WIDTH = 240  # longer items (e.g. long condition names) are elided; the full text is in the list


class FitCombo(QComboBox):
    """A combo box at least as wide as its longest item (napari's style sheet pads combos, and Qt's own
    size hint, counted in characters, cut items such as "original" or "latent axes" short)."""

    def _content_width(self) -> int:
        fm = self.fontMetrics()
        texts = [self.itemText(i) for i in range(self.count())] or [""]
        return max(fm.horizontalAdvance(t) for t in texts)

    def _fit(self, base: QSize) -> QSize:
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        # the style (napari's style sheet: padding, drop-down arrow) sizes the box around the longest text
        w = (
            self.style()
            .sizeFromContents(QStyle.CT_ComboBox, opt, QSize(self._content_width(), base.height()), self)
            .width()
        )
        return QSize(min(max(w, self._content_width() + COMBO_CHROME), MAX_COMBO_WIDTH), base.height())

    def sizeHint(self) -> QSize:
        return self._fit(super().sizeHint())

    def minimumSizeHint(self) -> QSize:
        return self._fit(super().minimumSizeHint())

    def text_fits(self) -> bool:
        """Whether the longest item is shown whole at the current width (tests)."""
        return self.width() >= min(self._content_width() + COMBO_CHROME, MAX_COMBO_WIDTH)


def combo(items, tooltip: str = "", current: str | None = None) -> QComboBox:
    c = FitCombo()
    c.addItems(list(items))
    if current is not None:
        c.setCurrentText(current)
    c.setToolTip(tooltip)
    c.setSizeAdjustPolicy(QComboBox.AdjustToContents)
    c.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Fixed)
    return c


class FlowLayout(QLayout):
    """Lays widgets out left to right and wraps onto a new row when the width runs out (a view's toolbar in a
    narrow dock keeps every control whole instead of squeezing combos until their text is cut off).

    Widgets added with ``fill=True`` (the info text) take the rest of their row, and start a new row when
    less than their minimum width is left.
    """

    def __init__(self, parent=None, spacing: int = 6):
        super().__init__(parent)
        self._items: list = []
        self._fill: set = set()
        self._spacing = spacing

    def addWidget(self, widget, fill: bool = False) -> None:
        super().addWidget(widget)
        if fill:
            self._fill.add(id(self._items[-1]))

    def addItem(self, item) -> None:
        self._items.append(item)

    def addStretch(self, *_):
        return None

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, i):
        return self._items[i] if 0 <= i < len(self._items) else None

    def takeAt(self, i):
        if 0 <= i < len(self._items):
            item = self._items.pop(i)
            self._fill.discard(id(item))
            return item
        return None

    def expandingDirections(self):
        return Qt.Orientations(Qt.Horizontal)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._do_layout(QRect(0, 0, width, 0), apply=False)

    def setGeometry(self, rect) -> None:
        super().setGeometry(rect)
        self._do_layout(rect, apply=True)

    def sizeHint(self) -> QSize:
        m = self.contentsMargins()
        w = sum(it.sizeHint().width() for it in self._visible()) + self._spacing * max(len(self._visible()) - 1, 0)
        h = max((it.sizeHint().height() for it in self._visible()), default=0)
        return QSize(w + m.left() + m.right(), h + m.top() + m.bottom())

    def minimumSize(self) -> QSize:
        m = self.contentsMargins()
        w = max((self._min_width(it) for it in self._visible()), default=0)
        h = max((it.minimumSize().height() for it in self._visible()), default=0)
        return QSize(w + m.left() + m.right(), h + m.top() + m.bottom())

    def _visible(self) -> list:
        return [it for it in self._items if not (it.widget() is not None and it.widget().isHidden())]

    def _min_width(self, item) -> int:
        if id(item) in self._fill:
            w = item.widget()
            empty = w is not None and hasattr(w, "text") and not w.text()
            return 0 if empty else max(item.minimumSize().width(), 60)  # no row of its own for an empty text
        return item.sizeHint().width()

    def rows(self) -> int:
        """Number of rows at the current width (tests)."""
        return self._do_layout(self.geometry(), apply=False, count_rows=True)

    def _do_layout(self, rect, apply: bool, count_rows: bool = False) -> int:
        m = self.contentsMargins()
        r = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        rows, row = [], []
        x = 0
        for it in self._visible():
            w = self._min_width(it)
            if row and x + w > r.width():
                rows.append(row)
                row, x = [], 0
            row.append(it)
            x += w + self._spacing
        if row:
            rows.append(row)
        if count_rows:
            return len(rows)
        y = r.y()
        for row in rows:
            h = max(it.sizeHint().height() for it in row)
            x = r.x()
            for k, it in enumerate(row):
                w = it.sizeHint().width()
                if id(it) in self._fill:  # the rest of the row, less what the items after it need
                    rest = sum(self._min_width(o) + self._spacing for o in row[k + 1 :])
                    w = max(r.x() + r.width() - x - rest, self._min_width(it))
                if apply:
                    it.setGeometry(
                        QRect(QPoint(x, y + (h - it.sizeHint().height()) // 2), QSize(w, it.sizeHint().height()))
                    )
                x += w + self._spacing
            y += h + self._spacing
        return max(y - self._spacing - r.y(), 0) + m.top() + m.bottom()


class ElidedLabel(QLabel):
    """A one-line label that shortens its text with '…' when the toolbar is narrow (full text in the tooltip)."""

    def __init__(self, text: str = "", parent=None):
        super().__init__(parent)
        self._full = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt API
        self._full = str(text)
        self.setToolTip(self._full)
        self._elide()

    def text(self) -> str:
        return self._full

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.ElideRight, max(self.width() - 2, 0))
        QLabel.setText(self, shown)


def render_view_image(widget: QWidget, width: int, height: int, dpi: float = 96.0):
    """A ``QImage`` of ``width`` x ``height`` pixels of a pyqtgraph view, laid out for that size.

    The view's scene is laid out at ``size * 96 / dpi`` (what a screen of 96 DPI would show in the same
    inches) and painted scaled by ``dpi / 96``: axes, labels and legends are placed for the exported
    shape, not stretched from the on-screen one, and the picture is sharp at any DPI.  The view on
    screen is restored afterwards.  3-D (OpenGL) views are rendered from their framebuffer.
    """
    from qtpy.QtCore import QRectF
    from qtpy.QtGui import QImage, QPainter

    scale = max(float(dpi), 1.0) / 96.0
    lw, lh = max(width / scale, 16.0), max(height / scale, 16.0)
    item = getattr(widget, "centralWidget", None)
    if item is None or not hasattr(widget, "scene"):  # e.g. pyqtgraph.opengl.GLViewWidget
        grab = widget.grabFramebuffer() if hasattr(widget, "grabFramebuffer") else widget.grab().toImage()
        img = grab.scaled(width, height, Qt.IgnoreAspectRatio, Qt.SmoothTransformation)
    else:
        img = QImage(int(width), int(height), QImage.Format_ARGB32)
        img.fill(widget.backgroundBrush().color())
        with _laid_out_at(widget, lw, lh):
            painter = QPainter(img)
            painter.setRenderHint(QPainter.Antialiasing, True)
            painter.setRenderHint(QPainter.TextAntialiasing, True)
            widget.scene().render(painter, QRectF(0, 0, width, height), QRectF(0, 0, lw, lh))
            painter.end()
    dpm = int(round(float(dpi) / 0.0254))
    img.setDotsPerMeterX(dpm)
    img.setDotsPerMeterY(dpm)
    return img


class _laid_out_at:  # noqa: N801 - a context manager
    """Lay the central item of a pyqtgraph ``GraphicsView`` out at ``w`` x ``h`` scene units; restore after."""

    def __init__(self, widget, w: float, h: float):
        self.widget, self.w, self.h = widget, w, h

    def _relayout(self, rect) -> None:
        item = self.widget.centralWidget
        item.setGeometry(rect)
        layout = item.layout() if hasattr(item, "layout") and callable(item.layout) else None
        if layout is not None:
            layout.activate()

    def __enter__(self):
        from qtpy.QtCore import QRectF

        self.old = self.widget.centralWidget.geometry()
        self._relayout(QRectF(0, 0, self.w, self.h))
        return self

    def __exit__(self, *exc):
        self._relayout(self.old)
        return False


def export_widget_image(widget: QWidget, path: str | Path, scene_item=None, size=None) -> Path:
    """Write ``widget`` as PNG (what is on screen, or laid out and rendered at ``size``) or SVG (vector,
    via pyqtgraph) to ``path``.

    ``size``: a :class:`sparks_gui.figures.size.ImageSize` (width, height or 0 for the on-screen aspect,
    unit, DPI); None keeps the on-screen size.  The SVG is laid out at the same shape.
    """
    from ...data.atomic import atomic_save

    path = Path(path)
    suffix = path.suffix.lower()
    pixels = None
    if size is not None:
        pixels = size.pixels(widget.height() / max(widget.width(), 1))
    if suffix == ".svg":
        from pyqtgraph.exporters import SVGExporter

        item = scene_item if scene_item is not None else widget

        def write(tmp):
            central = getattr(widget, "centralWidget", None)
            if pixels is not None and central is not None:
                scale = size.dpi / 96.0
                # the whole scene exports the on-screen rectangle: export the (re-laid-out) central item
                target = central if item is widget or item is widget.scene() else item
                with _laid_out_at(widget, pixels[0] / scale, pixels[1] / scale):
                    SVGExporter(target).export(str(tmp))
            else:
                SVGExporter(item).export(str(tmp))

        return atomic_save(path, write)
    if suffix not in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
        raise ValueError(f"unsupported image type {suffix}")
    image = render_view_image(widget, pixels[0], pixels[1], size.dpi) if pixels is not None else widget.grab()

    def write_png(tmp):
        if not image.save(str(tmp), suffix.lstrip(".").upper().replace("JPG", "JPEG").replace("TIF", "TIFF")):
            raise OSError(f"could not write {path}")

    return atomic_save(path, write_png)


def fit_tick_spacing(axis, span: float, pixels: float, min_px: float = 34.0) -> None:
    """Label ``axis`` every 1, 2 or 5 x 10^k units, the smallest step whose labels lie ``min_px`` apart.

    pyqtgraph always labels its coarsest tick level, even when the axis is too short for it: in a
    narrow dock the 64-neuron attention matrix's '20' and '40' ran together as '2040'.
    """
    if span <= 0 or pixels <= 0:
        axis.setTickSpacing()  # back to pyqtgraph's own choice
        return
    step, growth = 1.0, itertools.cycle((2.0, 2.5, 2.0))  # 1 -> 2 -> 5 -> 10 -> 20 ...
    while span / step * min_px > pixels:
        step *= next(growth)
    axis.setTickSpacing(float(step), float(step))  # one level: no finer labels squeezed in between


class ViewBase(QWidget):
    """A view: a toolbar row of controls above a pyqtgraph area, with an export menu."""

    title = "view"

    def __init__(self, napari_viewer=None, session=None, parent=None):
        super().__init__(parent)
        use_view_options()
        if session is None:
            from .._session import session_for

            session = session_for(napari_viewer)
        self.session = session
        session.register_view(self.title, self)
        self.toolbar = FlowLayout(spacing=6)  # wraps in a narrow dock instead of cutting the combos' text
        self.toolbar.setContentsMargins(4, 2, 4, 2)
        self.info = ElidedLabel("")
        self.info.setStyleSheet("color: #9aa0a8;")
        self.info.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.info.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.setMinimumWidth(200)
        self._export_btn = QToolButton()
        self._export_btn.setText("⤓")
        self._export_btn.setToolTip("Export this view (PNG / SVG) or its data")
        self._export_btn.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(self._export_btn)
        menu.addAction("Save view as PNG…", lambda: self._export_dialog("png"))
        menu.addAction("Save view as SVG…", lambda: self._export_dialog("svg"))
        self._export_menu = menu
        self._export_btn.setMenu(menu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(self.toolbar)
        self._body = layout

    def finish_toolbar(self, info_below: bool = False) -> None:
        """Add the info text and the export button; ``info_below`` puts the text on a row of its own."""
        if info_below:
            self.toolbar.addWidget(self._export_btn)
            row = QHBoxLayout()
            row.setContentsMargins(6, 0, 4, 2)
            self.info.setAlignment(Qt.AlignLeft | Qt.AlignVCenter)
            row.addWidget(self.info, 1)
            self._body.addLayout(row)
            return
        self.toolbar.addWidget(self.info, fill=True)
        self.toolbar.addWidget(self._export_btn)

    def settle(self) -> None:
        """Finish, now, the layout and range work a repaint leaves for later (issue 12, event loop).

        pyqtgraph defers auto-ranging and the view transform to the next paint, an axis measures new
        tick labels (and asks for a new width) only when it paints them, and label or legend text
        changes post layout requests; each of those, done during or after the window's
        composite, dirties the plot again and costs a second and third composite in the same turn of
        the event loop (measured: 2-4 composites, 45-90 ms, per repaint).  Done here, right after the
        view's data changed, one composite follows the repaint.
        """
        views = [gv for gv in self.findChildren(pg.GraphicsView) if gv.isVisible()]
        scratch = QImage(1, 1, QImage.Format_ARGB32)
        for _ in range(3):  # new tick labels change an axis' width, which lays the plot out again
            QCoreApplication.sendPostedEvents(None, QEvent.LayoutRequest)
            measured = 0
            for gv in views:
                gv.scene().prepareForPaint()  # auto-range and view matrix now, not inside paintEvent
                for item in gv.scene().items():
                    # an axis measures its new tick labels (and asks for a new width) when it first
                    # paints them: let it do so now, onto a scratch image; the window's paint replays it
                    if isinstance(item, pg.AxisItem) and item.picture is None and item.isVisible():
                        painter = QPainter(scratch)
                        try:
                            item.paint(painter, None, None)
                        finally:
                            painter.end()
                        measured += 1
            if not measured:
                break

    def graphics(self) -> QWidget:
        """The pyqtgraph widget exported as PNG (views keep it in ``self.widget``)."""
        return self.widget

    def scene_item(self):
        """The pyqtgraph item exported as SVG (default: the whole scene)."""
        return self.graphics().scene()

    def export_image(self, path: str | Path, size=None) -> Path:
        """Save the view as PNG / SVG; ``size`` (an ``ImageSize``) renders it at that size and DPI."""
        return export_widget_image(self.graphics(), path, self.scene_item(), size=size)

    def _export_dialog(self, kind: str) -> None:
        name = self.title.lower().replace(" ", "_")
        path, _ = QFileDialog.getSaveFileName(
            self, f"Save {self.title} as {kind.upper()}", f"{name}.{kind}", f"{kind.upper()} (*.{kind})"
        )
        if path:
            from napari.utils.notifications import show_error, show_info

            try:
                show_info(f"Saved {self.export_image(path)}")
            except Exception as exc:  # noqa: BLE001 - shown to the user
                show_error(f"Could not save {path}: {exc}")


def placeholder_text(plot: pg.PlotItem, text: str) -> pg.TextItem:
    """Grey centred text in an otherwise empty plot (axes hidden); remove it with ``clear_placeholder``."""
    item = pg.TextItem(text, color="#9aa0a8", anchor=(0.5, 0.5))
    for side in ("left", "bottom"):
        plot.hideAxis(side)
    plot.getViewBox().setMouseEnabled(False, False)
    plot.addItem(item, ignoreBounds=True)
    item.setPos(0.5, 0.5)
    plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
    return item


def clear_placeholder(plot: pg.PlotItem, item: pg.TextItem | None) -> None:
    """Undo :func:`placeholder_text`: remove the text and show the axes again."""
    if item is not None and item.scene() is not None:
        plot.removeItem(item)
    for side in ("left", "bottom"):
        plot.showAxis(side)
    plot.getViewBox().setMouseEnabled(True, True)


def align_center(widget: QWidget) -> QWidget:
    widget.setAlignment(Qt.AlignCenter) if hasattr(widget, "setAlignment") else None
    return widget
