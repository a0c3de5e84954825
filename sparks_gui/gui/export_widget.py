"""Export dock: one folder, one button per kind of result, and a report button."""

from __future__ import annotations

from pathlib import Path

from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
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
        layout.addLayout(self._size_row())

        box = QGroupBox("Export")
        grid = QGridLayout(box)
        self.buttons: dict[str, QPushButton] = {}
        actions = [
            ("ordering", "Neuron ordering (CSV + NPY)", exports.export_ordering),
            ("latents", "Latents (NPZ)", exports.export_latents),
            ("predictions", "Predictions (NPZ)", exports.export_predictions),
            ("attention", "Attention (NPZ)", exports.export_attention),
            ("run", "Run: config + checkpoint", lambda s, f: exports.export_run(s, Path(f) / "run")),
            (
                "views",
                "Views (PNG + SVG)",
                lambda s, f: exports.export_views(s, Path(f) / "views", size=self.image_size()),
            ),
            (
                "figures",
                "Figures (PDF + PNG)",
                lambda s, f: exports.export_figures(s, Path(f) / "figures", ("pdf", "png"), size=self.image_size()),
            ),
        ]
        for i, (key, label, fn) in enumerate(actions):
            b = QPushButton(label)
            b.clicked.connect(lambda _=False, fn=fn, label=label: self.run_export(fn, label))
            grid.addWidget(b, i // 2, i % 2)
            self.buttons[key] = b
        nwb = QPushButton("NWB with results…")
        nwb.setToolTip(
            "A copy of the recording as NWB (the input file is never changed) with a 'sparks' processing "
            "module: latents, predictions, the neuron ordering and the run's config"
        )
        nwb.clicked.connect(lambda: self.export_nwb())
        grid.addWidget(nwb, len(actions) // 2, len(actions) % 2)
        self.buttons["nwb"] = nwb
        layout.addWidget(box)
        self.report_btn = QPushButton("Write report (everything + metrics.json)")
        self.report_btn.setStyleSheet("font-weight: bold; padding: 6px;")
        self.report_btn.clicked.connect(
            lambda: self.run_export(lambda s, f: exports.write_report(s, f, size=self.image_size()), "Report")
        )
        layout.addWidget(self.report_btn)
        self.last = QLabel("")
        self.last.setWordWrap(True)
        layout.addWidget(self.last)
        layout.addStretch(1)

    def _size_row(self) -> QHBoxLayout:
        """Width x height (0 = auto: the view's / figure's own aspect), unit and DPI of exported images."""
        row = QHBoxLayout()
        row.setSpacing(3)
        self.img_width = QDoubleSpinBox()
        self.img_height = QDoubleSpinBox()
        for box in (self.img_width, self.img_height):
            box.setKeyboardTracking(False)
        self.img_height.setSpecialValueText("auto")
        self.img_unit = QComboBox()
        self.img_unit.addItems(["in", "px"])
        self.img_dpi = QSpinBox()
        self.img_dpi.setRange(10, 2400)
        self.img_dpi.setValue(200)
        self.img_dpi.setSuffix(" dpi")
        self._set_unit_ranges("in")
        self.img_width.setValue(6.0)
        self.img_height.setValue(0.0)
        self.img_width.setToolTip("Width of exported view images (PNG/SVG) and figures (PDF/PNG)")
        self.img_height.setToolTip("Height; 'auto' (0) keeps the view's on-screen or the figure's own aspect")
        self.img_unit.setToolTip("Size in inches (pixels = inches x DPI) or in pixels")
        self.img_dpi.setToolTip("Resolution: text and lines keep their size in inches, more DPI = more pixels")
        self.img_unit.currentTextChanged.connect(self._convert_unit)
        row.addWidget(QLabel("image"))
        row.addWidget(self.img_width, 1)
        row.addWidget(QLabel("×"))
        row.addWidget(self.img_height, 1)
        row.addWidget(self.img_unit)
        row.addWidget(self.img_dpi)
        self._unit = "in"
        return row

    def _set_unit_ranges(self, unit: str) -> None:
        for box in (self.img_width, self.img_height):
            if unit == "in":
                box.setDecimals(2)
                box.setRange(0.0, 100.0)
                box.setSingleStep(0.5)
            else:
                box.setDecimals(0)
                box.setRange(0.0, 20000.0)
                box.setSingleStep(100)
        self.img_width.setMinimum(0.1 if unit == "in" else 16)

    def _convert_unit(self, unit: str) -> None:
        """Switching in <-> px keeps the size: the values are converted with the DPI."""
        if unit == self._unit:
            return
        dpi = float(self.img_dpi.value())
        factor = dpi if unit == "px" else 1.0 / dpi
        w, h = self.img_width.value() * factor, self.img_height.value() * factor
        self._set_unit_ranges(unit)
        self.img_width.setValue(w)
        self.img_height.setValue(h)
        self._unit = unit

    def set_image_size(self, width: float, height: float = 0.0, unit: str = "in", dpi: int = 200) -> None:
        self.img_dpi.setValue(int(dpi))
        self.img_unit.setCurrentText(unit)
        self.img_width.setValue(width)
        self.img_height.setValue(height)

    def image_size(self):
        """The :class:`~sparks_gui.figures.size.ImageSize` of the fields (a SparksError when out of range)."""
        from ..figures.size import ImageSize

        return ImageSize(
            self.img_width.value(), self.img_height.value(), self.img_unit.currentText(), float(self.img_dpi.value())
        )

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def export_nwb(self, path=None):
        """Save the recording with its results as a new NWB file (asks where unless ``path`` is given)."""
        if path is None:
            rec = self.session.recording
            name = f"{getattr(rec, 'name', 'recording')}_sparks.nwb".replace("/", "_").replace(" ", "_")
            path, _ = QFileDialog.getSaveFileName(
                self, "Save NWB with results", str(Path(self.folder.text()) / name), "NWB (*.nwb)"
            )
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
