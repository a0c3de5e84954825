"""The Training dock's form is generated from SparksConfig's field metadata (issue 13, items 6, 7).

Run under Xvfb: ``xvfb-run -a -s "-screen 0 1600x1000x24" python -m pytest tests/test_gui_config_form.py``.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("superqt")
if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    pytest.skip("GUI tests need a display (run under xvfb-run)", allow_module_level=True)

from qtpy.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox  # noqa: E402

from sparks_gui.engine.config import SparksConfig, available_presets, config_fields, preset_values  # noqa: E402
from sparks_gui.errors import SparksError  # noqa: E402
from sparks_gui.gui._config_form import SECTIONS, ConfigForm  # noqa: E402

pytestmark = pytest.mark.gui
WIDGET = {"choice": QComboBox, "bool": QCheckBox, "int": QSpinBox, "float": QLineEdit, "list": QLineEdit}


def test_one_editor_per_form_field_with_the_metadata(qtbot):
    form = ConfigForm()
    qtbot.addWidget(form)
    shown = [s for s in config_fields() if s.form]
    assert list(form.editors) == [s.name for s in shown] and len(shown) >= 35
    assert {s.section for s in shown} == set(SECTIONS) == {"Model", "Training", "Reporting"}
    for s in shown:
        ed = form.editors[s.name]
        assert isinstance(ed, WIDGET[s.kind]), s.name
        assert s.help in ed.toolTip(), s.name
        if s.kind == "choice":
            assert [ed.itemText(i) for i in range(ed.count())] == list(s.choices), s.name
        if s.kind == "int":
            low = 0 if s.min is None else int(s.min) + (1 if s.min_open else 0)
            assert ed.minimum() == low, s.name
            assert (ed.specialValueText() == "auto") == s.auto, s.name
        if s.kind == "float" and s.min is not None:
            assert ed.validator().bottom() == s.min, s.name
        if s.kind == "float" and s.max is not None:
            assert ed.validator().top() == s.max, s.name
        if s.range_text():
            assert s.range_text() in ed.toolTip(), s.name
    # the defaults round-trip through the form
    assert form.config(SparksConfig()) == SparksConfig()


def test_out_of_range_form_value_is_refused_naming_the_field(qtbot):
    form = ConfigForm()
    qtbot.addWidget(form)
    form.editors["mask_ratio"].setText("1.5")
    with pytest.raises(SparksError, match="mask_ratio"):
        form.config(SparksConfig())
    form.editors["mask_ratio"].setText("0.3")
    form.editors["lr"].setText("0")
    with pytest.raises(SparksError, match="lr"):
        form.config(SparksConfig())


def test_preset_combo_fills_the_form(qtbot):
    form = ConfigForm()
    qtbot.addWidget(form)
    names = [form.preset.itemData(i) for i in range(1, form.preset.count())]
    assert names == available_presets()
    got = []
    form.preset_applied.connect(lambda name, values: got.append((name, values)))
    form.preset.setCurrentIndex(names.index("calcium_imaging") + 1)
    form.preset.activated.emit(names.index("calcium_imaging") + 1)
    cfg = form.config(SparksConfig())
    assert (cfg.loss, cfg.tau_s, cfg.tau_p) == ("mse", 1.0, 15)
    assert form.editors["tau_p"].value() == 15 and form.editors["tau_s"].text() == "1"
    form.apply_preset("sequence_discovery")
    assert form.editors["latent_dim"].value() == 3 and form.preset.currentData() == "sequence_discovery"
    assert [n for n, _ in got] == ["calcium_imaging", "sequence_discovery"]
    assert got[-1][1] == preset_values("sequence_discovery")  # with the target, which the Data dock owns


def test_preset_target_reaches_the_data_dock(app, qtbot):
    """A preset that names a target (a Data dock setting) picks it there; 'auto' picks the recording's default."""
    from sparks_gui.data.synthetic import make_reach
    from sparks_gui.engine.targets import default_target
    from sparks_gui.gui.data_widget import add_recording_layers

    viewer, session, w = app
    rec = make_reach(n_trials_per_direction=2)
    add_recording_layers(viewer, rec)
    qtbot.waitUntil(lambda: session.recording is not None, timeout=5000)
    assert w["data"].target.currentText() == default_target(rec) != "unsupervised"
    w["training"].form.apply_preset("sequence_discovery")
    assert w["data"].target.currentText() == "unsupervised" and session.config.target == "unsupervised"
    w["training"].form.apply_preset("behaviour_decoding")
    assert w["data"].target.currentText() == default_target(rec) == session.config.target
