"""Raster / heat map of the activity with sortable rows, a time cursor and neuron picking.

Large recordings are shown through a pyramid of time-binned copies (factor 4 per
level): only the visible window at the coarsest sufficient level is drawn, so a
1,000 x 100,000 raster pans and zooms at interactive rates.  Downsampling is for
display only; orderings and training use the full data.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from qtpy.QtCore import QRectF, Qt

from .._clock import Redraw
from .._ordering import menu, tooltip
from ._common import ViewBase, clear_placeholder, colormap, combo, placeholder_text

EMPTY = "Open a recording\n(Data dock: Open file…\nor Sample data)"

MAX_COLUMNS = 2500
PYRAMID_FACTOR = 4


def build_pyramid(act: np.ndarray, max_columns: int = MAX_COLUMNS) -> list[np.ndarray]:
    """``[act, act binned by 4, by 16, ...]`` until a level has at most ``max_columns`` columns."""
    levels = [np.ascontiguousarray(act, dtype=np.float32)]
    while levels[-1].shape[1] > max_columns:
        a = levels[-1]
        T = a.shape[1] // PYRAMID_FACTOR * PYRAMID_FACTOR
        if T == 0:
            break
        levels.append(a[:, :T].reshape(a.shape[0], T // PYRAMID_FACTOR, PYRAMID_FACTOR).mean(-1))
    return levels


def normalise_rows(act: np.ndarray, mode: str) -> np.ndarray:
    a = np.asarray(act, dtype=np.float32)
    if mode == "z-score":
        sd = a.std(1, keepdims=True)
        return (a - a.mean(1, keepdims=True)) / np.where(sd > 1e-12, sd, 1)
    if mode == "max":
        mx = np.abs(a).max(1, keepdims=True)
        return a / np.where(mx > 1e-12, mx, 1)
    return a


class RasterView(ViewBase):
    """Neurons x time, rows in the session's ordering."""

    title = "Raster"

    def __init__(self, napari_viewer=None, session=None, parent=None):
        super().__init__(napari_viewer, session, parent)
        session = self.session
        self.ordering = combo(menu(), tooltip(), session.ordering_name)
        self.norm = combo(["z-score", "max", "raw"], "Per-neuron normalisation for display")
        self.cmap = combo(["gray_r", "magma", "viridis", "inferno"], "Colour map")
        for w in (self.ordering, self.norm, self.cmap):
            self.toolbar.addWidget(w)
        self.finish_toolbar()
        self.widget = pg.GraphicsLayoutWidget()
        self.plot = self.widget.addPlot(row=0, col=0)
        self.plot.invertY(True)
        self.plot.setLabel("left", "neuron")
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.setMenuEnabled(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colourbar = pg.ColorBarItem(
            values=(0, 1), colorMap=colormap("gray_r" if False else "viridis"), interactive=False, width=10
        )
        self.colourbar.setImageItem(self.image)
        self.widget.addItem(self.colourbar, row=0, col=1)
        self.cursor = pg.InfiniteLine(
            angle=90, movable=True, pen=pg.mkPen("#ff5050", width=1.5), hoverPen=pg.mkPen("#ff9090", width=3)
        )
        self.cursor.setZValue(10)
        self.plot.addItem(self.cursor, ignoreBounds=True)
        self.row_marker = pg.LinearRegionItem(
            orientation="horizontal", movable=False, brush=pg.mkBrush(80, 200, 255, 50), pen=pg.mkPen(80, 200, 255, 200)
        )
        self.row_marker.setZValue(9)
        self.row_marker.setVisible(False)
        self.plot.addItem(self.row_marker, ignoreBounds=True)
        self.behaviour_plot = self.widget.addPlot(row=1, col=0)
        self.behaviour_plot.setXLink(self.plot)
        self.behaviour_plot.hideAxis("bottom")
        self.behaviour_plot.setMouseEnabled(x=True, y=False)
        self.behaviour_plot.getAxis("left").setStyle(tickLength=-4)
        self.behaviour_label = pg.TextItem("", color="#9aa0a8", anchor=(0, 0))  # variable name, top-left corner
        self.behaviour_label.setParentItem(self.behaviour_plot.getViewBox())
        self.behaviour_label.setPos(4, 0)
        self.behaviour_label.setZValue(20)
        self.behaviour_plot.getAxis("left").enableAutoSIPrefix(False)
        self.behaviour_cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#ff5050", width=1))
        self.behaviour_plot.addItem(self.behaviour_cursor, ignoreBounds=True)
        # the raster dominates: the behaviour strip gets a quarter of the height, both share a left-axis width
        lay = self.widget.ci.layout
        lay.setRowStretchFactor(0, 3)
        lay.setRowStretchFactor(1, 1)
        lay.setVerticalSpacing(2)
        self.plot.setMinimumHeight(100)  # rows stay distinguishable; the behaviour strip gives way first
        self.behaviour_plot.setMinimumHeight(28)
        for p in (self.plot, self.behaviour_plot):
            p.getAxis("left").setWidth(50)
        self.widget.ci.setContentsMargins(2, 2, 2, 2)
        self._body.addWidget(self.widget)

        self._placeholder = None
        self._show_empty()

        self.pyramid: list[np.ndarray] = []
        self.dt = 1.0
        self.t0 = 0.0
        self.order = np.arange(0)
        self.displayed_shape = (0, 0)
        self.displayed_level = 0
        self._update = Redraw(self.update_image, self)
        self.plot.sigXRangeChanged.connect(lambda *_: self._update())
        self.ordering.currentTextChanged.connect(self._on_ordering_choice)
        self.norm.currentTextChanged.connect(lambda *_: self.set_recording(session.training_recording()))
        self.cmap.currentTextChanged.connect(self._apply_cmap)
        self.cursor.sigPositionChanged.connect(lambda: session.set_time(self.cursor.value()))
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        session.selection_changed.connect(self.set_recording)
        session.ordering_changed.connect(self._on_ordering)
        session.neuron_selected.connect(self._on_neuron)
        session.time_changed.connect(self._on_time)
        if session.training_recording() is not None:
            self.set_recording(session.training_recording())

    # ---------------------------------------------------------------- data
    def set_recording(self, rec) -> None:
        if rec is None:
            self.pyramid = []
            self.image.clear()
            self._show_empty()
            return
        if self._placeholder is not None:
            clear_placeholder(self.plot, self._placeholder)
            self._placeholder = None
            self.colourbar.setVisible(True)
            self.cursor.setVisible(True)
        self.dt = rec.dt
        self.cmap.blockSignals(True)
        if rec.kind == "calcium" and self.cmap.currentText() == "gray_r":
            self.cmap.setCurrentText("magma")
        self.cmap.blockSignals(False)
        self.pyramid = build_pyramid(normalise_rows(rec.activity, self.norm.currentText()))
        self.order = np.asarray(
            self.session.order
            if self.session.order is not None and len(self.session.order) == rec.n_neurons
            else np.arange(rec.n_neurons)
        )
        lvl = self.pyramid[0]
        lo, hi = np.percentile(lvl[:, : min(lvl.shape[1], 200000)], [1, 99.5])
        if self.norm.currentText() == "raw" and rec.kind == "spikes":
            lo = 0.0
        self._levels = (float(lo), float(max(hi, lo + 1e-6)))
        self.colourbar.setLevels(self._levels)
        self._apply_cmap(self.cmap.currentText())
        self._draw_behaviour(rec)
        self.plot.setLimits(xMin=0, xMax=rec.n_time * rec.dt, yMin=0, yMax=rec.n_neurons)
        if rec.trials is not None and len(rec.trials) > 1:
            x1 = rec.trials[min(len(rec.trials), 8) - 1][1] * rec.dt  # first 8 trials
        else:
            x1 = min(rec.n_time * rec.dt, max(60.0, 600 * rec.dt))
        self.plot.setRange(xRange=(0, x1), yRange=(0, rec.n_neurons), padding=0)
        self.update_image()
        self.info.setText(f"{rec.n_neurons} neurons · {rec.n_time * rec.dt:.1f} s · {rec.kind}")

    def _show_empty(self) -> None:
        """Before a recording is open: a note instead of meaningless axes, colour bar and behaviour strip."""
        if self._placeholder is None:
            self._placeholder = placeholder_text(self.plot, EMPTY)
        self.colourbar.setVisible(False)
        self.cursor.setVisible(False)
        self.row_marker.setVisible(False)
        self.behaviour_plot.setVisible(False)
        self.widget.ci.layout.setRowStretchFactor(1, 0)
        self.behaviour_plot.setMinimumHeight(0)
        self.behaviour_plot.setMaximumHeight(0)
        self.info.setText("")

    @property
    def placeholder_visible(self) -> bool:
        return self._placeholder is not None and self._placeholder.isVisible()

    def _draw_behaviour(self, rec) -> None:
        self.behaviour_plot.clear()
        self.behaviour_plot.addItem(self.behaviour_cursor, ignoreBounds=True)
        # the time axis goes under the bottom-most plot (behaviour strip when there is one)
        self.plot.showAxis("bottom", not rec.behaviour)
        self.behaviour_plot.showAxis("bottom", bool(rec.behaviour))
        # a hidden item keeps its share of a QGraphicsGridLayout: collapse the strip instead
        self.widget.ci.layout.setRowStretchFactor(1, 1 if rec.behaviour else 0)
        self.behaviour_plot.setMinimumHeight(28 if rec.behaviour else 0)
        self.behaviour_plot.setMaximumHeight(16777215 if rec.behaviour else 0)
        if not rec.behaviour:
            self.behaviour_plot.setVisible(False)
            return
        self.behaviour_plot.setVisible(True)
        self.behaviour_plot.setLabel("bottom", "time", units="s")
        name, values = next(iter(rec.behaviour.items()))
        t = np.arange(rec.n_time) * rec.dt
        step = max(1, rec.n_time // 20000)
        for j in range(min(values.shape[1], 3)):
            self.behaviour_plot.plot(t[::step], values[::step, j], pen=pg.mkPen(pg.intColor(j, 6), width=1))
        self.behaviour_label.setText(name + (f" [{min(values.shape[1], 3)}]" if values.shape[1] > 1 else ""))

    def _apply_cmap(self, name: str) -> None:
        cmap = colormap(name)
        self.image.setColorMap(cmap)
        self.colourbar.setColorMap(cmap)

    def update_image(self) -> None:
        if not self.pyramid:
            return
        (x0, x1), _ = self.plot.viewRange()
        n_time = self.pyramid[0].shape[1]
        b0 = max(0, int(np.floor(x0 / self.dt)))
        b1 = min(n_time, int(np.ceil(x1 / self.dt)) + 1)
        if b1 <= b0:
            b0, b1 = 0, n_time
        level = 0
        while level + 1 < len(self.pyramid) and (b1 - b0) / (PYRAMID_FACTOR**level) > MAX_COLUMNS:
            level += 1
        f = PYRAMID_FACTOR**level
        a, b = b0 // f, min(self.pyramid[level].shape[1], -(-b1 // f))
        data = self.pyramid[level][self.order, a:b] if len(self.order) else self.pyramid[level][:, a:b]
        self.image.setImage(data, levels=self._levels, autoLevels=False)
        self.image.setRect(QRectF(a * f * self.dt, 0, (b - a) * f * self.dt, data.shape[0]))
        self.displayed_shape = data.shape
        self.displayed_level = level

    # ------------------------------------------------------------ ordering
    def _on_ordering_choice(self, name: str) -> None:
        if name != self.session.ordering_name:
            self.session.set_ordering(name)

    def _on_ordering(self, name: str, order) -> None:
        if self.ordering.currentText() != name:
            self.ordering.blockSignals(True)
            self.ordering.setCurrentText(name)
            self.ordering.blockSignals(False)
        if self.pyramid and len(order) == self.pyramid[0].shape[0]:
            self.order = np.asarray(order)
            self.update_image()
            self._on_neuron(self.session.selected_neuron if self.session.selected_neuron is not None else -1)

    # ---------------------------------------------------- selection / time
    def row_of_neuron(self, neuron: int) -> int:
        return int(np.flatnonzero(self.order == neuron)[0])

    def _on_click(self, event) -> None:
        if event.button() != Qt.LeftButton or not self.pyramid:
            return
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        row = int(np.floor(p.y()))
        if 0 <= row < len(self.order):
            self.session.select_neuron(int(self.order[row]))

    def _on_neuron(self, neuron: int) -> None:
        if neuron is None or neuron < 0 or not len(self.order) or neuron >= len(self.order):
            self.row_marker.setVisible(False)
            return
        row = self.row_of_neuron(neuron)
        self.row_marker.setRegion((row, row + 1))
        self.row_marker.setVisible(True)
        rec = self.session.training_recording()
        nid = rec.neuron_ids[neuron] if rec is not None else neuron
        self.info.setText(f"neuron {neuron} (id {nid}) · row {row} in '{self.session.ordering_name}' order")

    def _on_time(self, seconds: float) -> None:
        if abs(self.cursor.value() - seconds) > 1e-9:
            self.cursor.blockSignals(True)
            self.cursor.setValue(seconds)
            self.cursor.blockSignals(False)
        self.behaviour_cursor.setValue(seconds)
