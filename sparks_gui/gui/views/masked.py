"""Masked neurons (MtM): a held-out neuron's predicted rate against its true spikes.

With ``objective='mtm'`` the trainer's :class:`~sparks_gui.engine.events.Predictions` hold every
neuron's predicted rate (expected counts per bin) with the co-smoothing held-out neurons
(``masked_neurons``) hidden from the encoder.  This view draws, for one held-out neuron and one
held-out example, the predicted rate, the true spike counts smoothed with a Gaussian and a tick
per spike, in Hz on a time axis in seconds, with the run's latest co-smoothing score in the title.
A PCC run has no masked neurons: the view says so instead of showing empty axes.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from qtpy.QtWidgets import QSpinBox

from .._clock import Redraw
from ._common import ViewBase, clear_placeholder, combo, placeholder_text

SMOOTH_SIGMA_BINS = 2.0
"""Gaussian width (bins) of the smoothing applied to the true spike counts for display."""
WAITING = "Predicted vs true rates of the held-out neurons\nappear after the first epoch of an MtM run."
NEEDS_MTM = (
    "This view needs objective 'mtm'\n(Training dock, Training section),\n"
    "which hides neurons from the encoder and predicts them."
)


def smooth_counts(counts: np.ndarray, sigma_bins: float = SMOOTH_SIGMA_BINS) -> np.ndarray:
    """Counts [T] smoothed along time with a Gaussian of ``sigma_bins`` (display only)."""
    from scipy.ndimage import gaussian_filter1d

    c = np.asarray(counts, dtype=np.float64)
    return gaussian_filter1d(c, sigma_bins, mode="nearest") if sigma_bins > 0 and c.size > 1 else c


class MaskedNeuronsView(ViewBase):
    title = "Masked neurons"

    def __init__(self, napari_viewer=None, session=None, parent=None):
        super().__init__(napari_viewer, session, parent)
        session = self.session
        self.neuron = combo(
            [],
            "Held-out neuron (hidden from the encoder, predicted from the others); default: the one with most spikes",
        )
        self.neuron.setMinimumContentsLength(14)
        self.example = QSpinBox()
        self.example.setPrefix("ex. ")
        self.example.setMinimumWidth(90)
        self.example.setToolTip("Which held-out example (trial or window) to show")
        self.example.setRange(0, 0)
        self.toolbar.addWidget(self.neuron)
        self.toolbar.addWidget(self.example)
        self.finish_toolbar()
        self.widget = pg.GraphicsLayoutWidget()
        self.widget.setMinimumHeight(120)
        self._body.addWidget(self.widget)
        # the legend gets a row of its own above the plot: inside, it would cover the traces of a short dock
        self.legend = pg.LegendItem(colCount=3, labelTextSize="8pt", horSpacing=8, verSpacing=-4)
        self.legend.setMaximumHeight(22)
        self.widget.addItem(self.legend, row=0, col=0)
        self.plot = self.widget.addPlot(row=1, col=0)
        self.widget.ci.layout.setRowStretchFactor(1, 10)  # spare height goes to the plot, not the legend row
        self.widget.ci.layout.setSpacing(0)
        self.plot.showGrid(x=True, y=True, alpha=0.12)
        self.plot.setLabel("bottom", "time", units="s")
        self.true_curve = self.pred_curve = self.ticks = None
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#ff5050", width=1))
        self.snapshot = None
        self.message: str | None = None
        self._placeholder = None
        self._show_message(WAITING)
        self._masked_key = None
        self._redraw = Redraw(self.redraw, self)
        self.neuron.currentIndexChanged.connect(lambda *_: self._redraw())
        self.example.valueChanged.connect(lambda *_: self._redraw())
        session.predictions_changed.connect(self.set_snapshot)
        session.run_started.connect(self._on_started)
        session.epoch_end.connect(lambda *_: self._update_title())
        session.time_changed.connect(self.cursor.setValue)
        session.neuron_selected.connect(self._on_neuron)

    # ------------------------------------------------------------- state
    @property
    def empty(self) -> bool:
        """True while the view shows a note instead of a neuron (reports skip it then)."""
        return self.message is not None

    def _show_message(self, text: str) -> None:
        if self.message == text and self._placeholder is not None:
            return
        self.message = text
        self._remove_curves()
        if self._placeholder is not None:
            clear_placeholder(self.plot, self._placeholder)
        self.plot.setTitle(None)
        self._placeholder = placeholder_text(self.plot, text)
        self.neuron.setEnabled(False)
        self.example.setEnabled(False)
        self.info.setText("")

    def _remove_curves(self) -> None:
        for item in (self.true_curve, self.pred_curve, self.ticks, self.cursor):
            if item is not None and item.scene() is not None:
                self.plot.removeItem(item)
        self.legend.clear()
        self.true_curve = self.pred_curve = self.ticks = None

    def _on_started(self, _ev) -> None:
        cfg = self.session.results.config or self.session.config
        self.snapshot = None
        self._masked_key = None
        self._show_message(NEEDS_MTM if getattr(cfg, "objective", "pcc") != "mtm" else WAITING)

    def set_snapshot(self, snap) -> None:
        if getattr(snap, "masked_neurons", None) is None:
            self.snapshot = None
            self._show_message(NEEDS_MTM)
            return
        masked = np.asarray(snap.masked_neurons, dtype=np.int64).ravel()
        key = tuple(masked.tolist())
        if key != self._masked_key:  # a new held-out set: rebuild the choices, default to the busiest neuron
            labels = self._labels(masked)
            counts = np.asarray(snap.true, dtype=np.float64)[..., masked].sum(axis=(0, 1))
            self.neuron.blockSignals(True)
            self.neuron.clear()
            for j, text in zip(masked, labels, strict=False):
                self.neuron.addItem(text, int(j))
            self.neuron.setCurrentIndex(int(np.argmax(counts)) if counts.size else 0)
            self.neuron.blockSignals(False)
            self._masked_key = key
        self.snapshot = snap
        self.example.setRange(0, max(len(snap.predicted) - 1, 0))
        self._redraw()

    def _labels(self, masked: np.ndarray) -> list[str]:
        from ...data.regions import neuron_regions

        rec = self.session.training_recording()
        regions = None
        if rec is not None:
            try:
                regions = neuron_regions(rec)
            except Exception:  # noqa: BLE001 - labels are cosmetic
                regions = None
        out = []
        for j in masked:
            area = f" ({regions[j]})" if regions is not None and 0 <= j < len(regions) else ""
            out.append(f"neuron {int(j)}{area}")
        return out

    # ------------------------------------------------------------- numbers
    def selected_neuron(self) -> int | None:
        data = self.neuron.currentData()
        return None if data is None else int(data)

    def spikes(self) -> bool:
        """Spike counts (Poisson read-out, Hz) or calcium values (Gaussian read-out)."""
        lik = self.snapshot.likelihood
        if lik is not None:
            return lik == "poisson"
        true = np.asarray(self.snapshot.true)
        return bool(np.all(true >= 0) and np.allclose(true, np.round(true)))

    def time_axis(self, i: int, T: int) -> np.ndarray:
        """Seconds of the ``T`` bins of example ``i`` in the recording (``starts`` in the recording's bins)."""
        snap = self.snapshot
        dt = float(snap.dt or 1.0)
        rec = self.session.training_recording()
        rec_dt = float(rec.dt) if rec is not None else dt
        start = 0.0 if snap.starts is None else float(np.asarray(snap.starts)[i]) * rec_dt
        return start + np.arange(T) * dt

    def series(self) -> dict[str, np.ndarray] | None:
        """What is drawn: time [T] (s), predicted [T], true smoothed [T], spike times [k] (s)
        in Hz for spikes (counts / dt), in data units for calcium."""
        snap = self.snapshot
        j = self.selected_neuron()
        if snap is None or j is None:
            return None
        i = min(self.example.value(), len(snap.predicted) - 1)
        pred = np.asarray(snap.predicted[i][:, j], dtype=np.float64)
        true = np.asarray(snap.true[i][:, j], dtype=np.float64)
        t = self.time_axis(i, len(pred))
        if not self.spikes():
            return {"t": t, "predicted": pred, "true": true, "spike_times": np.zeros(0), "example": i, "neuron": j}
        dt = float(snap.dt or 1.0)
        n = np.round(true).astype(np.int64).clip(0)
        return {
            "t": t,
            "predicted": pred / dt,
            "true": smooth_counts(true) / dt,
            "spike_times": np.repeat(t, n),
            "example": i,
            "neuron": j,
        }

    def score(self) -> tuple[str, float, int] | None:
        """(name, value, epoch) of the latest co-smoothing score in the run's history."""
        for h in reversed(self.session.results.history):
            for name in ("cosmooth_bps", "cosmooth_r2"):
                v = h.get(name)
                if v is not None and np.isfinite(v):
                    return name, float(v), int(h.get("epoch", 0))
        return None

    # ------------------------------------------------------------- drawing
    def _ensure_items(self) -> None:
        if self._placeholder is not None:
            clear_placeholder(self.plot, self._placeholder)
            self._placeholder = None
        if self.pred_curve is None:
            self.true_curve = self.plot.plot(pen=pg.mkPen("#c8ccd2", width=1.5))
            self.pred_curve = self.plot.plot(pen=pg.mkPen("#f0a030", width=2))
            self.ticks = pg.ScatterPlotItem(symbol="|", size=9, pen=pg.mkPen("#8fb8ff", width=1.2), brush=None)
            self.plot.addItem(self.ticks)
            for item, name in ((self.true_curve, "true"), (self.pred_curve, "predicted"), (self.ticks, "spikes")):
                self.legend.addItem(item, name)
            self.plot.addItem(self.cursor, ignoreBounds=True)
            self.cursor.setValue(self.session.time_s)

    def redraw(self) -> None:
        s = self.series()
        if s is None:
            return
        self.message = None
        self._ensure_items()
        self.neuron.setEnabled(True)
        self.example.setEnabled(True)
        spikes = self.spikes()
        self.true_curve.setData(s["t"], s["true"])
        self.pred_curve.setData(s["t"], s["predicted"])
        top = max(
            float(np.nanmax(s["predicted"])) if s["predicted"].size else 0.0,
            float(np.nanmax(s["true"])) if s["true"].size else 0.0,
            1e-9,
        )
        if spikes and s["spike_times"].size:  # ticks in a band just below zero
            self.ticks.setData(s["spike_times"], np.full(s["spike_times"].size, -0.06 * top))
        else:
            self.ticks.setData([], [])
        # (short: "true (smoothed)" pushed "spikes" out of a 330 px dock; the info's tooltip says it is smoothed)
        self._set_legend_text(self.true_curve, "true")
        self.plot.setLabel("left", "rate (Hz)" if spikes else "activity")
        self.plot.enableAutoRange()
        self._update_title()
        snap = self.snapshot
        self.info.setText(
            f"#{int(np.asarray(snap.example_idx)[s['example']])} · epoch {snap.epoch + 1} · "
            f"{len(self._masked_key or ())} hidden"
        )
        self.info.setToolTip(
            f"Held-out example {s['example']} (example #{int(np.asarray(snap.example_idx)[s['example']])}"
            f" of the recording), epoch {snap.epoch + 1}; {len(self._masked_key or ())} neurons are "
            f"hidden from the encoder and predicted from the others; the title's co-smoothing score is "
            f"over all of them and every held-out example. True spikes are smoothed with "
            f"a Gaussian of σ {SMOOTH_SIGMA_BINS:g} bins."
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # three legend entries side by side need ~270 px; a narrower dock (a laptop) gets two rows
        cols = 3 if self.width() >= 290 else 2
        if cols != self.legend.columnCount:
            self.legend.setColumnCount(cols)
            self.legend.setMaximumHeight(22 if cols == 3 else 38)

    def _update_title(self) -> None:
        if self.message is not None or self.snapshot is None:
            return
        sc = self.score()
        text = ""
        if sc is not None:  # the run's score over every held-out neuron and example (epoch: in the info text)
            name, value, _epoch = sc  # (the neuron is named in the box above: not repeated, it cut the title)
            text = f"co-smoothing {value:+.3f} bits/spike" if name == "cosmooth_bps" else f"co-smoothing R² {value:.3f}"
        self.plot.setTitle(text or None, size="8pt", color="#d0d3d8")  # the legend's size: fits a laptop's dock

    def _set_legend_text(self, curve, text: str) -> None:
        for sample, label in getattr(self.legend, "items", []):
            if getattr(sample, "item", None) is curve and label.text != text:
                label.setText(text)

    def _on_neuron(self, neuron: int) -> None:
        idx = self.neuron.findData(int(neuron))
        if neuron >= 0 and idx >= 0:
            self.neuron.setCurrentIndex(idx)
