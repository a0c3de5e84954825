"""Neural Latents Benchmark style evaluation: bits per spike, co-smoothing, forward prediction,
region-level prediction and a linear behaviour probe (numpy/scipy only, no torch, no Qt).

Bits per spike (Pei et al. 2021, the Neural Latents Benchmark) measures how much better
predicted Poisson rates explain held-out spike counts than each neuron's mean rate::

    bits/spike = (LL(rates) - LL(null)) / (n_spikes * ln 2)
    LL(r)      = sum over bins of  y log r - r - log y!
    null       = each neuron's mean count per bin over the evaluated data

so the mean rate itself scores exactly 0, a model worse than the mean scores < 0, and
the true rate of Poisson data scores > 0 on average.  Per neuron, the sums run over that
neuron's bins and spikes; pooled, over all evaluated neurons (what the NLB leaderboard reports).

Layouts follow :meth:`Recording.examples`: spikes and rates are ``[N, T]`` (one
continuous stretch) or ``[n_trials, N, T]`` (trials), neurons on the second-to-last
axis, rates in expected counts per bin (pass ``dt`` for rates in Hz).

The MtM evaluations (Zhang et al. 2024) map onto these helpers:

* co-smoothing: :func:`co_smoothing` on the held-out neurons' predicted rates;
* forward prediction: :func:`forward_prediction` on the held-out (last) time steps;
* region-level prediction: :func:`region_bits_per_spike`, pooled over one region's neurons
  (e.g. the region hidden by inter-region masking);
* behaviour decoding: :func:`linear_probe`, ridge regression from latents with
  cross-validated R2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import gammaln

from ..errors import SparksError
from ._common import as_frames

__all__ = [
    "BitsPerSpike",
    "ProbeResult",
    "co_smoothing",
    "forward_prediction",
    "glm_forward_prediction",
    "linear_probe",
    "nlb_bits_per_spike",
    "nlb_bits_per_spike_per_neuron",
    "region_bits_per_spike",
    "smoothed_spikes_glm",
]

_LN2 = float(np.log(2.0))


@dataclass
class BitsPerSpike:
    """Bits per spike of one evaluation, pooled and per neuron.

    Attributes
    ----------
    bits_per_spike
        Pooled over every evaluated neuron and bin (NaN when there are no spikes).
    per_neuron
        One value per evaluated neuron (NaN for neurons without spikes).
    neurons
        Indices (into the full population) of the evaluated neurons.
    n_spikes
        Number of spikes evaluated.
    steps
        Indices of the evaluated time steps (forward prediction), else None.
    """

    bits_per_spike: float
    per_neuron: np.ndarray
    neurons: np.ndarray
    n_spikes: float
    steps: np.ndarray | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers for reports and JSON."""
        out: dict[str, Any] = {
            "bits_per_spike": float(self.bits_per_spike),
            "per_neuron": [float(v) for v in self.per_neuron],
            "neurons": [int(i) for i in self.neurons],
            "n_spikes": float(self.n_spikes),
        }
        if self.steps is not None:
            out["steps"] = [int(i) for i in self.steps]
        return out


# --------------------------------------------------------------------------- checks
def _as_counts(spikes: Any, name: str = "spikes") -> np.ndarray:
    y = np.asarray(spikes, dtype=np.float64)
    if y.ndim not in (2, 3):
        raise SparksError(
            f"{name} must be neurons x time [N, T] or trials [n_trials, N, T]; got shape {y.shape}.",
            "Pass Recording.activity or the trials of Recording.examples().",
        )
    if y.size == 0:
        raise SparksError(f"{name} is empty (shape {y.shape}).", "Evaluate on at least one neuron and time bin.")
    if not np.all(np.isfinite(y)):
        raise SparksError(
            f"{name} contains {int(np.count_nonzero(~np.isfinite(y)))} NaN or infinite values.",
            "Drop or zero the missing bins before evaluating.",
        )
    if np.any(y < 0):
        raise SparksError(
            f"{name} has negative values; spike counts must be >= 0.",
            "Pass spike counts per bin (bits per spike is defined for spikes, not calcium traces).",
        )
    return y


def _as_rates(rates: Any, shape: tuple[int, ...], dt: float | None, name: str = "rates") -> np.ndarray:
    r = np.asarray(rates, dtype=np.float64)
    if r.shape != shape:
        raise SparksError(
            f"{name} have shape {r.shape} but the spikes have shape {shape}.",
            "Predict one rate per neuron and time bin of the evaluated spikes.",
        )
    if not np.all(np.isfinite(r)):
        raise SparksError(
            f"{name} contain {int(np.count_nonzero(~np.isfinite(r)))} NaN or infinite values.",
            "Check the model output (a diverged fit gives NaN rates); refit with a smaller learning rate.",
        )
    if np.any(r < 0):
        raise SparksError(
            f"{name} have negative values; Poisson rates must be >= 0.",
            "Pass expected counts (e.g. exp or softplus of the model output), not log-rates.",
        )
    if dt is not None:
        if not (np.isfinite(dt) and dt > 0):
            raise SparksError(f"dt={dt} is not a positive bin width in seconds.", "Pass dt in seconds, e.g. 0.01.")
        r = r * dt
    return r


def _poisson_ll(y: np.ndarray, r: np.ndarray, eps: float) -> np.ndarray:
    """Elementwise Poisson log-likelihood; rates floored at ``eps`` (a zero rate with a spike would be -inf)."""
    r = np.maximum(r, eps)
    return y * np.log(r) - r - gammaln(y + 1.0)


def _per_neuron_parts(y: np.ndarray, r: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron log-likelihood gain over the mean-rate null (nats) and spike counts."""
    axes = (0, 2) if y.ndim == 3 else (1,)
    null = np.broadcast_to(y.mean(axis=axes, keepdims=True), y.shape)
    gain = (_poisson_ll(y, r, eps) - _poisson_ll(y, null, eps)).sum(axis=axes)
    return gain, y.sum(axis=axes)


def _bps_from_parts(gain: np.ndarray, n_spikes: np.ndarray) -> tuple[float, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        per = np.where(n_spikes > 0, gain / (np.where(n_spikes > 0, n_spikes, 1.0) * _LN2), np.nan)
    total = float(n_spikes.sum())
    pooled = float(gain[n_spikes > 0].sum() / (total * _LN2)) if total > 0 else float("nan")
    return pooled, per


# --------------------------------------------------------------------------- bits per spike
def nlb_bits_per_spike(spikes: Any, rates: Any, dt: float | None = None, eps: float = 1e-9) -> float:
    """Pooled bits per spike of ``rates`` on ``spikes`` (Neural Latents Benchmark definition).

    Parameters
    ----------
    spikes
        Counts ``[N, T]`` or ``[n_trials, N, T]``.
    rates
        Predicted expected counts per bin, same shape (Hz if ``dt`` is given).
    dt
        Bin width in seconds when ``rates`` are in Hz.
    eps
        Floor for rates (a zero rate where a spike occurred would give minus infinity).

    Returns
    -------
    float
        ``sum_n (LL_n(rates) - LL_n(mean_n)) / (n_spikes ln 2)`` over neurons with spikes;
        NaN when there are no spikes at all.
    """
    y = _as_counts(spikes)
    r = _as_rates(rates, y.shape, dt)
    return _bps_from_parts(*_per_neuron_parts(y, r, eps))[0]


def nlb_bits_per_spike_per_neuron(spikes: Any, rates: Any, dt: float | None = None, eps: float = 1e-9) -> np.ndarray:
    """Bits per spike of each neuron: its log-likelihood gain over its own mean rate / its spikes / ln 2.

    Same inputs as :func:`nlb_bits_per_spike`; returns ``[N]`` (NaN for neurons without spikes).
    """
    y = _as_counts(spikes)
    r = _as_rates(rates, y.shape, dt)
    return _bps_from_parts(*_per_neuron_parts(y, r, eps))[1]


def _indices(sel: Any, n: int, what: str, fix: str) -> np.ndarray:
    idx = np.asarray(sel)
    if idx.dtype == bool:
        if idx.shape != (n,):
            raise SparksError(f"The {what} mask has {idx.size} entries for {n} {what}s.", fix)
        idx = np.flatnonzero(idx)
    if idx.dtype.kind not in "iu":
        raise SparksError(f"{what.capitalize()} indices must be integers; got dtype {idx.dtype}.", fix)
    idx = idx.astype(np.int64).ravel()
    if idx.size == 0:
        raise SparksError(f"No {what}s were selected for evaluation.", fix)
    if idx.min() < 0 or idx.max() >= n:
        raise SparksError(
            f"{what.capitalize()} index {int(idx.max() if idx.max() >= n else idx.min())} is outside 0..{n - 1}.", fix
        )
    if np.unique(idx).size != idx.size:
        raise SparksError(f"Some {what} indices are repeated.", "Give each index once.")
    return idx


def co_smoothing(
    spikes: Any, rates: Any, heldout_neurons: Any, dt: float | None = None, eps: float = 1e-9
) -> BitsPerSpike:
    """Co-smoothing: bits per spike of the held-out neurons' predicted rates.

    The model saw the other (held-in) neurons only and predicted the held-out ones
    (neuron masking / NLB co-smoothing).

    Parameters
    ----------
    spikes
        True counts of the whole population, ``[N, T]`` or ``[n_trials, N, T]``.
    rates
        Predicted rates of the whole population (same shape as ``spikes``; only the
        held-out rows are used) or of the held-out neurons only (``[..., n_heldout, T]``,
        in the order of ``heldout_neurons``).
    heldout_neurons
        Indices or a boolean mask over the ``N`` neurons.
    dt, eps
        As in :func:`nlb_bits_per_spike`.
    """
    y = _as_counts(spikes)
    N = y.shape[-2]
    idx = _indices(
        heldout_neurons, N, "neuron", "Pass held-out neuron indices in 0..N-1 (or a boolean mask of length N)."
    )
    r = np.asarray(rates, dtype=np.float64)
    y_h = y[..., idx, :]
    if r.shape == y.shape:
        r = r[..., idx, :]
    elif r.shape != y_h.shape:
        raise SparksError(
            f"rates have shape {r.shape}; expected the whole population {y.shape} or the held-out neurons {y_h.shape}.",
            "Predict rates for every neuron, or only for the held-out neurons in the order given.",
        )
    r = _as_rates(r, y_h.shape, dt)
    gain, n = _per_neuron_parts(y_h, r, eps)
    pooled, per = _bps_from_parts(gain, n)
    return BitsPerSpike(pooled, per, idx, float(n.sum()))


def forward_prediction(
    spikes: Any, rates: Any, heldout_steps: Any, dt: float | None = None, neurons: Any = None, eps: float = 1e-9
) -> BitsPerSpike:
    """Forward prediction: bits per spike on held-out (future) time steps.

    Parameters
    ----------
    spikes
        True counts ``[N, T]`` or ``[n_trials, N, T]`` including the held-out steps.
    rates
        Predicted rates for all ``T`` steps (only the held-out ones are used) or for
        the held-out steps only (``[..., N, n_steps]``).
    heldout_steps
        An int ``k`` (the last ``k`` steps, as in NLB forward prediction), or indices /
        a boolean mask over the ``T`` steps.
    neurons
        Optional subset of neurons to evaluate (default: all).
    dt, eps
        As in :func:`nlb_bits_per_spike`.

    Notes
    -----
    The null is each neuron's mean count over the held-out steps, as NLB evaluates
    forward prediction on its own held-out bins.
    """
    y = _as_counts(spikes)
    N, T = y.shape[-2], y.shape[-1]
    fix = "Give the number of future steps (int) or step indices in 0..T-1."
    if isinstance(heldout_steps, (int, np.integer)) and not isinstance(heldout_steps, bool):
        k = int(heldout_steps)
        if not 1 <= k <= T:
            raise SparksError(f"heldout_steps={k} but the data have {T} time steps.", fix)
        steps = np.arange(T - k, T)
    else:
        steps = _indices(heldout_steps, T, "step", fix)
    nidx = np.arange(N) if neurons is None else _indices(neurons, N, "neuron", "Pass neuron indices in 0..N-1.")
    r = np.asarray(rates, dtype=np.float64)
    y_f = y[..., steps][..., nidx, :]
    if r.shape == y.shape:
        r = r[..., steps][..., nidx, :]
    elif r.shape[:-1] == y.shape[:-1] and r.shape[-1] == steps.size:
        r = r[..., nidx, :]
    elif r.shape != y_f.shape:
        raise SparksError(
            f"rates have shape {r.shape}; expected all steps {y.shape} or the held-out steps "
            f"{y.shape[:-1] + (steps.size,)}.",
            "Predict rates for every step, or only for the held-out steps in the order given.",
        )
    r = _as_rates(r, y_f.shape, dt)
    gain, n = _per_neuron_parts(y_f, r, eps)
    pooled, per = _bps_from_parts(gain, n)
    return BitsPerSpike(pooled, per, nidx, float(n.sum()), steps=steps)


def region_bits_per_spike(
    spikes: Any, rates: Any, regions: Sequence[Any], region: Any = None, dt: float | None = None, eps: float = 1e-9
) -> dict[str, BitsPerSpike] | BitsPerSpike:
    """Region-level prediction: bits per spike pooled over the neurons of one region.

    Parameters
    ----------
    spikes, rates
        ``[N, T]`` or ``[n_trials, N, T]``, same shape (rates of the whole population).
    regions
        One label per neuron (e.g. ``Recording.neuron_meta["brain_area"]``).
    region
        The region to evaluate; ``None`` evaluates every region.
    dt, eps
        As in :func:`nlb_bits_per_spike`.

    Returns
    -------
    BitsPerSpike or dict
        For one region its result; otherwise ``{label: result}`` for every region, labels
        as strings.
    """
    y = _as_counts(spikes)
    r = _as_rates(rates, y.shape, dt)
    labels = np.asarray(regions).astype(str).ravel()
    if labels.size != y.shape[-2]:
        raise SparksError(
            f"{labels.size} region labels for {y.shape[-2]} neurons.", "Give one region label per neuron."
        )
    gain, n = _per_neuron_parts(y, r, eps)

    def one(lab: str) -> BitsPerSpike:
        idx = np.flatnonzero(labels == lab)
        pooled, per = _bps_from_parts(gain[idx], n[idx])
        return BitsPerSpike(pooled, per, idx, float(n[idx].sum()))

    if region is not None:
        lab = str(region)
        if lab not in set(labels):
            raise SparksError(f"Region '{lab}' has no neurons.", f"Choose one of {sorted(set(labels))}.")
        return one(lab)
    return {lab: one(lab) for lab in sorted(set(labels))}


# --------------------------------------------------------------------------- behaviour probe
@dataclass
class ProbeResult:
    """Cross-validated linear decoding of behaviour from latents.

    Attributes
    ----------
    r2
        Out-of-fold R2 averaged uniformly over the target's variables.
    r2_per_variable
        Out-of-fold R2 of each variable ``[k]``.
    predictions
        Out-of-fold predictions, frames x variables ``[M, k]`` (every frame is predicted
        by a model fitted without its fold).
    alphas
        Ridge penalty chosen in each fold (by leave-one-out CV on that fold's training set).
    n_folds
        Number of folds used.
    """

    r2: float
    r2_per_variable: np.ndarray
    predictions: np.ndarray
    alphas: np.ndarray
    n_folds: int
    extra: dict[str, Any] = field(default_factory=dict)


def _ridge_loo_fit(X: np.ndarray, Y: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Ridge fit with the penalty picked by exact leave-one-out error (closed form via SVD)."""
    xm, ym = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - xm, Y - ym
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    UtY = U.T @ Yc
    n = X.shape[0]
    best, best_err = float(alphas[0]), np.inf
    for a in alphas:
        f = s**2 / (s**2 + a)
        fitted = U @ (f[:, None] * UtY)
        h = (U**2) @ f + 1.0 / n  # leverage, including the intercept
        loo = (Yc - fitted) / np.maximum(1.0 - h, 1e-12)[:, None]
        err = float(np.sum(loo**2))
        if err < best_err:
            best, best_err = float(a), err
    coef = Vt.T @ ((s / (s**2 + best))[:, None] * UtY)
    return coef, ym - xm @ coef, best


def linear_probe(
    latents: Any, behaviour: Any, n_folds: int = 5, alphas: Sequence[float] | None = None, standardize: bool = True
) -> ProbeResult:
    """Decode behaviour from latents with ridge regression; cross-validated R2.

    Frames are split into ``n_folds`` contiguous blocks (whole trials when the inputs
    are trials, so no trial is both fitted and tested).  In each fold the ridge penalty
    is chosen among ``alphas`` by exact leave-one-out error on the training frames, the
    model is refitted and predicts the held-out frames.  R2 is computed on the pooled
    out-of-fold predictions.

    Parameters
    ----------
    latents
        ``[T, d]`` (continuous) or ``[n_trials, d, T]`` (the layout of :meth:`Sparks.transform`).
    behaviour
        ``[T]``, ``[T, k]`` or ``[n_trials, T, k]`` (``[n_trials, T]``), on the latents' clock.
    n_folds
        Number of folds (>= 2).
    alphas
        Candidate ridge penalties (relative to standardized latents); default ``10**[-3..3]``.
    standardize
        Scale each latent dimension to unit variance on the training frames first.
    """
    X, gx = as_frames(latents, "latents", "latents")
    Y, gy = as_frames(behaviour, "behaviour", "target")
    X = X.astype(np.float64)
    Y = Y.astype(np.float64)
    if X.shape[0] != Y.shape[0]:
        raise SparksError(
            f"latents have {X.shape[0]} frames but behaviour has {Y.shape[0]}.",
            "Put latents and behaviour on the same clock (same trials and time bins).",
        )
    if not isinstance(n_folds, (int, np.integer)) or n_folds < 2:
        raise SparksError(f"n_folds={n_folds} must be an integer >= 2.", "Use e.g. n_folds=5.")
    groups = gx if gx is not None else gy
    M = X.shape[0]
    if groups is not None:
        units = np.unique(groups)
        if units.size < n_folds:
            raise SparksError(
                f"{units.size} trials cannot be split into {n_folds} folds.", "Use fewer folds or more trials."
            )
        fold_of_unit = (np.arange(units.size) * n_folds) // units.size
        fold = fold_of_unit[np.searchsorted(units, groups)]
    else:
        if 2 * n_folds > M:
            raise SparksError(f"{M} frames are too few for {n_folds} folds.", "Use fewer folds or more frames.")
        fold = (np.arange(M) * n_folds) // M
    a = np.asarray([10.0**p for p in range(-3, 4)] if alphas is None else alphas, dtype=np.float64).ravel()
    if a.size == 0 or np.any(~np.isfinite(a)) or np.any(a < 0):
        raise SparksError("alphas must be non-negative finite numbers.", "Use e.g. alphas=[0.1, 1, 10].")
    pred = np.zeros_like(Y)
    chosen = np.zeros(n_folds)
    for f in range(n_folds):
        test = fold == f
        train = ~test
        Xtr, Xte = X[train], X[test]
        if standardize:
            mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0)
            sd = np.where(sd > 0, sd, 1.0)
            Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
        # alphas are relative to the number of training frames, so they mean the same at any length
        coef, icpt, best = _ridge_loo_fit(Xtr, Y[train], a * Xtr.shape[0])
        chosen[f] = best / Xtr.shape[0]
        pred[test] = Xte @ coef + icpt
    ss_res = np.sum((Y - pred) ** 2, axis=0)
    ss_tot = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), np.nan)
    return ProbeResult(
        float(np.nanmean(r2)) if np.any(np.isfinite(r2)) else float("nan"), r2, pred, chosen, int(n_folds)
    )


# --------------------------------------------------------------------------- GLM baseline
def _smooth(counts: np.ndarray, sigma_bins: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter1d

    if sigma_bins <= 0:
        return counts.astype(np.float64)
    return gaussian_filter1d(counts.astype(np.float64), sigma_bins, axis=-1, mode="nearest")


def fit_poisson_glms(
    X: np.ndarray, Y: np.ndarray, alpha: float = 1e-2, max_iter: int = 500
) -> tuple[np.ndarray, np.ndarray]:
    """One Poisson GLM per column of ``Y`` [M, K] on shared features ``X`` [M, F]: (weights [F, K], biases [K]).

    Minimises, for each output separately, ``mean(exp(eta) - y * eta) + alpha / 2 * |w|^2``
    (scikit-learn's ``PoissonRegressor`` objective; the bias is not penalised), all outputs at
    once with L-BFGS since the objective separates over them.
    """
    from scipy.optimize import minimize

    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    M, F = X.shape
    K = Y.shape[1]
    start = np.zeros((F + 1, K))
    start[F] = np.log(np.maximum(Y.mean(0), 1e-9))

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W = theta.reshape(F + 1, K)
        eta = np.clip(X @ W[:F] + W[F], -30.0, 30.0)
        mu = np.exp(eta)
        value = float(np.sum(mu - Y * eta) / M + 0.5 * alpha * np.sum(W[:F] ** 2))
        resid = (mu - Y) / M
        grad = np.vstack([X.T @ resid + alpha * W[:F], resid.sum(0)[None]])
        return value, grad.ravel()

    res = minimize(objective, start.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    W = res.x.reshape(F + 1, K)
    return W[:F], W[F]


GLM_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0)
"""Ridge penalties the GLM baselines choose from (by a validation split of the training trials)."""


def _fit_glm_cv(X: np.ndarray, Y: np.ndarray, groups: np.ndarray, alpha: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Poisson GLMs with ``alpha``, or with the penalty of :data:`GLM_ALPHAS` that predicts a held-out
    fifth of the training trials (``groups``: trial of each row) best, refitted on all of them."""
    if alpha is not None:
        return fit_poisson_glms(X, Y, float(alpha))
    units = np.unique(groups)
    val = np.isin(groups, units[::5] if units.size >= 5 else units[-1:])
    if val.all() or not val.any():
        return fit_poisson_glms(X, Y, 1e-2)
    best, best_ll = GLM_ALPHAS[0], -np.inf
    for a in GLM_ALPHAS:
        W, b = fit_poisson_glms(X[~val], Y[~val], a)
        eta = np.clip(X[val] @ W + b, -30.0, 30.0)
        ll = float(np.sum(Y[val] * eta - np.exp(eta)))
        if ll > best_ll:
            best, best_ll = a, ll
    return fit_poisson_glms(X, Y, best)


def smoothed_spikes_glm(
    train_inputs: Any,
    train_outputs: Any,
    test_inputs: Any,
    sigma_bins: float = 2.0,
    alpha: float | None = None,
    max_samples: int = 20000,
    seed: int = 0,
) -> np.ndarray:
    """The NLB "smoothed spikes" baseline: Poisson GLMs from smoothed input neurons to output neurons.

    Each input neuron's counts are smoothed with a Gaussian of ``sigma_bins`` bins (within each
    trial), standardised with the training statistics, and every output neuron gets its own
    Poisson regression (ridge ``alpha``, :func:`fit_poisson_glms`) fitted on the
    training trials; ``alpha=None`` picks it from :data:`GLM_ALPHAS` on a validation fifth of
    the training trials.  Returns the predicted rates (expected counts per bin) of the output neurons
    on the test trials, ``[n_test, N_out, T]``.

    Parameters
    ----------
    train_inputs, test_inputs
        Counts of the visible (held-in) neurons, ``[n, N_in, T]`` (or ``[N_in, T]``).
    train_outputs
        Counts of the neurons to predict on the training trials, ``[n, N_out, T]``.
    max_samples
        Training bins used per fit at most (drawn at random with ``seed``), to bound the time.
    """

    def frames(a: Any, name: str) -> np.ndarray:
        arr = np.asarray(a, dtype=np.float64)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise SparksError(f"{name} must be [n, N, T] or [N, T]; got shape {arr.shape}.", "Pass trials of counts.")
        return arr

    xi, yo, xt = (
        frames(train_inputs, "train_inputs"),
        frames(train_outputs, "train_outputs"),
        frames(test_inputs, "test_inputs"),
    )
    if xi.shape[0] != yo.shape[0] or xi.shape[2] != yo.shape[2] or xi.shape[1] != xt.shape[1]:
        raise SparksError(
            f"Shapes do not line up: train inputs {xi.shape}, train outputs {yo.shape}, test inputs {xt.shape}.",
            "Give the same trials and bins for inputs and outputs, and the same input neurons for test.",
        )
    groups = np.repeat(np.arange(xi.shape[0]), xi.shape[2])
    X = np.moveaxis(_smooth(xi, sigma_bins), 1, 2).reshape(-1, xi.shape[1])
    Y = np.moveaxis(yo, 1, 2).reshape(-1, yo.shape[1])
    Xt = np.moveaxis(_smooth(xt, sigma_bins), 1, 2).reshape(-1, xt.shape[1])
    mu, sd = X.mean(0), X.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    X, Xt = (X - mu) / sd, (Xt - mu) / sd
    if len(X) > max_samples:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), max_samples, replace=False))
        X, Y, groups = X[keep], Y[keep], groups[keep]
    W, b = _fit_glm_cv(X, Y, groups, alpha)
    out = np.exp(np.clip(Xt @ W + b, -30.0, 30.0))
    return np.moveaxis(out.reshape(xt.shape[0], xt.shape[2], Y.shape[1]), 2, 1)


def glm_forward_prediction(
    train_spikes: Any, test_spikes: Any, n_steps: int, tau_bins: float = 5.0, alpha: float | None = None
) -> np.ndarray:
    """Forward-prediction baseline: each neuron's rate over the last ``n_steps`` of a trial from the
    population's exponentially smoothed activity at the last visible step (one Poisson GLM per neuron;
    ``alpha`` as in :func:`smoothed_spikes_glm`).

    Returns rates ``[n_test, N, n_steps]`` (constant over the predicted steps).
    """
    from scipy.signal import lfilter

    tr, te = np.asarray(train_spikes, dtype=np.float64), np.asarray(test_spikes, dtype=np.float64)
    T = tr.shape[-1]
    if not 1 <= n_steps < T:
        raise SparksError(f"n_steps={n_steps} must be between 1 and T-1={T - 1}.", "Predict fewer steps.")
    a = float(np.exp(-1.0 / max(tau_bins, 1e-6)))

    def state(x: np.ndarray) -> np.ndarray:
        return lfilter([1.0 - a], [1.0, -a], x[..., : T - n_steps], axis=-1)[..., -1]  # [n, N]

    X, Xt = state(tr), state(te)
    mu, sd = X.mean(0), X.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    X, Xt = (X - mu) / sd, (Xt - mu) / sd
    Y = tr[..., T - n_steps :].mean(-1)  # mean count per future bin [n, N]
    W, b = _fit_glm_cv(X, Y, np.arange(len(X)), alpha)
    out = np.exp(np.clip(Xt @ W + b, -30.0, 30.0))
    return np.repeat(out[:, :, None], n_steps, axis=2)
