"""Data-parallel training (torchrun, gloo on loopback) equals single-process training."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch

from sparks_gui.data.synthetic import make_reach
from sparks_gui.engine.checkpoint import load_checkpoint

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("grad_mode", "objective"),
    # mtm: every sample draws its own masking scheme for the global batch; each process takes its rows'
    [("full", "pcc"), ("truncated", "pcc"), ("full", "mtm")],
)
def test_two_processes_match_single_process(tmp_path, grad_mode, objective):
    rec = make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=6)
    data = tmp_path / "d.npz"
    np.savez(
        data, spikes=rec.activity.astype(np.uint8), dt=0.001, hand_pos=rec.behaviour["hand_pos"], trials=rec.trials
    )
    cfg = tmp_path / "c.yaml"
    # batch 7 does not split evenly over 2 processes: the loss scaling must still give the global-batch gradient
    cfg.write_text(
        f"epochs: 2\nbin_factor: 4\nlatent_dim: 2\nembed_dim: 8\nbatch_size: 7\ngrad_mode: {grad_mode}\n"
        f"chunk_steps: 20\nseed: 3\nobjective: {objective}\n"
    )
    target = "hand_pos" if objective == "pcc" else "unsupervised"
    common = [str(data), "--activity-key", "spikes", "--target", target, "--config", str(cfg), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    single = subprocess.run(
        [sys.executable, "-m", "sparks_gui.cli", "train", *common, "--out", str(tmp_path / "one")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-2000:]
    multi = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_addr",
            "127.0.0.1",
            "--master_port",
            str(_free_port()),
            "-m",
            "sparks_gui.cli",
            "train",
            *common,
            "--distributed",
            "--out",
            str(tmp_path / "two"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert multi.returncode == 0, multi.stderr[-3000:]
    a = load_checkpoint(tmp_path / "one" / "model.pt")["model"]
    b = load_checkpoint(tmp_path / "two" / "model.pt")["model"]
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-5, msg=name)
    m1 = (tmp_path / "one" / "metrics.json").read_text()
    assert ("test_r2" if objective == "pcc" else "cosmooth_bps") in m1 and (tmp_path / "two" / "metrics.json").exists()
