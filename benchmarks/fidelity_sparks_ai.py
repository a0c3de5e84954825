"""Side-by-side accuracy of sparks_gui and the reference package sparks-ai 0.2.1 on the same data.

Usage (from the repository root, with sparks_gui's environment)::

    python benchmarks/fidelity_sparks_ai.py [--only ours|ref] [--datasets reach,chewie] [--seeds 0,1,2]
        [--epochs 12] [--set token_ff=true ...] [--data-dir /tmp/real] [--ref-python /tmp/refenv/bin/python]

Prints one JSON line per method x dataset x seed, then one summary line per method x dataset
(mean +- sd over seeds).  Settings (both implementations): latent_dim 3, embed_dim 32, one head,
tau_p 10, tau_f 1, lr 1e-3, batch 16, beta 1e-3, w_start 1, tau_s 0.5 s, Adam.  Every process
runs torch (and numba) with one thread.

The data is prepared once per dataset and seed by sparks_gui's own preparation (the same windows,
split and train-set z-scoring of the target that ``sparks-gui validate`` uses) and exported to an
``.npz``; sparks_gui trains on it through its ``Trainer`` (``data=``), sparks-ai through
``_fidelity_ref_runner.py`` run by ``--ref-python`` (its ``train_on_batch``, batches in the same
order).  Both predictions are scored by the same function (``sparks_gui.analysis.r2_overall``:
scikit-learn's uniform average of the per-variable R2 over every scored bin, in data units).

Datasets:

* ``reach``: ``make_reach(n_trials_per_direction=24, seed=0)`` summed to 5 ms bins (as in
  ``validate.py``), target ``hand_vel``; the split of ``split_indices(192, 0.2, seed)`` (38
  held-out trials); scored on all bins of the held-out trials.
* ``chewie``: ``chewie_demo.mat`` (50 ms bins), trained on windows of ``Ytr`` / ``Xtr`` (the auto
  segment length, 44 bins = 2.2 s, with the overlapping training windows ``prepare`` makes and
  its held-out segments, which depend on the seed); primary score on the separate test part
  ``Yte`` / ``Xte`` cut into windows of the training length every half window, each window run
  from a reset state and owning the bins after its first half (the first window owns all its
  bins), so every scored bin has >= 22 bins of history; also reported: the held-out segments of
  ``Ytr``.

Differences the protocol leaves in (each package's own training step): sparks-ai sums the loss
over the steps of a window and clips gradients by value (0.5), sparks_gui averages over steps and
clips the norm (``grad_clip``); sparks-ai's KL term is a mean over latent dimensions, ours a sum
(3x the weight at d = 3); sparks-ai's Hebbian traces take the raw counts (A gated by count > 0),
ours use the counts-safe rule of ``model/hebbian.py``.  sparks-ai's ``test_on_batch`` samples z even
in eval mode, so its R2 is computed with z = mu (as ours), the sampled one reported beside it.

Results of 2026-12-01: ``benchmarks/fidelity-2026-12-01.jsonl``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "_fidelity_ref_runner.py"
SHARED = dict(
    latent_dim=3, embed_dim=32, n_heads=1, tau_p=10, tau_f=1, lr=1e-3, batch_size=16, beta=1e-3, w_start=1.0, tau_s=0.5
)
DATA_KEYS = {
    "target",
    "bin_factor",
    "segment_length",
    "train_stride",
    "test_fraction",
    "neurons",
    "seed",
    "tau_f",
    "epochs",
    "target_offset",
}
"""Config keys that would change the data or the protocol: not accepted by ``--set``."""
PRIMARY = {"reach": "heldout", "chewie": "test_part"}


def _parse_value(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _owned_windows(n_time: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Window starts every length // 2 (the last aligned to the end) and the mask of bins each one scores."""
    half = length // 2
    starts = list(range(0, n_time - length + 1, half))
    if starts[-1] + length < n_time:
        starts.append(n_time - length)
    masks = np.zeros((len(starts), length), dtype=bool)
    covered = 0
    for i, s in enumerate(starts):
        lo = 0 if s == 0 else max(covered, s + half) - s
        masks[i, lo:] = True
        covered = s + length
    return np.asarray(starts), masks


# ----------------------------------------------------------------------------- data
def export(dataset: str, seed: int, data_dir: str, path: Path) -> dict:
    """Prepare ``dataset`` with sparks_gui's preparation under ``seed`` and write the split to ``path``."""
    from sparks_gui.engine.config import SparksConfig
    from sparks_gui.engine.dataset import prepare
    from sparks_gui.engine.defaults import resolve

    base = dict(
        latent_dim=SHARED["latent_dim"],
        batch_size=SHARED["batch_size"],
        epochs=1,
        tau_s=SHARED["tau_s"],
        tau_p=SHARED["tau_p"],
        tau_f=1,
        seed=seed,
    )
    tests: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    if dataset == "reach":
        from sparks_gui.data.synthetic import make_reach

        rec = make_reach(n_trials_per_direction=24, seed=0)
        cfg = resolve(SparksConfig(target="hand_vel", bin_factor=5, **base), rec, warn=False).config
        d = prepare(rec, cfg)
        target = "hand_vel"
    elif dataset == "chewie":
        from sparks_gui.data.io import load_recording
        from sparks_gui.engine.targets import target_values

        mat = Path(data_dir) / "chewie_demo.mat"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec = load_recording(mat, dt=0.05)
            test_rec = load_recording(mat, dt=0.05, activity_key="Yte")
        cfg = resolve(SparksConfig(target="Xtr", **base), rec, warn=False).config
        d = prepare(rec, cfg)
        target = "Xtr"
        L = d.x.shape[-1]
        starts, masks = _owned_windows(test_rec.n_time, L)
        xte = np.stack([test_rec.activity[:, s : s + L] for s in starts]).astype(np.float32)
        yte = target_values(test_rec, "Xte")
        rte = np.stack([yte[s : s + L] for s in starts]).astype(np.float32)
        tests["test_part"] = (xte, rte, masks)
    else:
        raise SystemExit(f"unknown dataset {dataset!r} (use reach, chewie)")
    assert d.loss == "mse" and d.target_offset == 0
    x_tr = d.x[d.train_idx]
    r_tr = d.r[d.train_idx]  # z-scored with the training statistics
    heldout = (d.x[d.test_idx], d.denormalise(d.r[d.test_idx]), np.ones(d.x[d.test_idx].shape[::2], dtype=bool))
    tests = {"heldout": heldout, **tests}
    settings = {
        **SHARED,
        "dt": float(d.dt),
        "test_sets": list(tests),
        "target": target,
        "segment_length": int(d.x.shape[-1]),
    }
    arrays = {
        "x_train": x_tr,
        "r_train": r_tr,
        "r_mean": d.r_mean,
        "r_std": d.r_std,
        "settings": np.array(json.dumps(settings)),
    }
    for name, (x, r, m) in tests.items():
        arrays.update(
            {
                f"x_{name}": np.ascontiguousarray(x, dtype=np.float32),
                f"r_{name}": r.astype(np.float32),
                f"mask_{name}": m,
            }
        )
    np.savez(path, **arrays)
    info = {
        "n_neurons": int(d.n_neurons),
        "bins_per_window": int(d.x.shape[-1]),
        "dt": float(d.dt),
        "n_train_windows": len(x_tr),
        "max_count": float(d.x.max()),
        **{f"n_{k}_windows": len(v[0]) for k, v in tests.items()},
        **{f"n_{k}_scored_bins": int(v[2].sum()) for k, v in tests.items()},
    }
    return info


def score(npz, preds: dict[str, np.ndarray]) -> dict[str, float]:
    """R2 of every test set (``preds`` in z-scored units, [m, L, k]) in data units over the scored bins."""
    from sparks_gui.analysis import r2_overall

    out = {}
    for name, p in preds.items():
        true, mask = npz[f"r_{name}"], npz[f"mask_{name}"]
        pred = p * npz["r_std"] + npz["r_mean"]
        out[name] = r2_overall(true[mask], pred[mask])
    return out


# ----------------------------------------------------------------------------- ours
def run_ours(npz_path: Path, seed: int, epochs: int, overrides: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:  # noqa: BLE001 - numba is optional
        pass
    from sparks_gui.engine.config import SparksConfig
    from sparks_gui.engine.dataset import PreparedData
    from sparks_gui.engine.events import Failed, StepProgress
    from sparks_gui.engine.trainer import Trainer
    from sparks_gui.model.sparks import prediction_from_output

    z = np.load(npz_path, allow_pickle=False)
    s = json.loads(str(z["settings"]))
    x_tr, r_tr = z["x_train"], z["r_train"]
    x_ho = z["x_heldout"]
    r_ho = (z["r_heldout"] - z["r_mean"]) / z["r_std"]
    n_tr = len(x_tr)
    data = PreparedData(
        x=np.ascontiguousarray(np.concatenate([x_tr, x_ho]), dtype=np.float32),
        r=np.ascontiguousarray(np.concatenate([r_tr, r_ho]), dtype=np.float32),
        train_idx=np.arange(n_tr),
        test_idx=np.arange(n_tr, n_tr + len(x_ho)),
        loss="mse",
        target_name=s["target"],
        dt=s["dt"],
        kind="spikes",
        starts=np.zeros(n_tr + len(x_ho), dtype=np.int64),
        r_mean=z["r_mean"],
        r_std=z["r_std"],
        target_offset=0,
    )
    cfg = SparksConfig(
        target=s["target"],
        latent_dim=s["latent_dim"],
        embed_dim=s["embed_dim"],
        n_heads=s["n_heads"],
        tau_p=s["tau_p"],
        tau_f=1,
        lr=s["lr"],
        batch_size=s["batch_size"],
        beta=s["beta"],
        w_start=s["w_start"],
        tau_s=s["tau_s"],
        segment_length=s["segment_length"],
        epochs=epochs,
        seed=seed,
        device="cpu",
        eval_every=10**6,
        snapshot_trials=1,
        **overrides,
    )
    trainer = Trainer(cfg, data=data)
    train_s = None
    for ev in trainer.run():
        if isinstance(ev, Failed):
            raise RuntimeError(ev.message)
        if isinstance(ev, StepProgress):
            train_s = ev.elapsed_s  # training time up to the last optimiser step (no evaluation in it)
    model = trainer.model.eval()
    preds = {}
    with torch.no_grad():
        for name in s["test_sets"]:
            x = torch.from_numpy(np.ascontiguousarray(z[f"x_{name}"]))
            outs = [
                prediction_from_output(model(x[i : i + 64], 0, sample=False).pred[:, :, 0], "mse").float().numpy()
                for i in range(0, len(x), 64)
            ]
            preds[name] = np.concatenate(outs)
    r2 = score(z, preds)
    cfg_used = {
        k: getattr(trainer.config, k)
        for k in ("input_residual", "token_ff", "grad_clip", "stdp_rule", "hebbian_backend", "precision")
    }
    # cross-check: the trainer's own held-out R2 (mean of per-variable R2, z-scored units) must equal ours
    return {
        "r2": r2,
        "trainer_heldout_r2": round(float(trainer.history[-1].get("r2", float("nan"))), 4),
        "seconds_per_epoch": train_s / epochs,
        "config": cfg_used,
        "n_parameters": sum(p.numel() for p in trainer.model.parameters()),
        "torch_threads": torch.get_num_threads(),
    }


# ----------------------------------------------------------------------------- ref
def run_ref(npz_path: Path, seed: int, epochs: int, ref_python: str) -> dict:
    out_path = npz_path.with_name(npz_path.stem + "_refpred.npz")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}  # the reference's own OpenMP defaults
    proc = subprocess.run(
        [
            ref_python,
            str(RUNNER),
            str(npz_path),
            str(out_path),
            "--epochs",
            str(epochs),
            "--seed",
            str(seed),
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-2000:])
    meta = json.loads(proc.stdout.strip().splitlines()[-1])
    z = np.load(npz_path, allow_pickle=False)
    p = np.load(out_path)
    s = json.loads(str(z["settings"]))
    r2 = score(z, {n: p[f"pred_{n}"] for n in s["test_sets"]})
    r2_sampled = score(z, {n: p[f"sampled_{n}"] for n in s["test_sets"]})
    return {
        "r2": r2,
        "r2_sampled_z": r2_sampled,
        "seconds_per_epoch": float(np.mean(meta["epoch_seconds"])),
        "implementation": meta["implementation"],
        "n_parameters": meta["n_parameters"],
        "torch_threads": meta["torch_threads"],
        "config": {"grad_clip": "by value 0.5 (sparks-ai update_and_reset)", "token_ff": True, "input_residual": False},
    }


# ----------------------------------------------------------------------------- main
def _provenance() -> dict:
    """Which sparks_gui was measured: its folder, the commit and whether the package has uncommitted edits."""
    import sparks_gui

    pkg = Path(sparks_gui.__file__).resolve().parent
    info = {"sparks_gui_path": str(pkg)}
    try:
        git = ["git", "-C", str(pkg.parent)]
        info["git_head"] = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(
            git + ["status", "--porcelain", "--", "sparks_gui"], capture_output=True, text=True
        ).stdout
        info["sparks_gui_uncommitted"] = [line[3:] for line in dirty.splitlines() if line.strip()]
    except OSError:
        pass
    return info


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("ours", "ref"), default=None, help="run only one implementation")
    ap.add_argument("--datasets", default="reach,chewie")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a SparksConfig field of OUR model (repeatable), e.g. token_ff=true",
    )
    ap.add_argument("--label", default=None, help="method name of our rows (default: ours[overrides])")
    ap.add_argument("--data-dir", default="/tmp/real", help="folder holding chewie_demo.mat")
    ap.add_argument("--ref-python", default="/tmp/refenv/bin/python", help="python of the sparks-ai environment")
    ap.add_argument("--workdir", default=None, help="where the exported .npz go (default: a temporary folder)")
    ap.add_argument("--out", default=None, help="also append the JSON lines to this file")
    a = ap.parse_args(argv)

    overrides = {}
    for item in a.set:
        key, sep, value = item.partition("=")
        if not sep or key in DATA_KEYS:
            raise SystemExit(
                f"--set {item!r}: use KEY=VALUE with a model/training key (not one of {sorted(DATA_KEYS)})"
            )
        overrides[key] = _parse_value(value)
    datasets = [d for d in a.datasets.split(",") if d]
    seeds = [int(s) for s in a.seeds.split(",") if s]
    methods = [m for m in ("ref", "ours") if a.only in (None, m)]
    shown = ",".join(f"{k}={v}" for k, v in overrides.items())
    ours_name = a.label or (f"ours[{shown}]" if overrides else "ours[defaults]")
    workdir = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="fidelity_"))
    workdir.mkdir(parents=True, exist_ok=True)
    sink = open(a.out, "a") if a.out else None  # noqa: SIM115

    def emit(row: dict) -> None:
        line = json.dumps(row)
        print(line, flush=True)
        if sink:
            sink.write(line + "\n")
            sink.flush()

    import torch

    torch.set_num_threads(1)
    emit(
        {
            "kind": "run",
            "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "argv": sys.argv[1:],
            "epochs": a.epochs,
            "seeds": seeds,
            "datasets": datasets,
            "shared_settings": SHARED,
            "ours_overrides": overrides,
            "torch_threads_per_process": 1,
            "machine": f"{platform.platform()}, {os.cpu_count()} CPU cores",
            "note": "torch/numba/OpenMP limited to 1 thread in every process; other work ran beside this one",
            **_provenance(),
        }
    )
    results: dict[tuple[str, str], list[dict]] = {}
    for ds in datasets:
        for seed in seeds:
            path = workdir / f"{ds}_seed{seed}.npz"
            info = export(ds, seed, a.data_dir, path)
            for m in methods:
                t0 = time.perf_counter()
                try:
                    res = (
                        run_ref(path, seed, a.epochs, a.ref_python)
                        if m == "ref"
                        else run_ours(path, seed, a.epochs, overrides)
                    )
                except Exception as exc:  # noqa: BLE001 - one failing run must not hide the others
                    emit(
                        {
                            "kind": "error",
                            "method": m,
                            "dataset": ds,
                            "seed": seed,
                            "error": f"{type(exc).__name__}: {exc}",
                        }
                    )
                    continue
                name = "sparks-ai 0.2.1" if m == "ref" else ours_name
                row = {
                    "kind": "result",
                    "method": name,
                    "dataset": ds,
                    "seed": seed,
                    "epochs": a.epochs,
                    "r2": round(res["r2"][PRIMARY[ds]], 4),
                    "primary_test_set": PRIMARY[ds],
                    "r2_by_test_set": {k: round(v, 4) for k, v in res["r2"].items()},
                    "seconds_per_epoch": round(res["seconds_per_epoch"], 3),
                    "wall_s": round(time.perf_counter() - t0, 1),
                    **{k: v for k, v in res.items() if k not in ("r2", "seconds_per_epoch")},
                    "data": info,
                }
                if "r2_sampled_z" in row:
                    row["r2_sampled_z"] = {k: round(v, 4) for k, v in row["r2_sampled_z"].items()}
                emit(row)
                results.setdefault((name, ds), []).append(row)
    for (name, ds), rows in results.items():
        vals = np.array([r["r2"] for r in rows])
        summary = {
            "kind": "summary",
            "method": name,
            "dataset": ds,
            "n_seeds": len(rows),
            "seeds": [r["seed"] for r in rows],
            "r2_mean": round(float(vals.mean()), 4),
            "r2_sd": round(float(vals.std(ddof=1)) if len(vals) > 1 else 0.0, 4),
            "seconds_per_epoch_mean": round(float(np.mean([r["seconds_per_epoch"] for r in rows])), 3),
        }
        for extra in rows[0]["r2_by_test_set"]:
            if extra != PRIMARY[ds]:
                v = np.array([r["r2_by_test_set"][extra] for r in rows])
                summary[f"r2_{extra}_mean"] = round(float(v.mean()), 4)
                summary[f"r2_{extra}_sd"] = round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4)
        if "r2_sampled_z" in rows[0]:
            v = np.array([r["r2_sampled_z"][PRIMARY[ds]] for r in rows])
            summary["r2_sampled_z_mean"] = round(float(v.mean()), 4)
        emit(summary)
    if sink:
        sink.close()


if __name__ == "__main__":
    main()
