"""Run :meth:`Trainer.run` in a separate process and stream its events back.

A GUI that trains in a thread shares the interpreter lock and the cores with the
training loop; every stretch of Python the trainer runs (data handling, evaluation,
optimiser bookkeeping) delays the event loop.  :class:`ProcessTrainer` keeps the same
generator-of-events interface but trains in a child process (started with ``spawn``,
at a lower scheduling priority), so the parent only waits on a queue.

The parent keeps a *shadow* :class:`Trainer` (it prepares the data once and sends the prepared
tensors to the child; model initialisation is seeded, so both start from the same weights); the
child sends its weights after
every epoch and at the end, so ``process_trainer.trainer`` can evaluate, export and
compute attention exactly like an in-process trainer.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_module
import traceback
from collections.abc import Iterator
from typing import Any

from .._threads import passive_openmp_for_children
from ..errors import SparksError
from .config import SparksConfig
from .events import EpochEnd, Event, Failed, Finished
from .trainer import Trainer


def _state_arrays(model) -> dict[str, Any]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def _child(
    config: SparksConfig,
    data,
    events,
    stop,
    resume,
    nice: int,
    threads: int | None,
    checkpoint: str | None = None,
    regions=None,
) -> None:
    """Child process: train and put ``(kind, payload)`` items on ``events``."""
    try:
        if nice:
            os.nice(nice)
    except (AttributeError, OSError):  # pragma: no cover - platform without nice
        pass
    try:
        import torch

        if threads:
            torch.set_num_threads(threads)
            try:
                import numba

                numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
            except Exception:  # noqa: BLE001 - numba is optional
                pass
        trainer = Trainer(config, data=data, resume=checkpoint, regions=regions)  # regions: MtM region schemes
        trainer.warmup()
        for ev in trainer.run():
            if isinstance(ev, (EpochEnd, Finished)):
                events.put(("weights", _state_arrays(trainer.model)))
            if isinstance(ev, Finished):
                events.put(("history", list(trainer.history)))
            events.put(("event", ev))
            if isinstance(ev, (Finished, Failed)):
                return
            while not resume.wait(0.05):  # paused between batches
                if stop.is_set():
                    break
            if stop.is_set() and not trainer.cancelled:
                trainer.cancel()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        detail = None if isinstance(exc, SparksError) else "".join(traceback.format_exception(exc))
        events.put(("event", Failed(0, f"{type(exc).__name__}: {exc}", traceback=detail)))


class ProcessTrainer:
    """Same interface as :class:`Trainer` (:class:`~sparks_gui.engine.protocol.TrainerProtocol`), training in a child process.

    Parameters
    ----------
    config, recording
        As for :class:`Trainer`.
    nice
        Scheduling-priority increment of the child (POSIX), so an interactive parent stays responsive.
    threads
        torch threads in the child (None: torch's default).
    resume
        Path of a checkpoint to continue from exactly (as :class:`Trainer`'s ``resume``).

    The shadow trainer's weights and ``history`` follow the child epoch by epoch, so a child that
    dies (killed, out of memory) leaves the last finished epoch's model and history here.
    """

    def __init__(
        self, config: SparksConfig, recording, nice: int = 5, threads: int | None = None, resume: str | None = None
    ):
        self.config = config
        self.trainer = Trainer(config, recording)  # shadow: data, model structure, synced weights
        self._checkpoint = None if resume is None else str(resume)
        if resume is not None:  # the shadow starts where the child starts
            from .checkpoint import load_checkpoint

            ck = load_checkpoint(resume)
            self.trainer.model.load_state_dict(ck["model"])
            self.trainer.history = list(ck.get("history", []))
        self._nice = nice
        self._threads = threads
        ctx = mp.get_context("spawn")
        self._ctx = ctx
        self._stop = ctx.Event()
        self._resume = ctx.Event()
        self._resume.set()
        self._cancelled = False
        self._process = None

    # -------------------------------------------------------------- control
    def cancel(self) -> None:
        self._cancelled = True
        self._stop.set()
        self._resume.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def warmup(self) -> None:
        """Nothing to do here: the child compiles its kernels before its first batch."""

    @property
    def local(self) -> Trainer:
        """The shadow trainer: the data, and the weights and history the child reported so far."""
        return self.trainer

    @property
    def model(self):
        return self.trainer.model

    @property
    def data(self):
        return self.trainer.data

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.trainer.history

    def attention_subsampled(self, example: int):
        """As :meth:`Trainer.attention_subsampled`, with the weights of the last finished epoch."""
        return self.trainer.attention_subsampled(example)

    # ------------------------------------------------------------------ run
    def run(self) -> Iterator[Event]:
        events = self._ctx.Queue(maxsize=64)
        self._process = self._ctx.Process(
            # the child gets the prepared tensors (plain numpy), not the recording: no second preparation,
            # and lazy movies or file handles never cross the process boundary
            target=_child,
            args=(
                self.config,
                self.trainer.data,
                events,
                self._stop,
                self._resume,
                self._nice,
                self._threads,
                self._checkpoint,
                self.trainer.regions,
            ),
            daemon=True,
        )
        with passive_openmp_for_children():  # the child imports torch: its OpenMP pool must not spin
            self._process.start()
        try:
            while True:
                try:
                    kind, payload = events.get(timeout=0.2)
                except queue_module.Empty:
                    if not self._process.is_alive():
                        yield Failed(
                            0, f"The training process ended unexpectedly (exit code {self._process.exitcode})."
                        )
                        return
                    continue
                if kind == "weights":
                    import torch

                    self.trainer.model.load_state_dict({k: torch.from_numpy(v) for k, v in payload.items()})
                    continue
                if kind == "history":
                    self.trainer.history = payload
                    continue
                if isinstance(payload, EpochEnd):  # the child's history record of this epoch (as Trainer._run)
                    record = {"epoch": payload.epoch + 1, "train_loss": payload.train_loss}
                    if payload.test_loss is not None:
                        record.update(test_loss=payload.test_loss, **payload.metrics)
                    self.trainer.history.append(record)
                yield payload
                if isinstance(payload, (Finished, Failed)):
                    return
        finally:
            self._stop.set()
            self._resume.set()
            self._process.join(timeout=10)
            if self._process.is_alive():  # pragma: no cover - a wedged child
                self._process.terminate()
                self._process.join(timeout=5)
