"""Training-throughput and memory benchmarks behind ``sparks-gui bench`` (one JSON object per line).

Each case runs in a fresh subprocess so its peak RSS is its own.  The reference
configuration is the one the SPARKS reference implementation (sparks-ai 0.2.1) is
measured on: batch 64 trials x 65 neurons x 600 steps of 1 ms, embed 32, latent 3,
tau_p 10, tau_f 1, one Hebbian head, no conventional blocks, full BPTT.

When the reference package (``sparks`` from sparks-ai) is importable, the same batch is
timed through its own ``train_on_batch`` in the same run and a ``speedup_vs_sparks_ai``
row gives the ratio.  It is never a dependency.

Rows: ``reference_config`` (full BPTT), ``reference_config_truncated`` (chunks of 100),
``reference_config_online_chunked``, ``reference_config_torch_loop`` (our per-step torch
path, the straightforward implementation), ``sparks_ai_reference``, and the scale grid
``scale_N{65,256,1000}_T{600,5000}`` (truncated BPTT, chunks of 100; batch shrinks with N),
``scale_N5000_T600_sparse64`` (the sparse variant, 64 partners per neuron),
``reference_config_torch_backend`` (the device-agnostic checkpointed torch path on this
CPU), ``reference_config_input_residual`` (the engine's default encoder: plus the input
residual) and, when CUDA is present, ``cuda_*`` rows: the reference config with the
``torch_compile`` backend in bf16 and fp32 and eager, the N = 256/1000 x T = 5000 scale
rows, and ``cuda_hebbian_update_N1000`` (the state update's achieved memory bandwidth
as a fraction of a device-to-device copy's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

REFERENCE = dict(
    batch=64,
    neurons=65,
    steps=600,
    embed_dim=32,
    latent_dim=3,
    tau_p=10,
    tau_f=1,
    n_heads=1,
    grad_mode="full",
    backend="auto",
    repeats=3,
    rate=0.02,
)

GRID_BATCH = {65: 64, 256: 8, 1000: 1}


def cases(quick: bool = False) -> list[dict[str, Any]]:
    ref = dict(REFERENCE)
    if quick:
        ref.update(batch=8, steps=200, repeats=1)
    out = [dict(name="reference_config", **ref)]
    out.append(dict(name="reference_config_truncated", **{**ref, "grad_mode": "truncated", "chunk": 100}))
    out.append(dict(name="reference_config_online_chunked", **{**ref, "grad_mode": "online_chunked", "chunk": 100}))
    if quick:
        return out
    out.append(dict(name="reference_config_torch_loop", **{**ref, "backend": "reference", "repeats": 1}))
    # the device-agnostic path (what CUDA runs), timed on this CPU
    out.append(dict(name="reference_config_torch_backend", **{**ref, "backend": "torch", "repeats": 1}))
    # the engine's default encoder adds the input residual (one [N, 2d] map of the counts)
    out.append(dict(name="reference_config_input_residual", **{**ref, "input_residual": True}))
    out.append(dict(name="sparks_ai_reference", kind="sparks_ai", **{**ref, "repeats": 2}))
    for n in (65, 256, 1000):
        for t in (600, 5000):
            out.append(
                dict(
                    name=f"scale_N{n}_T{t}",
                    **{
                        **ref,
                        "neurons": n,
                        "steps": t,
                        "batch": GRID_BATCH[n],
                        "grad_mode": "truncated",
                        "chunk": 100,
                        "repeats": 1,
                    },
                )
            )
    # the sparse/local variant for large populations: 5,000 neurons, 64 partners each
    out.append(
        dict(
            name="scale_N5000_T600_sparse64",
            **{
                **ref,
                "neurons": 5000,
                "steps": 600,
                "batch": 1,
                "grad_mode": "truncated",
                "chunk": 100,
                "repeats": 1,
                "n_partners": 64,
            },
        )
    )
    # GPU rows (run only when CUDA is present): torch_compile backend, bf16 autocast vs fp32, scale, bandwidth
    gpu = dict(device="cuda", needs_cuda=True, backend="auto")
    out.append(dict(name="cuda_reference_config_bf16", **{**ref, **gpu, "precision": "bf16"}))
    out.append(dict(name="cuda_reference_config_fp32", **{**ref, **gpu}))
    out.append(dict(name="cuda_reference_config_eager", **{**ref, **gpu, "backend": "torch"}))
    for n, b in ((256, 64), (1000, 8)):
        out.append(
            dict(
                name=f"cuda_scale_N{n}_T5000",
                **{
                    **ref,
                    **gpu,
                    "neurons": n,
                    "steps": 5000,
                    "batch": b,
                    "grad_mode": "truncated",
                    "chunk": 100,
                    "repeats": 1,
                },
            )
        )
    out.append(
        dict(
            name="cuda_hebbian_update_N1000",
            kind="bandwidth",
            neurons=1000,
            batch=16,
            steps=200,
            device="cuda",
            needs_cuda=True,
            compile=True,
            rate=0.02,
        )
    )
    return out


def _peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _timed(train_batch, spec, sync) -> list[float]:
    import time

    times = []
    for _ in range(spec["repeats"]):
        t0 = time.perf_counter()
        train_batch()
        sync()
        times.append(time.perf_counter() - t0)
    return times


def _child_sparks_ai(spec: dict[str, Any]) -> dict[str, Any]:
    """The same batch through the reference package's own training step."""
    import torch
    from sparks.data.providers import StandardTargetProvider
    from sparks.models.sparks import SPARKS
    from sparks.utils.train import train_on_batch

    torch.manual_seed(0)
    B, N, T = spec["batch"], spec["neurons"], spec["steps"]
    model = SPARKS(
        n_neurons_per_session=N,
        embed_dim=spec["embed_dim"],
        latent_dim=spec["latent_dim"],
        tau_p=spec["tau_p"],
        tau_f=spec["tau_f"],
        output_dim_per_session=2,
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = (torch.rand(B, N, T) < spec["rate"]).float()
    provider = StandardTargetProvider(torch.randn(B, 2, T))

    def train_batch():
        train_on_batch(
            sparks=model,
            inputs=x,
            target_provider=provider,
            loss_fn=torch.nn.MSELoss(),
            optimizer=opt,
            beta=1e-3,
            device="cpu",
            online=False,
        )

    times = _timed(train_batch, spec, lambda: None)
    best = min(times)
    return {
        "name": spec["name"],
        "trial_steps_per_s": round(B * T / best, 1),
        "seconds_per_batch": round(best, 3),
        "peak_rss_mb": _peak_rss_mb(),
        "device": "cpu",
        "batch": B,
        "neurons": N,
        "steps": T,
        "grad_mode": "full",
        "implementation": "sparks-ai 0.2.1 train_on_batch",
        "torch_threads": torch.get_num_threads(),
    }


def _child_bandwidth(spec: dict[str, Any]) -> dict[str, Any]:
    """Hebbian state update alone (no grad): achieved memory bandwidth vs a device-to-device copy.

    Minimum traffic per step: read and write P, Q and A (6 x B x N^2 floats) and read the
    four per-pair parameters (4 x N^2).  ``fraction_of_copy_bandwidth`` >= 0.5 means the
    update runs within 2x of the memory-bandwidth limit.
    """
    import time

    import torch

    from ..model.hebbian import HebbianAttention, compiled_step, hebbian_step

    device = torch.device(spec.get("device", "cpu"))
    B, N, T = spec["batch"], spec["neurons"], spec["steps"]
    heb = HebbianAttention(N, embed_dim=8, dt=0.001).to(device)
    x = (torch.rand(B, N, T, device=device) < spec["rate"]).float()
    step = compiled_step() if spec.get("compile") else hebbian_step

    with torch.no_grad():
        params = heb.trace_params()
        state = heb.initial_state(B, device)
        for t in range(min(T, 5)):  # warm-up (compilation)
            state = step(state, x[..., t], *params, heb.rule, heb.lo, heb.hi)
        _sync(device)
        t0 = time.perf_counter()
        for t in range(T):
            state = step(state, x[..., t], *params, heb.rule, heb.lo, heb.hi)
        _sync(device)
        update_s = time.perf_counter() - t0
        src = torch.empty(64 * 2**20, device=device)  # 256 MB
        dst = torch.empty_like(src)
        dst.copy_(src)
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(10):
            dst.copy_(src)
        _sync(device)
        copy_gbps = 10 * 2 * src.numel() * 4 / (time.perf_counter() - t0) / 1e9
    bytes_per_step = 4 * (6 * B * N * N + 4 * N * N)
    achieved = bytes_per_step * T / update_s / 1e9
    return {
        "name": spec["name"],
        "device": _device_name(device),
        "batch": B,
        "neurons": N,
        "steps": T,
        "compiled": bool(spec.get("compile")),
        "us_per_step": round(update_s / T * 1e6, 1),
        "achieved_gbps": round(achieved, 1),
        "copy_gbps": round(copy_gbps, 1),
        "fraction_of_copy_bandwidth": round(achieved / copy_gbps, 3),
    }


def _sync(device) -> None:
    """Wait for queued GPU work, so that timings include it."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _device_name(device) -> str:
    import torch

    return str(device) if device.type != "cuda" else f"cuda ({torch.cuda.get_device_name(device)})"


def _child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one case in this process and return its row."""
    if spec.get("kind") == "sparks_ai":
        return _child_sparks_ai(spec)
    if spec.get("kind") == "bandwidth":
        return _child_bandwidth(spec)
    import torch

    from ..model.hebbian import one_step_gradients
    from ..model.sparks import SparksModel, autocast, autocast_dtype, kl_divergence, pick_device, reconstruction_loss

    torch.manual_seed(0)
    device = pick_device(spec.get("device", "auto"))
    B, N, T = spec["batch"], spec["neurons"], spec["steps"]
    model = SparksModel(
        N,
        n_out=2,
        latent_dim=spec["latent_dim"],
        embed_dim=spec["embed_dim"],
        n_heads=spec["n_heads"],
        tau_p=spec["tau_p"],
        tau_f=spec["tau_f"],
        dt=0.001,
        backend=spec["backend"],
        input_residual=spec.get("input_residual", False),
        **({"n_partners": spec["n_partners"]} if spec.get("n_partners") else {}),
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = (torch.rand(B, N, T, device=device) < spec["rate"]).float()  # ~20 Hz at 1 ms
    r = torch.randn(B, T, spec["tau_f"], 2, device=device)
    mask = torch.ones(1, T, spec["tau_f"], dtype=torch.bool, device=device)
    mode = spec["grad_mode"]
    chunk = T if mode == "full" else spec.get("chunk", 100)
    amp = autocast_dtype(spec.get("precision", "fp32"), device)

    def train_batch(steps=T):
        state = model.initial_state(B, 0, device)
        for t0 in range(0, steps, chunk):
            with one_step_gradients(mode == "online_chunked"), autocast(amp, device):
                out = model(x[..., t0 : min(steps, t0 + chunk)], 0, state)
            n = out.pred.shape[1]
            loss = reconstruction_loss(
                out.pred, r[:, t0 : t0 + n], mask[:, t0 : t0 + n].expand(B, -1, -1), "mse"
            ) + 1e-3 * kl_divergence(out.mu, out.logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()
            state = out.state.detach()

    def sync():
        _sync(device)

    train_batch(min(T, 2 * chunk))  # warm-up (kernel compilation, allocator)
    sync()
    times = _timed(train_batch, spec, sync)
    best = min(times)
    row = {
        "name": spec["name"],
        "trial_steps_per_s": round(B * T / best, 1),
        "seconds_per_batch": round(best, 4),
        "peak_rss_mb": _peak_rss_mb(),
        "device": _device_name(device),
        "precision": "bf16" if amp is not None else "fp32",
        "batch": B,
        "neurons": N,
        "steps": T,
        "grad_mode": mode,
        "backend": spec["backend"],
        "torch_threads": torch.get_num_threads(),
    }
    if mode != "full":
        row["chunk"] = chunk
    if spec.get("n_partners"):
        row["partners_per_neuron"] = spec["n_partners"]
    if device.type == "cuda":
        row["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return row


def sparks_ai_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("sparks.models.sparks") is not None
    except ModuleNotFoundError:
        return False


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def run_benchmarks(quick: bool = False, only: str | None = None) -> Iterator[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for spec in cases(quick):
        if only and only not in spec["name"]:
            continue
        if spec.get("kind") == "sparks_ai" and not sparks_ai_available():
            yield {"name": spec["name"], "skipped": "sparks-ai is not installed in this environment (optional)"}
            continue
        if spec.get("needs_cuda") and not _cuda_available():
            yield {"name": spec["name"], "skipped": "no CUDA device on this machine"}
            continue
        code = "import json,sys; from sparks_gui.tools.bench import _child; print(json.dumps(_child(json.loads(sys.argv[1]))))"
        env = {**os.environ}
        if spec.get("kind") == "sparks_ai":
            # the reference runs with its own default OpenMP behaviour, not the passive policy sparks_gui sets
            env["OMP_WAIT_POLICY"] = env.get("SPARKS_BENCH_REFERENCE_OMP_WAIT_POLICY", "")
        proc = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit status {proc.returncode}"
            yield {"name": spec["name"], "error": tail}
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows[row["name"]] = row
        yield row
    ours, theirs = rows.get("reference_config"), rows.get("sparks_ai_reference")
    if ours and theirs:
        yield {
            "name": "speedup_vs_sparks_ai",
            "ratio": round(ours["trial_steps_per_s"] / theirs["trial_steps_per_s"], 2),
            "ours_trial_steps_per_s": ours["trial_steps_per_s"],
            "sparks_ai_trial_steps_per_s": theirs["trial_steps_per_s"],
            "memory_ratio": round(theirs["peak_rss_mb"] / ours["peak_rss_mb"], 2),
        }
