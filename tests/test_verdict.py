"""A finished run that beat no simple baseline says so (issue 12: no silent, meaningless runs)."""

from __future__ import annotations

import numpy as np
import pytest

from sparks_gui.analysis.verdict import held_out_verdicts
from sparks_gui.cli import main


def test_verdicts_on_hand_made_metrics():
    assert held_out_verdicts({"nll_ratio": 0.85, "r2": 0.4}) == []
    (msg,) = held_out_verdicts({"nll_ratio": 1.002})
    assert "1.002 x" in msg and "no better than constant rates" in msg
    (msg,) = held_out_verdicts({"bce_ratio": 0.995})
    assert "binary cross-entropy is 0.995" in msg
    (msg,) = held_out_verdicts({"r2": -0.25}, "hand_pos")
    assert "R2 of 'hand_pos' is -0.250" in msg
    assert held_out_verdicts({"r2": float("nan"), "nll_ratio": None}) == []  # absent numbers say nothing
    assert len(held_out_verdicts({"nll_ratio": 0.99, "r2": 0.0})) == 2  # both thresholds are inclusive


def test_cli_warns_when_a_run_predicts_no_better_than_mean_rates(tmp_path, capsys):
    """Independent Poisson neurons at constant rates: nothing to predict, and the CLI says so."""
    rng = np.random.default_rng(0)
    spikes = rng.poisson(0.05, size=(12, 6000)).astype(np.uint8)
    data = tmp_path / "noise.npz"
    np.savez(data, spikes=spikes, dt=0.01)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("epochs: 2\nlatent_dim: 2\nbatch_size: 16\n")
    code = main(["train", str(data), "--config", str(cfg), "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 0
    err = capsys.readouterr().err
    assert "no better than constant rates" in err, err[-2000:]


@pytest.mark.gui
def test_gui_notifies_a_run_that_beat_no_baseline(app):
    """The Training dock turns a finished run's null result into a notification (cancelled runs: none)."""
    import os

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        pytest.skip("GUI tests need a display (run under xvfb-run)")
    from napari.utils.notifications import notification_manager

    from sparks_gui.engine.events import Finished

    viewer, session, w = app
    seen: list[str] = []
    notification_manager.notification_ready.connect(lambda n: seen.append(str(n.message)))
    w["training"]._on_finished(Finished(1, {"nll_ratio": 0.8}, []))
    assert not any("no better than" in m for m in seen)
    w["training"]._on_finished(Finished(1, {"nll_ratio": 1.01}, [], cancelled=True))
    assert not any("no better than" in m for m in seen)
    w["training"]._on_finished(Finished(1, {"nll_ratio": 1.01}, []))
    assert sum("no better than constant rates" in m for m in seen) == 1
