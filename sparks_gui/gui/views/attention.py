"""Hebbian attention matrices (query neuron x key neuron) in the chosen neuron order."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from qtpy.QtCore import QRectF, Qt

from .._clock import Redraw
from ._common import ViewBase, clear_placeholder, colormap, combo, fit_tick_spacing, placeholder_text


class AttentionView(ViewBase):
    title = "Attention"

    def __init__(self, napari_viewer=None, session=None, parent=None):
        super().__init__(napari_viewer, session, parent)
        session = self.session
        self.head = combo(["mean of heads"], "Attention head")
        self.mode = combo(
            ["time-averaged", "at cursor time", "last step"],
            "Average over the example, the matrix at the time cursor (raster / napari time slider), "
            "or the matrix at the example's last step",
        )
        self.toolbar.addWidget(self.head)
        self.toolbar.addWidget(self.mode)
        for box in (self.head, self.mode):
            box.setSizeAdjustPolicy(box.AdjustToContents)
        self.finish_toolbar(info_below=True)
        self.widget = pg.GraphicsLayoutWidget()
        self.plot = self.widget.addPlot(row=0, col=0)
        self.plot.invertY(True)
        self.plot.setLabel("left", "query (sorted)")
        self.plot.setLabel("bottom", "key neuron (sorted)")
        self.plot.getAxis("left").setWidth(42)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colourbar = pg.ColorBarItem(
            values=(0, 1), colorMap=colormap("inferno"), interactive=True, width=12, label="attention"
        )
        self.colourbar.setImageItem(self.image)
        self.widget.addItem(self.colourbar, row=0, col=1)
        pen = pg.mkPen(80, 200, 255, 200, width=1)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        for line in (self.hline, self.vline):
            line.setVisible(False)
            self.plot.addItem(line, ignoreBounds=True)
        self._body.addWidget(self.widget)
        self.plot.getViewBox().sigResized.connect(lambda *_: self._fit_ticks())
        self.plot.getViewBox().sigRangeChanged.connect(lambda *_: self._fit_ticks())  # zoomed in: finer labels
        self.colourbar.setVisible(False)
        self._placeholder = placeholder_text(
            self.plot,
            "Hebbian attention (query × key neuron)\nappears here after the first\nevaluation of a training run",
        )
        self.snapshot = None
        self.matrix = None  # displayed (sorted) matrix
        self.order = None
        self.picked: tuple[int, int, float] | None = None
        self.sequence: tuple[int, np.ndarray, int] | None = None  # (example, [T', H, N, N], every)
        self.cursor_step: int | None = None
        self.cursor_note = ""
        self._seq_worker = None
        self._seq_cache: dict[int, tuple[np.ndarray, int]] = {}
        self._shown_n = -1
        self._redraw = Redraw(self.redraw, self)
        self.head.currentIndexChanged.connect(lambda *_: self._redraw())
        self.mode.currentIndexChanged.connect(lambda *_: (self._select_sequence(), self._redraw()))
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        session.attention_changed.connect(self.set_snapshot)
        session.ordering_changed.connect(lambda *_: self._redraw())
        session.neuron_selected.connect(self._on_neuron)
        session.time_changed.connect(self._on_time)
        session.run_started.connect(lambda *_: self._seq_cache.clear())

    def set_snapshot(self, snap) -> None:
        H = snap.mean.shape[0]
        if self.head.count() != H + (1 if H > 1 else 0):
            self.head.blockSignals(True)
            self.head.clear()
            self.head.addItems((["mean of heads"] if H > 1 else []) + [f"head {h + 1}" for h in range(H)])
            self.head.blockSignals(False)
        if self._placeholder is not None:
            clear_placeholder(self.plot, self._placeholder)
            self._placeholder = None
            self.colourbar.setVisible(True)
        self.snapshot = snap
        seq = getattr(snap, "sequence", None)
        self._seq_cache.clear()
        if seq is not None:
            self._seq_cache[int(snap.example)] = (seq, int(getattr(snap, "every", 1)))
        self._select_sequence()
        self._redraw()

    # --------------------------------------------------------- cursor time
    def _example_timing(self):
        """(starts [n_examples], bins per example, bin factor, recording dt) of the run, or None."""
        snap = self.snapshot
        rec = self.session.training_recording()
        if snap is None or snap.starts is None or rec is None:
            return None
        f = max(int(round((snap.dt or rec.dt) / rec.dt)), 1)
        return np.asarray(snap.starts), int(snap.example_bins), f, float(rec.dt)

    def example_at(self, seconds: float) -> int | None:
        """The example (trial/segment) whose time span contains ``seconds`` (training-selection clock)."""
        tm = self._example_timing()
        if tm is None:
            return None
        starts, L, f, dt = tm
        b = seconds / dt
        inside = np.flatnonzero((starts <= b) & (b < starts + L * f))
        return int(inside[0]) if inside.size else None

    def _select_sequence(self) -> None:
        """Use the cached matrices of the example under the cursor; after training, compute missing ones."""
        if self.snapshot is None:
            return
        ex = self.example_at(self.session.time_s)
        if ex is not None and ex in self._seq_cache:
            self.sequence = (ex, *self._seq_cache[ex])
            return
        if (
            ex is not None
            and not self.session.running
            and self.session.trainer is not None
            and self.mode.currentText() == "at cursor time"
        ):
            self._compute_sequence(ex)
        snap_ex = int(self.snapshot.example)
        if snap_ex in self._seq_cache:
            self.sequence = (snap_ex, *self._seq_cache[snap_ex])
        else:
            self.sequence = None

    def _compute_sequence(self, example: int) -> None:
        if self._seq_worker is not None:
            return
        from napari.qt.threading import create_worker

        from .._worker import attention_sequence

        trainer = self.session.trainer
        # failed() reports an error (no re-raise into the event loop)
        w = create_worker(attention_sequence, trainer, example, _start_thread=False, _ignore_errors=True)

        def done(result, ex=example):
            A, every = result
            self._seq_worker = None
            if A is not None and trainer is self.session.trainer:
                self._seq_cache[ex] = (A, every)
                self._select_sequence()
                self._redraw()

        def failed(exc):
            from napari.utils.notifications import show_error

            self._seq_worker = None
            show_error(f"Could not compute the attention of example #{example}: {type(exc).__name__}: {exc}")

        w.returned.connect(done)
        w.errored.connect(failed)
        self._seq_worker = w
        w.start()

    def _on_time(self, seconds: float) -> None:
        if self.mode.currentText() == "at cursor time" and self.snapshot is not None:
            self._select_sequence()
            self._redraw()

    def matrix_at_cursor(self) -> np.ndarray | None:
        """[H, N, N] at the time cursor (nearest step of the example under it, or of the snapshot's example)."""
        if self.sequence is None:
            self.cursor_step, self.cursor_note = None, "no per-time matrices yet: showing the last step"
            return self.snapshot.last
        ex, A, every = self.sequence
        tm = self._example_timing()
        if tm is None:
            self.cursor_step, self.cursor_note = len(A) - 1, ""
            return A[-1]
        starts, L, f, dt = tm
        t_bin = (self.session.time_s / dt - starts[ex]) / f  # model step within the example
        step = int(np.floor(t_bin)) // every
        self.cursor_step = int(np.clip(step, 0, len(A) - 1))
        t_shown = (starts[ex] + self.cursor_step * every * f) * dt
        outside = not (0 <= t_bin < L)
        self.cursor_note = f"t = {t_shown:.3f} s (example #{ex}, step {self.cursor_step * every})" + (
            " · cursor outside this example: nearest step" if outside else ""
        )
        return A[self.cursor_step]

    def current_matrix(self) -> np.ndarray | None:
        """The unsorted [N, N] matrix for the chosen head and mode."""
        if self.snapshot is None:
            return None
        mode = self.mode.currentText()
        if mode == "time-averaged":
            A = self.snapshot.mean
        elif mode == "at cursor time":
            A = self.matrix_at_cursor()
        else:
            A = self.snapshot.last
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
        self._fit_ticks()
        where = self.cursor_note if self.mode.currentText() == "at cursor time" else f"example {self.snapshot.example}"
        self.info.setText(f"{N}×{N} · epoch {self.snapshot.epoch + 1} · {where} · {self.session.ordering_name} order")
        if self.session.selected_neuron is not None:
            self._on_neuron(self.session.selected_neuron)

    def _fit_ticks(self) -> None:
        """Neuron labels on both axes no closer than a label's width, however narrow the dock."""
        if getattr(self, "matrix", None) is None:  # (also called while the view is being built)
            return
        vb = self.plot.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        fit_tick_spacing(self.plot.getAxis("bottom"), x1 - x0, vb.width())
        fit_tick_spacing(self.plot.getAxis("left"), y1 - y0, vb.height(), min_px=20.0)

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
