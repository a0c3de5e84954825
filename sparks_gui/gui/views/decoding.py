"""Decoded vs true reference signal for held-out examples, with the shared time cursor."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from qtpy.QtWidgets import QSpinBox

from .._clock import Redraw
from ._common import ViewBase, clear_placeholder, combo, placeholder_text

WAITING = "Decoded vs true behaviour\nof held-out examples appears\nafter the first epoch"
LEGEND_ENTRY_PX = 165  # width of a legend entry ("hand_pos[0] (R² 0.87)")
MIN_PLOT_HEIGHT = 105  # px (axis included): below this the traces are unreadable; arrange_docks gives the dock more

MAX_VARIABLES = 4


def predicted_3d(snap) -> np.ndarray:
    """``snap.predicted`` as [n, T, k] (class-id predictions come as [n, T])."""
    p = np.asarray(snap.predicted)
    return p[..., None] if p.ndim == 2 else p


class DecodingView(ViewBase):
    title = "Decoding"

    def __init__(self, napari_viewer=None, session=None, parent=None):
        super().__init__(napari_viewer, session, parent)
        session = self.session
        self.example = QSpinBox()
        self.example.setPrefix("ex. ")
        self.example.setMinimumWidth(90)
        self.example.setToolTip("Which held-out example to show")
        self.example.setRange(0, 0)
        self.variable = combo(["all"], "Which predicted variable (for unsupervised targets: which neuron)")
        self.toolbar.addWidget(self.example)
        self.toolbar.addWidget(self.variable)
        self.finish_toolbar()
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setMinimumHeight(MIN_PLOT_HEIGHT + 24)  # the plot + one legend row
        self._body.addWidget(self.widget)
        # the legend gets a row of its own above the plot: inside, it covered the traces of the short dock
        self.legend = pg.LegendItem(colCount=2, labelTextSize="8pt", horSpacing=8, verSpacing=-4)
        self.widget.addItem(self.legend, row=0, col=0)
        p = self.widget.addPlot(row=1, col=0)
        p.setMinimumHeight(MIN_PLOT_HEIGHT)
        self.widget.ci.layout.setRowStretchFactor(1, 10)  # spare height goes to the plot, not the legend row
        self.widget.ci.layout.setSpacing(0)
        p.showGrid(x=True, y=True, alpha=0.12)
        p.setLabel("bottom", "time", units="s")
        cur = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#ff5050", width=1))
        p.addItem(cur, ignoreBounds=True)
        self.plots: list[pg.PlotItem] = [p]
        self.cursors: list[pg.InfiniteLine] = [cur]
        self._placeholder = placeholder_text(p, WAITING)
        cur.setVisible(False)
        self.snapshot = None
        self.t_offset = 0.0
        self._redraw = Redraw(self.redraw, self)
        self.example.valueChanged.connect(lambda *_: self._redraw())
        self.variable.currentIndexChanged.connect(lambda *_: self._redraw())
        session.predictions_changed.connect(self.set_snapshot)
        session.time_changed.connect(self._on_time)
        session.neuron_selected.connect(self._on_neuron)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # legend entries side by side as far as the width allows (a fixed count was cut off in a narrow dock)
        cols = max(1, min(4, (self.width() - 20) // LEGEND_ENTRY_PX))
        if cols != self.legend.columnCount:
            self.legend.setColumnCount(cols)

    def set_snapshot(self, snap) -> None:
        names = self._variable_names(snap)
        if [self.variable.itemText(i) for i in range(self.variable.count())] != names:
            self.variable.blockSignals(True)
            self.variable.clear()
            self.variable.addItems(names)
            self.variable.blockSignals(False)
        self.snapshot = snap
        self.example.setRange(0, max(len(snap.predicted) - 1, 0))
        self._redraw()

    @staticmethod
    def _variable_names(snap) -> list[str]:
        k = snap.true.shape[-1]
        name = snap.target or "target"
        if name == "frame_id":
            return ["frame id"]
        if name == "frames":
            return ["frame correlation"] + [f"pixel {j}" for j in range(k)]
        items = ["all"] if k <= MAX_VARIABLES else []
        return items + [f"neuron {j}" if name == "unsupervised" else f"{name}[{j}]" for j in range(k)]

    # ------------------------------------------------------------ timing
    def timing(self) -> tuple[np.ndarray, float, int, int]:
        """(start bin of each example in the training recording, recording dt, bin factor, target offset)."""
        snap = self.snapshot
        rec = self.session.training_recording()
        rec_dt = float(rec.dt) if rec is not None else float(snap.dt or 1.0)
        dt = float(snap.dt or rec_dt)
        f = max(int(round(dt / rec_dt)), 1)
        starts = snap.starts if snap.starts is not None else np.zeros(len(snap.predicted), int)
        off = snap.offset
        return np.asarray(starts, dtype=np.int64), rec_dt, f, int(off)

    def _time_axis(self, i: int, T: int) -> np.ndarray:
        starts, rec_dt, f, off = self.timing()
        self.t_offset = float(starts[i] * rec_dt)
        return self.t_offset + (np.arange(T) + off) * f * rec_dt

    def series(self, i: int) -> list[tuple[str, np.ndarray, np.ndarray, str]]:
        """Curves for example ``i``: (name, true [T'], decoded [T'], kind) with the target offset applied."""
        snap = self.snapshot
        off = self.timing()[3]
        T = snap.predicted.shape[1] - off
        true, pred = snap.true[i, off : off + T], predicted_3d(snap)[i, :T]
        text = self.variable.currentText()
        if snap.target == "frame_id":
            return [("frame id", true[:, 0], pred[:, 0], "step")]
        if snap.target == "frames" and text in ("frame correlation", ""):
            corr = getattr(snap, "frame_correlation", None)  # computed by the engine
            r = np.asarray(corr[i], dtype=float) if corr is not None else np.full(len(true), np.nan)
            return [("r(decoded, true frame)", np.ones_like(r), r, "corr")]
        k = true.shape[-1]
        if text == "all" or not text:
            js = list(range(min(k, MAX_VARIABLES)))
        else:
            js = [
                int(
                    np.clip(
                        self.variable.currentIndex()
                        - (1 if self.variable.itemText(0) in ("all", "frame correlation") else 0),
                        0,
                        k - 1,
                    )
                )
            ]
        return [
            (
                self.variable.itemText(j + (1 if self.variable.itemText(0) == "all" else 0)) if text == "all" else text,
                true[:, j],
                pred[:, j],
                "line",
            )
            for j in js
        ]

    def redraw(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        i = min(self.example.value(), len(snap.predicted) - 1)
        series = self.series(i)
        p = self.plots[0]
        if self._placeholder is not None:
            clear_placeholder(p, self._placeholder)
            self._placeholder = None
            self.cursors[0].setVisible(True)
        t = self._time_axis(i, len(series[0][1]))
        score = self._score()
        key = tuple((name, kind) for name, _, _, kind in series)
        if key != getattr(self, "_legend_key", None):  # new curves only when the variables change
            for item in list(p.listDataItems()):
                p.removeItem(item)
            self.legend.clear()
            self._curves = []
            n = len(series)
            for m, (name, _, _, kind) in enumerate(series):
                colour = pg.intColor(m, max(n, 3), sat=200) if n > 1 else pg.mkColor("#f0a030")
                step = kind == "step"
                c_true = None
                if kind != "corr":
                    c_true = p.plot(
                        pen=pg.mkPen("#c8ccd2" if n == 1 else colour, width=1.5),
                        name=f"{name} true",
                        stepMode="left" if step else None,
                    )
                c_pred = p.plot(
                    pen=pg.mkPen(
                        colour, width=2, style=pg.QtCore.Qt.DashLine if kind == "line" else pg.QtCore.Qt.SolidLine
                    ),
                    name="decoded",
                    stepMode="left" if step else None,
                )
                self._curves.append((c_true, c_pred))
                # several variables: one entry each (colour = variable; solid true, dashed decoded, see the info)
                if c_true is not None and n == 1:
                    self.legend.addItem(c_true, f"{name} true")
                self.legend.addItem(c_pred, "decoded" if n == 1 else name)
            self._legend_key = key
            p.setLabel("left", {"step": "frame id", "corr": "correlation"}.get(series[0][3], ""))
        for m, ((c_true, c_pred), (name, true, pred, _kind)) in enumerate(zip(self._curves, series, strict=False)):
            if c_true is not None:
                c_true.setData(t, true)
            c_pred.setData(t, pred)
            label = ("decoded" if len(series) == 1 else name) + (
                f" ({score[1]} {score[0][m]:.2f})" if score is not None and m < len(score[0]) else ""
            )
            self._set_legend_text(c_pred, label)
        p.enableAutoRange()
        self.info.setText(
            f"held-out example {i} (#{int(snap.example_idx[i])}) · epoch {snap.epoch + 1} · "
            + (
                "solid: true, dashed: decoded"
                if series[0][3] == "line"
                else "true vs decoded class"
                if series[0][3] == "step"
                else "per-bin correlation of decoded and true frame"
            )
        )

    def _set_legend_text(self, curve, text: str) -> None:
        for sample, label in getattr(self.legend, "items", []):
            if getattr(sample, "item", None) is curve and label.text != text:
                label.setText(text)

    def _score(self):
        """(per-series scores, name): R² per shown variable, accuracy for frame ids, mean r for frames —
        as the engine computed them for the snapshot (:class:`~sparks_gui.engine.events.Predictions`)."""
        snap = self.snapshot
        if getattr(snap, "accuracy", None) is not None:
            return [float(snap.accuracy)], "accuracy"
        corr = getattr(snap, "frame_correlation", None)
        if corr is not None and self.variable.currentText() in ("frame correlation", ""):
            finite = np.isfinite(corr)
            return [float(np.mean(corr[finite])) if finite.any() else float("nan")], "mean r"
        r2 = getattr(snap, "r2_per_variable", None)
        if r2 is None:
            return None
        names = [name for name, *_ in self.series(min(self.example.value(), len(snap.predicted) - 1))]
        idx = [
            self.variable.findText(n) - (1 if self.variable.itemText(0) in ("all", "frame correlation") else 0)
            for n in names
        ]
        return [float(r2[j]) if 0 <= j < len(r2) else float("nan") for j in idx], "R²"

    def _on_time(self, seconds: float) -> None:
        for cur in self.cursors:
            cur.setValue(seconds)

    def _on_neuron(self, neuron: int) -> None:
        if self.snapshot is None or self.snapshot.target != "unsupervised" or neuron < 0:
            return
        self.variable.setCurrentText(f"neuron {neuron}")
