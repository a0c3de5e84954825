"""Decoded vs true reference signal for held-out examples, with the shared time cursor."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from qtpy.QtWidgets import QSpinBox

from ._common import Throttle, ViewBase, combo

MAX_VARIABLES = 4


class DecodingView(ViewBase):
    title = "Decoding"

    def __init__(self, napari_viewer=None, session=None, parent=None):
        super().__init__(napari_viewer, session, parent)
        session = self.session
        self.example = QSpinBox()
        self.example.setPrefix("example ")
        self.example.setMinimumWidth(110)
        self.example.setToolTip("Which held-out example to show")
        self.example.setRange(0, 0)
        self.variable = combo(["all"], "Which predicted variable (for unsupervised targets: which neuron)")
        self.toolbar.addWidget(self.example)
        self.toolbar.addWidget(self.variable)
        self.finish_toolbar()
        self.widget = pg.GraphicsLayoutWidget()
        self._body.addWidget(self.widget)
        self.plots: list[pg.PlotItem] = []
        self.cursors: list[pg.InfiniteLine] = []
        self.snapshot = None
        self.t_offset = 0.0
        self._redraw = Throttle(self.redraw, parent=self)
        self.example.valueChanged.connect(lambda *_: self._redraw())
        self.variable.currentIndexChanged.connect(lambda *_: self._redraw())
        session.predictions_changed.connect(self.set_snapshot)
        session.time_changed.connect(self._on_time)
        session.neuron_selected.connect(self._on_neuron)

    def graphics(self):
        return self.widget

    def set_snapshot(self, snap) -> None:
        first = self.snapshot is None or self.snapshot.true.shape[-1] != snap.true.shape[-1]
        self.snapshot = snap
        self.example.setRange(0, max(len(snap.predicted) - 1, 0))
        if first:
            k = snap.true.shape[-1]
            self.variable.blockSignals(True)
            self.variable.clear()
            if k <= MAX_VARIABLES:
                self.variable.addItem("all")
            name = snap.target or "target"
            self.variable.addItems([f"neuron {j}" if name == "unsupervised" else f"{name}[{j}]" for j in range(k)])
            self.variable.blockSignals(False)
        self._redraw()

    def _variables(self) -> list[int]:
        k = self.snapshot.true.shape[-1]
        text = self.variable.currentText()
        if text == "all" or not text:
            return list(range(min(k, MAX_VARIABLES)))
        idx = self.variable.currentIndex() - (1 if self.variable.itemText(0) == "all" else 0)
        return [int(np.clip(idx, 0, k - 1))]

    def _time_axis(self, i: int, T: int) -> np.ndarray:
        tr = self.session.trainer
        if tr is None:
            return np.arange(T, dtype=float)
        d = tr.data
        start = d.starts[int(self.snapshot.example_idx[i])] * (d.dt / self.session.config.bin_factor)
        self.t_offset = float(start)
        return start + (np.arange(T) + d.target_offset) * d.dt

    def redraw(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        i = min(self.example.value(), len(snap.predicted) - 1)
        variables = self._variables()
        if not self.plots:
            p = self.widget.addPlot(row=0, col=0)
            p.showGrid(x=True, y=True, alpha=0.12)
            p.setLabel("bottom", "time", units="s")
            self.legend = p.addLegend(offset=(-5, 5), labelTextSize="8pt", colCount=2)
            cur = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#ff5050", width=1))
            p.addItem(cur, ignoreBounds=True)
            self.plots.append(p)
            self.cursors.append(cur)
        p = self.plots[0]
        off = self.session.trainer.data.target_offset if self.session.trainer is not None else 0
        T = snap.predicted.shape[1] - off
        t = self._time_axis(i, T)
        r2 = self._r2()
        key = (tuple(variables), None if r2 is None else tuple(np.round(r2, 2)))
        rebuild = key != getattr(self, "_legend_key", None)
        if rebuild:  # new curves only when the variables (or the R² in the legend) change
            for item in list(p.listDataItems()):
                p.removeItem(item)
            self.legend.clear()
            self._curves = []
            for n, j in enumerate(variables):
                colour = pg.intColor(n, max(len(variables), 3), sat=200) if len(variables) > 1 else pg.mkColor("#f0a030")
                name = self.variable.itemText(j + (1 if self.variable.itemText(0) == "all" else 0))
                c_true = p.plot(pen=pg.mkPen("#c8ccd2" if len(variables) == 1 else colour, width=1.5), name=f"{name} true")
                c_pred = p.plot(pen=pg.mkPen(colour, width=2, style=pg.QtCore.Qt.DashLine),
                                name="decoded" + (f" (R² {r2[j]:.2f})" if r2 is not None and j < len(r2) else ""))
                self._curves.append((c_true, c_pred))
            self._legend_key = key
        for (c_true, c_pred), j in zip(self._curves, variables):
            c_true.setData(t, snap.true[i, off:, j])
            c_pred.setData(t, snap.predicted[i, :T, j])
        p.enableAutoRange()
        self.info.setText(f"held-out example {i} (#{int(snap.example_idx[i])}) · epoch {snap.epoch + 1} · "
                          "solid: true, dashed: decoded")

    def _r2(self):
        from ...engine.trainer import r2_scores

        tr, snap = self.session.trainer, self.snapshot
        if tr is None or tr.data.loss != "mse":
            return None
        off = tr.data.target_offset
        T = snap.predicted.shape[1] - off
        k = snap.true.shape[-1]
        return r2_scores(snap.predicted[:, :T].reshape(-1, k), snap.true[:, off:].reshape(-1, k))

    def _on_time(self, seconds: float) -> None:
        for cur in self.cursors:
            cur.setValue(seconds)

    def _on_neuron(self, neuron: int) -> None:
        if self.snapshot is None or self.snapshot.target != "unsupervised" or neuron < 0:
            return
        self.variable.setCurrentText(f"neuron {neuron}")
