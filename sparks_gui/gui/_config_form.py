"""A form generated from the :class:`SparksConfig` dataclass (one widget per field).

Field types pick the widget (int -> spin box, float -> scientific line edit, bool ->
check box, fields with a fixed set of values -> combo box); the docstring under each
field becomes its tooltip, so the form stays in step with the config without edits here.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from functools import lru_cache

from qtpy.QtGui import QDoubleValidator
from qtpy.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLineEdit, QSpinBox, QVBoxLayout, QWidget
from superqt import QCollapsible

from ..engine import config as config_module
from ..engine.config import SparksConfig

SECTIONS = {
    "Model": (
        "encoder",
        "latent_dim",
        "embed_dim",
        "n_heads",
        "tau_p",
        "tau_f",
        "target_offset",
        "n_conv_blocks",
        "conv_heads",
        "decoder_layers",
        "tau_s",
        "w_start",
        "hebbian_partners",
        "partner_selection",
        "stdp_rule",
        "learn_traces",
        "token_ff",
        "input_residual",
        "beta",
        "loss",
    ),
    "Training": (
        "epochs",
        "batch_size",
        "lr",
        "trace_lr_scale",
        "weight_decay",
        "grad_clip",
        "grad_mode",
        "chunk_steps",
        "train_stride",
        "seed",
        "hebbian_backend",
        "precision",
        "objective",
        "mtm_schemes",
        "mask_ratio",
    ),
    "Reporting": ("eval_every", "snapshot_trials", "checkpoint_every"),
}
OPEN_SECTIONS = ("Training",)
CHOICES = {
    "encoder": config_module.ENCODER_CHOICES,
    "grad_mode": config_module.GRAD_MODES,
    "partner_selection": ("correlation", "local"),
    "stdp_rule": config_module.STDP_RULES,
    "loss": config_module.LOSS_CHOICES,
    "hebbian_backend": config_module.HEBBIAN_BACKENDS,
    "precision": config_module.PRECISIONS,
    "objective": config_module.OBJECTIVES,
}
LIST_FIELDS = {"mtm_schemes": config_module.MTM_SCHEMES}
"""List-valued fields edited as comma-separated names (empty = all of these)."""
LABELS = {
    "lr": "learning rate",
    "tau_p": "τ past (latents)",
    "tau_f": "τ future (steps)",
    "tau_s": "τ STDP (s)",
    "beta": "β (KL weight)",
    "w_start": "trace increment",
    "grad_clip": "gradient clip",
    "hebbian_partners": "partners (0 = dense)",
    "token_ff": "token feed-forward",
    "input_residual": "input residual",
    "trace_lr_scale": "trace lr × (log τ, log w)",
    "train_stride": "window stride (0 = auto)",
    "mtm_schemes": "MtM schemes",
    "mask_ratio": "MtM mask ratio",
}
AUTO = "auto"


@lru_cache(maxsize=1)
def field_docs() -> dict[str, str]:
    """The string literal under each field of SparksConfig (attribute docstrings)."""
    tree = ast.parse(inspect.getsource(SparksConfig))
    body = tree.body[0].body
    docs: dict[str, str] = {}
    for a, b in zip(body, body[1:], strict=False):
        if (
            isinstance(a, ast.AnnAssign)
            and isinstance(a.target, ast.Name)
            and isinstance(b, ast.Expr)
            and isinstance(b.value, ast.Constant)
            and isinstance(b.value.value, str)
        ):
            docs[a.target.id] = " ".join(b.value.value.split())
    return docs


class ConfigForm(QWidget):
    """Edit the model/training fields of a :class:`SparksConfig`."""

    def __init__(self, config: SparksConfig | None = None, parent=None):
        super().__init__(parent)
        config = config or SparksConfig()
        docs = field_docs()
        types = {f.name: f.type for f in dataclasses.fields(SparksConfig)}
        self.editors: dict[str, QWidget] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.sections: dict[str, QCollapsible] = {}
        for section, names in SECTIONS.items():
            box = QCollapsible(section)
            inner = QWidget()
            form = QFormLayout(inner)
            form.setContentsMargins(6, 2, 6, 2)
            form.setVerticalSpacing(3)
            for name in names:
                editor = self._editor(name, str(types[name]))
                tip = docs.get(name, "")
                editor.setToolTip(f"<b>{name}</b><br>{tip}" if tip else name)
                self.editors[name] = editor
                form.addRow(LABELS.get(name, name.replace("_", " ")), editor)
            box.addWidget(inner)
            if section in OPEN_SECTIONS:
                box.expand(animate=False)
            self.sections[section] = box
            layout.addWidget(box)
        self.set_config(config)

    @staticmethod
    def _editor(name: str, type_name: str) -> QWidget:
        if name in CHOICES:
            w = QComboBox()
            w.addItems(list(CHOICES[name]))
            return w
        if name in LIST_FIELDS:  # comma-separated names, no number validator
            w = QLineEdit()
            w.setPlaceholderText(", ".join(LIST_FIELDS[name]))
            return w
        if type_name == "bool":
            return QCheckBox()
        if type_name == "int":
            w = QSpinBox()
            w.setRange(-1 if name == "target_offset" else 0, 1_000_000)
            if name in config_module.AUTO_FIELDS:
                w.setSpecialValueText(AUTO)  # 0 = chosen from the recording
            return w
        w = QLineEdit()
        if name in config_module.AUTO_FIELDS:
            w.setPlaceholderText(AUTO)
        v = QDoubleValidator()
        v.setNotation(QDoubleValidator.ScientificNotation)
        w.setValidator(v)
        w.setMaximumWidth(110)
        return w

    def set_config(self, config: SparksConfig) -> None:
        for name, editor in self.editors.items():
            value = getattr(config, name)
            if isinstance(editor, QComboBox):
                editor.setCurrentText(str(value))
            elif isinstance(editor, QCheckBox):
                editor.setChecked(bool(value))
            elif isinstance(editor, QSpinBox):
                editor.setValue(int(value))
            elif name in LIST_FIELDS:
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
            base = editor.toolTip().split("<br><i>")[0]
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
            elif name in LIST_FIELDS:
                items = [t.strip() for t in editor.text().split(",") if t.strip()]
                out[name] = items or list(LIST_FIELDS[name])
            else:
                text = editor.text().strip()
                if name in config_module.AUTO_FIELDS and text.lower() in ("", AUTO):
                    out[name] = 0.0
                    continue
                try:
                    out[name] = float(text)
                except ValueError:
                    from ..errors import SparksError

                    raise SparksError(
                        f"'{text}' is not a number (field {name}).", "Type a number such as 0.003 or 3e-3."
                    ) from None
        return out

    def config(self, base: SparksConfig) -> SparksConfig:
        """``base`` with the form's values (raises SparksError when a value is invalid)."""
        return base.replace(**self.values())
