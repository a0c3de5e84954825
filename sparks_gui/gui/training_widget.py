"""Training dock: config form, device, Start / Pause / Stop, progress with ETA, live loss, save/load run."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from qtpy.QtCore import Qt
from qtpy.QtGui import QKeySequence
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QShortcut,
    QStyle,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..engine import runs as run_folders
from ..errors import SparksError
from . import exports
from ._config_form import ConfigForm
from ._runs import load_run, save_run
from ._session import session_for
from .views.loss import LossView

SHORTCUTS = {
    "start": ("F5", "Train on the recording and selection chosen in the Data dock"),
    "pause": ("F6", "Pause between batches (the model stays in memory); again to continue"),
    "stop": ("Shift+F5", "Stop after the batch in progress; results so far are kept"),
}
"""Keyboard shortcuts of the Training dock (listed in docs/user-guide.md)."""


def available_devices() -> list[tuple[str, str]]:
    """(config value, label) pairs: auto, cpu, each CUDA GPU by name, mps when present."""
    out = [("auto", "auto (best available)"), ("cpu", "CPU")]
    try:
        import torch

        for i in range(torch.cuda.device_count()):
            out.append((f"cuda:{i}", f"cuda:{i} — {torch.cuda.get_device_name(i)}"))
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            out.append(("mps", "Apple GPU (mps)"))
    except Exception:  # noqa: BLE001 - torch missing or broken: CPU only
        pass
    return out


def format_seconds(s: float) -> str:
    if s != s or s < 0:  # NaN
        return "–"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def for_objective(cfg, objective: str | None = None):
    """``cfg`` with a target that ``objective`` (default: its own) can train: MtM reconstructs the activity
    itself, so a behaviour target chosen in the Data dock (e.g. the multi-area sample's 'readout') gives way
    to 'unsupervised'."""
    if (objective or getattr(cfg, "objective", "pcc")) == "mtm" and cfg.target not in ("unsupervised", "auto"):
        return cfg.replace(target="unsupervised", objective="mtm")
    return cfg


def objective_note(chosen_target: str, used) -> str:
    """What the user should know when :func:`for_objective` changed the target ('' when it did not)."""
    if chosen_target == used.target:
        return ""
    return (
        f"Objective 'mtm' reconstructs the activity itself: the Data dock's target '{chosen_target}' is not "
        f"used (this run trains '{used.target}'). Choose objective 'pcc' to decode '{chosen_target}'."
    )


class QuietProgressBar(QProgressBar):
    """A progress bar whose ``setValue`` schedules its repaint like any other widget update.

    ``QProgressBar.setValue`` repaints *synchronously* (``QWidget::repaint``) when the bar or its text
    changes; in napari's window (an OpenGL canvas makes Qt composite the whole window) that is a full
    window composite inside every progress report: 29 ms per report on the 2-core Xvfb machine, measured
    with cProfile (issue 12).  With updates disabled around it, the change is drawn in the next ordinary
    paint, together with whatever else changed in the same turn of the event loop.
    """

    def setValue(self, value: int) -> None:  # noqa: N802 - Qt API
        self.setUpdatesEnabled(False)
        try:
            super().setValue(value)
        finally:
            self.setUpdatesEnabled(True)  # schedules update()


class TrainingWidget(QWidget):
    """Configure and run SPARKS training on the Data dock's selection."""

    def __init__(self, napari_viewer=None, session=None, parent=None, choose_target=None):
        super().__init__(parent)
        # where a preset's target goes: the Data dock's target box when the window has one
        self._choose_target = choose_target
        self.viewer = napari_viewer
        self.session = session or session_for(napari_viewer)
        s = self.session
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        self.form = ConfigForm(s.config)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # fields shrink to the dock's width
        scroll.setMinimumHeight(150)
        layout.addWidget(scroll, 3)

        row = QFormLayout()
        self.device = QComboBox()
        for value, label in available_devices():
            self.device.addItem(label, value)
        self.device.setToolTip("Where to train: CUDA GPUs are listed by name when present")
        row.addRow("device", self.device)
        layout.addLayout(row)

        buttons = QHBoxLayout()
        style = self.style()
        self.start_btn = QPushButton(style.standardIcon(QStyle.SP_MediaPlay), "Start")
        self.pause_btn = QPushButton(style.standardIcon(QStyle.SP_MediaPause), "Pause")
        self.pause_btn.setCheckable(True)
        self.stop_btn = QPushButton(style.standardIcon(QStyle.SP_MediaStop), "Stop")
        self.shortcuts = []
        window = getattr(getattr(napari_viewer, "window", None), "_qt_window", None)
        for b, (key, tip) in zip((self.start_btn, self.pause_btn, self.stop_btn), SHORTCUTS.values(), strict=False):
            # on napari's main window: they work whichever dock tab is showing (a shortcut whose parent is
            # hidden never fires); a disabled button ignores click(), so the key does nothing then
            sc = QShortcut(QKeySequence(key), window or self, activated=b.click, context=Qt.ApplicationShortcut)
            self.shortcuts.append(sc)
            if napari_viewer is not None and hasattr(napari_viewer, "bind_key"):  # napari's canvas takes keys itself
                napari_viewer.bind_key(key.replace("+", "-"), lambda _v, b=b: b.click(), overwrite=True)
            b.setToolTip(f"{tip} ({key})")
        for b in (self.start_btn, self.pause_btn, self.stop_btn):
            buttons.addWidget(b)
        layout.addLayout(buttons)

        self.progress = QuietProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("idle")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        layout.addWidget(self.progress)
        self.status = QLabel("Load a recording in the Data dock, then press Start.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextSelectableByMouse)
        layout.addWidget(self.status)

        self.loss_view = LossView(session=s)
        layout.addWidget(self.loss_view, 2)

        runs = QHBoxLayout()
        self.save_btn = QPushButton("Save run…")
        self.save_btn.setToolTip("Write config.json, model.pt and history.json of this run to a folder")
        self.load_btn = QPushButton("Load run…")
        self.load_btn.setToolTip("Load a saved run (config + checkpoint) and show its results on the current recording")
        self.resume_btn = QPushButton("Resume run")
        self.resume_btn.setToolTip(
            "Continue a stopped run from its last checkpoint, with its own settings, to its "
            "last epoch (the same result as a run that was never stopped)"
        )
        runs.addWidget(self.save_btn)
        runs.addWidget(self.load_btn)
        runs.addWidget(self.resume_btn)
        layout.addLayout(runs)
        self._build_runs_list(layout)

        self.start_btn.clicked.connect(self.start)
        self.pause_btn.toggled.connect(lambda on: s.pause(on))
        self.stop_btn.clicked.connect(self.stop)
        self.save_btn.clicked.connect(self._save_dialog)
        self.load_btn.clicked.connect(self._load_dialog)
        self.resume_btn.clicked.connect(self.resume)
        s.running_changed.connect(self._on_running)
        s.run_started.connect(self._on_started)
        s.progress.connect(self._on_progress)
        s.epoch_end.connect(self._on_epoch)
        s.run_finished.connect(self._on_finished)
        s.run_failed.connect(lambda msg: self.status.setText(f"<span style='color:#ff6b6b'>Failed: {msg}</span>"))
        s.run_failed.connect(lambda _msg: setattr(self, "_run_status", "failed"))
        s.running_changed.connect(lambda running: None if running else self._close_run_folder())
        s.paused_changed.connect(self._on_paused)
        s.config_changed.connect(self.form.set_config)
        self.form.preset_applied.connect(self._on_preset)
        s.selection_changed.connect(lambda rec: self._show_auto_values(rec))
        s.config_changed.connect(lambda *_: self._show_auto_values(s.training_recording()))
        s.recording_changed.connect(self._on_recording)
        self._total = 1
        self._t_start = 0.0
        self._on_running(False)

    # ---------------------------------------------------------------- actions
    def current_config(self):
        """The form's config with the chosen device and no ``out_dir``: Start gives every run a new folder in
        the runs folder (the session's config may still name the folder of the last or a loaded run, which
        a new run must not overwrite)."""
        values = self.form.values()
        base = for_objective(self.session.config, values.get("objective"))
        return base.replace(**values, device=self.device.currentData() or "auto", out_dir=None)

    def start(self):
        """Start training; problems (no data, invalid settings) become notifications.

        Every run gets a new folder ``run-YYYYmmdd-HHMMSS`` in the runs folder (marked temporary until kept
        or saved); a run that cannot start leaves no folder behind."""
        from napari.utils.notifications import show_error

        made = None
        before = self.session.config
        try:
            cfg = self.current_config()
            if not cfg.out_dir:
                made = run_folders.new_run_dir(self.runs_root())
                cfg = cfg.replace(out_dir=str(made))
            run = self.session.start_training(cfg)
            note = objective_note(before.target, cfg)
            if note:
                from napari.utils.notifications import show_info

                show_info(note)
                # the session keeps the Data dock's target (what it shows): a later PCC run decodes it again
                self.session.config = cfg.replace(target=before.target, objective=before.objective)
        except SparksError as exc:
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)
            show_error(str(exc))
            self.status.setText(f"<span style='color:#ff6b6b'>{exc}</span>")
            return None
        self._run_status = "running"
        if made is not None:
            run_folders.update_marker(made, status="running")
            self.refresh_runs()
        self._t_start = time.perf_counter()
        self.status.setText("Preparing data…")
        self.progress.setRange(0, 0)  # busy until Started arrives
        self.progress.setFormat("preparing…")
        return run

    def resume(self):
        """Continue the stopped run from its checkpoint; problems become notifications."""
        from napari.utils.notifications import show_error

        info = self.session.resumable()
        try:
            run = self.session.resume_training(device=self.device.currentData() or None)
        except Exception as exc:  # noqa: BLE001 - user-facing
            show_error(str(exc))
            self.status.setText(f"<span style='color:#ff6b6b'>{exc}</span>")
            self._update_resume()
            return None
        self._run_status = "running"
        self._t_start = time.perf_counter()
        self.status.setText(f"Resuming from epoch {info[1]}…" if info else "Resuming…")
        self.progress.setRange(0, 0)
        self.progress.setFormat("preparing…")
        return run

    def _update_resume(self) -> None:
        info = None if self.session.running else self.session.resumable()
        self.resume_btn.setEnabled(info is not None)
        if info is not None:
            self.resume_btn.setToolTip(
                f"Continue the stopped run from its checkpoint (epoch {info[1]} of "
                f"{info[2].epochs}) with its own settings: the same result as a run that "
                "was never stopped"
            )

    def stop(self):
        self.pause_btn.setChecked(False)
        self.session.stop()
        self.status.setText("Stopping after the current batch…")

    # ------------------------------------------------------------ callbacks
    def _on_running(self, running: bool) -> None:
        self.start_btn.setEnabled(not running)
        self.pause_btn.setEnabled(running)
        self.stop_btn.setEnabled(running)
        self.form.setEnabled(not running)
        self.device.setEnabled(not running)
        self.load_btn.setEnabled(not running)
        self.save_btn.setEnabled(not running and self.session.trainer is not None)
        self._update_resume()
        self._update_run_buttons()
        if not running:
            self.pause_btn.setChecked(False)
            if self.progress.maximum() == 0:
                self.progress.setRange(0, 1)
                self.progress.setFormat("idle")

    def _on_paused(self, paused: bool) -> None:
        self.pause_btn.setText("Continue" if paused else "Pause")
        self.pause_btn.setIcon(self.style().standardIcon(QStyle.SP_MediaPlay if paused else QStyle.SP_MediaPause))

        if paused:
            self.progress.setFormat(self.progress.format().split(" · ")[0] + " · paused")

    def _on_recording(self, rec) -> None:
        if rec is not None and not self.session.running:
            self.status.setText(f"Ready: {rec.name}. Press Start to train.")

    def _on_started(self, ev) -> None:
        self._total = max(ev.total_steps, 1)
        self.progress.setRange(0, self._total)
        self.progress.setValue(ev.epoch * ev.steps_per_epoch)
        self.status.setText(
            f"Training on {ev.n_train} examples ({ev.n_test} held out) · target "
            f"<b>{ev.target}</b> · loss {ev.loss} · {ev.device}"
        )
        self.progress.setFormat(f"epoch {ev.epoch + 1}/{self._epochs()}")

    def _on_progress(self, ev, _losses) -> None:
        self.progress.setValue(ev.step)
        paused = " · paused" if self.pause_btn.isChecked() else ""
        self.progress.setFormat(
            f"epoch {ev.epoch + 1}/{self._epochs()} · step {ev.step}/{ev.total_steps}"
            f" · loss {ev.loss:.4f} · ETA {format_seconds(ev.eta_s)}{paused}"
        )

    def _on_epoch(self, ev) -> None:
        rest = ", ".join(
            f"{k} {v:.3f}" for k, v in ev.metrics.items() if isinstance(v, float) and k not in exports.SCORES
        )
        metric = " · ".join(t for t in (exports.score_text(ev.metrics), rest) if t)
        self.status.setText(
            f"Epoch {ev.epoch + 1}: train {ev.train_loss:.4f}"
            + (f", test {ev.test_loss:.4f}" if ev.test_loss is not None else "")
            + (f" · {metric}" if metric else "")
            + f" · elapsed {format_seconds(ev.elapsed_s)}"
        )

    def _on_preset(self, name: str, values: dict) -> None:
        """A preset's target (a Data dock setting, not a form field) goes to the Data dock's target box."""
        if "target" in values:
            if self._choose_target is not None:
                self._choose_target(str(values["target"]))
            else:
                self.session.config = self.session.config.replace(target=str(values["target"]))

    def _on_finished(self, ev) -> None:
        self.progress.setRange(0, self._total)
        self._run_status = "stopped" if ev.cancelled else "finished"
        if ev.cancelled:
            self.progress.setFormat(f"stopped at epoch {ev.epoch + 1}")
            self.status.setText(self.status.text() + " · <b>stopped</b>")
        else:
            self.progress.setValue(self._total)
            self.progress.setFormat(
                f"done · {ev.epoch + 1} epochs in {format_seconds(time.perf_counter() - self._t_start)}"
            )
            from napari.utils.notifications import show_warning

            from ..analysis.verdict import held_out_verdicts

            trainer = self.session.trainer
            target = trainer.config.target if trainer is not None else ""
            for message in held_out_verdicts(ev.metrics or {}, str(target)):
                show_warning(message)
        self.save_btn.setEnabled(True)
        self._update_resume()

    # ---------------------------------------------------------- save / load
    def _save_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save run into folder")
        if folder and self._report(lambda: save_run(self.session, folder), "Run saved to {}") is not None:
            current = self._current_run_folder()  # the user wants this run: cleanup keeps it
            if current is not None and run_folders.mark_saved(current) is not None:
                self.refresh_runs()

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load run", str(self.runs_root()), "SPARKS run (model.pt checkpoint.pt config.json)"
        )
        if path:
            self.open_run(path)

    def open_run(self, path):
        """Load a run folder or file (the "Load run…" path); problems become notifications."""
        result = self._report(lambda: load_run(self.session, path), "Loaded run {}")
        self._on_running(self.session.running)
        return result

    # ------------------------------------------------------------ run folders
    def _build_runs_list(self, layout) -> None:
        row = QHBoxLayout()
        row.setSpacing(4)
        row.addWidget(QLabel("Runs folder"))
        self.runs_folder = QLineEdit(str(run_folders.runs_dir()))
        self.runs_folder.setReadOnly(True)
        self.runs_folder.setToolTip(
            "Every run gets its own folder run-YYYYmmdd-HHMMSS here (checkpoint, config, "
            "metrics). Default: your per-user data folder; SPARKS_RUNS_DIR overrides it."
        )
        self.runs_browse = QToolButton()
        self.runs_browse.setText("Browse…")
        self.runs_browse.setToolTip("Choose another runs folder (remembered for the next session)")
        self.runs_browse.clicked.connect(self._browse_runs)
        row.addWidget(self.runs_folder, 1)
        row.addWidget(self.runs_browse)
        layout.addLayout(row)

        self.runs_list = QTreeWidget()
        self.runs_list.setColumnCount(3)
        self.runs_list.setHeaderLabels(["run", "epochs", "metric"])
        self.runs_list.setRootIsDecorated(False)
        self.runs_list.setUniformRowHeights(True)
        self.runs_list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.runs_list.setToolTip("Runs in the runs folder, newest first (bold: kept). Double-click to open one.")
        self.runs_list.setMaximumHeight(88)  # about four rows: the form and the loss plot keep their room
        header = self.runs_list.header()
        header.setStretchLastSection(True)
        self.runs_list.setColumnWidth(0, 170)
        self.runs_list.setColumnWidth(1, 50)
        self.runs_list.itemDoubleClicked.connect(lambda item, _col: self.open_selected_run())
        layout.addWidget(self.runs_list)

        buttons = QHBoxLayout()
        self.open_run_btn = QPushButton("Open")
        self.open_run_btn.setToolTip("Load the selected run and show its results on the current recording")
        self.keep_run_btn = QPushButton("Keep")
        self.keep_run_btn.setToolTip("Mark the selected run as kept: Clean up… never deletes it")
        self.cleanup_btn = QPushButton("Clean up…")
        self.cleanup_btn.setToolTip(
            "Delete the temporary (not kept, not saved) runs in the runs folder, after "
            "asking; the run in progress or on screen is never deleted"
        )
        self.open_run_btn.clicked.connect(self.open_selected_run)
        self.keep_run_btn.clicked.connect(self.keep_selected_run)
        self.cleanup_btn.clicked.connect(lambda: self.cleanup_runs())
        for b in (self.open_run_btn, self.keep_run_btn, self.cleanup_btn):
            buttons.addWidget(b)
        layout.addLayout(buttons)
        self.runs_list.itemSelectionChanged.connect(self._update_run_buttons)
        self.refresh_runs()

    def runs_root(self) -> Path:
        return Path(self.runs_folder.text()).expanduser()

    def set_runs_root(self, folder) -> Path | None:
        """Use ``folder`` as the runs folder (remembered); a folder that cannot be used is a notification."""
        chosen = self._report(lambda: run_folders.choose_runs_dir(folder), "Runs folder: {}", quiet=True)
        if chosen is not None:
            self.runs_folder.setText(str(chosen))
            self.refresh_runs()
        return chosen

    def _browse_runs(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Runs folder", str(self.runs_root()))
        if folder:
            self.set_runs_root(folder)

    def refresh_runs(self) -> list:
        """Re-read the runs folder into the list; returns the RunInfo rows shown."""
        from qtpy.QtGui import QFont

        try:
            rows = run_folders.list_runs(self.runs_root())
        except OSError:
            rows = []
        selected = self.selected_run()
        self.runs_list.clear()
        for info in rows:
            item = QTreeWidgetItem([info.name, "" if info.epochs is None else str(info.epochs), info.metric_text])
            item.setData(0, Qt.UserRole, str(info.path))
            state = "kept" if info.saved else "temporary (Clean up… deletes it)"
            item.setToolTip(0, f"{info.path}\n{info.status or 'run'} · {state}")
            if info.saved:
                font = QFont(item.font(0))
                font.setBold(True)
                item.setFont(0, font)
            item.setTextAlignment(1, int(Qt.AlignRight | Qt.AlignVCenter))
            self.runs_list.addTopLevelItem(item)
            if selected is not None and Path(selected) == info.path:
                item.setSelected(True)
        self._update_run_buttons()
        return rows

    def selected_run(self) -> str | None:
        items = self.runs_list.selectedItems()
        return items[0].data(0, Qt.UserRole) if items else None

    def _update_run_buttons(self) -> None:
        has = self.selected_run() is not None
        self.open_run_btn.setEnabled(has and not self.session.running)
        self.keep_run_btn.setEnabled(has)

    def open_selected_run(self):
        path = self.selected_run()
        if path is None or self.session.running:
            return None
        return self.open_run(path)

    def keep_selected_run(self) -> None:
        path = self.selected_run()
        if path is not None:
            run_folders.mark_saved(path)  # a folder without run.json (CLI, Save run) is never cleaned up anyway
        self.refresh_runs()

    def _current_run_folder(self) -> Path | None:
        """The folder of the run in progress or on screen, when it is a run folder (has run.json)."""
        cfg = self.session.results.config
        out = getattr(cfg, "out_dir", None)
        return Path(out) if out and run_folders.read_marker(out) is not None else None

    def cleanup_runs(self, confirm: bool = True) -> list[Path]:
        """Delete the temporary runs of the runs folder (all but the current one) after asking."""
        current = self._current_run_folder()
        doomed = run_folders.cleanup_candidates(self.runs_root(), exclude=[current])
        if not doomed:
            self.status.setText("No temporary runs to clean up in the runs folder.")
            return []
        if confirm:
            answer = QMessageBox.question(
                self,
                "Clean up runs",
                f"Delete {len(doomed)} temporary run folder(s) in {self.runs_root()}?\n\n"
                + "\n".join(r.name for r in doomed[:8])
                + ("\n…" if len(doomed) > 8 else "")
                + "\n\nKept runs and the current run are not touched.",
                QMessageBox.Yes | QMessageBox.No,
                QMessageBox.No,
            )
            if answer != QMessageBox.Yes:
                return []
        deleted = self._report(
            lambda: run_folders.cleanup_runs(self.runs_root(), exclude=[current]),
            "Deleted {} temporary run folder(s)",
            fmt=len,
        )
        self.refresh_runs()
        return deleted or []

    def _close_run_folder(self) -> None:
        """After a run (finished, stopped or failed): its folder gets config.json, metrics.json and its
        status, and the list is refreshed."""
        folder = self._current_run_folder()
        if folder is not None:
            try:
                tr = self.session.trainer
                cfg = getattr(tr, "config", None) or self.session.results.config
                cfg.to_json(folder / "config.json")
                exports.write_metrics(self.session, folder)
                run_folders.update_marker(
                    folder, status=getattr(self, "_run_status", "finished"), epochs=len(self.session.results.history)
                )
            except Exception as exc:  # noqa: BLE001 - the run is over either way; say so
                from napari.utils.notifications import show_warning

                show_warning(f"Could not write the summary of {folder.name}: {exc}")
        self.refresh_runs()

    def _report(self, fn, message: str, quiet: bool = False, fmt=None):
        from napari.utils.notifications import show_error, show_info

        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - user-facing
            show_error(str(exc))
            return None
        if not quiet:
            show_info(message.format(result if fmt is None else fmt(result)))
        return result

    def _epochs(self) -> int:
        """Epochs of the run in progress ("auto" resolved by the trainer), else of the form's config."""
        tr = getattr(self.session, "trainer", None)
        return int(getattr(getattr(tr, "config", None), "epochs", 0) or self.session.config.epochs)

    def _show_auto_values(self, rec) -> None:
        """Show in the form what the "auto" fields will be for the recording (the engine's choice and why)."""
        if rec is None:
            return
        from ..engine.defaults import resolve

        try:
            resolved = resolve(self.session.config, rec, warn=False)
        except Exception:  # noqa: BLE001 - a hint only; Start reports real problems
            return
        values = {k: getattr(resolved.config, k) for k in resolved.notes}
        self.form.show_resolved(values, resolved.notes)
        if resolved.warnings:
            self.form.setToolTip("\n".join(resolved.warnings))
