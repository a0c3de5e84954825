"""The ``sparks-gui`` command: demo, train, bench, and the GUI without a display."""

import json

import numpy as np
import pytest

from sparks_gui.cli import main
from sparks_gui.data.synthetic import make_reach


def test_demo_headless_writes_results(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--headless", "--quiet", "--epochs", "1", "--out", str(out)])
    assert code == 0
    for name in (
        "config.json",
        "model.pt",
        "latents.npy",
        "predictions.npy",
        "metrics.json",
        "figures/loss.png",
        "figures/latents.png",
        "figures/decoding.png",
    ):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "synthetic_reach/hand_pos"
    assert -1.0 < metrics["test_r2"] <= 1.0 and metrics["n_test"] == 38
    latents = np.load(out / "latents.npy")
    assert latents.shape == (192, 3, 600)  # [trials, d, T]
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["test_r2"] == pytest.approx(metrics["test_r2"])


def test_train_on_user_npz(tmp_path, capsys):
    rec = make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=4)
    data = tmp_path / "session.npz"
    np.savez(
        data, spikes=rec.activity.astype(np.uint8), dt=0.001, hand_pos=rec.behaviour["hand_pos"], trials=rec.trials
    )
    before = data.read_bytes()
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("epochs: 1\nbin_factor: 4\nlatent_dim: 2\nbatch_size: 8\n")
    out = tmp_path / "run"
    code = main(
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
        ]
    )
    assert code == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["latent_dim"] == 2 and saved["target"] == "hand_pos" and saved["bin_factor"] == 4
    assert np.load(out / "latents.npy").shape == (16, 2, 50)
    assert data.read_bytes() == before  # the input file is never modified


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "/no/such/file.npz", "--target", "x"], "does not exist"),
        (["train", "{npz}", "--target", "speed", "--activity-key", "spikes"], "speed"),
        (["train", "{npz}", "--activity-key", "spikes", "--config", "{bad}"], "latent_dims"),
    ],
)
def test_train_errors_exit_nonzero_with_message(tmp_path, capsys, argv, message):
    npz = tmp_path / "a.npz"
    np.savez(npz, spikes=np.zeros((3, 100), np.uint8), dt=0.01)
    bad = tmp_path / "bad.yaml"
    bad.write_text("latent_dims: 2\n")
    argv = [a.format(npz=npz, bad=bad) for a in argv] + ["--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "sparks-gui: error:" in err and message in err


def test_bench_quick_prints_json_rows(capsys):
    assert main(["bench", "--quick", "--only", "reference_config"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    ref = next(r for r in rows if r["name"] == "reference_config")
    assert ref["trial_steps_per_s"] > 0 and ref["peak_rss_mb"] > 0 and ref["device"]


def test_gui_without_display_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    assert main([]) == 2
    assert "display" in capsys.readouterr().err.lower()


def test_bandwidth_row_and_gpu_rows_without_cuda():
    """The GPU bench rows exist, say why they are skipped without CUDA, and the bandwidth probe computes."""
    import torch

    from sparks_gui.tools.bench import _child, cases, run_benchmarks

    names = [c["name"] for c in cases()]
    assert {"cuda_reference_config_bf16", "cuda_hebbian_update_N1000", "reference_config_torch_backend"} <= set(names)
    row = _child(dict(name="bw", kind="bandwidth", neurons=40, batch=2, steps=20, device="cpu", rate=0.05))
    assert row["achieved_gbps"] > 0 and row["copy_gbps"] > 0 and 0 < row["fraction_of_copy_bandwidth"] < 10
    if not torch.cuda.is_available():
        rows = list(run_benchmarks(only="cuda_"))
        assert len(rows) == 6 and all("no CUDA" in r["skipped"] for r in rows)


def test_validate_only_names_unknown_datasets(tmp_path, capsys):
    """``validate --only`` picks datasets by name; an unknown name lists the valid ones (real_mec among them)."""
    code = main(["validate", "--real", "--only", "real_nothing", "--out", str(tmp_path / "v")])
    err = capsys.readouterr().err
    assert code != 0 and "real_nothing" in err and "real_mec" in err and "real_chewie" in err
