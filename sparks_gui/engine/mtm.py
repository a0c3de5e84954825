"""Masked-modelling (MtM) read-outs of a trained model: predicted rates and the NLB-style scores.

One place computes what a masked model predicts and how well, used by the trainer's
evaluation, :meth:`Sparks.predict` / :meth:`Sparks.score` with ``heldout_neurons`` and
``sparks-gui validate``:

* :func:`mtm_rates` -- the model's predicted rate (spikes) or value (calcium) of every
  entry of ``x`` [B, N, T] with ``mask`` hidden from the encoder (hidden entries are fed
  as silence, so their values never reach the encoder);
* :func:`mtm_scores` -- co-smoothing (held-out neurons), forward prediction (held-out last
  steps) and, with region labels, inter-region prediction (each region hidden in turn,
  predicted from the others), as bits per spike for spikes and R2 for calcium.

The metrics themselves live in :mod:`sparks_gui.analysis.nlb` (numpy only).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..analysis.decoding import r2_per_variable
from ..errors import SparksError
from ..model.masking import mask_entries

FORWARD_FRACTION = 0.2
"""Forward prediction hides this fraction of each example's last steps (at least one)."""


def trained_token(scheme: str, trained: tuple[str, ...] | list[str] | None) -> str:
    """The task token to use for ``scheme``: itself if the model was trained on it, else the first trained scheme.

    A model trained with neuron masking only has never used the other tokens; asking it
    to forward-predict with the (untrained) causal token would measure the token, not the model.
    """
    if not trained or scheme in trained:
        return scheme
    return "neuron" if "neuron" in trained else trained[0]


@torch.no_grad()
def mtm_rates(
    model,
    x: np.ndarray,
    mask: np.ndarray,
    scheme: str,
    session: int = 0,
    likelihood: str = "poisson",
    batch_size: int = 64,
) -> np.ndarray:
    """Predicted rates (expected counts per bin) or calcium values of ``x`` [B, N, T], ``mask`` hidden.

    ``mask`` is bool [B, N, T] or [N, T] (True = hidden from the encoder).  Runs with z = mu.
    """
    if getattr(model, "mtm_head", None) is None:
        raise SparksError(
            "This model has no masked-modelling read-out (it was trained with objective='pcc').",
            "Train with objective='mtm' to predict held-out neurons, or score behaviour instead.",
        )
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3:
        raise SparksError(f"Expected examples [B, N, T], got shape {x.shape}.", "Pass trials or windows.")
    m = np.broadcast_to(np.asarray(mask, dtype=bool), x.shape)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    try:
        for s in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[s : s + batch_size])).to(device)
            mb = torch.from_numpy(np.array(m[s : s + batch_size], copy=True)).to(device)
            masked = torch.where(mb, torch.zeros((), dtype=xb.dtype, device=device), xb)
            res = model(masked, session, sample=False)
            log_rate = model.mtm_log_rates(res.z, scheme, session)
            out.append((torch.exp(log_rate) if likelihood == "poisson" else log_rate).float().cpu().numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out) if out else np.zeros_like(x)


def default_heldout(n_neurons: int, seed: int = 0, fraction: float = 0.2) -> np.ndarray:
    """The fixed held-out neurons of co-smoothing: ``fraction`` of them (at least one, never all), by seed."""
    N = int(n_neurons)
    k = max(1, min(N - 1, int(round(fraction * N)))) if N >= 2 else 1
    return np.sort(np.random.default_rng((seed, 14)).choice(N, k, replace=False))


def _r2(true: np.ndarray, pred: np.ndarray) -> float:
    """Mean over neurons of R2 (frames pooled over examples); neurons without variance are skipped."""
    t = np.moveaxis(true, -2, -1).reshape(-1, true.shape[-2]).astype(np.float64)
    p = np.moveaxis(pred, -2, -1).reshape(-1, pred.shape[-2]).astype(np.float64)
    ok = np.isfinite(p).all(0)
    if len(t) < 2 or not ok.any():
        return float("nan")
    per = r2_per_variable(t[:, ok], p[:, ok])  # NaN for neurons without variance
    return float(np.nanmean(per)) if np.isfinite(per).any() else float("nan")


def mtm_scores(
    model,
    x: np.ndarray,
    session: int = 0,
    likelihood: str = "poisson",
    heldout_neurons=None,
    regions=None,
    forward_steps: int | None = None,
    trained: tuple[str, ...] | list[str] | None = None,
    batch_size: int = 64,
) -> dict[str, Any]:
    """Co-smoothing, forward-prediction and (with ``regions``) inter-region scores of examples ``x`` [B, N, T].

    Spikes give bits per spike (``cosmooth_bps``, ``forward_bps``, ``region_bps`` per region and its
    mean ``inter_region_bps``); calcium gives R2 (``cosmooth_r2``, ``forward_r2``, ``inter_region_r2``).
    ``trained``: the schemes the model was trained with (see :func:`trained_token`).
    """
    from ..analysis.nlb import co_smoothing, forward_prediction, region_bits_per_spike

    x = np.asarray(x, dtype=np.float32)
    B, N, T = x.shape
    held = default_heldout(N) if heldout_neurons is None else np.asarray(heldout_neurons)
    if held.dtype == bool:
        held = np.flatnonzero(held)
    held = held.astype(np.int64).ravel()
    if held.size == 0 or held.min() < 0 or held.max() >= N or np.unique(held).size != held.size:
        raise SparksError(
            f"heldout_neurons must be distinct indices in 0..{N - 1}; got {held.tolist()[:10]}.",
            "Pass the indices of the neurons to hide (e.g. a fifth of them).",
        )
    if held.size >= N:
        raise SparksError("Every neuron is held out: nothing is left to predict them from.", "Hold out fewer neurons.")
    spikes = likelihood == "poisson"
    xt = torch.from_numpy(x)
    _, mask = mask_entries(xt, neurons=held)
    rate = mtm_rates(model, x, mask.numpy(), trained_token("neuron", trained), session, likelihood, batch_size)
    scores: dict[str, Any] = {"heldout_neurons": held.tolist()}
    if spikes:
        scores["cosmooth_bps"] = float(co_smoothing(x, rate, held).bits_per_spike)
    else:
        scores["cosmooth_r2"] = _r2(x[:, held], rate[:, held])
    k = max(1, int(round(FORWARD_FRACTION * T))) if forward_steps is None else int(forward_steps)
    if 1 <= k < T:
        _, fmask = mask_entries(xt, steps=np.arange(T - k, T))
        frate = mtm_rates(model, x, fmask.numpy(), trained_token("causal", trained), session, likelihood, batch_size)
        if spikes:
            scores["forward_bps"] = float(forward_prediction(x, frate, k).bits_per_spike)
        else:
            scores["forward_r2"] = _r2(x[..., T - k :], frate[..., T - k :])
        scores["forward_steps"] = k
    labels = None if regions is None else np.asarray(regions).astype(str).ravel()
    if labels is not None and labels.size == N and np.unique(labels).size >= 2:
        per: dict[str, float] = {}
        for lab in sorted(set(labels)):
            members = np.flatnonzero(labels == lab)
            _, rmask = mask_entries(xt, neurons=members)
            rrate = mtm_rates(
                model, x, rmask.numpy(), trained_token("inter_region", trained), session, likelihood, batch_size
            )
            if spikes:
                per[lab] = float(region_bits_per_spike(x, rrate, labels, region=lab).bits_per_spike)
            else:
                per[lab] = _r2(x[:, members], rrate[:, members])
        key = "bps" if spikes else "r2"
        scores[f"region_{key}"] = per
        scores[f"inter_region_{key}"] = float(np.nanmean(list(per.values())))
    return scores
