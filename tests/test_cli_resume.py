"""``sparks-gui train --resume RUN_DIR``: an interrupted run continues from its checkpoint and ends
exactly where an uninterrupted run ends (weights, loss history)."""

import json

import numpy as np
import pytest
import torch

from sparks_gui.cli import main
from sparks_gui.data.synthetic import make_reach
from sparks_gui.engine.checkpoint import load_checkpoint

CONFIG = "epochs: 3\nbin_factor: 4\nlatent_dim: 2\nbatch_size: 8\nembed_dim: 8\ntau_p: 3\n"


@pytest.fixture
def npz(tmp_path):
    rec = make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=4)
    path = tmp_path / "session.npz"
    np.savez(
        path, spikes=rec.activity.astype(np.uint8), dt=0.001, hand_pos=rec.behaviour["hand_pos"], trials=rec.trials
    )
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(CONFIG)
    return path, cfg


def _train(npz, out, *extra):
    data, cfg = npz
    return main(
        [
            "train",
            str(data),
            "--activity-key",
            "spikes",
            "--target",
            "hand_pos",
            "--config",
            str(cfg),
            "--out",
            str(out),
            "--quiet",
            *extra,
        ]
    )


def _same_run(a, b):
    ka, kb = load_checkpoint(a / "model.pt"), load_checkpoint(b / "model.pt")
    assert ka["epoch"] == kb["epoch"] == 3
    for name, w in ka["model"].items():
        assert torch.equal(w, kb["model"][name]), name
    ha, hb = ka["history"], kb["history"]
    assert [h["epoch"] for h in hb] == [1, 2, 3]
    assert [h["train_loss"] for h in hb] == [h["train_loss"] for h in ha]
    assert [h["test_loss"] for h in hb] == [h["test_loss"] for h in ha]
    ma, mb = (json.loads((p / "metrics.json").read_text()) for p in (a, b))
    assert mb["test_r2"] == pytest.approx(ma["test_r2"], abs=1e-12) and mb["epochs"] == 3


def test_fewer_epochs_then_resume_equals_uninterrupted(tmp_path, npz, capsys):
    full, part = tmp_path / "full", tmp_path / "part"
    assert _train(npz, full) == 0
    assert _train(npz, part, "--epochs", "1") == 0
    assert load_checkpoint(part / "checkpoint.pt")["epoch"] == 1
    # the recording, its reading options and the config all come from the run folder
    assert main(["train", "--resume", str(part), "--epochs", "3", "--quiet"]) == 0
    _same_run(full, part)
    assert json.loads((part / "metrics.json").read_text())["resumed_from_epoch"] == 1
    assert json.loads((part / "config.json").read_text())["epochs"] == 3


def test_ctrl_c_then_resume_equals_uninterrupted(tmp_path, npz, capsys, monkeypatch):
    from sparks_gui.engine.trainer import Trainer

    full, cut = tmp_path / "full", tmp_path / "cut"
    assert _train(npz, full) == 0
    original = Trainer._train_batch
    calls = {"n": 0}

    def interrupted(self, *args, **kwargs):  # Ctrl-C in the middle of the second epoch
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(Trainer, "_train_batch", interrupted)
        assert _train(npz, cut) == 130
    err = capsys.readouterr().err
    assert f"--resume {cut}" in err and "interrupted" in err
    assert load_checkpoint(cut / "checkpoint.pt")["epoch"] == 1 and not (cut / "model.pt").exists()
    assert main(["train", "--resume", str(cut), "--quiet"]) == 0  # the saved config's 3 epochs
    _same_run(full, cut)


def test_resume_errors_name_the_fix(tmp_path, npz, capsys):
    done = tmp_path / "done"
    assert _train(npz, done, "--epochs", "1") == 0
    cases = [
        (["train", "--resume", str(tmp_path / "nothing")], "is not a folder"),
        (["train", "--resume", str(tmp_path)], "no checkpoint.pt"),
        (["train", "--resume", str(done)], "already reached epoch 1 of 1"),
        (["train", "--resume", str(done), "--epochs", "3", "--lr", "0.1"], "lr cannot change"),
        (["train", "--resume", str(done), "--epochs", "3", "--config", str(npz[1])], "--config cannot"),
    ]
    for argv, message in cases:
        assert main([*argv, "--quiet"]) == 2, argv
        err = capsys.readouterr().err
        assert "sparks-gui: error:" in err and message in err and "Traceback" not in err, (argv, err)
    # another recording (more neurons) cannot continue this run's model
    other = tmp_path / "other.npz"
    rec = make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=4)
    np.savez(
        other,
        spikes=np.concatenate([rec.activity, rec.activity[:3]]).astype(np.uint8),
        dt=0.001,
        hand_pos=rec.behaviour["hand_pos"],
        trials=rec.trials,
    )
    argv = ["train", str(other), "--activity-key", "spikes", "--resume", str(done), "--epochs", "3", "--quiet"]
    assert main(argv) == 2
    assert "different model" in capsys.readouterr().err
    assert load_checkpoint(done / "checkpoint.pt")["epoch"] == 1  # a refused resume changes nothing
