"""Effective connectivity from attention, baselines, a shuffled null, and scores against known weights.

Convention: every matrix here is ``[target, source]``, like SPARKS attention, where
``A[i, j]`` is how much neuron ``i`` (postsynaptic) attends to neuron ``j``
(presynaptic).  A ground-truth weight matrix must use the same convention
(``W[i, j]`` = weight of the connection ``j -> i``); transpose it otherwise.

* :func:`effective_connectivity` - attention averaged over time, heads (and examples).
* :func:`per_condition_connectivity` - the same, one matrix per trial condition.
* :func:`correlation_connectivity` - Pearson correlation baseline (symmetric).
* :func:`xcorr_peak_connectivity` - cross-correlogram-peak baseline (directed: the
  source leads the target by 1..max_lag bins).
* :func:`connectivity_scores` - AUROC and average precision of a score matrix against
  the non-zero entries of a known weight matrix, diagonal ignored.
* :func:`time_shuffle` and :func:`shuffled_null` - a null distribution of the scores,
  obtained by running the *same* estimator on activity whose neurons are independently
  shifted in time (timing between neurons destroyed, each neuron's statistics kept).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SparksError
from ._common import as_activity, check_finite, rng_from

__all__ = [
    "effective_connectivity",
    "per_condition_connectivity",
    "correlation_connectivity",
    "xcorr_peak_connectivity",
    "ConnectivityScore",
    "connectivity_scores",
    "roc_curve_points",
    "time_shuffle",
    "NullDistribution",
    "shuffled_null",
]


def effective_connectivity(attention: Any, heads: Any = None, time_slice: slice | None = None) -> np.ndarray:
    """Time- (and head-) averaged attention as an effective-connectivity matrix ``[N, N]``.

    Parameters
    ----------
    attention
        ``[N, N]``, ``[H, N, N]``, ``[T, H, N, N]`` (``Sparks.attention``) or
        ``[n_examples, T, H, N, N]``; a list of ``[T, H, N, N]`` arrays (examples of
        different lengths) is accepted too.
    heads
        Head index or list of indices to keep (default all); needs a head axis.
    time_slice
        Slice of time steps to average (e.g. ``slice(100, None)`` to skip the start of
        each trial, where the traces are still building up); needs a time axis.

    Returns
    -------
    numpy.ndarray
        ``[N, N]``, ``[target, source]``.
    """
    if isinstance(attention, (list, tuple)):
        mats = [effective_connectivity(a, heads=heads, time_slice=time_slice) for a in attention]
        return np.mean(mats, axis=0)
    A = np.asarray(attention, dtype=np.float64)
    if A.ndim < 2 or A.ndim > 5 or A.shape[-1] != A.shape[-2]:
        raise SparksError(
            f"Attention must be [.., N, N] with at most 5 axes; got shape {A.shape}.",
            "Pass Sparks.attention() output [T, H, N, N].",
        )
    check_finite(A, "attention")
    if heads is not None:
        if A.ndim < 3:
            raise SparksError("heads was given but the attention has no head axis.", "Pass [H, N, N] or [T, H, N, N].")
        A = A[..., np.atleast_1d(heads), :, :]
    if time_slice is not None:
        if A.ndim < 4:
            raise SparksError("time_slice was given but the attention has no time axis.", "Pass [T, H, N, N].")
        A = A[..., time_slice, :, :, :]
        if A.shape[-4] == 0:
            raise SparksError("time_slice selects no time steps.", "Use a slice inside the trial.")
    return A.reshape(-1, A.shape[-2], A.shape[-1]).mean(axis=0)


def per_condition_connectivity(attention_per_example: Any, conditions: Any, **kwargs) -> dict[Any, np.ndarray]:
    """Effective connectivity for each trial condition.

    Parameters
    ----------
    attention_per_example
        ``[n_examples, T, H, N, N]`` or a list of ``n_examples`` arrays ``[T, H, N, N]``.
    conditions
        One label per example (e.g. ``Recording.conditions["direction"]``).
    kwargs
        Passed to :func:`effective_connectivity`.

    Returns
    -------
    dict
        Condition label -> ``[N, N]``, labels in sorted order.
    """
    labels = np.asarray(conditions).reshape(-1)
    n = len(attention_per_example)
    if len(labels) != n:
        raise SparksError(f"{len(labels)} condition labels for {n} examples.", "Give one label per example.")
    out: dict[Any, np.ndarray] = {}
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        key = lab.item() if hasattr(lab, "item") else lab
        out[key] = effective_connectivity([attention_per_example[i] for i in idx], **kwargs)
    return out


def _zscore(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    sd = x.std(axis=1, keepdims=True)
    return np.divide(x, sd, out=np.zeros_like(x), where=sd > 0)


def correlation_connectivity(activity: Any, smooth_bins: float = 0.0) -> np.ndarray:
    """Pearson correlation matrix of the activity (symmetric baseline), silent neurons 0.

    Parameters
    ----------
    activity
        ``[N, T]`` (or trials ``[n, N, T]``, concatenated).
    smooth_bins
        Gaussian smoothing (s.d., bins) first; 0 = none.

    Returns
    -------
    numpy.ndarray
        ``[N, N]`` with ones on the diagonal for active neurons.
    """
    from scipy.ndimage import gaussian_filter1d

    x = as_activity(activity)
    if smooth_bins > 0:
        x = gaussian_filter1d(x, smooth_bins, axis=1)
    z = _zscore(x)
    return (z @ z.T) / x.shape[1]


def xcorr_peak_connectivity(
    activity: Any, max_lag: int = 10, min_lag: int = 1, subtract_reverse: bool = False, peak: str = "max"
) -> np.ndarray:
    """Cross-correlogram peak baseline: ``C[i, j] = max_{l in [min_lag, max_lag]} corr(x_i(t + l), x_j(t))``.

    Directed, ``[target, source]``: high when neuron ``j`` is followed by neuron ``i``
    ``l`` bins later.  Correlations are Pearson, computed per lag on the overlapping bins.

    Parameters
    ----------
    activity
        ``[N, T]`` activity (trials ``[n, N, T]`` are concatenated).
    max_lag, min_lag
        Lag range in bins (``min_lag = 0`` includes zero lag).
    subtract_reverse
        Subtract the peak at the mirrored negative lags (target leading source), which
        removes shared slow drive that is symmetric in time.
    peak
        ``"max"`` (default): the largest correlation (excitatory-like).  ``"abs"``: the
        signed correlation at the lag of the largest ``|correlation|``, so inhibitory
        dips count too; score it with ``connectivity_scores(..., absolute_score=True)``.

    Returns
    -------
    numpy.ndarray
        ``[N, N]``.
    """
    x = as_activity(activity)
    T = x.shape[1]
    if not 0 <= min_lag <= max_lag < T - 1:
        raise SparksError(
            f"Lags {min_lag}..{max_lag} do not fit a recording of {T} bins.", "Use 0 <= min_lag <= max_lag < T - 1."
        )

    if peak not in ("max", "abs"):
        raise SparksError(f"Unknown peak '{peak}'.", "Use 'max' or 'abs'.")

    def extremum(sign: int) -> np.ndarray:
        best = np.full((x.shape[0], x.shape[0]), -np.inf if peak == "max" else 0.0)
        for lag in range(min_lag, max_lag + 1):
            if sign > 0:
                tgt, src = x[:, lag:], x[:, : T - lag]
            else:
                tgt, src = x[:, : T - lag], x[:, lag:]
            c = (_zscore(tgt) @ _zscore(src).T) / (T - lag)
            best = np.maximum(best, c) if peak == "max" else np.where(np.abs(c) > np.abs(best), c, best)
        return best

    C = extremum(+1)
    if subtract_reverse:
        C = C - extremum(-1)
    return C


@dataclass
class ConnectivityScore:
    """Detection of true connections by a score matrix.

    Attributes
    ----------
    auroc
        Area under the ROC curve (0.5 = chance, 1 = every connection ranked above every
        non-connection).
    average_precision
        Area under the precision-recall curve (chance = ``prevalence``).
    prevalence
        Fraction of off-diagonal pairs that are connected.
    n_positive, n_negative
        Number of connected / unconnected off-diagonal pairs.
    """

    auroc: float
    average_precision: float
    prevalence: float
    n_positive: int
    n_negative: int

    def as_dict(self) -> dict[str, float]:
        return {
            "auroc": self.auroc,
            "average_precision": self.average_precision,
            "prevalence": self.prevalence,
            "n_positive": self.n_positive,
            "n_negative": self.n_negative,
        }


def _labels_and_scores(
    score: Any, true_weights: Any, threshold: float, ignore_diagonal: bool, absolute_score: bool, sign: str
) -> tuple[np.ndarray, np.ndarray]:
    S = np.asarray(score, dtype=np.float64)
    W = np.asarray(true_weights, dtype=np.float64)
    if S.ndim != 2 or S.shape != W.shape or S.shape[0] != S.shape[1]:
        raise SparksError(
            f"score {S.shape} and true_weights {W.shape} must be square matrices of the same shape.",
            "Pass [N, N] matrices in the same [target, source] convention.",
        )
    check_finite(S, "score")
    check_finite(W, "true_weights")
    if sign == "any":
        pos = np.abs(W) > threshold
    elif sign == "excitatory":
        pos = threshold < W
    elif sign == "inhibitory":
        pos = -threshold > W
    else:
        raise SparksError(f"Unknown sign '{sign}'.", "Use 'any', 'excitatory' or 'inhibitory'.")
    mask = ~np.eye(len(S), dtype=bool) if ignore_diagonal else np.ones_like(S, dtype=bool)
    s = np.abs(S[mask]) if absolute_score else S[mask]
    return pos[mask], s


def connectivity_scores(
    score: Any,
    true_weights: Any,
    threshold: float = 0.0,
    ignore_diagonal: bool = True,
    absolute_score: bool = False,
    sign: str = "any",
) -> ConnectivityScore:
    """AUROC and average precision of a score matrix against a known weight matrix.

    A pair is a true connection when ``|W[i, j]| > threshold`` (``sign="any"``), or
    ``W > threshold`` / ``W < -threshold`` (``"excitatory"`` / ``"inhibitory"``).
    Higher scores should mean "more likely connected".

    Parameters
    ----------
    score
        ``[N, N]`` estimate (effective connectivity, correlation ...), ``[target, source]``.
    true_weights
        ``[N, N]`` ground truth in the same convention.
    threshold
        Minimum absolute weight counted as a connection.
    ignore_diagonal
        Leave out self-pairs (default).
    absolute_score
        Rank by ``|score|`` (for signed estimates and ``sign="any"``).
    sign
        Which connections are positives.

    Returns
    -------
    ConnectivityScore
        NaN scores when there are no positives or no negatives.
    """
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, s = _labels_and_scores(score, true_weights, threshold, ignore_diagonal, absolute_score, sign)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return ConnectivityScore(float("nan"), float("nan"), n_pos / max(len(y), 1), n_pos, n_neg)
    return ConnectivityScore(
        float(roc_auc_score(y, s)), float(average_precision_score(y, s)), n_pos / len(y), n_pos, n_neg
    )


def roc_curve_points(score: Any, true_weights: Any, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates of the ROC curve (for figures); kwargs as :func:`connectivity_scores`."""
    from sklearn.metrics import roc_curve

    y, s = _labels_and_scores(
        score,
        true_weights,
        kwargs.get("threshold", 0.0),
        kwargs.get("ignore_diagonal", True),
        kwargs.get("absolute_score", False),
        kwargs.get("sign", "any"),
    )
    fpr, tpr, _ = roc_curve(y, s)
    return fpr, tpr


def time_shuffle(
    activity: Any, seed: int | np.random.Generator | None = 0, mode: str = "circular", min_shift: int | None = None
) -> np.ndarray:
    """Destroy the timing between neurons, keeping each neuron's own statistics.

    Parameters
    ----------
    activity
        ``[N, T]``, or trials ``[n, N, T]`` (each trial shuffled on its own).
    seed
        Seed or generator.
    mode
        ``"circular"`` (default): each neuron is rolled by its own random shift in
        ``[min_shift, T - min_shift]``, which keeps its autocorrelation and rate.
        ``"permute"``: each neuron's bins are independently permuted (also destroys
        autocorrelation).
    min_shift
        Smallest circular shift; default ``T // 10``.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype as the input.
    """
    arr = np.asarray(
        activity.activity if hasattr(activity, "activity") and not isinstance(activity, np.ndarray) else activity
    )
    rng = rng_from(seed)
    if arr.ndim == 3:
        return np.stack([time_shuffle(a, rng, mode, min_shift) for a in arr])
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise SparksError(f"Activity must be [N, T] or [n, N, T]; got shape {arr.shape}.", "Pass neurons x time.")
    N, T = arr.shape
    if mode == "circular":
        lo = T // 10 if min_shift is None else int(min_shift)
        lo = int(np.clip(lo, 1, max(1, T // 2)))
        shifts = rng.integers(lo, max(lo + 1, T - lo + 1), size=N)
        idx = (np.arange(T)[None, :] - shifts[:, None]) % T
        return np.take_along_axis(arr, idx, axis=1)
    if mode == "permute":
        idx = np.argsort(rng.random((N, T)), axis=1)
        return np.take_along_axis(arr, idx, axis=1)
    raise SparksError(f"Unknown shuffle mode '{mode}'.", "Use 'circular' or 'permute'.")


@dataclass
class NullDistribution:
    """Scores of an estimator on time-shuffled activity.

    Attributes
    ----------
    auroc, average_precision
        ``[n_shuffles]`` scores on shuffled data.
    observed
        Score on the real data (when computed), else None.
    """

    auroc: np.ndarray
    average_precision: np.ndarray
    observed: ConnectivityScore | None = None

    @property
    def p_value(self) -> float:
        """``(1 + #{null AUROC >= observed}) / (1 + n_shuffles)``; NaN without an observation."""
        if self.observed is None:
            return float("nan")
        return float((1 + np.sum(self.auroc >= self.observed.auroc)) / (1 + len(self.auroc)))

    def summary(self) -> dict[str, float]:
        return {
            "null_auroc_mean": float(np.mean(self.auroc)),
            "null_auroc_sd": float(np.std(self.auroc)),
            "null_ap_mean": float(np.mean(self.average_precision)),
            "p_value": self.p_value,
        }


def shuffled_null(
    estimator: Callable[[np.ndarray], np.ndarray],
    activity: Any,
    true_weights: Any,
    n_shuffles: int = 20,
    seed: int = 0,
    mode: str = "circular",
    observed: bool = True,
    **score_kwargs,
) -> NullDistribution:
    """Null distribution of AUROC/AP: the same estimator on time-shuffled activity.

    Parameters
    ----------
    estimator
        ``activity -> [N, N]`` score matrix, e.g. ``correlation_connectivity``, or for
        SPARKS ``lambda x: effective_connectivity(model.attention(x))`` (run the model
        on the shuffled spikes; it is not retrained).
    activity
        ``[N, T]`` (or ``[n, N, T]``) activity given to the estimator.
    true_weights
        ``[N, N]`` known weights, ``[target, source]``.
    n_shuffles
        Number of shuffles.
    seed
        Seed of the shuffles.
    mode
        Passed to :func:`time_shuffle`.
    observed
        Also score the unshuffled activity (for the p-value).
    score_kwargs
        Passed to :func:`connectivity_scores`.

    Returns
    -------
    NullDistribution
    """
    arr = np.asarray(
        activity.activity if hasattr(activity, "activity") and not isinstance(activity, np.ndarray) else activity
    )
    rng = np.random.default_rng(seed)
    au, ap = [], []
    for _ in range(int(n_shuffles)):
        sc = connectivity_scores(estimator(time_shuffle(arr, rng, mode)), true_weights, **score_kwargs)
        au.append(sc.auroc)
        ap.append(sc.average_precision)
    obs = connectivity_scores(estimator(arr), true_weights, **score_kwargs) if observed else None
    return NullDistribution(np.asarray(au), np.asarray(ap), obs)
