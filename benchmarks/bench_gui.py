"""GUI redraw benchmarks: how fast the live views redraw on large data.

Usage (needs a display; on a server ``xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/bench_gui.py``)::

    python benchmarks/bench_gui.py [--repeats 30] [--points 100000] [--neurons 1000] [--bins 100000]

Prints one JSON object per line: ``{"bench": ..., "hz": ..., "ms_per_redraw": ..., ...}``.
A redraw is the view's update from new data (or a pan/zoom) *plus* the synchronous paint of
its widget, i.e. what the user waits for.  Target: >= 10 Hz for a 100k-point latent cloud and
a 1,000 x 100,000 raster (the raster draws a time-binned pyramid level; display only).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def _paint(widget) -> None:
    from qtpy.QtWidgets import QApplication

    widget.viewport().repaint() if hasattr(widget, "viewport") else widget.repaint()
    QApplication.instance().processEvents()


def _rate(fn, repeats: int) -> dict:
    fn(0)  # first call builds caches / items
    times = []
    for k in range(1, repeats + 1):
        t0 = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - t0)
    t = np.asarray(times)
    return {
        "hz": round(1.0 / float(np.median(t)), 1),
        "ms_per_redraw": round(1000 * float(np.median(t)), 2),
        "ms_worst": round(1000 * float(t.max()), 2),
        "repeats": repeats,
    }


def bench_latents(session, view, n_points: int, repeats: int, d: int = 3) -> list[dict]:
    from sparks_gui.engine.events import LatentSnapshot

    T = 200
    n = max(n_points // T, 1)
    rng = np.random.default_rng(0)
    cond = rng.integers(0, 8, n)
    t = np.linspace(0, 2 * np.pi, T)
    base = np.stack([np.cos(t), np.sin(t), 0.3 * np.sin(2 * t)], -1)[:, :d]
    snaps = [
        LatentSnapshot(
            k,
            (base[None] * (1 + 0.1 * cond[:, None, None]) + 0.05 * rng.standard_normal((n, T, d))).astype(np.float32),
            np.arange(n),
            {"direction": cond},
            dt=0.01,
        )
        for k in range(3)
    ]
    out = []

    def update(k):  # a new snapshot arrives (what happens during training)
        view.set_snapshot(snaps[k % 3])
        view._redraw.flush()
        _paint(view.widget)

    r = _rate(update, repeats)
    out.append(
        {
            "bench": "latents_new_snapshot",
            "points": view.n_points,
            "displayed_points": view.displayed_points,
            "trajectories": view.n_trajectories,
            **r,
        }
    )
    vb = view.plot.getViewBox()
    (x0, x1), (y0, y1) = vb.viewRange()

    def pan(k):
        dx = 0.02 * (x1 - x0) * ((k % 20) - 10)
        vb.setRange(xRange=(x0 + dx, x1 + dx), yRange=(y0, y1), padding=0)
        _paint(view.widget)

    out.append(
        {
            "bench": "latents_pan",
            "points": view.n_points,
            "displayed_points": view.displayed_points,
            **_rate(pan, repeats),
        }
    )
    view.average.setChecked(True)

    def averaged(k):
        view.set_snapshot(snaps[k % 3])
        view._redraw.flush()
        _paint(view.widget)

    out.append({"bench": "latents_condition_means", "points": view.n_points, **_rate(averaged, repeats)})
    view.average.setChecked(False)
    return out


def bench_raster(session, view, n_neurons: int, n_bins: int, repeats: int) -> list[dict]:
    from sparks_gui.data.recording import Recording

    rng = np.random.default_rng(1)
    act = (rng.random((n_neurons, n_bins), dtype=np.float32) < 0.02).astype(np.float32)
    rec = Recording(activity=act, dt=0.01, kind="spikes", name="bench raster")
    t0 = time.perf_counter()
    session.set_recording(rec)  # builds the display pyramid once
    view._update.flush()
    _paint(view.widget)
    setup_s = time.perf_counter() - t0
    out = []
    T = n_bins * rec.dt
    vb = view.plot.getViewBox()

    def full(k):  # whole recording in view, nudged so every redraw is real
        vb.setRange(xRange=(0.001 * (k % 7), T), yRange=(0, n_neurons), padding=0)
        view.update_image()
        _paint(view.widget)

    r = _rate(full, repeats)
    out.append(
        {
            "bench": "raster_zoomed_out",
            "shape": [n_neurons, n_bins],
            "displayed": list(view.displayed_shape),
            "setup_s": round(setup_s, 2),
            **r,
        }
    )
    width = 20.0  # 2,000 bins in view

    def pan(k):
        x = (k * 37.0) % (T - width)
        vb.setRange(xRange=(x, x + width), yRange=(0, n_neurons), padding=0)
        view.update_image()
        _paint(view.widget)

    out.append(
        {
            "bench": "raster_pan_2000_bins",
            "shape": [n_neurons, n_bins],
            "displayed": list(view.displayed_shape),
            **_rate(pan, repeats),
        }
    )
    orders = [rng.permutation(n_neurons) for _ in range(3)]

    def reorder(k):
        view._on_ordering("correlation", orders[k % 3])
        _paint(view.widget)

    out.append({"bench": "raster_reorder_rows", "shape": [n_neurons, n_bins], **_rate(reorder, repeats)})
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--neurons", type=int, default=1000)
    p.add_argument("--bins", type=int, default=100_000)
    args = p.parse_args(argv)

    from qtpy.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    from sparks_gui.gui._session import SparksSession
    from sparks_gui.gui.views import LatentView, RasterView

    session = SparksSession()
    lat = LatentView(session=session)
    lat.resize(600, 450)
    lat.show()
    ras = RasterView(session=session)
    ras.resize(900, 400)
    ras.show()
    app.processEvents()
    for row in bench_latents(session, lat, args.points, args.repeats):
        print(json.dumps(row), flush=True)
    for row in bench_raster(session, ras, args.neurons, args.bins, args.repeats):
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
