"""Data dock: choose the recording, neurons, time range, target and split; shows a summary."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..engine.targets import default_target
from ..errors import SparksError
from ..napari.layers import LayerRole, recording_of, role_of
from ._session import session_for

GROUP_KEYS = ("area", "brain_area", "region", "location", "quality", "KSLabel", "group", "cell_type", "iscell")


def parse_indices(text: str, n: int) -> np.ndarray | None:
    """'0-9, 15, 20-' -> indices (None for an empty string)."""
    text = text.strip()
    if not text:
        return None
    out: list[int] = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                out.extend(range(int(a or 0), (int(b) + 1) if b.strip() else n))
            else:
                out.append(int(part))
        except ValueError:
            raise SparksError(f"'{part}' is not a neuron index or range.", "Write e.g. 0-29, 40, 45-50.") from None
    idx = np.unique(np.asarray(out, dtype=np.int64))
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise SparksError(f"Neuron indices must lie in 0..{n - 1}.", "Fix the neuron list.")
    return idx


def add_recording_layers(viewer, rec):
    """Add the napari layers of ``rec``: activity image, and its imaging movie, ROI masks and stimulus
    movie when it has them (:func:`sparks_gui.napari.layers.layers_for_recording`).  Layers of ``rec``
    already in the viewer (opened by napari's reader or a sample) are not added again."""
    from ..napari.layers import layers_for_recording

    have = {role_of(ly) for ly in viewer.layers if recording_of(ly) is rec}
    layers = []
    for data, kwargs, kind in layers_for_recording(rec):
        if role_of(kwargs) in have:
            continue
        layers.append(getattr(viewer, f"add_{kind}")(data, **kwargs))
    return layers


TARGET_TIPS = {
    "frame_id": "which stimulus frame is on screen (classification, cross-entropy)",
    "frames": "the stimulus frame's pixels (regression; decoded frames appear as a napari layer)",
    "unsupervised": "the next bins of activity (no reference signal)",
}


def target_choices(rec) -> list[str]:
    """Decoding targets ``rec`` supports: its behaviour signals, stimulus frame ids / pixels, unsupervised."""
    out = list(rec.behaviour)
    stim = getattr(rec, "stimulus", None) or {}
    if "frame_ids" in stim:
        out.append("frame_id")
        if stim.get("frames") is not None:
            out.append("frames")
    return out + ["unsupervised"]


class DataWidget(QWidget):
    """Pick and trim the recording that the Training dock uses."""

    def __init__(self, napari_viewer=None, session=None, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.session = session or session_for(napari_viewer)
        self._loader = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        src = QGroupBox("Recording")
        f = QFormLayout(src)
        self.recording_box = QComboBox()
        self.recording_box.setToolTip("napari layers that carry a recording (open a file or a sample to add one)")
        self.recording_box.setPlaceholderText("no recording loaded")
        f.addRow(self.recording_box)
        row = QHBoxLayout()
        self.open_btn = QPushButton("Open file…")
        self.open_btn.setToolTip("NWB, suite2p, Kilosort/phy, .npy/.npz/.mat/.csv …")
        self.sample_btn = QToolButton()
        self.sample_btn.setText("Sample data ▾")
        self.sample_btn.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(self.sample_btn)
        from ..data.synthetic import SAMPLES

        for key, (label, _) in SAMPLES.items():
            menu.addAction(label, lambda k=key: self.open_sample(k))
        self.sample_btn.setMenu(menu)
        row.addWidget(self.open_btn)
        row.addWidget(self.sample_btn)
        f.addRow(row)
        # reading options for the file opened here: which array holds the activity, the bin width
        self.array_label = QLabel("array")
        self.array_box = QComboBox()
        self.array_box.setToolTip(
            "Arrays of the file that could hold the neural activity (best guess first); "
            "choose another to reload the file with it"
        )
        self.dt_label = QLabel("bin width")
        self.dt_box = QDoubleSpinBox()
        self.dt_box.setRange(0.0, 60_000.0)
        self.dt_box.setDecimals(3)
        self.dt_box.setSuffix(" ms")
        self.dt_box.setSpecialValueText("from file")
        self.dt_box.setKeyboardTracking(False)
        self.dt_box.setToolTip("Time per bin (or per frame) when the file does not store it; 'from file' = as stored")
        self.trials_label = QLabel("trials")
        self.trials_box = QComboBox()
        self.trials_box.setToolTip(
            "The file's intervals table that defines the trials (NWB files with several tables, or with one "
            "not called 'trials'); 'none' = treat the recording as one continuous session"
        )
        f.addRow(self.array_label, self.array_box)
        f.addRow(self.dt_label, self.dt_box)
        f.addRow(self.trials_label, self.trials_box)
        self._file_path: str | None = None
        self._file_layers: list = []
        self._show_file_options([], None, dt_row=False)
        self._show_trials_options([], None)
        layout.addWidget(src)

        sel = QGroupBox("Selection")
        g = QFormLayout(sel)
        self.group_box = QComboBox()
        self.group_box.setToolTip("All neurons, or those of one brain area / quality label")
        self.indices = QLineEdit()
        self.indices.setPlaceholderText("e.g. 0-29, 40 (empty = all of the group)")
        self.t_start = QDoubleSpinBox()
        self.t_stop = QDoubleSpinBox()
        for w in (self.t_start, self.t_stop):
            w.setSuffix(" s")
            w.setDecimals(3)
            w.setKeyboardTracking(False)
        self.t_start.setToolTip("Start of the time range used for training (trials inside the range are kept)")
        self.t_stop.setToolTip("End of the time range used for training")
        trow = QHBoxLayout()
        trow.addWidget(self.t_start)
        trow.addWidget(QLabel("to"))
        trow.addWidget(self.t_stop)
        g.addRow("neurons", self.group_box)
        g.addRow("indices", self.indices)
        g.addRow("time", trow)
        layout.addWidget(sel)

        tgt = QGroupBox("Target and split")
        h = QFormLayout(tgt)
        self.target = QComboBox()
        self.target.setToolTip(
            "What the decoder predicts: a behaviour signal, or 'unsupervised' (the next activity bins)"
        )
        self.test_fraction = QDoubleSpinBox()
        self.test_fraction.setRange(0.0, 0.9)
        self.test_fraction.setSingleStep(0.05)
        self.test_fraction.setToolTip("Fraction of trials/segments held out for testing")
        self.bin_factor = QSpinBox()
        self.bin_factor.setRange(1, 1000)
        self.bin_factor.setToolTip("Merge this many time bins before training (sum for spikes, mean for calcium)")
        self.segment_length = QSpinBox()
        self.segment_length.setRange(0, 1_000_000)
        self.segment_length.setSpecialValueText("auto")  # 0: chosen from the recording
        self.segment_length.setToolTip("Bins per training example for recordings without trials (after binning)")
        h.addRow("target", self.target)
        h.addRow("test fraction", self.test_fraction)
        h.addRow("bin factor", self.bin_factor)
        h.addRow("segment length", self.segment_length)
        layout.addWidget(tgt)

        self.summary = QLabel("")
        self.summary.setTextFormat(Qt.RichText)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        box = QGroupBox("Summary")
        QVBoxLayout(box).addWidget(self.summary)
        layout.addWidget(box)
        layout.addStretch(1)

        cfg = self.session.config
        self.test_fraction.setValue(cfg.test_fraction)
        self.bin_factor.setValue(cfg.bin_factor)
        self.segment_length.setValue(cfg.segment_length)

        self._apply_timer = QTimer(self)
        self._apply_timer.setSingleShot(True)
        self._apply_timer.setInterval(250)
        self._apply_timer.timeout.connect(self.apply_selection)
        self.open_btn.clicked.connect(self._open_dialog)
        self.array_box.activated.connect(lambda *_: self._reload_with_options())
        self.trials_box.activated.connect(lambda *_: self._reload_with_options())
        self.dt_box.valueChanged.connect(lambda *_: self._reload_with_options())
        self.recording_box.currentIndexChanged.connect(self._on_layer_choice)
        self.group_box.currentIndexChanged.connect(lambda *_: self._apply_timer.start())
        self.indices.editingFinished.connect(self._apply_timer.start)
        self.t_start.valueChanged.connect(lambda *_: self._apply_timer.start())
        self.t_stop.valueChanged.connect(lambda *_: self._apply_timer.start())
        for w in (self.target,):
            w.currentIndexChanged.connect(lambda *_: self._update_config())
        for w in (self.test_fraction, self.bin_factor, self.segment_length):
            w.valueChanged.connect(lambda *_: self._update_config())
        self.session.recording_changed.connect(self._on_recording)
        self.session.selection_changed.connect(self._show_summary)
        self.session.running_changed.connect(lambda on: self.setEnabled(not on))
        if napari_viewer is not None:
            napari_viewer.layers.events.inserted.connect(self._on_layer_inserted)
            napari_viewer.layers.events.removed.connect(lambda *_: self._refresh_layers())
            self._refresh_layers()
            if self.session.recording is None and self.recording_box.count():
                self.recording_box.setCurrentIndex(self.recording_box.count() - 1)
                self._on_layer_choice()
        if self.session.recording is not None:
            self._on_recording(self.session.recording)

    # ------------------------------------------------------------- sources
    def _recording_layers(self):
        if self.viewer is None:
            return []
        return [ly for ly in self.viewer.layers if role_of(ly) is LayerRole.ACTIVITY]

    def _refresh_layers(self) -> None:
        layers = self._recording_layers()
        current = self.recording_box.currentText()
        self.recording_box.blockSignals(True)
        self.recording_box.clear()
        for ly in layers:
            self.recording_box.addItem(ly.name)
        if current in [ly.name for ly in layers]:
            self.recording_box.setCurrentText(current)
        self.recording_box.blockSignals(False)

    def _on_layer_inserted(self, event) -> None:
        layer = event.value
        self._refresh_layers()
        if role_of(layer) is LayerRole.ACTIVITY:
            self.recording_box.setCurrentText(layer.name)
            self._on_layer_choice()

    def _on_layer_choice(self, *_) -> None:
        name = self.recording_box.currentText()
        for ly in self._recording_layers():
            if ly.name == name:
                rec = recording_of(ly)
                if rec is not self.session.recording:
                    self.session.set_recording(rec, layer=ly)
                    if self.viewer is not None:
                        QTimer.singleShot(0, self.viewer.reset_view)  # after the reader's other layers are in
                return

    def _fit_aspect(self, layer) -> None:
        """Stretch a very wide neurons x time image so that it is readable in the canvas (display only)."""
        with contextlib.suppress(Exception):  # cosmetic
            rows, cols = layer.data.shape[-2:]
            if cols > 8 * rows and tuple(layer.scale[-2:]) == (1.0, 1.0):
                layer.scale = (*layer.scale[:-2], 1.0, 3.0 * rows / cols)
                if self.viewer is not None:
                    self.viewer.reset_view()

    def open_sample(self, key: str) -> None:
        if self.viewer is not None:
            self.viewer.open_sample("sparks-gui", key)

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open recording",
            "",
            "Recordings (*.nwb *.npy *.npz *.mat *.csv *.h5 *.hdf5 *.tif *.tiff);;All files (*)",
        )
        if path:
            self.open_file(path)

    def _show_file_options(self, choices: list[str], current: str | None, dt_row: bool) -> None:
        """Show the array picker when several arrays fit, and the bin-width box for files opened here."""
        self.array_box.blockSignals(True)
        self.array_box.clear()
        self.array_box.addItems(choices)
        if current in choices:
            self.array_box.setCurrentText(current)
        self.array_box.blockSignals(False)
        for w in (self.array_label, self.array_box):
            w.setVisible(len(choices) > 1)
        for w in (self.dt_label, self.dt_box):
            w.setVisible(dt_row)

    NO_TRIALS = "none (continuous)"

    def _show_trials_options(self, tables: list[str], current: str | None) -> None:
        """Offer the NWB intervals tables as trials when there is a choice (not just one table named 'trials')."""
        self.trials_box.blockSignals(True)
        self.trials_box.clear()
        if tables and tables != ["trials"]:
            self.trials_box.addItems([*tables, self.NO_TRIALS])
            self.trials_box.setCurrentText(current if current in tables else self.NO_TRIALS)
        self.trials_box.blockSignals(False)
        for w in (self.trials_label, self.trials_box):
            w.setVisible(self.trials_box.count() > 0)

    def file_options(self) -> dict:
        """The reading options chosen in the dock (``activity_key``, ``dt``, ``trials``) for the file opened here."""
        opts: dict = {}
        if self.array_box.count() > 1 and self.array_box.currentText():
            opts["activity_key"] = self.array_box.currentText()
        if self.dt_box.value() > 0:
            opts["dt"] = self.dt_box.value() / 1000.0
        if self.trials_box.count() > 0:
            choice = self.trials_box.currentText()
            opts["trials"] = False if choice == self.NO_TRIALS else choice
        return opts

    def _reload_with_options(self) -> None:
        if self._file_path is not None and (self._loader is None or self.open_btn.isEnabled()):
            self.open_file(self._file_path, **self.file_options())

    def open_file(self, path: str | Path, **options):
        """Read ``path`` in a background thread (``options`` go to ``load_recording``, e.g.
        ``activity_key``, ``dt``); warnings and errors become notifications. Returns the worker."""
        from napari.qt.threading import create_worker

        from ..data.io import activity_choices, load_recording, trials_choices
        from ..errors import SparksWarning

        self.open_btn.setEnabled(False)
        self.open_btn.setText("Opening…")
        if str(path) != self._file_path:  # a new file: its own guesses, no leftover choices
            self.dt_box.blockSignals(True)
            self.dt_box.setValue(0.0)
            self.dt_box.blockSignals(False)
            self._show_trials_options([], None)
        self._file_path = str(path)

        def read(path: str, options: dict):
            import warnings

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", SparksWarning)
                try:
                    result = ("ok", load_recording(path, **options))
                except Exception as exc:  # noqa: BLE001 - a bad file is reported, never raised into Qt
                    result = ("error", exc)  # (superqt re-raises a returned exception object)
            messages = [str(w.message) for w in caught if issubclass(w.category, SparksWarning)]
            pickers = []
            for options_of in (activity_choices, trials_choices):
                try:
                    pickers.append(options_of(path))
                except Exception:  # noqa: BLE001 - the pickers are optional
                    pickers.append([])
            return (*result, messages, tuple(pickers))

        # failed() reports an error (no re-raise into the event loop)
        worker = create_worker(read, str(path), dict(options), _start_thread=False, _ignore_errors=True)

        def done(result):
            status, rec, messages, (choices, tables) = result
            from napari.utils.notifications import show_warning

            for msg in messages:
                show_warning(msg)
            if status == "error":
                needs_dt = "bin width" in str(rec) or "dt" in (getattr(rec, "fix", "") or "")
                self._show_file_options(choices, options.get("activity_key"), dt_row=True)
                self._show_trials_options(tables, options.get("trials") or None)
                if needs_dt:
                    self.dt_box.setFocus()
                failed(rec)
                return
            self._show_file_options(choices, rec.provenance.get("activity_key"), dt_row=True)
            self._show_trials_options(tables, rec.provenance.get("trials_table"))
            if self.viewer is not None:
                for ly in self._file_layers:  # the previous read of this file is replaced
                    if ly in self.viewer.layers:
                        self.viewer.layers.remove(ly)
                self._file_layers = add_recording_layers(self.viewer, rec)  # the inserted-layer hook makes it current
            if self.session.recording is not rec:
                self.session.set_recording(rec)

        def failed(exc):
            from napari.utils.notifications import show_error

            show_error(f"Could not open '{Path(path).name}': {exc}")

        def finished():
            self.open_btn.setEnabled(True)
            self.open_btn.setText("Open file…")

        worker.returned.connect(done)
        worker.errored.connect(failed)
        worker.finished.connect(finished)
        self._loader = worker
        worker.start()
        return worker

    # ------------------------------------------------------------ selection
    def _on_recording(self, rec) -> None:
        widgets = (self.group_box, self.t_start, self.t_stop, self.target)
        for w in widgets:
            w.blockSignals(True)
        self.group_box.clear()
        self.target.clear()
        if rec is not None:
            self.group_box.addItem("all neurons", None)
            for key in GROUP_KEYS:
                values = rec.neuron_meta.get(key) if rec.neuron_meta else None
                if values is None:
                    continue
                for v in np.unique(np.asarray(values).astype(str)):
                    self.group_box.addItem(f"{key} = {v}", (key, v))
            self.t_start.setRange(0, rec.duration)
            self.t_stop.setRange(0, rec.duration)
            self.t_start.setValue(0)
            self.t_stop.setValue(rec.duration)
            self.t_start.setSingleStep(rec.dt * 100)
            self.t_stop.setSingleStep(rec.dt * 100)
            choices = target_choices(rec)
            self.target.addItems(choices)
            for i, name in enumerate(choices):
                self.target.setItemData(
                    i, TARGET_TIPS.get(name, f"behaviour signal '{name}' (regression)"), Qt.ToolTipRole
                )
            want = self.session.config.target
            self.target.setCurrentText(want if want in choices else default_target(rec))
        self.indices.clear()
        for w in widgets:
            w.blockSignals(False)
        self._update_config()
        self._show_summary(self.session.training_recording())

    def selected_neurons(self) -> np.ndarray | None:
        rec = self.session.recording
        if rec is None:
            return None
        group = self.group_box.currentData()
        base = np.arange(rec.n_neurons)
        if group is not None:
            key, value = group
            base = np.flatnonzero(np.asarray(rec.neuron_meta[key]).astype(str) == value)
        idx = parse_indices(self.indices.text(), rec.n_neurons)
        if idx is not None:
            base = np.intersect1d(base, idx)
        return base

    def apply_selection(self) -> None:
        rec = self.session.recording
        if rec is None:
            return
        from napari.utils.notifications import show_error

        try:
            neurons = self.selected_neurons()
            t0 = round(self.t_start.value() / rec.dt)
            t1 = round(self.t_stop.value() / rec.dt)
            if t1 <= t0:
                raise SparksError("The time range is empty (stop ≤ start).", "Set the stop time after the start time.")
            self.session.set_selection(neurons, (t0, min(t1, rec.n_time)))
        except SparksError as exc:
            show_error(str(exc))
            return
        self._update_config()

    def choose_target(self, target: str) -> None:
        """Pick ``target`` in the target box (``"auto"``: the recording's default), e.g. when a preset names one."""
        rec = self.session.recording
        if rec is None:
            self.session.config = self.session.config.replace(target=target)
            return
        choices = [self.target.itemText(i) for i in range(self.target.count())]
        want = default_target(rec) if target == "auto" else target
        if want in choices:
            self.target.setCurrentText(want)
            self._update_config()
        else:
            from napari.utils.notifications import show_warning

            show_warning(
                f"The preset's target '{target}' is not in this recording; the target stays '{self.target.currentText()}'."
            )

    def _update_config(self) -> None:
        rec = self.session.recording
        changes = {
            "test_fraction": round(self.test_fraction.value(), 4),
            "bin_factor": self.bin_factor.value(),
            "segment_length": self.segment_length.value(),
        }
        if rec is not None:
            changes["target"] = self.target.currentText() or "auto"
            src = rec.provenance.get("source")
            if src and src != "synthetic":
                changes["data_path"] = str(src)
            elif rec.provenance.get("generator"):
                changes["data_path"] = None
            extra = dict(self.session.config.extra)
            extra["gui_selection"] = {
                "neurons": None if self.session.neuron_idx is None else [int(i) for i in self.session.neuron_idx],
                "time_bins": None if self.session.time_range is None else [int(t) for t in self.session.time_range],
            }
            changes["extra"] = extra
        try:
            self.session.config = self.session.config.replace(**changes)
        except SparksError as exc:
            from napari.utils.notifications import show_error

            show_error(str(exc))

    def _show_summary(self, rec) -> None:
        if rec is None:
            self.summary.setText("<i>No recording. Open a file or choose a sample.</i>")
            return
        try:
            from ..engine.defaults import resolve

            auto = resolve(self.session.config.replace(segment_length=0), rec, warn=False)
            self.segment_length.setSpecialValueText(f"auto ({auto.config.segment_length})")
            self.segment_length.setToolTip(
                "Bins per training example for recordings without trials (after binning). "
                f"auto: {auto.notes.get('segment_length', '')}"
            )
        except Exception:  # noqa: BLE001 - a hint only
            pass
        s = rec.summary()
        full = self.session.recording
        rate = (
            f"{s['mean_rate_hz']:.2f} Hz mean rate"
            if "mean_rate_hz" in s
            else f"{s['mean_activity']:.3g} mean activity"
        )
        beh = ", ".join(f"{k} ({v})" for k, v in s["behaviour"].items()) or "none"
        rows = [
            ("name", s["name"]),
            ("kind", s["kind"]),
            (
                "neurons",
                f"{s['n_neurons']}"
                + (f" of {full.n_neurons}" if full is not None and full.n_neurons != s["n_neurons"] else ""),
            ),
            ("duration", f"{s['duration_s']:.2f} s ({s['n_time']:,} bins)"),
            ("dt", f"{s['dt_s'] * 1000:g} ms"),
            ("trials", f"{s['n_trials']}" + (f" · conditions: {', '.join(rec.conditions)}" if rec.conditions else "")),
            ("activity", rate),
            ("behaviour", beh),
        ]
        self.summary.setText(
            "<table>"
            + "".join(f"<tr><td style='color:#9aa0a8;padding-right:8px'>{k}</td><td>{v}</td></tr>" for k, v in rows)
            + "</table>"
        )
