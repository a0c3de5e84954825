"""Training and test loss curves, updated live (x axis in epochs)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from qtpy.QtWidgets import QCheckBox

from .._clock import Redraw
from ._common import LEGEND_BRUSH, ViewBase

LOSS_REDRAW_HZ = 4.0  # the curve gains a point per batch; 4 repaints/s look live and cost little


class LossView(ViewBase):
    title = "Loss"

    def __init__(self, napari_viewer=None, session=None, parent=None):
        super().__init__(napari_viewer, session, parent)
        session = self.session
        self.log_y = QCheckBox("log y")
        self.log_y.setToolTip("Logarithmic loss axis")
        self.log_y.toggled.connect(lambda on: self.plot.setLogMode(y=on))
        self.toolbar.addWidget(self.log_y)
        self.finish_toolbar()
        self.widget = pg.PlotWidget()
        self.widget.setMinimumHeight(110)
        self.plot = self.widget.getPlotItem()
        self.plot.setLabel("bottom", "epoch")
        self.plot.setLabel("left", "loss")
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.legend = self.plot.addLegend(offset=(-10, 10), labelTextSize="8pt", brush=LEGEND_BRUSH)
        self.step_curve = self.plot.plot(pen=pg.mkPen((100, 150, 220, 110), width=1), name="train (batches)")
        self.train_curve = self.plot.plot(
            pen=pg.mkPen("#4c8be0", width=2),
            symbol="o",
            symbolSize=5,
            symbolBrush="#4c8be0",
            symbolPen=None,
            name="train (epoch)",
        )
        self.test_curve = self.plot.plot(
            pen=pg.mkPen("#f0a030", width=2),
            symbol="s",
            symbolSize=5,
            symbolBrush="#f0a030",
            symbolPen=None,
            name="test",
        )
        self._body.addWidget(self.widget)
        self._steps_per_epoch = 1
        self._steps = np.zeros((0, 2))  # step_losses converted so far (only new ones are converted per redraw)
        self._steps_of = None  # the list they came from
        self._redraw = Redraw(self.redraw, self, hz=LOSS_REDRAW_HZ)
        session.run_started.connect(self._on_started)
        session.progress.connect(lambda *_: self._redraw())
        session.epoch_end.connect(lambda *_: self._redraw())

    def scene_item(self):
        return self.plot

    def _on_started(self, ev) -> None:
        self._steps_per_epoch = max(ev.steps_per_epoch, 1)
        self.redraw()

    def _step_array(self, losses: list) -> np.ndarray:
        """``losses`` as an [n, 2] array; the list only grows during a run, so only its new tail is converted."""
        n = len(self._steps)
        if losses is not self._steps_of or n > len(losses) or (n and tuple(self._steps[-1]) != tuple(losses[n - 1])):
            self._steps, self._steps_of, n = np.zeros((0, 2)), losses, 0
        if len(losses) > n:
            self._steps = np.concatenate([self._steps, np.asarray(losses[n:], dtype=float).reshape(-1, 2)])
        return self._steps

    def redraw(self) -> None:
        r = self.session.results
        if r.step_losses:
            s = self._step_array(r.step_losses)
            ok = np.isfinite(s[:, 1])
            self.step_curve.setData(s[ok, 0] / self._steps_per_epoch, s[ok, 1])
        else:
            self.step_curve.setData([], [])
        h = r.history
        if h:
            ep = np.array([x["epoch"] for x in h], float)
            self.train_curve.setData(ep, np.array([x["train_loss"] for x in h], float))
            test = [(x["epoch"], x["test_loss"]) for x in h if x.get("test_loss") is not None]
            if test:
                t = np.asarray(test, float)
                self.test_curve.setData(t[:, 0], t[:, 1])
            last = h[-1]
            extra = "  ".join(
                f"{k} {v:.3f}"
                for k, v in last.items()
                if k
                in (
                    "r2",
                    "accuracy",
                    "bce_ratio",
                    "nll_ratio",
                    "cosmooth_bps",
                    "forward_bps",
                    "inter_region_bps",
                    "cosmooth_r2",
                )
                and v is not None
            )
            self.info.setText(
                f"train {last['train_loss']:.4f}"
                + (f"  test {last['test_loss']:.4f}" if last.get("test_loss") is not None else "")
                + (f"  {extra}" if extra else "")
            )
        else:
            self.train_curve.setData([], [])
            self.test_curve.setData([], [])
            self.info.setText("")
