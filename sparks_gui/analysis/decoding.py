"""Decoding metrics: R2, KNN decoding from latents, frame accuracy, bits per spike, consistency.

Layouts follow :class:`~sparks_gui.engine.facade.Sparks`: latents are ``[T, d]``
(continuous) or ``[n_trials, d, T]`` (``Sparks.transform``); targets are ``[T]``,
``[T, k]`` or ``[n_trials, T, k]`` (``Sparks.predict``).  Trial inputs are flattened to
frames and remember which trial each frame came from, so train/test splits never put
frames of one trial on both sides.

* :func:`r2_per_variable`, :func:`r2_overall` - coefficient of determination
  ``1 - SS_res / SS_tot`` (``SS_tot`` about the mean of the scored true values).
* :func:`knn_decode` - k-nearest-neighbour regression or classification from latents
  with a held-out split (whole trials, or the last part of a continuous recording)
  and ``k`` chosen on a validation part of the training data.
* :func:`frame_accuracy` - fraction of frames decoded within ``+-tolerance`` frames.
* :func:`frame_correlation` - Pearson r of each decoded image frame with the true one.
* :func:`binary_cross_entropy`, :func:`poisson_nll`, :func:`bits_per_spike` - spike
  prediction quality against the per-neuron mean-rate null.
* :func:`consistency_r2`, :func:`consistency_matrix` - how well one set of latents
  predicts another through a linear map fitted on one half and scored on the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import gammaln

from ..errors import SparksError
from ._common import as_frames, check_finite, rng_from

__all__ = [
    "r2_per_variable",
    "r2_overall",
    "DecodeResult",
    "train_test_split_frames",
    "knn_decode",
    "frame_accuracy",
    "frame_correlation",
    "binary_cross_entropy",
    "poisson_nll",
    "bits_per_spike",
    "consistency_r2",
    "consistency_matrix",
]


# ----------------------------------------------------------------------------- R2
def _pair(true: Any, pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, _ = as_frames(np.asarray(true, dtype=np.float64), "true", "target")
    p, _ = as_frames(np.asarray(pred, dtype=np.float64), "pred", "target")
    if t.shape != p.shape:
        raise SparksError(
            f"true {np.shape(true)} and pred {np.shape(pred)} have different shapes.",
            "Pass predictions aligned with the true values (same frames, same variables).",
        )
    if len(t) < 2:
        raise SparksError("Need at least two frames to compute R2.", "Pass more frames.")
    return t, p


def r2_per_variable(true: Any, pred: Any, min_variance: float = 0.0) -> np.ndarray:
    """R2 of each variable: ``1 - sum (y - yhat)^2 / sum (y - mean y)^2``.

    Parameters
    ----------
    true, pred
        ``[T]``, ``[T, k]`` or ``[n, T, k]`` of the same shape.
    min_variance
        A variable whose true values vary less than this (population variance) scores NaN:
        its R2 would be a meaningless huge number (the trainer uses ``1e-3`` on z-scored targets).

    Returns
    -------
    numpy.ndarray
        ``[k]``; the mean predictor scores 0, a perfect one 1, worse than the mean < 0.
        NaN for a variable whose true values are constant (or vary less than ``min_variance``).
    """
    t, p = _pair(true, pred)
    ss_res = np.sum((t - p) ** 2, axis=0)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    ok = (ss_tot > 0) & (ss_tot / len(t) > min_variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, 1.0 - ss_res / np.where(ok, ss_tot, 1.0), np.nan)


def r2_overall(true: Any, pred: Any, weighting: str = "uniform") -> float:
    """One R2 over all variables.

    Parameters
    ----------
    true, pred
        As in :func:`r2_per_variable`.
    weighting
        ``"uniform"`` (default, the mean of per-variable R2, scikit-learn's default) or
        ``"variance"`` (``1 - sum SS_res / sum SS_tot``, variables weighted by variance).

    Returns
    -------
    float
    """
    t, p = _pair(true, pred)
    if weighting == "uniform":
        r = r2_per_variable(t, p)
        if np.all(np.isnan(r)):
            return float("nan")
        return float(np.nanmean(r))
    if weighting == "variance":
        ss_tot = float(np.sum((t - t.mean(axis=0)) ** 2))
        return float(1.0 - np.sum((t - p) ** 2) / ss_tot) if ss_tot > 0 else float("nan")
    raise SparksError(f"Unknown weighting '{weighting}'.", "Use 'uniform' or 'variance'.")


# ----------------------------------------------------------------------------- KNN
@dataclass
class DecodeResult:
    """Held-out decoding from latents.

    Attributes
    ----------
    score
        R2 (``r2_overall``, uniform) for regression, accuracy for classification.
    per_variable
        Per-variable R2 (regression) or ``[accuracy]``.
    prediction, true
        Held-out predictions and true values, ``[M_test, k]`` (``[M_test]`` for classes).
    test_index
        Frame indices (into the flattened frames) of the test set.
    n_neighbors
        The ``k`` used (chosen on validation data when several were given).
    task
        ``"regression"`` or ``"classification"``.
    validation
        Validation score for each candidate ``k``.
    """

    score: float
    per_variable: np.ndarray
    prediction: np.ndarray
    true: np.ndarray
    test_index: np.ndarray
    n_neighbors: int
    task: str
    validation: dict[int, float] = field(default_factory=dict)


def train_test_split_frames(
    n_frames: int,
    groups: np.ndarray | None = None,
    test_fraction: float = 0.2,
    seed: int | np.random.Generator | None = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean train/test masks over frames that respect time structure.

    Parameters
    ----------
    n_frames
        Number of frames.
    groups
        Trial id of each frame: whole trials are held out (a random ``test_fraction`` of
        the trials, ``seed``).  ``None`` (continuous data): the last ``test_fraction`` of
        the frames is the test set, so neighbouring, autocorrelated frames are not split.
    test_fraction
        In (0, 1).
    seed
        Seed for choosing test trials.

    Returns
    -------
    train, test
        Boolean masks ``[n_frames]``.
    """
    if not 0 < test_fraction < 1:
        raise SparksError(f"test_fraction={test_fraction} must be between 0 and 1.", "Use e.g. 0.2.")
    test = np.zeros(n_frames, dtype=bool)
    if groups is None:
        n_test = max(1, int(round(test_fraction * n_frames)))
        if n_test >= n_frames:
            raise SparksError("Too few frames to hold out a test set.", "Pass more frames.")
        test[n_frames - n_test :] = True
    else:
        g = np.asarray(groups)
        ids = np.unique(g)
        if len(ids) < 2:
            raise SparksError(
                "Only one trial: cannot hold out whole trials.", "Pass several trials or continuous data."
            )
        n_test = int(np.clip(round(test_fraction * len(ids)), 1, len(ids) - 1))
        test_ids = rng_from(seed).choice(ids, size=n_test, replace=False)
        test = np.isin(g, test_ids)
    return ~test, test


def _knn_fit_predict(task: str, k: int, X: np.ndarray, y: np.ndarray, Xq: np.ndarray, metric: str) -> np.ndarray:
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    k = int(min(k, len(X)))
    if task == "regression":
        model = KNeighborsRegressor(n_neighbors=k, metric=metric)
    else:
        model = KNeighborsClassifier(n_neighbors=k, metric=metric)
    model.fit(X, y)
    return model.predict(Xq)


def knn_decode(
    latents: Any,
    target: Any,
    task: str = "auto",
    n_neighbors: int | Sequence[int] = (1, 3, 5, 10, 20, 50),
    test_fraction: float = 0.2,
    test_mask: np.ndarray | None = None,
    metric: str = "euclidean",
    seed: int = 0,
) -> DecodeResult:
    """Decode a target from latents with k-nearest neighbours on held-out frames.

    Parameters
    ----------
    latents
        ``[T, d]`` or ``[n_trials, d, T]`` (``Sparks.transform``).
    target
        Regression: ``[T]``, ``[T, k]`` or ``[n_trials, T, k]``.  Classification: integer
        labels ``[T]`` / ``[n_trials, T, 1]``, or one label per trial ``[n_trials]`` (given
        to all its frames).
    task
        ``"regression"``, ``"classification"`` or ``"auto"`` (integers -> classification).
    n_neighbors
        ``k``, or candidates: the last 20 % of the training data (by trial for trial
        data) is used to pick the best, then the model is refitted on all training frames.
    test_fraction
        Fraction of trials (or final fraction of a continuous recording) held out.
    test_mask
        Explicit boolean test mask over frames (overrides ``test_fraction``).
    metric
        Distance metric for scikit-learn's neighbours.
    seed
        Seed of the trial split.

    Returns
    -------
    DecodeResult
    """
    X, groups = as_frames(np.asarray(latents, dtype=np.float64), "latents", "latents")
    y_arr = np.asarray(target)
    if groups is not None and y_arr.ndim == 1 and len(y_arr) == len(np.unique(groups)) and len(y_arr) != len(X):
        y_arr = np.repeat(y_arr, len(X) // len(y_arr))  # one label per trial
    y, _ = as_frames(y_arr, "target", "target")
    if len(y) != len(X):
        raise SparksError(
            f"The target has {len(y)} frames but the latents have {len(X)}.",
            "Align the target with the latents (same trials and time bins).",
        )
    if task == "auto":
        task = "classification" if y.dtype.kind in "iub" else "regression"
    if task not in ("regression", "classification"):
        raise SparksError(f"Unknown task '{task}'.", "Use 'regression', 'classification' or 'auto'.")
    if task == "classification":
        if y.shape[1] != 1:
            raise SparksError("Classification needs one label per frame.", "Pass labels as [T] or [n_trials].")
        y = y[:, 0]
    if test_mask is not None:
        test = np.asarray(test_mask, dtype=bool).reshape(-1)
        if len(test) != len(X) or test.all() or not test.any():
            raise SparksError(
                "test_mask must be a boolean mask over frames with both train and test frames.",
                "Pass a mask of length n_frames.",
            )
        train = ~test
    else:
        train, test = train_test_split_frames(len(X), groups, test_fraction, seed)
    Xtr, ytr = X[train], y[train]

    def score(true, pred):
        if task == "classification":
            return float(np.mean(true == pred))
        return r2_overall(true, pred)

    candidates = [int(n_neighbors)] if np.isscalar(n_neighbors) else [int(k) for k in n_neighbors]
    if any(k < 1 for k in candidates):
        raise SparksError("n_neighbors must be positive.", "Use e.g. 5 or (1, 5, 20).")
    validation: dict[int, float] = {}
    if len(candidates) > 1:
        gtr = None if groups is None else groups[train]
        fit_in, val = train_test_split_frames(len(Xtr), gtr, 0.2, seed + 1)
        for k in candidates:
            validation[k] = score(ytr[val], _knn_fit_predict(task, k, Xtr[fit_in], ytr[fit_in], Xtr[val], metric))
        best = max(validation, key=lambda k: (np.nan_to_num(validation[k], nan=-np.inf), -k))
    else:
        best = candidates[0]
    pred = _knn_fit_predict(task, best, Xtr, ytr, X[test], metric)
    true = y[test]
    s = score(true, pred)
    per = np.array([s]) if task == "classification" else r2_per_variable(true, pred)
    return DecodeResult(s, per, pred, true, np.flatnonzero(test), int(min(best, len(Xtr))), task, validation)


# ----------------------------------------------------------------------------- frames
def frame_accuracy(true_frames: Any, pred_frames: Any, tolerance: int = 0, n_frames: int | None = None) -> float:
    """Fraction of predictions within ``+-tolerance`` frames of the true frame id.

    Parameters
    ----------
    true_frames, pred_frames
        Integer frame ids of the same shape.
    tolerance
        Allowed error in frames (the paper's "1-s" accuracy is ``tolerance`` = the frames
        in the window, e.g. 6 or 30; it is a parameter because the text is ambiguous).
    n_frames
        If given, frame ids are cyclic (a movie repeated): the distance between ids
        ``a`` and ``b`` is ``min(|a-b|, n_frames - |a-b|)``.

    Returns
    -------
    float
    """
    t = np.asarray(true_frames).reshape(-1)
    p = np.asarray(pred_frames).reshape(-1)
    if t.shape != p.shape or len(t) == 0:
        raise SparksError(
            f"true ({np.shape(true_frames)}) and predicted ({np.shape(pred_frames)}) frame ids differ in shape.",
            "Pass one predicted frame id per true frame id.",
        )
    if tolerance < 0:
        raise SparksError(f"tolerance={tolerance} is negative.", "Use a number of frames >= 0.")
    d = np.abs(np.rint(t).astype(np.int64) - np.rint(p).astype(np.int64))
    if n_frames is not None:
        d = np.minimum(d % n_frames, n_frames - d % n_frames)
    return float(np.mean(d <= tolerance))


# ----------------------------------------------------------------------------- frames
def frame_correlation(true: Any, pred: Any, min_norm: float = 1e-12) -> np.ndarray:
    """Pearson correlation of each decoded frame with its true frame, over the last axis (pixels).

    Parameters
    ----------
    true, pred
        ``[..., P]`` of the same shape (e.g. ``[n, T, P]`` frames of ``P`` pixels).
    min_norm
        Frames whose centred norms multiply to at most this (a flat frame) score NaN.

    Returns
    -------
    numpy.ndarray
        ``[...]``: one r per frame.
    """
    a = np.asarray(true, dtype=np.float64)
    b = np.asarray(pred, dtype=np.float64)
    if a.shape != b.shape:
        raise SparksError(
            f"true {a.shape} and pred {b.shape} have different shapes.",
            "Pass decoded frames aligned with the true ones.",
        )
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    ok = den > min_norm
    return np.where(ok, (a * b).sum(-1) / np.where(ok, den, 1.0), np.nan)


# ----------------------------------------------------------------------------- spikes
def _spikes_and_rates(spikes: Any, rates: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(spikes, dtype=np.float64)
    r = np.asarray(rates, dtype=np.float64)
    if y.shape != r.shape:
        raise SparksError(f"spikes {y.shape} and {name} {r.shape} have different shapes.", "Pass aligned arrays.")
    check_finite(y, "spikes")
    check_finite(r, name)
    if np.any(y < 0):
        raise SparksError("Spike counts are negative.", "Pass counts >= 0.")
    return y, r


def binary_cross_entropy(spikes: Any, prob: Any, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy (nats per bin) of spike indicators under probabilities ``prob``.

    Parameters
    ----------
    spikes
        Spike indicators (values > 0 count as 1), any shape.
    prob
        Predicted spike probabilities of the same shape, clipped to ``[eps, 1 - eps]``.

    Returns
    -------
    float
        ``-mean(s log p + (1 - s) log(1 - p))``; ``log 2`` for ``p = 0.5``.
    """
    y, p = _spikes_and_rates(spikes, prob, "prob")
    s = (y > 0).astype(np.float64)
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(s * np.log(p) + (1 - s) * np.log1p(-p)))


def poisson_nll(spikes: Any, rates: Any, eps: float = 1e-9, constant: bool = True) -> float:
    """Mean Poisson negative log-likelihood per bin (nats), ``rates`` in expected counts per bin.

    ``-mean(y log lambda - lambda - log y!)``, including the ``log y!`` term unless ``constant`` is
    False (then ``mean(lambda - y log lambda)``, the training loss; ``log y!`` does not depend on
    the model).  Rates are floored at ``eps``.
    """
    y, r = _spikes_and_rates(spikes, rates, "rates")
    r = np.clip(r, eps, None)
    log_y_factorial = gammaln(y + 1) if constant else 0.0
    return float(-np.mean(y * np.log(r) - r - log_y_factorial))


def _log_likelihood(y: np.ndarray, r: np.ndarray, likelihood: str, eps: float) -> float:
    if likelihood == "poisson":
        r = np.clip(r, eps, None)
        return float(np.sum(y * np.log(r) - r - gammaln(y + 1)))
    if likelihood == "bernoulli":
        s = (y > 0).astype(np.float64)
        p = np.clip(r, eps, 1 - eps)
        return float(np.sum(s * np.log(p) + (1 - s) * np.log1p(-p)))
    raise SparksError(f"Unknown likelihood '{likelihood}'.", "Use 'poisson' or 'bernoulli'.")


def bits_per_spike(
    spikes: Any,
    rates: Any,
    likelihood: str = "poisson",
    neuron_axis: int = 0,
    null_rates: Any = None,
    dt: float | None = None,
    eps: float = 1e-9,
) -> float:
    """Log-likelihood gain over the mean-rate null, in bits per spike.

    ``(LL(rates) - LL(null)) / (n_spikes * ln 2)``, where the null predicts each
    neuron's mean count over the evaluated data (as in the Neural Latents Benchmark).
    The true rate of Poisson data scores > 0; the mean rate itself scores exactly 0.

    Parameters
    ----------
    spikes
        Counts, e.g. ``[N, T]`` or ``[n_trials, N, T]``.
    rates
        Predicted expected counts per bin (Poisson) or spike probabilities per bin
        (Bernoulli), same shape.  Rates in Hz: pass ``dt`` to convert.
    likelihood
        ``"poisson"`` (default) or ``"bernoulli"`` (spikes as indicators, e.g. a BCE model).
    neuron_axis
        Axis of ``spikes`` indexing neurons (for the per-neuron null).
    null_rates
        Override the null (same shape as ``spikes`` or broadcastable).
    dt
        Bin width (s) when ``rates`` are in Hz.
    eps
        Floor for rates/probabilities.

    Returns
    -------
    float
        NaN when there are no spikes.
    """
    y, r = _spikes_and_rates(spikes, rates, "rates")
    if dt is not None:
        r = r * dt
    if null_rates is None:
        axes = tuple(a for a in range(y.ndim) if a != (neuron_axis % y.ndim))
        null = np.broadcast_to(y.mean(axis=axes, keepdims=True), y.shape)
        if likelihood == "bernoulli":
            null = np.broadcast_to((y > 0).mean(axis=axes, keepdims=True), y.shape)
    else:
        null = np.broadcast_to(np.asarray(null_rates, dtype=np.float64), y.shape)
    n_spikes = float(np.sum(y > 0) if likelihood == "bernoulli" else np.sum(y))
    if n_spikes == 0:
        return float("nan")
    gain = _log_likelihood(y, r, likelihood, eps) - _log_likelihood(y, np.asarray(null), likelihood, eps)
    return float(gain / (n_spikes * np.log(2)))


# ----------------------------------------------------------------------------- consistency
def consistency_r2(
    latents_a: Any, latents_b: Any, fit_fraction: float = 0.5, ridge: float = 1e-6, weighting: str = "variance"
) -> float:
    """R2 of predicting latents ``b`` from latents ``a`` with a linear map fitted on held-out frames.

    An affine map ``b ~ a W + c`` is fitted (least squares, tiny ridge) on the first
    ``fit_fraction`` of the frames (whole trials for trial data: the first trials) and
    scored on the rest.  Frames must be aligned: the same trials/time bins in both runs
    (two seeds) or time-aligned conditions (two sessions).  Not symmetric: see
    :func:`consistency_matrix`.

    Parameters
    ----------
    latents_a, latents_b
        ``[T, d_a]``/``[T, d_b]`` or ``[n, d_a, T]``/``[n, d_b, T]``.
    fit_fraction
        Fraction of frames used to fit the map.
    ridge
        L2 penalty, relative to the mean eigenvalue of the design.
    weighting
        R2 over the dimensions of ``b``: ``"variance"`` (default: rotation-invariant) or
        ``"uniform"``.

    Returns
    -------
    float
        1 for ``b`` an affine function of ``a``, about 0 for independent latents.
    """
    A, ga = as_frames(np.asarray(latents_a, dtype=np.float64), "latents_a", "latents")
    B, _ = as_frames(np.asarray(latents_b, dtype=np.float64), "latents_b", "latents")
    if len(A) != len(B):
        raise SparksError(
            f"The latent sets have {len(A)} and {len(B)} frames.",
            "Compare latents of the same trials/time bins (aligned frames).",
        )
    if not 0 < fit_fraction < 1:
        raise SparksError(f"fit_fraction={fit_fraction} must be in (0, 1).", "Use 0.5.")
    if ga is not None:
        n = int(ga.max()) + 1
        n_fit = int(np.clip(round(fit_fraction * n), 1, n - 1)) if n > 1 else 0
        fit = ga < n_fit if n > 1 else np.arange(len(A)) < int(fit_fraction * len(A))
    else:
        fit = np.arange(len(A)) < int(round(fit_fraction * len(A)))
    if fit.sum() < 2 or (~fit).sum() < 2:
        raise SparksError("Too few frames to fit and score the map.", "Pass more frames.")
    Xf = np.column_stack([A[fit], np.ones(fit.sum())])
    G = Xf.T @ Xf
    lam = ridge * np.trace(G) / len(G)
    reg = lam * np.eye(len(G))
    reg[-1, -1] = 0.0  # no penalty on the intercept
    W = np.linalg.solve(G + reg, Xf.T @ B[fit])
    pred = np.column_stack([A[~fit], np.ones((~fit).sum())]) @ W
    return r2_overall(B[~fit], pred, weighting=weighting)


def consistency_matrix(latent_sets: Sequence[Any], **kwargs) -> np.ndarray:
    """Pairwise :func:`consistency_r2`: entry ``[i, j]`` predicts set ``j`` from set ``i``.

    Parameters
    ----------
    latent_sets
        Aligned latents of several runs/sessions.
    kwargs
        Passed to :func:`consistency_r2`.

    Returns
    -------
    numpy.ndarray
        ``[n, n]`` with NaN on the diagonal.
    """
    n = len(latent_sets)
    M = np.full((n, n), np.nan)
    for i in range(n):
        for j in range(n):
            if i != j:
                M[i, j] = consistency_r2(latent_sets[i], latent_sets[j], **kwargs)
    return M
