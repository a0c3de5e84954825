"""Training-throughput benchmarks behind ``sparks-gui bench`` (one JSON object per line).

Each case runs in a fresh subprocess so its peak RSS is its own.  The reference
configuration is the one the SPARKS reference implementation (sparks-ai 0.2.1)
is measured on: batch 64 trials x 65 neurons x 600 steps of 1 ms, embed 32,
latent 3, tau_p 10, tau_f 1, one Hebbian head, no conventional blocks, full BPTT.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

REFERENCE = dict(batch=64, neurons=65, steps=600, embed_dim=32, latent_dim=3, tau_p=10, tau_f=1, n_heads=1,
                 grad_mode="full", backend="auto", repeats=3)


def cases(quick: bool = False) -> list[dict[str, Any]]:
    ref = dict(REFERENCE)
    if quick:
        ref.update(batch=8, steps=200, repeats=1)
    out = [dict(name="reference_config", **ref)]
    out.append(dict(name="reference_config_truncated", **{**ref, "grad_mode": "truncated", "chunk": 100}))
    if not quick:
        out.append(dict(name="reference_config_torch_loop", **{**ref, "backend": "torch", "repeats": 1}))
    return out


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one case in this process and return its row."""
    import resource
    import time

    import torch

    from .model.sparks import SparksModel, kl_divergence, pick_device, reconstruction_loss

    torch.manual_seed(0)
    device = pick_device(spec.get("device", "auto"))
    B, N, T = spec["batch"], spec["neurons"], spec["steps"]
    model = SparksModel(N, n_out=2, latent_dim=spec["latent_dim"], embed_dim=spec["embed_dim"], n_heads=spec["n_heads"],
                        tau_p=spec["tau_p"], tau_f=spec["tau_f"], dt=0.001, backend=spec["backend"]).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = (torch.rand(B, N, T, device=device) < 0.02).float()  # ~20 Hz at 1 ms
    r = torch.randn(B, T, spec["tau_f"], 2, device=device)
    mask = torch.ones(B, T, spec["tau_f"], dtype=torch.bool, device=device)
    chunk = T if spec["grad_mode"] == "full" else spec.get("chunk", 100)

    def train_batch():
        state = model.initial_state(B, 0, device)
        for t0 in range(0, T, chunk):
            out = model(x[..., t0 : t0 + chunk], 0, state)
            n = out.pred.shape[1]
            loss = reconstruction_loss(out.pred, r[:, t0 : t0 + n], mask[:, t0 : t0 + n], "mse") + 1e-3 * kl_divergence(out.mu, out.logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()
            state = out.state.detach()

    train_batch()  # warm-up (kernel compilation, allocator)
    if device.type == "cuda":
        torch.cuda.synchronize()
    times = []
    for _ in range(spec["repeats"]):
        t0 = time.perf_counter()
        train_batch()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    best = min(times)
    row = {
        "name": spec["name"],
        "trial_steps_per_s": round(B * T / best, 1),
        "seconds_per_batch": round(best, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "device": str(device) if device.type != "cuda" else f"cuda ({torch.cuda.get_device_name(device)})",
        "batch": B, "neurons": N, "steps": T, "grad_mode": spec["grad_mode"], "backend": spec["backend"],
        "torch_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        row["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return row


def run_benchmarks(quick: bool = False, only: str | None = None) -> Iterator[dict[str, Any]]:
    for spec in cases(quick):
        if only and only not in spec["name"]:
            continue
        code = "import json,sys; from sparks_gui.bench import _child; print(json.dumps(_child(json.loads(sys.argv[1]))))"
        proc = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True)
        if proc.returncode != 0:
            yield {"name": spec["name"], "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
            continue
        yield json.loads(proc.stdout.strip().splitlines()[-1])
