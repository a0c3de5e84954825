"""Export dock: one folder, one button per kind of result, and a report button."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import exports
from ._session import session_for


class ExportWidget(QWidget):
    def __init__(self, napari_viewer=None, session=None, parent=None):
        super().__init__(parent)
        self.session = session or session_for(napari_viewer)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.folder = QLineEdit(str(Path.cwd() / "sparks-export"))
        self.folder.setToolTip("Files are written here (the folder is created when needed)")
        browse = QToolButton()
        browse.setText("…")
        browse.clicked.connect(self._browse)
        row.addWidget(QLabel("folder"))
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        layout.addLayout(row)

        box = QGroupBox("Export")
        grid = QGridLayout(box)
        self.buttons: dict[str, QPushButton] = {}
        actions = [
            ("ordering", "Neuron ordering (CSV + NPY)", exports.export_ordering),
            ("latents", "Latents (NPZ)", exports.export_latents),
            ("predictions", "Predictions (NPZ)", exports.export_predictions),
            ("attention", "Attention (NPZ)", exports.export_attention),
            ("run", "Run: config + checkpoint", lambda s, f: exports.export_run(s, Path(f) / "run")),
            ("views", "Views (PNG + SVG)", lambda s, f: exports.export_views(s, Path(f) / "views")),
            ("figures", "Figures (PDF)", lambda s, f: exports.export_figures(s, Path(f) / "figures")),
        ]
        for i, (key, label, fn) in enumerate(actions):
            b = QPushButton(label)
            b.clicked.connect(lambda _=False, fn=fn, label=label: self.run_export(fn, label))
            grid.addWidget(b, i // 2, i % 2)
            self.buttons[key] = b
        nwb = QPushButton("NWB with results…")
        nwb.setToolTip("A copy of the recording as NWB (the input file is never changed) with a 'sparks' processing "
                       "module: latents, predictions, the neuron ordering and the run's config")
        nwb.clicked.connect(lambda: self.export_nwb())
        grid.addWidget(nwb, len(actions) // 2, len(actions) % 2)
        self.buttons["nwb"] = nwb
        layout.addWidget(box)
        self.report_btn = QPushButton("Write report (everything + metrics.json)")
        self.report_btn.setStyleSheet("font-weight: bold; padding: 6px;")
        self.report_btn.clicked.connect(lambda: self.run_export(exports.write_report, "Report"))
        layout.addWidget(self.report_btn)
        self.last = QLabel("")
        self.last.setWordWrap(True)
        layout.addWidget(self.last)
        layout.addStretch(1)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def export_nwb(self, path=None):
        """Save the recording with its results as a new NWB file (asks where unless ``path`` is given)."""
        if path is None:
            rec = self.session.recording
            name = f"{getattr(rec, 'name', 'recording')}_sparks.nwb".replace("/", "_").replace(" ", "_")
            path, _ = QFileDialog.getSaveFileName(self, "Save NWB with results", str(Path(self.folder.text()) / name),
                                                  "NWB (*.nwb)")
            if not path:
                return None
        return self.run_export(lambda s, _f: exports.export_nwb(s, path), "NWB with results")

    def run_export(self, fn, label: str):
        from napari.utils.notifications import show_error, show_info

        folder = Path(self.folder.text()).expanduser()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            result = fn(self.session, folder)
        except Exception as exc:  # noqa: BLE001 - user-facing
            show_error(f"{label}: {exc}")
            self.last.setText(f"<span style='color:#ff6b6b'>{label} failed: {exc}</span>")
            return None
        where = result if isinstance(result, Path) and result.suffix else folder
        show_info(f"{label} written to {where}")
        self.last.setText(f"{label} → {where}")
        return result
