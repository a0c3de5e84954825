"""Hebbian attention matrices (query neuron x key neuron) in the chosen neuron order."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from qtpy.QtCore import QRectF, Qt

from ._common import Throttle, ViewBase, colormap, combo


class AttentionView(ViewBase):
    title = "Attention"

    def __init__(self, napari_viewer=None, session=None, parent=None):
        super().__init__(napari_viewer, session, parent)
        session = self.session
        self.head = combo(["mean of heads"], "Attention head")
        self.mode = combo(["time-averaged", "last step"], "Average over the example, or the matrix at its last time step")
        self.toolbar.addWidget(self.head)
        self.toolbar.addWidget(self.mode)
        self.finish_toolbar()
        self.widget = pg.GraphicsLayoutWidget()
        self.plot = self.widget.addPlot(row=0, col=0)
        self.plot.invertY(True)
        self.plot.setLabel("left", "query (sorted)")
        self.plot.setLabel("bottom", "key neuron (sorted)")
        self.plot.getAxis("left").setWidth(42)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colourbar = pg.ColorBarItem(values=(0, 1), colorMap=colormap("inferno"), interactive=True, width=12,
                                         label="attention")
        self.colourbar.setImageItem(self.image)
        self.widget.addItem(self.colourbar, row=0, col=1)
        pen = pg.mkPen(80, 200, 255, 200, width=1)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        for line in (self.hline, self.vline):
            line.setVisible(False)
            self.plot.addItem(line, ignoreBounds=True)
        self._body.addWidget(self.widget)
        self.snapshot = None
        self.matrix = None  # displayed (sorted) matrix
        self.order = None
        self.picked: tuple[int, int, float] | None = None
        self._shown_n = -1
        self._redraw = Throttle(self.redraw, parent=self)
        self.head.currentIndexChanged.connect(lambda *_: self._redraw())
        self.mode.currentIndexChanged.connect(lambda *_: self._redraw())
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        session.attention_changed.connect(self.set_snapshot)
        session.ordering_changed.connect(lambda *_: self._redraw())
        session.neuron_selected.connect(self._on_neuron)

    def graphics(self):
        return self.widget

    def set_snapshot(self, snap) -> None:
        H = snap.mean.shape[0]
        if self.head.count() != H + (1 if H > 1 else 0):
            self.head.blockSignals(True)
            self.head.clear()
            self.head.addItems((["mean of heads"] if H > 1 else []) + [f"head {h + 1}" for h in range(H)])
            self.head.blockSignals(False)
        self.snapshot = snap
        self._redraw()

    def current_matrix(self) -> np.ndarray | None:
        """The unsorted [N, N] matrix for the chosen head and mode."""
        if self.snapshot is None:
            return None
        A = self.snapshot.mean if self.mode.currentText() == "time-averaged" else self.snapshot.last
        H = A.shape[0]
        text = self.head.currentText()
        return A.mean(0) if text.startswith("mean") or H == 1 and not text else A[int(text.split()[-1]) - 1]

    def redraw(self) -> None:
        A = self.current_matrix()
        if A is None:
            return
        N = A.shape[0]
        order = self.session.order
        self.order = np.asarray(order) if order is not None and len(order) == N else np.arange(N)
        self.matrix = A[np.ix_(self.order, self.order)]
        lo, hi = float(np.min(self.matrix)), float(np.max(self.matrix))
        self.image.setImage(self.matrix, autoLevels=False)
        self.colourbar.setLevels((lo, hi if hi > lo else lo + 1e-9))
        self.image.setRect(QRectF(0, 0, N, N))
        if self._shown_n != N:
            self.plot.setLimits(xMin=0, xMax=N, yMin=0, yMax=N)
            self.plot.setRange(xRange=(0, N), yRange=(0, N), padding=0)
            self._shown_n = N
        self.info.setText(f"{N}×{N} · epoch {self.snapshot.epoch + 1} · example {self.snapshot.example} · "
                          f"{self.session.ordering_name} order")
        if self.session.selected_neuron is not None:
            self._on_neuron(self.session.selected_neuron)

    def _on_click(self, event) -> None:
        if event.button() != Qt.LeftButton or self.matrix is None:
            return
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        r, c = int(np.floor(p.y())), int(np.floor(p.x()))
        N = self.matrix.shape[0]
        if 0 <= r < N and 0 <= c < N:
            self.pick(int(self.order[r]), int(self.order[c]))

    def pick(self, query: int, key: int) -> None:
        """Select the neuron pair (query, key) (unsorted indices) and report its attention."""
        A = self.current_matrix()
        value = float(A[query, key])
        self.picked = (query, key, value)
        self.session.select_neuron(query)
        self.info.setText(f"neuron {query} ← neuron {key}: attention {value:.4g}")

    def _on_neuron(self, neuron: int) -> None:
        if self.matrix is None or neuron is None or neuron < 0 or neuron >= len(self.order):
            self.hline.setVisible(False)
            self.vline.setVisible(False)
            return
        pos = int(np.flatnonzero(self.order == neuron)[0]) + 0.5
        self.hline.setValue(pos)
        self.vline.setValue(pos)
        self.hline.setVisible(True)
        self.vline.setVisible(True)
