"""One GUI clock per session: every live repaint happens on its tick (issue 12, event loop).

Training events only *store* what they bring (the latest progress report, the latest snapshot in the
view) and ask for a repaint; a request made while one is already pending supersedes it (the older
frame is dropped and counted).  Each tick of the clock (<= ``CLOCK_HZ``) then

- delivers the latest progress report, once (the progress bar and loss curve see at most one per tick);
- repaints at most ``per_tick`` views, the longest-waiting first, and only views that are visible: a
  view hidden behind a dock tab keeps its request until it is shown.

So a burst of events costs one repaint per visible view, spread over separate ticks (separate turns of
the event loop), instead of one repaint per event.
"""

from __future__ import annotations

import time

from qtpy.QtCore import QObject, QTimer, Signal

CLOCK_HZ = 20.0
REDRAWS_PER_TICK = 1


class GuiClock(QObject):
    """The timer that paces every live repaint of one session's views."""

    progress = Signal(object, object)  # the latest StepProgress since the last tick, [(step, loss), ...] since then

    def __init__(self, hz: float = CLOCK_HZ, per_tick: int = REDRAWS_PER_TICK, parent=None):
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(max(int(round(1000.0 / hz)), 1))
        self._timer.timeout.connect(self.tick)
        self.per_tick = max(int(per_tick), 1)
        self._pending: dict[int, Redraw] = {}  # insertion order = waiting order
        self._progress = None
        self._progress_losses: list = []
        self.ticks = 0
        self.progress_delivered = 0
        self.progress_dropped = 0

    # -------------------------------------------------------------- requests
    def request(self, redraw: Redraw) -> None:
        self._pending.setdefault(id(redraw), redraw)
        self._wake()

    def cancel(self, redraw: Redraw) -> None:
        self._pending.pop(id(redraw), None)

    def post_progress(self, ev, losses) -> None:
        """Keep ``ev`` as the latest progress report (an undelivered earlier one is dropped)."""
        if self._progress is not None:
            self.progress_dropped += 1
        self._progress = ev
        self._progress_losses.extend(losses)
        self._wake()

    def flush_progress(self) -> None:
        """Deliver a pending progress report now (before an event that must follow it, e.g. Finished)."""
        ev, losses = self._progress, self._progress_losses
        if ev is None:
            return
        self._progress, self._progress_losses = None, []
        self.progress_delivered += 1
        self.progress.emit(ev, losses)

    @property
    def pending(self) -> list:
        return list(self._pending.values())

    def _wake(self) -> None:
        try:
            if not self._timer.isActive():
                self._timer.start()
        except RuntimeError:  # the session is being deleted
            pass

    # ------------------------------------------------------------------ tick
    def tick(self) -> None:
        self.ticks += 1
        self.flush_progress()
        now = time.perf_counter()
        done = 0
        for key, r in list(self._pending.items()):
            if done >= self.per_tick:
                break
            if not r.alive():
                self._pending.pop(key, None)
                continue
            if not r.visible() or not r.due(now):
                continue
            self._pending.pop(key, None)
            r.run()
            done += 1
        if not self._pending and self._progress is None:
            self._timer.stop()


class Redraw(QObject):
    """A view's repaint, run on its session's clock: ``redraw()`` asks, the clock runs ``fn`` (once, with the
    view's latest data) on a tick when the view is visible, at most ``hz`` times per second.

    ``calls`` counts repaints, ``dropped`` the requests superseded before they were drawn.  ``flush()`` runs a
    pending repaint now, visible or not (tests, exports).
    """

    def __init__(self, fn, view, hz: float = CLOCK_HZ, clock: GuiClock | None = None):
        super().__init__(view)
        self._fn = fn
        self._view = view
        self._period = 1.0 / hz
        if clock is None:
            session = getattr(view, "session", None)
            clock = getattr(session, "clock", None) or GuiClock(parent=self)
        self.clock = clock
        self._pending = False
        self._last = -1e9
        self.calls = 0
        self.dropped = 0
        self.last_duration_s = 0.0
        self.max_duration_s = 0.0

    def __call__(self, *_):
        if self._pending:
            self.dropped += 1
            return
        self._pending = True
        self.clock.request(self)

    @property
    def pending(self) -> bool:
        return self._pending

    def alive(self) -> bool:
        try:
            self._view.objectName()
        except RuntimeError:  # the view was deleted (window closing) while a request was queued
            return False
        return True

    def visible(self) -> bool:
        try:  # shown, and not hidden behind another dock tab or scrolled/covered away entirely
            return bool(self._view.isVisible()) and not self._view.visibleRegion().isEmpty()
        except RuntimeError:
            return False

    def due(self, now: float) -> bool:
        return now - self._last >= self._period - 0.002  # a tick may come a ms early

    def flush(self) -> None:
        if self._pending:
            self.clock.cancel(self)
            self.run()

    def run(self) -> None:
        self._pending = False
        t0 = time.perf_counter()
        self._last = t0
        self.calls += 1
        self._fn()
        settle = getattr(self._view, "settle", None)
        if settle is not None:  # one window composite per repaint, not a chain of them
            settle()
        self.last_duration_s = time.perf_counter() - t0
        self.max_duration_s = max(self.max_duration_s, self.last_duration_s)
