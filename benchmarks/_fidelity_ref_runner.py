"""Train and test the reference package ``sparks-ai`` on one exported split (used by fidelity_sparks_ai.py).

Runs in the *reference* environment (``/tmp/refenv/bin/python``), never imports sparks_gui:

    python _fidelity_ref_runner.py DATA.npz OUT.npz --epochs 12 --seed 0

``DATA.npz`` (written by ``fidelity_sparks_ai.py``) holds the training windows ``x_train``
[n, N, L] with z-scored targets ``r_train`` [n, L, k] and, for every test set NAME, ``x_NAME``
[m, N, L'].  The model is built from sparks-ai's public classes and trained with its own
``train_on_batch`` (full backprop through each window, its own gradient clipping by value 0.5),
batches in the same order as sparks_gui's trainer uses.  Predictions (z-scored units) are written
to ``OUT.npz``: ``pred_NAME`` with z = mu (deterministic) and ``sampled_NAME`` from sparks-ai's own
``test_on_batch`` (which samples z from the posterior even in eval mode).  One JSON line with the
timings goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def _batches(n: int, batch_size: int, seed: int, epoch: int):
    """The batches sparks_gui's Trainer draws: a permutation seeded by (seed, epoch), each batch sorted."""
    order = np.random.default_rng((seed, epoch)).permutation(np.arange(n))
    for b in range(int(np.ceil(n / batch_size))):
        yield np.sort(order[b * batch_size : (b + 1) * batch_size])


@torch.no_grad()
def _predict_mu(model, x: np.ndarray, batch: int = 64) -> np.ndarray:
    """Decoder output with z = mu at every step, each window from a reset state: [m, L, k]."""
    model.eval()
    outs = []
    for s in range(0, len(x), batch):
        xb = torch.from_numpy(x[s : s + batch])
        model.encoder.zero_()
        buf = torch.zeros(len(xb), model.latent_dim, model.tau_p)
        steps = []
        for t in range(xb.shape[-1]):
            mu, _ = model.encoder(xb[..., t].float(), 0)
            buf = torch.cat((buf, mu.unsqueeze(2)), dim=2)
            steps.append(model.decoder(buf[..., -model.tau_p :], 0))
        outs.append(torch.stack(steps, dim=1).numpy())
    return np.concatenate(outs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    from importlib.metadata import version

    from sparks.data.providers import StandardTargetProvider
    from sparks.models.dataclasses import HebbianAttentionConfig
    from sparks.models.sparks import SPARKS
    from sparks.utils.test import test_on_batch
    from sparks.utils.train import train_on_batch

    d = np.load(a.data, allow_pickle=False)
    s = json.loads(str(d["settings"]))
    x_train = d["x_train"].astype(np.float32)
    r_train = np.ascontiguousarray(np.transpose(d["r_train"], (0, 2, 1))).astype(np.float32)  # [n, k, L]
    n, N, _ = x_train.shape
    k = r_train.shape[1]
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    hebb = HebbianAttentionConfig(tau_s=s["tau_s"], dt=s["dt"], w_start=s["w_start"], n_heads=s["n_heads"])
    model = SPARKS(
        n_neurons_per_session=N,
        embed_dim=s["embed_dim"],
        latent_dim=s["latent_dim"],
        tau_p=s["tau_p"],
        tau_f=1,
        hebbian_config=hebb,
        output_dim_per_session=k,
    )
    opt = torch.optim.Adam(model.parameters(), lr=s["lr"])
    loss_fn = torch.nn.MSELoss()
    epoch_s = []
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        for sel in _batches(n, s["batch_size"], a.seed, epoch):
            train_on_batch(
                sparks=model,
                inputs=torch.from_numpy(x_train[sel]),
                target_provider=StandardTargetProvider(torch.from_numpy(r_train[sel])),
                loss_fn=loss_fn,
                optimizer=opt,
                beta=s["beta"],
                device="cpu",
                online=False,
            )
        epoch_s.append(time.perf_counter() - t0)
    out = {}
    for name in s["test_sets"]:
        x = d[f"x_{name}"].astype(np.float32)
        out[f"pred_{name}"] = _predict_mu(model, x)
        torch.manual_seed(a.seed + 1000)
        _, _, dec = test_on_batch(model, torch.from_numpy(x), session_id=0)  # [m, k, L], sampled z
        out[f"sampled_{name}"] = np.transpose(dec.numpy(), (0, 2, 1))
    np.savez(a.out, **out)
    print(
        json.dumps(
            {
                "implementation": f"sparks-ai {version('sparks-ai')}",
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "epoch_seconds": [round(t, 3) for t in epoch_s],
                "n_parameters": sum(p.numel() for p in model.parameters()),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
