"""Event-loop gaps of a bare napari window (no SPARKS code, no training) whose only activity is a
progress bar updated at 20 Hz - the floor set by Qt + napari's OpenGL canvas on this display.

Run under a display: ``xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/bench_qt_baseline.py``.
Prints one JSON line per case: a plain QMainWindow, then napari (whose QOpenGLWidget canvas makes Qt
composite the whole window through OpenGL on every widget update; llvmpipe does that in software).
"""

from __future__ import annotations

import json
import time

import numpy as np


def probe(app, seconds: float = 5.0) -> dict:
    from sparks_gui.gui._probe import EventLoopProbe

    p = EventLoopProbe(10)
    p.start()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)
    p.stop()
    return p.summary()


def with_progress_bar(app, window, add) -> dict:
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QProgressBar

    bar = QProgressBar()
    bar.setRange(0, 100)
    add(bar)
    step = QTimer()
    step.setInterval(50)  # 20 Hz, like the training dock's progress updates
    step.timeout.connect(lambda: bar.setValue((bar.value() + 1) % 100))
    step.start()
    out = probe(app)
    step.stop()
    return out


def main() -> None:
    from qtpy.QtWidgets import QApplication, QMainWindow, QTextEdit

    app = QApplication.instance() or QApplication([])
    win = QMainWindow()
    win.setCentralWidget(QTextEdit())
    win.resize(1600, 1000)
    win.show()
    row = with_progress_bar(app, win, lambda w: win.setStatusBar(None) or win.statusBar().addWidget(w))
    print(json.dumps({"name": "plain_qmainwindow_progress_20hz", **row}))
    win.close()

    import napari

    viewer = napari.Viewer(show=True)
    qwin = viewer.window._qt_window
    qwin.resize(1600, 1000)
    viewer.add_image(np.random.rand(512, 512).astype(np.float32))
    row = with_progress_bar(app, qwin, lambda w: viewer.window.add_dock_widget(w, area="right"))
    print(json.dumps({"name": "bare_napari_progress_20hz", **row}))
    viewer.close()


if __name__ == "__main__":
    main()
