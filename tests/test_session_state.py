"""The GUI's state model without Qt (issue 13, item 5): setting a field emits its event with the values."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from sparks_gui.data.synthetic import make_reach
from sparks_gui.engine.config import SparksConfig
from sparks_gui.gui._state import RunResults, SessionState


def _record(state: SessionState) -> list[tuple[str, tuple]]:
    seen: list[tuple[str, tuple]] = []
    for name in ("recording", "config", "ordering_name", "order", "selected_neuron", "time_s", "running"):
        getattr(state.events, name).connect(lambda *args, name=name: seen.append((name, args)))
    state.events.paused_changed.connect(lambda *args: seen.append(("paused", args)))
    state.events.results.connect(lambda new, old: seen.append(("results", (new, old))))
    return seen


def test_setting_fields_emits_new_and_old_values():
    state = SessionState()
    seen = _record(state)
    state.time_s = 1.5
    state.time_s = 1.5  # unchanged: no event
    state.selected_neuron = 3
    state.selected_neuron = None
    state.running = True
    state.paused = True
    state.ordering_name = "rastermap"
    assert seen == [
        ("time_s", (1.5, 0.0)),
        ("selected_neuron", (3, None)),
        ("selected_neuron", (None, 3)),
        ("running", (True, False)),
        ("paused", (True, False)),
        ("ordering_name", ("rastermap", "original")),
    ]


def test_arrays_compare_by_value_and_objects_by_identity():
    state = SessionState()
    seen = _record(state)
    state.order = np.arange(5)
    state.order = np.arange(5)  # same values: no event
    state.order = np.arange(5)[::-1].copy()
    assert [n for n, _ in seen] == ["order", "order"]
    assert np.array_equal(seen[-1][1][0], [4, 3, 2, 1, 0]) and np.array_equal(seen[-1][1][1], np.arange(5))
    seen.clear()
    rec = make_reach(n_trials_per_direction=2, seed=1)
    state.recording = rec
    state.recording = rec
    cfg = SparksConfig(epochs=3)
    state.config = cfg
    state.config = SparksConfig(epochs=3)  # equal but another object: the session's config changed
    results = RunResults(history=[{"epoch": 1}])
    state.results = results
    assert [n for n, _ in seen] == ["recording", "config", "config", "results"]
    assert seen[0][1] == (rec, None) and seen[1][1][0] is cfg and seen[3][1][0] is results


def test_the_state_module_does_not_import_qt():
    code = (
        "import sys; import sparks_gui.gui._state as s; st = s.SessionState(); st.time_s = 2.0; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', "
        "'napari')]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_session_keeps_its_state_in_the_model_and_its_signals_follow_it(qtbot):
    """SparksSession's attributes are the state model's fields; the model's events drive its Qt signals."""
    from sparks_gui.gui._session import SparksSession

    session = SparksSession()
    got: list[tuple[str, object]] = []
    session.time_changed.connect(lambda t: got.append(("time", t)))
    session.neuron_selected.connect(lambda i: got.append(("neuron", i)))
    session.running_changed.connect(lambda r: got.append(("running", r)))
    session.paused_changed.connect(lambda p: got.append(("paused", p)))
    session.set_time(1.25)
    session.set_time(1.25)  # unchanged: no signal
    session.select_neuron(4)
    session.select_neuron(None)
    session.state.running = True  # a listener of the model sees the same as one of the session
    session.state.paused = True
    assert got == [("time", 1.25), ("neuron", 4), ("neuron", -1), ("running", True), ("paused", True)]
    assert session.time_s == session.state.time_s == 1.25 and session.running and session.paused
    cfg = session.config.replace(epochs=7)
    session.set_config(cfg)
    assert session.state.config is cfg
    rec = make_reach(n_trials_per_direction=2, seed=2)
    session.state.running = False
    session.set_recording(rec)
    assert session.state.recording is rec and np.array_equal(session.state.order, np.arange(rec.n_neurons))
    assert not hasattr(session, "docks") and not hasattr(session, "widgets")  # the window owns its docks
