"""The Training dock's form, generated from the :class:`SparksConfig` field metadata.

Each field declared with ``setting(...)`` in ``engine/config.py`` and marked ``form=True``
gets one editor, in its section, in declaration order: the metadata's choices make a combo box,
``bool`` a check box, ``int`` a spin box bounded by the metadata's range, ``float`` a line edit
(scientific notation) bounded by it, a list with choices a comma-separated line edit; the
field's help text (and its range) is the tooltip.  Adding a field to the config adds it here,
with no edit to this module.  A preset combo at the top fills the form from a bundled preset.

Why a hand-built Qt form and not magicgui (napari's own form builder, a declared dependency):
the metadata would drive either one, but magicgui's widgets fit this config badly -

* "auto" values: 0 means "chosen from the recording" for five fields; the form shows
  ``auto (12)`` with the reason in the tooltip once a recording is loaded
  (``QSpinBox.setSpecialValueText``, line-edit placeholders).  magicgui's SpinBox has no
  special-value text, so we would reach into ``.native`` for every such field anyway.
* small floats: magicgui's FloatSpinBox rounds to a fixed number of decimals
  (lr 3e-3, beta 1e-3, weight decay 1e-5 ...); a validated line edit in scientific notation keeps them.
* collapsible sections (superqt ``QCollapsible``, Training open, Model/Reporting folded):
  magicgui containers do not fold.
* the tests, the screenshots script and the Training dock use Qt editors
  (``form.editors[name].setValue/setText/setCurrentText``), which stay as they were.

The metadata stays the single source: a magicgui form can be built from
``config_fields()`` (type, choices, min/max, help as tooltip) if it is ever wanted.
"""

from __future__ import annotations

import math

from qtpy.QtCore import Qt, Signal
from qtpy.QtGui import QDoubleValidator
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from ..engine import config as config_module
from ..engine.config import SparksConfig, config_fields, field_help
from ..engine.config_meta import Setting
from ..errors import SparksError

FORM_FIELDS: dict[str, Setting] = {s.name: s for s in config_fields() if s.form}
"""The fields the form edits, by name (``form=True`` in their metadata)."""
SECTIONS: dict[str, tuple[str, ...]] = {}
for _s in FORM_FIELDS.values():
    SECTIONS[_s.section] = (*SECTIONS.get(_s.section, ()), _s.name)
"""Form section -> its fields, from the metadata (data fields live in the Data dock)."""
OPEN_SECTIONS = ("Training",)
AUTO = "auto"
NO_PRESET = "preset…"
SPIN_MAX = 1_000_000


def field_docs() -> dict[str, str]:
    """Each field's help text (kept for callers of the old name; it comes from the field metadata)."""
    return field_help()


def tooltip(s: Setting) -> str:
    """``<b>name</b><br>help`` plus the allowed values or range."""
    extra = []
    if s.choices is not None:
        extra.append(("some of: " if s.kind == "list" else "one of: ") + ", ".join(s.choices))
    if s.range_text():
        extra.append(s.range_text() + (" (0 = auto)" if s.auto else ""))
    tail = f"<br><i>{'; '.join(extra)}</i>" if extra else ""
    return f"<b>{s.name}</b><br>{s.help}{tail}"


class ConfigForm(QWidget):
    """Edit the model/training fields of a :class:`SparksConfig`."""

    preset_applied = Signal(str, dict)
    """A preset was chosen: its name and all its settings (also those outside the form, e.g. ``target``)."""

    def __init__(self, config: SparksConfig | None = None, parent=None):
        super().__init__(parent)
        config = config or SparksConfig()
        self.editors: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)

        self.preset = QComboBox()
        self.preset.addItem(NO_PRESET)
        lines = [
            "Fill the form with the defaults plus a bundled preset (sparks_gui/resources/presets; CLI: "
            "--preset NAME). A target the preset names (e.g. unsupervised) is chosen in the Data dock."
        ]
        for name in config_module.available_presets():
            self.preset.addItem(name.replace("_", " "), name)
            self.preset.setItemData(self.preset.count() - 1, config_module.preset_description(name), Qt.ToolTipRole)
            lines.append(f"<b>{name.replace('_', ' ')}</b>: {config_module.preset_description(name)}")
        self.preset.setToolTip("<br>".join(lines))
        self.preset.activated.connect(lambda i: self.apply_preset(self.preset.itemData(i)) if i > 0 else None)
        top = QFormLayout()
        top.setContentsMargins(6, 2, 6, 2)
        top.addRow("preset", self.preset)
        layout.addLayout(top)

        self.sections: dict[str, QCollapsible] = {}
        for section, names in SECTIONS.items():
            box = QCollapsible(section)
            inner = QWidget()
            form = QFormLayout(inner)
            form.setContentsMargins(6, 2, 6, 2)
            form.setVerticalSpacing(3)
            for name in names:
                s = FORM_FIELDS[name]
                editor = self._editor(s)
                editor.setToolTip(tooltip(s))
                self.editors[name] = editor
                form.addRow(s.display_label, editor)
            box.addWidget(inner)
            if section in OPEN_SECTIONS:
                box.expand(animate=False)
            self.sections[section] = box
            layout.addWidget(box)
        self.set_config(config)

    @staticmethod
    def _editor(s: Setting) -> QWidget:
        kind = s.kind
        if kind == "choice":
            w = QComboBox()
            w.addItems(list(s.choices))
            return w
        if kind == "list":  # comma-separated names, no number validator
            w = QLineEdit()
            w.setPlaceholderText(", ".join(s.choices or ()))
            return w
        if kind == "bool":
            return QCheckBox()
        if kind == "int":
            w = QSpinBox()
            low = 0 if s.min is None else int(math.floor(s.min)) + (1 if s.min_open else 0)
            high = SPIN_MAX if s.max is None else int(math.ceil(s.max)) - (1 if s.max_open else 0)
            w.setRange(low, high)
            if s.auto:
                w.setSpecialValueText(AUTO)  # 0 = chosen from the recording
            return w
        w = QLineEdit()
        if s.auto:
            w.setPlaceholderText(AUTO)
        v = QDoubleValidator()
        v.setNotation(QDoubleValidator.ScientificNotation)
        if s.min is not None:
            v.setBottom(float(s.min))
        if s.max is not None:
            v.setTop(float(s.max))
        w.setValidator(v)
        w.setMaximumWidth(110)
        return w

    def apply_preset(self, name: str) -> None:
        """Fill the form with the defaults plus the preset ``name`` and emit :attr:`preset_applied`."""
        values = config_module.preset_values(name)
        self.set_config(SparksConfig.from_preset(name))
        index = self.preset.findData(name)
        if index >= 0:
            self.preset.setCurrentIndex(index)
        self.preset_applied.emit(name, values)

    def set_config(self, config: SparksConfig) -> None:
        for name, editor in self.editors.items():
            value = getattr(config, name)
            if isinstance(editor, QComboBox):
                editor.setCurrentText(str(value))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QSpinBox):
                editor.setValue(int(value))
            elif FORM_FIELDS[name].kind == "list":
                editor.setText(", ".join(str(v) for v in value))
            elif name in config_module.AUTO_FIELDS and value == 0:
                editor.setText("")
            else:
                editor.setText(f"{value:g}")

    def show_resolved(self, values: dict, notes: dict[str, str]) -> None:
        """Show what each "auto" field will be for the loaded recording (the value and why), editable."""
        for name in config_module.AUTO_FIELDS:
            editor = self.editors.get(name)
            if editor is None or name not in values:
                continue
            text = f"{AUTO} ({values[name]:g})"
            if isinstance(editor, QSpinBox):
                editor.setSpecialValueText(text)
            elif isinstance(editor, QLineEdit):
                editor.setPlaceholderText(text)
            base = editor.toolTip().split("<br><i>auto for this recording")[0]
            if name in notes:
                editor.setToolTip(f"{base}<br><i>auto for this recording: {values[name]:g} - {notes[name]}</i>")

    def values(self) -> dict:
        out = {}
        for name, editor in self.editors.items():
            if isinstance(editor, QComboBox):
                out[name] = editor.currentText()
            elif isinstance(editor, QCheckBox):
                out[name] = editor.isChecked()
            elif isinstance(editor, QSpinBox):
                out[name] = editor.value()
            elif FORM_FIELDS[name].kind == "list":
                items = [t.strip() for t in editor.text().split(",") if t.strip()]
                out[name] = items or list(FORM_FIELDS[name].choices or ())
            else:
                text = editor.text().strip()
                if name in config_module.AUTO_FIELDS and text.lower() in ("", AUTO):
                    out[name] = 0.0
                    continue
                try:
                    out[name] = float(text)
                except ValueError:
                    raise SparksError(
                        f"'{text}' is not a number (field {name}).", "Type a number such as 0.003 or 3e-3."
                    ) from None
        return out

    def config(self, base: SparksConfig) -> SparksConfig:
        """``base`` with the form's values (raises SparksError when a value is invalid)."""
        return base.replace(**self.values())
