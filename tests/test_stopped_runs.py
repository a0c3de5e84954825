"""A stopped or broken run keeps what it computed: held-out R2 in the final metrics, and the history and
epoch reached when the training process dies."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sparks_gui.data.synthetic import make_reach
from sparks_gui.engine.checkpoint import load_checkpoint
from sparks_gui.engine.config import SparksConfig
from sparks_gui.engine.events import CheckpointWritten, EpochEnd, Failed, Finished, StepProgress
from sparks_gui.engine.process import ProcessTrainer
from sparks_gui.engine.trainer import Trainer

TINY = dict(target="hand_pos", batch_size=4, bin_factor=4, latent_dim=2, embed_dim=8, tau_p=3)


def _rec():
    return make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=3)


def test_stopped_run_final_metrics_keep_held_out_r2():
    trainer = Trainer(SparksConfig(**TINY, epochs=20), _rec())
    epochs_seen = 0
    for ev in trainer.run():
        if isinstance(ev, EpochEnd):
            epochs_seen += 1
        if isinstance(ev, StepProgress) and epochs_seen == 2:
            trainer.cancel()
        if isinstance(ev, Finished):
            final = ev
    assert final.cancelled and final.metrics["cancelled"] and final.metrics["epochs_completed"] == 2
    last = trainer.history[-1]
    assert math.isfinite(last["r2"])
    # the R2 of the last evaluated epoch, and which epoch that was
    assert final.metrics["r2"] == last["r2"] and final.metrics["test_loss"] == last["test_loss"]
    assert final.metrics["epoch"] == 2


def test_gui_metrics_final_block_of_a_stopped_run():
    """``metrics.json``'s "final" (gui.exports): a stopped run's Finished metrics without R2 (as before this
    fix, or from a killed process) still gets the R2 of the last evaluated epoch."""
    pytest.importorskip("qtpy")
    from sparks_gui.gui._session import RunResults
    from sparks_gui.gui.exports import final_metrics

    history = [
        {"epoch": 1, "train_loss": 1.0, "test_loss": 0.9, "r2": 0.1},
        {"epoch": 2, "train_loss": 0.8, "test_loss": 0.7, "r2": 0.3},
        {"epoch": 3, "train_loss": 0.7},
    ]  # not evaluated (eval_every)
    stopped = final_metrics(RunResults(history=history, metrics={"epochs_completed": 3, "cancelled": True}))
    assert stopped["r2"] == 0.3 and stopped["test_loss"] == 0.7 and stopped["evaluated_epoch"] == 2
    assert stopped["cancelled"] and stopped["epochs_completed"] == 3
    killed = final_metrics(RunResults(history=history))  # no Finished at all
    assert killed["r2"] == 0.3 and killed["evaluated_epoch"] == 2
    done = final_metrics(RunResults(history=history[:2], metrics={**history[1], "train_seconds": 1.0}))
    assert done["r2"] == 0.3 and done["evaluated_epoch"] == 2 and done["train_seconds"] == 1.0


def test_killed_training_process_keeps_history_and_epoch(tmp_path):
    pytest.importorskip("qtpy")
    from sparks_gui.gui.training_widget import save_run

    cfg = SparksConfig(**TINY, epochs=200, out_dir=str(tmp_path / "run"))
    remote = ProcessTrainer(cfg, _rec(), nice=0)
    seen = []
    for ev in remote.run():
        seen.append(ev)
        if isinstance(ev, CheckpointWritten) and ev.epoch == 1:
            remote._process.kill()  # the child dies (OOM killer, kill -9)
    assert isinstance(seen[-1], Failed) and "ended unexpectedly" in seen[-1].message
    epochs = [e for e in seen if isinstance(e, EpochEnd)]
    assert len(epochs) >= 2
    h = remote.trainer.history
    assert [r["epoch"] for r in h] == list(range(1, len(epochs) + 1))
    assert h[-1]["train_loss"] == epochs[-1].train_loss and h[-1]["r2"] == epochs[-1].metrics["r2"]
    # the shadow holds the weights of the last finished epoch (those of its checkpoint when that is the last)
    ck = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    if ck["epoch"] == len(epochs):
        for name, w in ck["model"].items():
            torch.testing.assert_close(remote.trainer.model.state_dict()[name], w, msg=name)
    # Save run writes that history and epoch, not an empty history and epoch 0
    out = save_run(SimpleNamespace(trainer=remote.trainer, running=False), tmp_path / "saved")
    saved = load_checkpoint(out / "model.pt")
    assert saved["epoch"] == len(epochs) and len(saved["history"]) == len(epochs)
    assert json.loads((out / "history.json").read_text()) == h


def test_process_trainer_resume_equals_uninterrupted(tmp_path):
    rec = _rec()
    full = Trainer(SparksConfig(**TINY, epochs=3), rec)
    list(full.run())
    half = Trainer(SparksConfig(**TINY, epochs=1, out_dir=str(tmp_path / "half")), rec)
    list(half.run())
    cfg = SparksConfig(**TINY, epochs=3, out_dir=str(tmp_path / "half"))
    remote = ProcessTrainer(cfg, rec, nice=0, resume=str(tmp_path / "half" / "checkpoint.pt"))
    assert len(remote.trainer.history) == 1  # the shadow starts at the checkpoint
    events = list(remote.run())
    assert events[0].resumed and events[0].epoch == 1 and isinstance(events[-1], Finished)
    assert [h["epoch"] for h in remote.trainer.history] == [1, 2, 3]
    assert [h["train_loss"] for h in remote.trainer.history] == pytest.approx([h["train_loss"] for h in full.history])
    for name, w in full.model.state_dict().items():
        torch.testing.assert_close(remote.trainer.model.state_dict()[name], w, rtol=1e-4, atol=1e-5, msg=name)
    assert np.isfinite(remote.trainer.history[-1]["r2"])
