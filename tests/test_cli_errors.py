"""The CLI never shows a traceback for a user error: it exits non-zero with a message that names
the fix (``--debug`` shows the traceback).  Covers bad ``--out`` folders, device requests the
machine cannot meet, config values of the wrong type and configs too big for the memory."""

from __future__ import annotations

import errno
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from sparks_gui.cli import main
from sparks_gui.errors import SparksError


@pytest.fixture
def npz(tmp_path):
    path = tmp_path / "a.npz"
    rng = np.random.default_rng(0)
    np.savez(path, spikes=(rng.random((6, 400)) < 0.1).astype(np.uint8), dt=0.01)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


def assert_user_error(code, err, *needles):
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("sparks-gui: error:")]
    assert len(lines) == 1, err
    assert "Fix:" in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def train(npz, *extra):
    return ["train", npz, "--activity-key", "spikes", "--epochs", "1", "--quiet", *extra]


# ------------------------------------------------------------------------- --out
def test_out_that_is_a_file(tmp_path, npz, capsys):
    target = tmp_path / "results.txt"
    target.write_text("keep me")
    assert_user_error(*run(capsys, *train(npz, "--out", target)), "existing file", "--out")
    assert target.read_text() == "keep me"
    assert_user_error(*run(capsys, *train(npz, "--out", target / "sub")), "is a file", "--out")


def test_out_that_cannot_be_created(tmp_path, npz, capsys, monkeypatch):
    """A read-only place (simulated: root may write anywhere, so mkdir is made to fail as it would)."""
    readonly = tmp_path / "readonly"
    real_mkdir = pathlib.Path.mkdir

    def mkdir(self, *args, **kwargs):
        if readonly in (self, *self.parents):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "mkdir", mkdir)
    assert_user_error(*run(capsys, *train(npz, "--out", readonly / "run")), "cannot be written", "Permission denied")
    assert not (readonly / "run").exists()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write into read-only folders")
def test_out_in_a_read_only_folder(tmp_path, npz, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert_user_error(*run(capsys, *train(npz, "--out", folder / "run")), "read-only", "--out")
    finally:
        folder.chmod(0o755)


def test_an_os_error_while_writing_results_is_a_message(tmp_path, npz, capsys, monkeypatch):
    from sparks_gui.data import atomic

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "run" / "metrics.json"))

    monkeypatch.setattr(atomic, "atomic_write_text", full)
    assert_user_error(*run(capsys, *train(npz, "--out", tmp_path / "run")), "No space left", "disk space")


# ------------------------------------------------------------------------- --device
def _unavailable_cuda() -> str:
    return f"cuda:{torch.cuda.device_count()}" if torch.cuda.is_available() else "cuda"


@pytest.mark.parametrize("device", ["unavailable-cuda", "tpu", "mps"])
def test_device_that_cannot_be_used(tmp_path, npz, capsys, device):
    if device == "unavailable-cuda":
        device = _unavailable_cuda()
    if device == "mps" and getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    code, err = run(capsys, *train(npz, "--device", device, "--out", tmp_path / "run"))
    assert_user_error(code, err, f"'{device}'", "--device cpu")


def test_pick_device_names_the_fix():
    from sparks_gui.model.sparks import pick_device

    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(SparksError) as err:
        pick_device(_unavailable_cuda())
    assert "cpu" in err.value.fix
    with pytest.raises(SparksError):
        pick_device("not-a-device")


# ------------------------------------------------------------------------- config values
@pytest.mark.parametrize(
    "yaml_line,needles",
    [
        ("epochs: ten", ["epochs", "'ten'", "int"]),
        ("lr: [1]", ["lr", "[1]", "float"]),
        ("neurons: 3", ["neurons", "=3", "list"]),
        ("learn_traces: maybe", ["learn_traces", "'maybe'", "bool"]),
    ],
)
def test_config_value_of_the_wrong_type(tmp_path, npz, capsys, yaml_line, needles):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml_line + "\n")
    assert_user_error(*run(capsys, *train(npz, "--config", cfg, "--out", tmp_path / "run")), *needles)
    assert not (tmp_path / "run").exists()  # refused before anything was written


def test_config_values_converted_without_loss(tmp_path):
    from sparks_gui.engine.config import SparksConfig

    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("lr: 1e-3\nepochs: 10.0\nneurons: [0, 2]\n")  # YAML 1.1 reads 1e-3 as a string
    config = SparksConfig.load(cfg)
    assert config.lr == 0.001 and isinstance(config.lr, float)
    assert config.epochs == 10 and isinstance(config.epochs, int)
    assert config.neurons == [0, 2]
    with pytest.raises(SparksError) as err:
        SparksConfig(epochs="ten")
    assert "epochs" in str(err.value) and "ten" in str(err.value) and "whole number" in str(err.value)


# ------------------------------------------------------------------------- memory
def test_config_too_big_for_the_memory(tmp_path, npz, capsys):
    out = tmp_path / "run"
    code, err = run(capsys, *train(npz, "--latent-dim", "100000", "--out", out))
    assert_user_error(code, err, "memory", "available", "latent_dim")
    assert not (out / "model.pt").exists()


# ------------------------------------------------------------------------- --debug, unexpected errors
def test_debug_shows_the_traceback(tmp_path, npz, capsys):
    target = tmp_path / "file"
    target.write_text("")
    for argv in (["--debug", *train(npz, "--out", target)], [*train(npz, "--out", target), "--debug"]):
        code, err = run(capsys, *argv)
        assert code == 2
        assert "Traceback" in err and "SparksError" in err and "sparks-gui: error:" in err


def test_unexpected_error_is_one_line_pointing_to_debug(tmp_path, npz, capsys, monkeypatch):
    from sparks_gui import cli

    def broken(args):
        raise KeyError("internal")

    monkeypatch.setattr(cli, "_cmd_train", broken)
    code, err = run(capsys, *train(npz, "--out", tmp_path / "run"))
    assert code == 1 and "Traceback" not in err
    assert "KeyError" in err and "--debug" in err


def test_the_installed_command_prints_no_traceback(tmp_path, npz):
    """The real entry point, in a fresh process: exit status 2 and one message line."""
    target = tmp_path / "file"
    target.write_text("")
    cmd = [sys.executable, "-m", "sparks_gui.cli", *[str(a) for a in train(npz, "--out", target)]]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "sparks-gui: error:" in out.stderr and "Fix:" in out.stderr


def test_a_bug_during_training_shows_where_with_debug(tmp_path, npz, capsys, monkeypatch):
    """A training failure that is not a user error: one line pointing to --debug; --debug prints the
    traceback of the place inside training where it happened (not only the CLI's re-raise)."""
    from sparks_gui.engine import trainer as trainer_module

    def broken_batch(self, *args, **kwargs):
        raise IndexError("broken inside the batch loop")

    monkeypatch.setattr(trainer_module.Trainer, "_train_batch", broken_batch)
    code, err = run(capsys, *train(npz, "--out", tmp_path / "a"))
    assert code == 2 and "Traceback" not in err
    assert "IndexError: broken inside the batch loop" in err and "--debug" in err
    code, err = run(capsys, "--debug", *train(npz, "--out", tmp_path / "b"))
    assert code == 2
    assert "The training failed here:" in err
    assert "in broken_batch" in err.split("The training failed here:")[1]
