"""Inference on whole continuous recordings: overlapping windows of the training length, stitched.

Why
---
A model trained on examples of ``L`` bins (its Hebbian state reset at the start of every
example) has only seen states built from at most ``L`` bins of history.  Run in one pass
over a long recording, the state (the attention coefficients move only when neurons fire,
so they integrate the whole past) leaves that range: the latents drift (unbounded rules) or
collapse, and lose the slow oscillation that per-segment latents recover.  Here a recording
is cut into windows of ``L`` bins, each run from a reset state exactly like a training
example, and each output bin is taken from the window that *owns* it:

* the first window owns its bins ``[0, L)`` (the start of the recording has no more
  history to give);
* every later window ``k`` owns the bins from the end of window ``k - 1`` to its own end;
  windows overlap by the warm-up ``W`` plus the crossfade ramp ``R`` (hop ``L - W - R``), so
  an owned bin sits at position ``>= W + R`` of its window;
* over the ``R`` bins before each hand-over the outgoing and the incoming window are blended
  linearly (weights ``i / (R + 1)``); the incoming window's contributions there sit at
  positions ``>= W``.  Every output has therefore seen between ``W`` and ``L`` bins of
  history, as in training;
* the last window is aligned to end at the last bin (it overlaps its predecessor by more),
  so every window has exactly ``L`` bins and a batch of windows is one model call.

With ``crossfade=0`` every output at bin ``t`` is *exactly* the model's output at that
position of the window that owns ``t`` (see :func:`window_plan`, :meth:`WindowPlan.owner`).
Latents (the means ``mu``), predictions and attention matrices use the same windows;
attention matrices and class-id predictions are never blended.

Why a crossfade: the latent depends on how much history the state has built (position in
the window), so the hand-over from position ``L - 1`` of one window to position ``W`` of
the next is a step.  Measured on a sparse synthetic sequence (40 neurons, 4000 bins,
``L = 100``, ``W = 50``): without a ramp the step at a hand-over is ~22x the median step
between bins (ordinary steps reach ~4.6x at their 95th percentile); a 10-bin ramp brings the
largest step inside a ramp to ~4.3x, i.e. within ordinary variation.  Phase and frequency
measures were the same with and without.  Defaults: ``W = L // 2``, ``R = L // 10``.

``mode="single_pass"`` keeps the old behaviour (one pass over the whole recording, state
never reset) for users who want it, e.g. to study the long-run state on purpose.

Nothing here imports Qt; everything runs under ``torch.no_grad`` on the model's device and
returns float32 numpy arrays.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import SparksError

MODES = ("windowed", "single_pass")
"""How a continuous recording is run: ``windowed`` (default; windows of the training length,
stitched) or ``single_pass`` (one pass, state never reset; the behaviour before windows)."""

DEFAULT_BATCH_WINDOWS = 64
ATTENTION_BATCH_BYTES = 256e6
"""Largest attention block ([windows, H, L, N, K] float32) computed in one model call."""


# ------------------------------------------------------------------------------ the plan
@dataclass(frozen=True)
class WindowPlan:
    """Windows over ``n_time`` bins, which window owns each bin, and the crossfade ramps.

    Attributes
    ----------
    n_time
        Bins in the recording.
    length
        Bins per window (the training example length, or ``n_time`` if that is shorter).
    warmup
        Minimum history (bins) of every output outside the first window, ramps included.
    crossfade
        Bins before each hand-over where the outgoing and incoming windows are blended.
    starts
        ``[n_windows]`` first bin of each window.
    own_start, own_stop
        ``[n_windows]`` the bins ``[own_start, own_stop)`` taken from each window; they tile
        ``[0, n_time)`` without gaps or overlaps.  Window ``k >= 1`` also contributes, with a
        linear weight, to the ``crossfade`` bins before ``own_start[k]``.
    """

    n_time: int
    length: int
    warmup: int
    crossfade: int
    starts: np.ndarray
    own_start: np.ndarray
    own_stop: np.ndarray

    @property
    def n_windows(self) -> int:
        return len(self.starts)

    def owner(self, t: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(window index, position in that window)`` of bin(s) ``t``."""
        t = np.asarray(t, dtype=np.int64)
        if t.size and (t.min() < 0 or t.max() >= self.n_time):
            bad = t[(t < 0) | (t >= self.n_time)][:5].tolist()
            raise SparksError(
                f"Time bin(s) {bad} are outside the recording (0..{self.n_time - 1}).",
                "Pass time bins of the recording (after bin_factor).",
            )
        k = np.searchsorted(self.own_stop, t, side="right")
        return k, t - self.starts[k]

    def ramp_weights(self) -> np.ndarray:
        """``[crossfade]`` weights of the incoming window over a ramp (0 < w < 1, rising)."""
        return np.arange(1, self.crossfade + 1, dtype=np.float32) / (self.crossfade + 1)


def resolve_overlap(length: int, warmup: int | None = None, crossfade: int | None = None) -> tuple[int, int]:
    """``(warmup, crossfade)`` with their defaults: ``W = L // 2``, ramp ``L // 10`` (shortened so that
    ``W + ramp < L``)."""
    length = int(length)
    W = length // 2 if warmup is None else int(warmup)
    if not 0 <= W < max(length, 1):
        raise SparksError(
            f"Inference warm-up {W} must be in [0, {max(length - 1, 0)}] (windows have {length} bins, "
            "the training example length).",
            f"Use a shorter warm-up, e.g. {length // 2}.",
        )
    cf = min(length // 10, length - 1 - W) if crossfade is None else int(crossfade)
    if cf < 0 or W + cf >= max(length, 1):
        raise SparksError(
            f"Crossfade {cf} with warm-up {W} leaves no hop between windows of {length} bins.",
            f"Use warm-up + crossfade <= {length - 1}.",
        )
    return W, cf


def window_plan(n_time: int, length: int, warmup: int | None = None, crossfade: int | None = None) -> WindowPlan:
    """Overlapping windows of ``length`` bins: warm-up ``warmup`` (default ``length // 2``), ramp ``crossfade``.

    Parameters
    ----------
    n_time
        Bins in the recording (after ``bin_factor``).
    length
        Window length: the training example length ``L``.  A recording of at most ``L`` bins is
        one window of ``n_time`` bins.
    warmup
        History ``W`` every output has seen, except in the first window (``0 <= W < L``).
    crossfade
        Ramp ``R`` (bins) before each hand-over over which the two windows are blended
        (``None``: the default of :func:`resolve_overlap`).  Windows overlap by ``W + R``, so
        the incoming window's contributions to a ramp have seen at least ``W`` bins too.  The
        hop is ``L - W - R``; the cost is about ``L / hop`` times a single pass.  ``W = R = 0``
        gives non-overlapping segments.
    """
    n_time, length = int(n_time), int(length)
    if n_time < 1:
        raise SparksError("The recording has no time bins.", "Pass a recording with at least one bin.")
    if length < 1:
        raise SparksError(f"Window length {length} must be at least 1.", "Use the training example length.")
    W, cf = resolve_overlap(length, warmup, crossfade)
    if n_time <= length:
        z = np.zeros(1, np.int64)
        return WindowPlan(n_time, n_time, W, 0, z, z.copy(), np.array([n_time], np.int64))
    hop = length - W - cf
    starts = list(range(0, n_time - length + 1, hop))
    if starts[-1] + length < n_time:
        starts.append(n_time - length)  # aligned to the end: overlaps its predecessor by more than W + R
    starts_a = np.asarray(starts, dtype=np.int64)
    own_stop = starts_a + length
    own_start = np.concatenate([[0], own_stop[:-1]]).astype(np.int64)
    return WindowPlan(n_time, length, W, cf, starts_a, own_start, own_stop)


def example_length(config, meta: dict | None = None) -> int:
    """Length (model bins) of the model's training examples: from the fit's metadata when it
    was stored (``example_length``), else the config's ``segment_length``."""
    meta = meta or {}
    if meta.get("example_length"):
        return int(meta["example_length"])
    if int(config.segment_length) < 1:  # "auto", resolved at fit time but not stored with this model
        raise SparksError(
            "The training example length of this model is unknown (segment_length is 'auto' and the "
            "saved run does not record it).",
            "Set model.config.segment_length to the length used "
            "in training (bins after bin_factor), or save the model again with this version.",
        )
    return int(config.segment_length)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise SparksError(f"Inference mode '{mode}' is unknown.", f"Use one of {MODES}.")
    return mode


# ------------------------------------------------------------------------------- running
@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _as_activity(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise SparksError(
            f"A continuous recording must be [neurons, time]; got shape {x.shape}.", "Pass one [N, T] array."
        )
    return x


def _windows(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """``[len(starts), N, length]`` copies of the windows of ``x`` [N, T]."""
    idx = starts[:, None] + np.arange(length)[None, :]
    return np.ascontiguousarray(np.moveaxis(x[:, idx], 0, 1))


def _outputs(model, xb: torch.Tensor, session: int, loss: str):
    """mu [B, T, d] and predictions in data units [B, T, tau_f, k] (class ids [B, T, tau_f])."""
    from ..model.sparks import prediction_from_output

    out = model(xb, session, sample=False)
    return out.mu.float(), prediction_from_output(out.pred, loss)


def run_windows(
    model,
    x: np.ndarray,
    session: int,
    loss: str,
    length: int,
    warmup: int | None = None,
    crossfade: int | None = None,
    batch_windows: int = DEFAULT_BATCH_WINDOWS,
) -> dict[str, Any]:
    """Latents and predictions of a whole continuous recording, stitched from overlapping windows.

    Parameters
    ----------
    model
        A :class:`~sparks_gui.model.sparks.SparksModel`.
    x
        ``[N, T]`` activity, already prepared like the training data (neurons, ``bin_factor``).
    session
        Session (encoder) index.
    loss
        The training loss (turns decoder outputs into data units, see ``prediction_from_output``);
        predictions are *not* de-normalised here.
    length, warmup, crossfade
        See :func:`window_plan`.  With ``crossfade=0`` the output at every bin is exactly the
        model's output at that bin's position in the window that owns it.
    batch_windows
        Windows per model call.

    Returns
    -------
    dict
        ``mu`` ``[T, d]`` float32, ``pred`` ``[T, tau_f, k]`` float32 (``[T, tau_f]`` class ids,
        never blended) and ``plan`` (the :class:`WindowPlan`).
    """
    x = _as_activity(x)
    plan = window_plan(x.shape[1], length, warmup, crossfade)
    T, L, R = plan.n_time, plan.length, plan.crossfade
    w = plan.ramp_weights()
    device = _device(model)
    mu_out = pred_out = None
    incoming: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # window k -> its outputs over the ramp before own_start[k]
    step = max(1, int(batch_windows))
    with _eval_mode(model):
        for b0 in range(0, plan.n_windows, step):
            ks = np.arange(b0, min(plan.n_windows, b0 + step))
            mu, pred = _outputs(model, torch.from_numpy(_windows(x, plan.starts[ks], L)).to(device), session, loss)
            mu, pred = mu.cpu().numpy(), pred.cpu().numpy()
            if mu_out is None:
                mu_out = np.empty((T, mu.shape[-1]), np.float32)
                pred_out = np.empty((T, *pred.shape[2:]), pred.dtype if pred.dtype.kind in "iu" else np.float32)
            for j, k in enumerate(ks):
                s, a, e = plan.starts[k], plan.own_start[k], plan.own_stop[k]
                mu_out[a:e] = mu[j, a - s : e - s]
                pred_out[a:e] = pred[j, a - s : e - s]
                if R and k > 0:
                    incoming[int(k)] = (mu[j, a - s - R : a - s].copy(), pred[j, a - s - R : a - s].copy())
    for k, (mu_in, pred_in) in incoming.items():  # after the loop: the outgoing window's values are in place
        a = plan.own_start[k]
        mu_out[a - R : a] = (1 - w[:, None]) * mu_out[a - R : a] + w[:, None] * mu_in
        if pred_out.dtype.kind == "f":
            wp = w.reshape(R, *([1] * (pred_out.ndim - 1)))
            pred_out[a - R : a] = (1 - wp) * pred_out[a - R : a] + wp * pred_in
    return {"mu": mu_out, "pred": pred_out, "plan": plan}


def run_single_pass(model, x: np.ndarray, session: int, loss: str) -> dict[str, np.ndarray]:
    """The whole recording in one pass from a reset state (``mode="single_pass"``)."""
    x = _as_activity(x)
    with _eval_mode(model):
        mu, pred = _outputs(model, torch.from_numpy(np.ascontiguousarray(x[None])).to(_device(model)), session, loss)
    pred = pred[0].cpu().numpy()
    return {
        "mu": mu[0].cpu().numpy().astype(np.float32),
        "pred": pred if pred.dtype.kind in "iu" else pred.astype(np.float32),
    }


def run_continuous(
    model,
    x: np.ndarray,
    session: int,
    loss: str,
    length: int,
    warmup: int | None = None,
    mode: str = "windowed",
    crossfade: int | None = None,
    batch_windows: int = DEFAULT_BATCH_WINDOWS,
) -> dict[str, Any]:
    """:func:`run_windows` or :func:`run_single_pass` by ``mode``."""
    if check_mode(mode) == "single_pass":
        return run_single_pass(model, x, session, loss)
    return run_windows(model, x, session, loss, length, warmup, crossfade, batch_windows)


def _attention_encoder(model, session: int):
    enc = model.sessions[session]
    if not getattr(enc, "has_attention", True):
        raise SparksError(
            f"The '{getattr(enc, 'name', type(enc).__name__)}' encoder has no attention matrices.",
            "Train a Hebbian or dot_attention encoder to inspect attention.",
        )
    return enc


def attention_at(
    model,
    x: np.ndarray,
    times: Any,
    session: int,
    length: int,
    warmup: int | None = None,
    mode: str = "windowed",
    crossfade: int | None = None,
    max_bytes: float = ATTENTION_BATCH_BYTES,
) -> np.ndarray:
    """Attention matrices at time bins ``times`` of a continuous recording: ``[len(times), H, N, K]``.

    ``A`` at bin ``t`` comes from the window that owns ``t`` in the plan of the latents
    (same ``length``, ``warmup``, ``crossfade``; matrices are never blended), computed up to
    ``t``'s position only: the attention a training example would have shown after the same
    history.  ``mode="single_pass"`` runs the recording once up to the last requested bin.
    """
    x = _as_activity(x)
    times = np.asarray(times, dtype=np.int64).reshape(-1)
    T = x.shape[1]
    if times.size and (times.min() < 0 or times.max() >= T):
        raise SparksError(
            f"Attention times must be bins 0..{T - 1}; got {times.min()}..{times.max()}.",
            "Pass time bins of the recording (after bin_factor).",
        )
    enc = _attention_encoder(model, session)
    device = _device(model)
    if times.size == 0:
        return np.zeros((0, getattr(enc, "n_heads", 1), x.shape[0], x.shape[0]), np.float32)
    if check_mode(mode) == "single_pass":
        with _eval_mode(model):
            xs = torch.from_numpy(np.ascontiguousarray(x[None, :, : times.max() + 1])).to(device)
            A, _ = enc.attention_sequence(xs)
            return A[0][:, torch.from_numpy(times).to(A.device)].transpose(0, 1).float().cpu().numpy()
    plan = window_plan(T, length, warmup, crossfade)
    k_of, pos_of = plan.owner(times)
    needed = np.unique(k_of)
    per_window = 4.0 * getattr(enc, "n_heads", 1) * x.shape[0] ** 2 * plan.length  # dense upper bound
    per_call = max(1, int(max_bytes // per_window))
    out = None
    with _eval_mode(model):
        for i in range(0, len(needed), per_call):
            ks = needed[i : i + per_call]
            reach = int(pos_of[np.isin(k_of, ks)].max()) + 1  # no window is run past the last bin asked of it
            A, _ = enc.attention_sequence(torch.from_numpy(_windows(x, plan.starts[ks], reach)).to(device))
            A = A.float().cpu().numpy()  # [B, H, reach, N, K]
            if out is None:
                out = np.empty((len(times), A.shape[1], *A.shape[3:]), np.float32)
            for b, k in enumerate(ks):
                sel = np.flatnonzero(k_of == k)
                out[sel] = np.moveaxis(A[b][:, pos_of[sel]], 1, 0)
    return out


# ------------------------------------------------------------------- recordings (CLI, GUI)
def continuous_activity(recording, config) -> np.ndarray | None:
    """``[N, T']`` activity of a continuous recording prepared like the training data (the config's
    neurons, ``bin_factor``); None for a recording with trials (those are run per trial)."""
    from .dataset import rebin

    if recording.trials is not None and recording.n_trials >= 2:
        return None
    if config.neurons is not None:
        recording = recording.select(neurons=config.neurons)
    return np.ascontiguousarray(rebin(recording.activity, config.bin_factor, recording.kind), dtype=np.float32)


def whole_recording(
    model,
    recording,
    config,
    meta: dict,
    session: int = 0,
    mode: str = "windowed",
    warmup: int | None = None,
    crossfade: int | None = None,
) -> dict[str, Any] | None:
    """Latents and predictions of a whole continuous recording, as the exports and the GUI use them.

    Returns None for a recording with trials.  Otherwise a dict: ``latents`` ``[T', d]``,
    ``predictions`` ``[T', k]`` (first future step, in data units: entry t predicts the reference
    at t + ``target_offset``), ``activity`` ``[N, T']`` (the model's input), ``dt`` (s per model
    bin) and ``start_time`` (s).
    """
    x = continuous_activity(recording, config)
    if x is None:
        return None
    n_expected = model.sessions[session].n_neurons
    if x.shape[0] != n_expected:
        raise SparksError(
            f"The recording has {x.shape[0]} neurons; the model expects {n_expected}.",
            "Select the same neurons as in training.",
        )
    res = run_continuous(model, x, session, meta["loss"], example_length(config, meta), warmup, mode, crossfade)
    pred = res["pred"][:, 0]
    if meta["loss"] == "mse":
        pred = (pred * meta["r_std"] + meta["r_mean"]).astype(np.float32)
    return {
        "latents": res["mu"],
        "predictions": pred,
        "activity": x,
        "dt": float(recording.dt * config.bin_factor),
        "start_time": float(getattr(recording, "start_time", 0.0) or 0.0),
    }
