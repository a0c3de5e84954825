"""The GUI's model: one :class:`SparksSession` per napari viewer.

Its state -- the current recording, the run configuration, the chosen neuron ordering, the
selected neuron, the time cursor, whether a run is going or paused, and the latest results -- lives
in a :class:`~sparks_gui.gui._state.SessionState` (``session.state``, an evented model without Qt);
the session's attributes of the same names read and write it.  The session adds what needs Qt or
threads: the training run, the ordering worker, the repaint clock, and Qt signals for the docks.
``running_changed``, ``paused_changed``, ``time_changed`` and ``neuron_selected`` follow the state's
events; ``recording_changed``, ``config_changed`` and ``ordering_changed`` are emitted by the methods
that change them, once everything they imply is set.  Docks and views never talk to each other
directly: they command the session and listen to its signals (the same split as napari's components
vs ``_qt``).  The docks themselves belong to the window (:func:`sparks_gui.gui.app.docks_for`), not to
the session.
"""

from __future__ import annotations

import time
import weakref
from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtCore import QEvent, QObject, Signal

from ..analysis import ordering as orderings
from ..engine import events as E
from ..engine.protocol import TrainerProtocol
from ..errors import SparksError
from ._clock import GuiClock
from ._ordering import compute_order, menu
from ._state import RunResults, SessionState
from ._worker import ProgressReport, TrainingRun

_SESSIONS: weakref.WeakKeyDictionary[Any, SparksSession] = weakref.WeakKeyDictionary()


def session_for(viewer) -> SparksSession:
    """The session of ``viewer`` (created on first use, shared by all SPARKS docks)."""
    s = _SESSIONS.get(viewer)
    if s is None:
        s = SparksSession(viewer)
        _SESSIONS[viewer] = s
    return s


class _CloseFilter(QObject):
    def __init__(self, session: SparksSession):
        super().__init__()
        self._session = weakref.ref(session)

    def eventFilter(self, obj, event):  # noqa: N802 - Qt API
        if event.type() == QEvent.Close:
            s = self._session()
            if s is not None:
                s.shutdown()
        return False


_SKIP_ON_NEW_RECORDING = (orderings.ORIGINAL, orderings.LATENT_PHASE, orderings.ATTENTION_CLUSTERING)
"""Orderings not recomputed when a recording opens (nothing to sort by, or results of another recording)."""


def _in_state(name: str, doc: str) -> property:
    """A session attribute kept in ``session.state.<name>``."""
    return property(
        lambda self: getattr(self.state, name), lambda self, value: setattr(self.state, name, value), doc=doc
    )


class SparksSession(QObject):
    """Shared state of the SPARKS docks of one viewer (kept in ``self.state``) and the run that feeds it."""

    recording = _in_state("recording", "The current recording (whole; ``training_recording()`` applies the selection).")
    config = _in_state("config", "The configuration the next run starts with.")
    ordering_name = _in_state("ordering_name", "Label of the raster's ordering menu in use.")
    order = _in_state("order", "Row order of the training selection's neurons under ``ordering_name``.")
    selected_neuron = _in_state("selected_neuron", "Highlighted neuron (row of the training selection), or None.")
    time_s = _in_state("time_s", "The time cursor in seconds.")
    results = _in_state("results", "What the latest (or loaded) run produced.")

    @property
    def running(self) -> bool:
        """A run is going (from Start until its thread has ended and its last event was handled)."""
        return self.state.running

    @property
    def paused(self) -> bool:
        return self.state.paused

    recording_changed = Signal(object)
    selection_changed = Signal(object)
    run_started = Signal(object)
    progress = Signal(object, object)  # StepProgress, [(step, loss)] since the last report
    epoch_end = Signal(object)
    latents_changed = Signal(object)
    attention_changed = Signal(object)
    predictions_changed = Signal(object)
    checkpoint_written = Signal(str)
    run_finished = Signal(object)
    run_failed = Signal(str)
    running_changed = Signal(bool)
    paused_changed = Signal(bool)
    ordering_changed = Signal(str, object)
    neuron_selected = Signal(int)
    time_changed = Signal(float)
    config_changed = Signal(object)

    def __init__(self, viewer=None):
        super().__init__()
        from ..engine.config import SparksConfig

        self._viewer = weakref.ref(viewer) if viewer is not None else (lambda: None)
        self.state = SessionState(config=SparksConfig())
        self.layer = None
        self.neuron_idx: np.ndarray | None = None
        self.time_range: tuple[int, int] | None = None
        self.run: TrainingRun | None = None
        self.trainer: TrainerProtocol | None = None
        """The in-process trainer of the latest (or loaded) run: its data, weights and history."""
        self.n_trained_neurons = 0
        """Neurons the model of the latest (or loaded) run was trained on (its Started event / loaded model)."""
        ev = self.state.events
        ev.running.connect(lambda new, _old: self.running_changed.emit(bool(new)))
        ev.paused_changed.connect(lambda new, _old: self.paused_changed.emit(bool(new)))
        ev.time_s.connect(lambda new, _old: self.time_changed.emit(float(new)))
        ev.selected_neuron.connect(lambda new, _old: self.neuron_selected.emit(-1 if new is None else int(new)))
        self._close_filter = None
        self._selected = None  # (key, recording, training_recording()) of the last selection
        self._order_worker = None
        self._views: weakref.WeakValueDictionary[str, QObject] = weakref.WeakValueDictionary()
        # every live repaint (views, progress) happens on this clock's tick; events only store the latest data
        self.clock = GuiClock(parent=self)
        self.clock.progress.connect(self.progress.emit)
        if viewer is not None:
            try:
                win = viewer.window._qt_window
                self._close_filter = _CloseFilter(self)
                win.installEventFilter(self._close_filter)
            except AttributeError:  # headless viewer
                pass

    # ----------------------------------------------------------------- views
    def register_view(self, name: str, view) -> None:
        self._views[name] = view

    @property
    def views(self) -> dict:
        """Live views by title (Latents, Raster, Attention, Decoding, Loss)."""
        out = {}
        for k, v in list(self._views.items()):
            try:
                v.objectName()  # raises if the C++ object was deleted
            except RuntimeError:
                continue
            out[k] = v
        return out

    # ------------------------------------------------------------------ data
    @property
    def viewer(self):
        return self._viewer()

    def set_recording(self, recording, layer=None) -> None:
        """Make ``recording`` current; the neuron/time selection resets to everything."""
        self.recording = recording
        self.layer = layer
        self.neuron_idx = None
        self.time_range = None
        self.selected_neuron = None
        self.order = None if recording is None else np.arange(recording.n_neurons)
        if recording is not None:  # napari's Save (SPARKS NWB writer) finds this session's results
            from ..napari.writer import set_results_provider

            set_results_provider(recording, _results_provider(self, recording))
        self.recording_changed.emit(recording)
        self.selection_changed.emit(self.training_recording())
        if recording is not None and self.ordering_method not in _SKIP_ON_NEW_RECORDING:
            self.set_ordering(self.ordering_name)

    def set_selection(self, neuron_idx=None, time_range: tuple[int, int] | None = None) -> None:
        """Restrict training and views to neurons ``neuron_idx`` and bins ``time_range``."""
        if self.recording is None:
            return
        if neuron_idx is not None:
            neuron_idx = np.asarray(neuron_idx, dtype=np.int64)
            if neuron_idx.size == 0:
                raise SparksError("The neuron selection is empty.", "Select at least one neuron.")
            if neuron_idx.size == self.recording.n_neurons and np.array_equal(neuron_idx, np.arange(neuron_idx.size)):
                neuron_idx = None
        if time_range is not None and tuple(time_range) == (0, self.recording.n_time):
            time_range = None
        self.neuron_idx, self.time_range = neuron_idx, time_range
        rec = self.training_recording()
        self.order = np.arange(rec.n_neurons)
        self.selection_changed.emit(rec)
        if self.ordering_method != orderings.ORIGINAL:
            self.set_ordering(self.ordering_name)

    def training_recording(self):
        """The recording restricted to the chosen neurons and time range (what training sees)."""
        rec = self.recording
        if rec is None or (self.neuron_idx is None and self.time_range is None):
            return rec
        # views ask for it on every snapshot; selecting copies the data, so the selection is kept
        key = (id(rec), None if self.neuron_idx is None else self.neuron_idx.tobytes(), self.time_range)
        cached = self._selected
        if cached is None or cached[0] != key or cached[1] is not rec:
            cached = self._selected = (key, rec, rec.select(neurons=self.neuron_idx, time=self.time_range))
        return cached[2]

    # ---------------------------------------------------------------- config
    def set_config(self, config) -> None:
        self.config = config
        self.config_changed.emit(config)

    # -------------------------------------------------------------- training
    def start_training(self, config=None) -> TrainingRun:
        """Start a run on the current selection in a background thread."""
        if self.running:
            raise SparksError("A training run is already in progress.", "Stop it first (Stop button).")
        rec = self.training_recording()
        if rec is None:
            raise SparksError("No recording is loaded.", "Open a file or a sample in the Data dock first.")
        cfg = config or self.config
        cfg.validate()
        self.config = cfg
        return self._launch(cfg, rec, RunResults(config=cfg))

    def resumable(self) -> tuple[str, int, Any] | None:
        """``(checkpoint, epochs completed, config)`` when the current run (live or loaded) stopped before
        its last epoch and its checkpoint is still there: Resume can continue it; else None."""
        r, tr = self.results, self.trainer
        if self.running or tr is None or not r.checkpoint:
            return None
        cfg = tr.config
        if r.checkpoint_epoch >= cfg.epochs or not Path(r.checkpoint).is_file():
            return None
        return r.checkpoint, r.checkpoint_epoch, cfg

    def resume_training(self, device: str | None = None) -> TrainingRun:
        """Continue the stopped run from its checkpoint with its own config, to its last epoch (the result
        equals an uninterrupted run); the history up to the checkpoint is kept."""
        if self.running:
            raise SparksError("A training run is already in progress.", "Stop it first (Stop button).")
        info = self.resumable()
        if info is None:
            raise SparksError(
                "There is no stopped run with a checkpoint to continue.",
                "Stop a run after its first epoch (checkpoints are written after each epoch), or load "
                "the folder of an interrupted run, then press Resume.",
            )
        rec = self.training_recording()
        if rec is None:
            raise SparksError("No recording is loaded.", "Open the run's recording in the Data dock first.")
        checkpoint, epoch, cfg = info
        trained_on = self.n_trained_neurons
        if cfg.neurons is None and rec.n_neurons != trained_on:
            raise SparksError(
                f"The stopped run was trained on {trained_on} neurons; the selection now has {rec.n_neurons}.",
                "Select the run's recording and neurons in the Data dock, then Resume.",
            )
        changes = {"out_dir": str(Path(checkpoint).parent)}
        if device:
            changes["device"] = device
        cfg = cfg.replace(**changes)
        old = self.results
        per_epoch = old.started.steps_per_epoch if old.started is not None else 0
        results = RunResults(
            history=[h for h in old.history if h.get("epoch", 0) <= epoch],
            step_losses=[s for s in old.step_losses if s[0] <= epoch * per_epoch],
            config=cfg,
            checkpoint=checkpoint,
            checkpoint_epoch=epoch,
        )
        return self._launch(cfg, rec, results, resume=checkpoint)

    def _launch(self, cfg, rec, results: RunResults, resume: str | None = None) -> TrainingRun:
        self.results = results
        run = TrainingRun(cfg, rec, resume=resume)
        run.event.connect(self._on_event)
        run.done.connect(self._on_done)
        run.paused_changed.connect(lambda paused: setattr(self.state, "paused", bool(paused)))
        self.run = run
        run.start()
        self.state.running = True
        return run

    def pause(self, paused: bool = True) -> None:
        if self.run is not None:
            self.run.set_paused(paused)

    def stop(self, wait: float | None = None) -> bool:
        """Ask the run to stop after the current batch; with ``wait`` (s), block until it has."""
        if self.run is None:
            return True
        self.run.stop()
        return self.run.wait(wait) if wait else not self.run.running

    def shutdown(self) -> None:
        """Stop everything (the viewer is closing): the run halts, and nothing it still has in the
        event queue reaches the docks that are about to be deleted."""
        run = self.run
        self.stop(wait=10.0)
        if run is not None:
            run.blockSignals(True)
        self.blockSignals(True)

    def _on_progress(self, ev, losses) -> None:
        # the losses are kept at once (nothing is lost); the report itself waits for the clock's tick, where a
        # newer one supersedes it
        self.results.step_losses.extend(losses)
        self.clock.post_progress(ev, losses)

    def _on_started(self, ev, trainer: TrainerProtocol | None = None) -> None:
        if trainer is None:  # the run's own (set in its thread before its Started was sent)
            trainer = self.run.trainer.local
        self.trainer = trainer
        self.results.started = ev
        self.n_trained_neurons = ev.n_neurons
        self.order = np.arange(ev.n_neurons)
        self.run_started.emit(ev)
        if self.ordering_method != orderings.ORIGINAL:
            self.set_ordering(self.ordering_name)

    def _on_event(self, ev: E.Event | ProgressReport) -> None:
        """Route one of the run's events (engine events, progress as :class:`ProgressReport`) by its type."""
        if isinstance(ev, ProgressReport):
            self._on_progress(ev.event, ev.losses)
            return
        if isinstance(ev, E.Failed):
            self._on_failed(ev.message)
            return
        if isinstance(ev, E.Started):
            self._on_started(ev)
            return
        self.clock.flush_progress()  # the last report before this event reaches the docks first
        r = self.results
        if isinstance(ev, E.EpochEnd):
            rec = {
                "epoch": ev.epoch + 1,
                "train_loss": ev.train_loss,
                "test_loss": ev.test_loss,
                "elapsed_s": ev.elapsed_s,
                **{k: v for k, v in ev.metrics.items() if np.isscalar(v)},
            }
            r.history.append(rec)
            self.epoch_end.emit(ev)
        elif isinstance(ev, E.LatentSnapshot):
            r.latents = ev
            self.latents_changed.emit(ev)
            if self.ordering_method == orderings.LATENT_PHASE:
                self.set_ordering(self.ordering_name)
        elif isinstance(ev, E.AttentionSnapshot):
            r.attention = ev
            self.attention_changed.emit(ev)
            if self.ordering_method == orderings.ATTENTION_CLUSTERING:
                self.set_ordering(self.ordering_name)
        elif isinstance(ev, E.Predictions):
            r.predictions = ev
            self.predictions_changed.emit(ev)
        elif isinstance(ev, E.CheckpointWritten):
            r.checkpoint = ev.path
            r.checkpoint_epoch = ev.epoch + 1
            self.checkpoint_written.emit(ev.path)
        elif isinstance(ev, E.Finished):
            r.metrics = dict(ev.metrics)
            self.run_finished.emit(ev)

    def _on_failed(self, message: str) -> None:
        from napari.utils.notifications import show_error

        self.clock.flush_progress()
        show_error(f"SPARKS training failed: {message}")
        self.run_failed.emit(message)

    def _on_done(self) -> None:
        self.clock.flush_progress()
        self.state.paused = False
        self.state.running = False
        if self.ordering_method == orderings.LATENT_PHASE:  # now from the whole recording (continuous data)
            self.set_ordering(self.ordering_name)

    def set_results(self, results: RunResults, trainer: TrainerProtocol | None = None) -> None:
        """Show results that did not come from a live run (a loaded run)."""
        self.results = results
        if trainer is not None:
            self.trainer = trainer
            self.n_trained_neurons = int(trainer.data.n_neurons)
            self.order = np.arange(self.n_trained_neurons)
        for sig, value in (
            (self.latents_changed, results.latents),
            (self.attention_changed, results.attention),
            (self.predictions_changed, results.predictions),
        ):
            if value is not None:
                sig.emit(value)
        if self.ordering_method != orderings.ORIGINAL:
            self.set_ordering(self.ordering_name)

    # --------------------------------------------------------------- ordering
    def display_activity(self) -> np.ndarray | None:
        """Activity ``[N, T]`` of the training selection (rows match attention matrices)."""
        rec = self.training_recording()
        return None if rec is None else rec.activity

    @property
    def ordering_method(self) -> str:
        """The analysis registry's name of the current ordering (:mod:`sparks_gui.analysis.ordering`)."""
        return orderings.ordering_method(self.ordering_name)

    def set_ordering(self, name: str, block: bool = False) -> None:
        """Sort neurons by ``name`` (a label of the raster's menu); computed off the GUI thread,
        ``ordering_changed`` follows."""
        if name not in menu():
            raise SparksError(f"Unknown ordering '{name}'.", f"Choose one of {menu()}.")
        self.ordering_name = name
        method = self.ordering_method
        act = self.display_activity()
        if act is None:
            return
        latents = lat_act = attention = None
        whole = False  # a continuous recording after training: phase of the whole recording's latents
        if method == orderings.ATTENTION_CLUSTERING and self.results.attention is not None:
            attention = self.results.attention.mean  # [H, N, N] over one example's time
        if method == orderings.LATENT_PHASE and self.results.latents is not None and self.trainer is not None:
            snap = self.results.latents
            latents = snap.latents
            lat_act = self.trainer.data.x[snap.example_idx]
            if lat_act.shape[1] != act.shape[0]:
                latents = lat_act = None
            rec = self.training_recording()
            whole = latents is not None and not self.running and not (rec.trials is not None and rec.n_trials >= 2)
        # orderings on very long recordings use a binned copy (display only; analysis uses full data)
        if act.shape[1] > 20000:
            f = act.shape[1] // 10000
            T = act.shape[1] // f * f
            act = act[:, :T].reshape(act.shape[0], T // f, f).mean(-1)

        def work():
            if whole:  # windows of the training length over the whole recording (engine.inference)
                from .exports import whole_recording_results

                res = whole_recording_results(self)
                if res is not None:
                    return compute_order(name, act, res["latents"][None], res["activity"][None])
            return compute_order(name, act, latents, lat_act, attention)

        if block or (act.shape[0] * act.shape[1] < 2_000_000 and not whole):
            self._apply_order(name, work())
            return
        from napari.qt.threading import create_worker

        w = create_worker(work, _start_thread=False, _ignore_errors=True)  # _notify_error reports, no re-raise
        w.returned.connect(lambda order: self._apply_order(name, order))
        w.errored.connect(lambda exc: self._notify_error(exc))
        self._order_worker = w
        w.start()

    def _apply_order(self, name: str, order: np.ndarray) -> None:
        if name != self.ordering_name:
            return
        act = self.display_activity()
        if act is None or len(order) != act.shape[0]:
            return
        self.order = np.asarray(order, dtype=np.int64)
        self.ordering_changed.emit(name, self.order)

    def _notify_error(self, exc) -> None:
        from napari.utils.notifications import show_error

        show_error(str(exc))

    # ----------------------------------------------------------- selection
    def select_neuron(self, index: int | None) -> None:
        """Highlight neuron ``index`` (row of the training selection) in every view (``neuron_selected``
        follows when it changed; -1 for none)."""
        self.selected_neuron = None if index is None or index < 0 else int(index)

    def original_neuron_index(self, index: int) -> int:
        """Index in the full recording of row ``index`` of the training selection."""
        return int(index if self.neuron_idx is None else self.neuron_idx[index])

    def set_time(self, seconds: float) -> None:
        """Move the time cursor (``time_changed`` follows when it moved)."""
        if abs(seconds - self.time_s) >= 1e-12:
            self.time_s = float(seconds)


def _results_provider(session: SparksSession, recording):
    """``provider()`` for :func:`sparks_gui.napari.writer.set_results_provider`: the session's results
    while ``recording`` is still the one it shows (weak: the session is not kept alive)."""
    ref = weakref.ref(session)

    def provider():
        s = ref()
        if s is None or s.recording is not recording:
            return None
        from .exports import nwb_results

        return nwb_results(s)

    return provider


def now() -> float:
    return time.perf_counter()
