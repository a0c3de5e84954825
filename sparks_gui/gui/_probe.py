"""Event-loop probe: a 10 ms QTimer whose tick-to-tick gaps show how long the GUI thread was blocked."""

from __future__ import annotations

import time

import numpy as np
from qtpy.QtCore import QTimer


class EventLoopProbe:
    """``start()``, let the app run, ``stop()``; then ``gaps_ms`` and ``summary()``."""

    def __init__(self, interval_ms: int = 10):
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self.gaps_ms: list[float] = []

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps_ms.append((now - self._last) * 1000)
        self._last = now

    def start(self) -> None:
        self.gaps_ms = []
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def summary(self) -> dict:
        g = np.asarray(self.gaps_ms) if self.gaps_ms else np.zeros(1)
        return {
            "ticks": len(self.gaps_ms),
            "worst_ms": round(float(g.max()), 1),
            "p99_ms": round(float(np.percentile(g, 99)), 1),
            "median_ms": round(float(np.median(g)), 1),
        }
