"""Every SparksConfig field carries its documentation in its metadata (the GUI form's tooltips, the CLI's
``--help`` and the docs come from it)."""

import dataclasses

import pytest

from sparks_gui.engine.config import SparksConfig, field_help
from sparks_gui.errors import SparksError


def _docs():
    pytest.importorskip("qtpy")
    from sparks_gui.gui._config_form import SECTIONS, field_docs

    return SECTIONS, field_docs()


def test_every_field_is_documented():
    docs = field_help()  # no Qt needed: the help is field metadata
    missing = [f.name for f in dataclasses.fields(SparksConfig) if len(docs.get(f.name, "").split()) < 5]
    assert missing == []


def test_form_sections_name_real_fields_and_show_every_training_field():
    sections, docs = _docs()
    shown = [n for names in sections.values() for n in names]
    names = {f.name for f in dataclasses.fields(SparksConfig)}
    assert set(shown) <= names and len(shown) == len(set(shown))
    assert {"trace_lr_scale", "lr", "epochs", "token_ff", "input_residual"} <= set(shown)
    assert all(docs[n] for n in shown)


@pytest.mark.parametrize("field", ["eval_every", "checkpoint_every"])
def test_zero_intervals_are_refused_with_a_fix(field):
    with pytest.raises(SparksError, match=field):
        SparksConfig(**{field: 0})
