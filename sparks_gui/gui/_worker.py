"""Run the engine's event generator in a napari thread worker and hand events to the GUI thread.

The trainer is built *inside* the worker thread (preparing the data can take a while),
step-progress events are coalesced to at most ``PROGRESS_HZ`` per second (the losses of
the skipped steps travel with the next report), and pause/stop are cooperative: the run
halts between batches.  Nothing here knows about views.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass

import numpy as np
from qtpy.QtCore import QObject, Signal

from ..engine.events import Failed, Finished, StepProgress
from ..engine.protocol import TrainerProtocol

PROGRESS_HZ = 20.0
GIL_BREAK_S = 0.001


def _leave_a_core_for_the_gui() -> None:
    """Use one CPU thread less than there are cores for torch/numba, so the GUI thread is never starved."""
    import os

    n = max(1, (os.cpu_count() or 2) - 1)
    try:
        import torch

        if torch.get_num_threads() > n:
            torch.set_num_threads(n)
    except Exception:  # noqa: BLE001
        pass
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except Exception:  # noqa: BLE001
        pass


def attention_sequence(trainer, example: int) -> tuple[np.ndarray | None, int]:
    """``(A [T // every, H, N, N], every)`` for one example, subsampled like the engine's snapshots.

    Used by the attention view *after* training, for examples other than the snapshot's (during
    training the engine's ``AttentionSnapshot.sequence`` is used as is, never recomputed here).
    """
    A, every = trainer.attention_subsampled(int(example))
    return (None if A is None else A[::every]), every


@dataclass
class ProgressReport:
    """The latest :class:`~sparks_gui.engine.events.StepProgress` of a stretch of steps, with the
    ``(step, loss)`` of every step since the previous report (at most ``PROGRESS_HZ`` reports a second)."""

    event: StepProgress
    losses: list[tuple[int, float]]


class TrainingRun(QObject):
    """One training run in a background thread.

    ``event`` is emitted on the GUI thread with the engine's typed events as they come
    (:mod:`sparks_gui.engine.events`; ``Failed`` also for a trainer that could not be built), except
    that step progress arrives as :class:`ProgressReport`; ``done()`` follows the last one.
    ``trainer`` is set (in the worker thread) before the run's ``Started`` is emitted.
    """

    event = Signal(object)
    done = Signal()
    paused_changed = Signal(bool)

    def __init__(self, config, recording, trainer_kwargs: dict | None = None, resume: str | None = None):
        super().__init__()
        self.config = config
        self.recording = recording
        self.trainer: TrainerProtocol | None = None
        self._kwargs = dict(trainer_kwargs or {})
        self.resume_from = resume
        """Checkpoint the run continues from (None: a fresh run)."""
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._ended = threading.Event()
        self._worker = None
        self._gui_done = False
        self.cancelled = False
        self.finished_event = None

    # ------------------------------------------------------------ control
    @property
    def running(self) -> bool:
        return self._worker is not None and not self._gui_done

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    def start(self) -> None:
        from napari.qt.threading import GeneratorWorker

        self._worker = GeneratorWorker(self._generate)
        self._worker.yielded.connect(self._dispatch)
        self._worker.errored.connect(lambda exc: self.event.emit(Failed(0, f"{type(exc).__name__}: {exc}")))
        self._worker.finished.connect(self._on_finished)
        self._worker.start()

    def set_paused(self, paused: bool) -> None:
        if paused == self.paused or self._ended.is_set():
            return
        if paused:
            self._resume.clear()
        else:
            self._resume.set()
        if self.trainer is not None:  # a child process trains: pause it there too (in-process: a no-op)
            (self.trainer.pause if paused else self.trainer.resume)()
        self.paused_changed.emit(paused)

    def stop(self) -> None:
        """Stop after the batch in progress (also when paused)."""
        self._stop.set()
        if self.trainer is not None:
            self.trainer.cancel()
        self._resume.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker thread has left the training loop; True if it has."""
        if self._worker is None:
            return True
        return self._ended.wait(timeout)

    # ------------------------------------------------------- worker thread
    def _make_trainer(self) -> TrainerProtocol:
        """Train in a child process (the GUI never waits on the training loop's Python), unless
        ``SPARKS_GUI_INPROCESS=1``."""
        import os

        from ..engine.trainer import Trainer

        if not os.environ.get("SPARKS_GUI_INPROCESS") and not self._kwargs:
            from ..engine.process import ProcessTrainer

            threads = max(1, (os.cpu_count() or 2) - 1)  # leave a core, and CPU priority, to the GUI
            return ProcessTrainer(self.config, self.recording, nice=15, threads=threads, resume=self.resume_from)
        return Trainer(self.config, self.recording, **{"resume": self.resume_from, **self._kwargs})

    def _generate(self):
        from ..errors import SparksError

        _leave_a_core_for_the_gui()
        try:
            try:
                trainer = self._make_trainer()
            except SparksError as exc:
                yield Failed(0, str(exc))
                return
            self.trainer = trainer
            if self._stop.is_set():
                trainer.cancel()
            else:
                # compile the CPU kernels now, not inside the first (timed, reported) batch (a child process
                # does it itself); warm-up is an optimisation, run() reports real errors
                with contextlib.suppress(Exception):
                    trainer.warmup()
            pending: list[tuple[int, float]] = []
            last_report = 0.0
            last_progress = None
            period = 1.0 / PROGRESS_HZ
            for ev in trainer.run():
                if isinstance(ev, StepProgress):
                    pending.append((ev.step, ev.loss))
                    last_progress = ev
                    now = time.perf_counter()
                    if now - last_report >= period:
                        yield ProgressReport(ev, pending)
                        pending, last_report = [], now
                else:
                    if pending:
                        yield ProgressReport(last_progress, pending)
                        pending = []
                    yield ev
                    if isinstance(ev, Finished):
                        return
                # hand the GIL to the GUI thread between batches (a voluntary release alone is
                # often re-taken at once by this thread; a short sleep lets queued paints run)
                time.sleep(GIL_BREAK_S)
                # cooperative pause between batches
                while not self._resume.wait(0.05):
                    pass
                if self._stop.is_set() and not trainer.cancelled:
                    trainer.cancel()
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user as "failed" and the worker
            # returns normally: superqt swallows a RuntimeError raised in a generator worker ("RuntimeError
            # in aborted thread") and never emits finished, which would leave the GUI busy for good
            yield Failed(0, str(exc) if isinstance(exc, SparksError) else f"{type(exc).__name__}: {exc}")
        finally:
            self._ended.set()

    def _on_finished(self) -> None:
        self._gui_done = True
        self.done.emit()

    def _dispatch(self, ev) -> None:
        if isinstance(ev, Finished):
            self.cancelled = ev.cancelled
            self.finished_event = ev
        self.event.emit(ev)
