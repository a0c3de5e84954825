"""Latent trajectories (2-D, or 3-D with OpenGL) coloured by time, condition or behaviour."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from qtpy.QtWidgets import QCheckBox, QStackedWidget

from .._clock import Redraw
from ._common import (
    LEGEND_BRUSH,
    ViewBase,
    category_colours,
    clear_placeholder,
    colormap,
    combo,
    placeholder_text,
)

N_COLOUR_BINS = 24
MAX_DISPLAY_POINTS = 30_000  # larger clouds are drawn with a time stride (analysis/exports use all points)
MAX_CATEGORIES = 24


def _segments_by_bin(traj: np.ndarray, bins: np.ndarray, n_bins: int) -> list[np.ndarray]:
    """Per colour bin, the segments (t -> t+1) of ``traj`` [n, T, D] as start/end pairs [2m, D]
    (drawn with ``connect="pairs"``, pyqtgraph's fast line-segment path)."""
    n, T, D = traj.shape
    if T < 2:
        return [np.empty((0, D)) for _ in range(n_bins)]
    a = traj[:, :-1].reshape(-1, D)
    b = traj[:, 1:].reshape(-1, D)
    seg_bin = bins[:, :-1].reshape(-1)
    order = np.argsort(seg_bin, kind="stable")
    bounds = np.searchsorted(seg_bin[order], np.arange(n_bins + 1))
    out = []
    for k in range(n_bins):
        sel = order[bounds[k] : bounds[k + 1]]
        pts = np.empty((2 * len(sel), D))
        pts[0::2], pts[1::2] = a[sel], b[sel]
        out.append(pts)
    return out


def display_stride(n: int, T: int, max_points: int) -> int:
    """Time stride so that at most ``max_points`` latent points are drawn (display only)."""
    return max(1, int(np.ceil(n * T / max_points)))


class LatentView(ViewBase):
    """Posterior-mean latents of held-out examples, updated at every evaluation."""

    title = "Latents"

    def __init__(self, napari_viewer=None, session=None, parent=None):
        super().__init__(napari_viewer, session, parent)
        session = self.session
        self.dim_mode = combo(["2-D", "3-D"], "Plot two latent axes, or three in an OpenGL view")
        self.axes_mode = combo(["latent axes", "PCA"], "Plot the raw latent coordinates or their principal components")
        self.x_axis = combo(["1"], "Horizontal axis")
        self.y_axis = combo(["2"], "Vertical axis")
        self.colour_by = combo(
            ["time", "trial"],
            "Colour the trajectories by time in the trial, a trial condition, or a behaviour variable",
        )
        self.average = QCheckBox("mean per condition")
        self.average.setToolTip("One mean trajectory per value of the colouring condition")
        from qtpy.QtWidgets import QHBoxLayout, QLabel, QWidget

        colour = QWidget()  # "colour [combo]" wraps as one piece
        row = QHBoxLayout(colour)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        row.addWidget(QLabel("colour"))
        row.addWidget(self.colour_by)
        colour.setToolTip(self.colour_by.toolTip())
        # one flow of controls: it wraps in a narrow dock instead of cutting the combos' text
        for w in (self.dim_mode, self.axes_mode, self.x_axis, self.y_axis, colour, self.average):
            self.toolbar.addWidget(w)
        self.finish_toolbar()
        self.stack = QStackedWidget()
        self.widget = pg.GraphicsLayoutWidget()
        self.plot = self.widget.addPlot(row=0, col=0)
        self.plot.showGrid(x=True, y=True, alpha=0.12)
        self.plot.setAspectLocked(False)
        self.legend = None
        self.colourbar = None
        self.stack.addWidget(self.widget)
        self.gl = None
        self._body.addWidget(self.stack)
        self.items: list = []
        self.n_points = 0
        self.displayed_points = 0
        self.n_trajectories = 0
        self.snapshot = None
        self._redraw = Redraw(self.redraw, self)
        for w in (self.axes_mode, self.x_axis, self.y_axis, self.colour_by):
            w.currentIndexChanged.connect(lambda *_: self._redraw())
        self.dim_mode.currentIndexChanged.connect(self._on_dim_mode)
        self.average.toggled.connect(lambda *_: self._redraw())
        session.latents_changed.connect(self.set_snapshot)
        session.predictions_changed.connect(lambda *_: self._refresh_colour_choices())
        session.run_started.connect(lambda *_: self.info.setText("waiting for the first evaluation…"))
        self._empty_text = placeholder_text(
            self.plot, "Latents of the held-out\nexamples appear after\nthe first epoch"
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # "colour [combo]" never wider than the dock (a long condition name is cut, the list shows it whole)
        self.colour_by.setMaximumWidth(max(90, self.width() - 70))

    def graphics(self):
        return self.stack.currentWidget()

    def scene_item(self):
        return self.plot

    # ---------------------------------------------------------------- data
    def set_snapshot(self, snap) -> None:
        d = snap.latents.shape[-1]
        first = self.snapshot is None or self.snapshot.latents.shape[-1] != d
        self.snapshot = snap
        if first:
            for box, default in ((self.x_axis, 0), (self.y_axis, 1)):
                box.blockSignals(True)
                box.clear()
                box.addItems([str(i + 1) for i in range(d)])
                box.setCurrentIndex(min(default, d - 1))
                box.blockSignals(False)
        self._refresh_colour_choices()
        self._redraw()

    def _refresh_colour_choices(self) -> None:
        choices = ["time", "trial"]
        if self.snapshot is not None:
            choices += [f"condition: {k}" for k in self.snapshot.conditions]
        p = self.session.results.predictions
        if p is not None and p.true.shape[-1] <= 8:
            choices += [f"{p.target or 'target'} [{j}]" for j in range(p.true.shape[-1])]
        current = self.colour_by.currentText()
        if [self.colour_by.itemText(i) for i in range(self.colour_by.count())] != choices:
            self.colour_by.blockSignals(True)
            self.colour_by.clear()
            self.colour_by.addItems(choices)
            cond = [c for c in choices if c.startswith("condition:")]
            self.colour_by.setCurrentText(
                current if current in choices and current != "time" else (cond[0] if cond else "time")
            )
            self.colour_by.blockSignals(False)

    def _coords(self) -> tuple[np.ndarray, list[str]]:
        lat = np.asarray(self.snapshot.latents, dtype=np.float64)  # [n, T, d]
        d = lat.shape[-1]
        names = [f"z{i + 1}" for i in range(d)]
        if self.axes_mode.currentText() == "PCA" and d >= 2:
            flat = lat.reshape(-1, d)
            mean = flat.mean(0)
            _, s, vt = np.linalg.svd(flat - mean, full_matrices=False)
            lat = ((flat - mean) @ vt.T).reshape(lat.shape)
            var = s**2 / max((s**2).sum(), 1e-12)
            names = [f"PC{i + 1} ({100 * var[i]:.0f}%)" for i in range(d)]
        return lat, names

    def _colouring(self, n: int, T: int):
        """(bins [n, T] int, n_bins, colours, legend labels or None, (lo, hi, label) for a colour bar or None)."""
        key = self.colour_by.currentText()
        snap = self.snapshot
        if key.startswith("condition:"):
            values = np.asarray(snap.conditions[key.split(": ", 1)[1]])[:n]
            cats = np.unique(values)
            if len(cats) <= MAX_CATEGORIES:
                idx = np.searchsorted(cats, values)
                return (
                    np.repeat(idx[:, None], T, 1),
                    len(cats),
                    category_colours(len(cats)),
                    [str(c) for c in cats],
                    None,
                )
            values = np.repeat(values[:, None].astype(float), T, 1)
        elif key == "trial":
            cols = category_colours(min(n, MAX_CATEGORIES))
            idx = np.arange(n) % len(cols)
            return np.repeat(idx[:, None], T, 1), len(cols), cols, None, None
        elif key == "time":
            values = np.repeat(np.arange(T, dtype=float)[None] * self._dt(), n, 0)
        else:
            p = self.session.results.predictions
            j = int(key.rsplit("[", 1)[1].rstrip("]"))
            values = np.asarray(p.true[:n, :T, j], float)
            if values.shape != (n, T):
                values = np.zeros((n, T))
        lo, hi = np.nanpercentile(values, [1, 99]) if values.size else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1.0
        bins = np.clip(((values - lo) / (hi - lo) * N_COLOUR_BINS).astype(int), 0, N_COLOUR_BINS - 1)
        cmap = colormap("viridis")
        cols = [cmap.map((k + 0.5) / N_COLOUR_BINS, mode="qcolor") for k in range(N_COLOUR_BINS)]
        return bins, N_COLOUR_BINS, cols, None, (lo, hi, "time (s)" if key == "time" else key)

    def _dt(self) -> float:
        dt = 0.0 if self.snapshot is None else float(self.snapshot.dt)
        return dt or 1.0

    # -------------------------------------------------------------- drawing
    def redraw(self) -> None:
        if self.snapshot is None:
            return
        if self._empty_text is not None:
            clear_placeholder(self.plot, self._empty_text)
            self._empty_text = None
        lat, names = self._coords()
        n, T, d = lat.shape
        bins, n_bins, cols, labels, bar = self._colouring(n, T)
        averaged = self.average.isChecked() and labels is not None
        if averaged:
            cats = np.unique(bins[:, 0])
            lat = np.stack([lat[bins[:, 0] == c].mean(0) for c in cats])
            bins = np.repeat(cats[:, None], T, 1)
            n = len(cats)
        self.n_trajectories, self.n_points = n, n * T
        three = self.dim_mode.currentText() == "3-D" and d >= 3
        xi, yi = self.x_axis.currentIndex(), self.y_axis.currentIndex()
        if three:
            self._draw_3d(lat[..., :3], bins, n_bins, cols)
        else:
            self._draw_2d(
                lat[..., [xi, min(yi, d - 1)]]
                if d >= 2
                else np.concatenate([np.arange(T, dtype=float)[None, :, None].repeat(n, 0) * self._dt(), lat], -1),
                bins,
                n_bins,
                cols,
            )
            labels_xy = (names[xi] if d >= 2 else "time (s)", names[min(yi, d - 1)] if d >= 2 else names[0])
            if labels_xy != getattr(self, "_axis_labels", None):  # relabelling re-lays out the plot: only on change
                self.plot.setLabel("bottom", labels_xy[0])
                self.plot.setLabel("left", labels_xy[1])
                self._axis_labels = labels_xy
        self._legend(labels, cols, bar)
        ep = self.snapshot.epoch + 1
        self.info.setText(f"{n} {'condition means' if averaged else 'held-out trials'} × {T} steps · epoch {ep}")

    def _draw_2d(self, xy: np.ndarray, bins, n_bins, cols) -> None:
        n, T = xy.shape[:2]
        stride = display_stride(n, T, MAX_DISPLAY_POINTS)
        if stride > 1:  # keep the last step so trajectories still end where they end
            keep = np.unique(np.r_[np.arange(0, T, stride), T - 1])
            xy, bins = xy[:, keep], bins[:, keep]
        self.displayed_points = xy.shape[0] * xy.shape[1]
        segs = _segments_by_bin(xy, bins, n_bins)
        # thin (1 px) pens take Qt's fast line path; wider ones only for small clouds
        width = 1.5 if self.displayed_points <= 5000 else 1.0
        while len(self.items) < n_bins:
            item = pg.PlotDataItem(connect="pairs")
            item.setSkipFiniteCheck(True) if hasattr(item, "setSkipFiniteCheck") else None
            self.plot.addItem(item)
            self.items.append(item)
        for k, item in enumerate(self.items):
            if k < n_bins and len(segs[k]):
                c = cols[k]
                item.setPen(pg.mkPen(c, width=width))
                item.setData(segs[k][:, 0], segs[k][:, 1], connect="pairs")
                item.setVisible(True)
            else:
                item.setData([], [])
                item.setVisible(False)
        self.plot.enableAutoRange()

    def _draw_3d(self, xyz: np.ndarray, bins, n_bins, cols) -> None:
        if self.gl is None:
            try:
                import pyqtgraph.opengl as gl

                self.gl = gl.GLViewWidget()
                self.gl.setBackgroundColor(pg.mkColor("#262930"))
                self._gl_line = gl.GLLinePlotItem(mode="lines", antialias=True, width=1.5)
                self.gl.addItem(self._gl_line)
                grid = gl.GLGridItem()
                grid.setColor((120, 120, 120, 60))
                self.gl.addItem(grid)
                self._gl_grid = grid
                self.stack.addWidget(self.gl)
            except Exception as exc:  # noqa: BLE001 - no OpenGL: stay in 2-D
                from napari.utils.notifications import show_warning

                show_warning(f"3-D latent view unavailable ({exc}); showing 2-D.")
                self.dim_mode.setCurrentText("2-D")
                return
        self.stack.setCurrentWidget(self.gl)
        n, T, _ = xyz.shape
        scale = np.nanmax(np.abs(xyz - xyz.reshape(-1, 3).mean(0))) or 1.0
        p = (xyz - xyz.reshape(-1, 3).mean(0)) / scale * 5.0
        a, b = p[:, :-1].reshape(-1, 3), p[:, 1:].reshape(-1, 3)
        pos = np.empty((len(a) * 2, 3), np.float32)
        pos[0::2], pos[1::2] = a, b
        rgba = np.array([c.getRgbF() for c in cols], np.float32)
        seg_col = rgba[bins[:, :-1].reshape(-1)]
        colour = np.repeat(seg_col, 2, axis=0)
        self._gl_line.setData(pos=pos, color=colour)

    def _on_dim_mode(self) -> None:
        if self.dim_mode.currentText() == "2-D":
            self.stack.setCurrentWidget(self.widget)
        self._redraw()

    def _legend(self, labels, cols, bar) -> None:
        key = (
            None if labels is None else tuple(labels),
            self.colour_by.currentText(),
            None if bar is None else tuple(np.round(bar[:2], 3)),
        )
        if key == getattr(self, "_legend_key", None):
            return
        self._legend_key = key
        if self.legend is not None:
            self.plot.scene().removeItem(self.legend) if self.legend.scene() else None
            self.legend = None
        if self.colourbar is not None:
            self.widget.removeItem(self.colourbar)
            self.colourbar = None
        if labels is not None:
            self.legend = pg.LegendItem(
                offset=(-5, 5), labelTextSize="8pt", colCount=2 if len(labels) > 8 else 1, brush=LEGEND_BRUSH
            )
            self.legend.setParentItem(self.plot.getViewBox())
            key = self.colour_by.currentText().split(": ", 1)[-1]
            for c, lab in zip(cols, labels, strict=False):
                self.legend.addItem(pg.PlotDataItem(pen=pg.mkPen(c, width=3)), f"{key} {lab}")
        elif bar is not None:
            lo, hi, label = bar
            self.colourbar = pg.ColorBarItem(
                values=(lo, hi), colorMap=colormap("viridis"), interactive=False, width=12, label=label
            )
            self.widget.addItem(self.colourbar, row=0, col=1)
