"""Functional hierarchy of areas from per-area decoding-error time courses (SPARKS preprint).

Given one model per area (e.g. six visual areas decoding the same stimulus), the
decoding error of area ``i`` at time ``t`` for stimulus/condition ``f`` is
``e_i^f(t)`` (:func:`error_curves`).  An area that decodes better than another at a
given time is taken to feed it::

    proj(i -> j) = sum_{f, t} [e_i^f(t) < e_j^f(t)] * |e_i^f(t) - e_j^f(t)|
    hierarchy(j) = sum_i proj(i -> j) - sum_k proj(j -> k)      (incoming - outgoing)

Low-error (early) areas have negative hierarchy scores, high-error (late) areas
positive ones.

Note (an identity, checked in the tests): because ``proj(i->j) - proj(j->i) =
sum_{f,t} (e_j - e_i)``, the hierarchy score equals ``A * E_j - sum_i E_i`` with
``E_j = sum_{f,t} e_j^f(t)`` and ``A`` the number of areas, i.e. it ranks the areas by
their total error.  The projection matrix carries more: *when* and *for which stimuli*
one area leads another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import SparksError
from ._common import check_finite

__all__ = ["error_curves", "projection_scores", "hierarchy_scores", "HierarchyResult", "hierarchy_from_errors"]


def error_curves(true: Any, pred: Any, conditions: Any = None, metric: str = "squared") -> np.ndarray:
    """Decoding-error time course per condition, ``e^f(t)``, averaged over trials.

    Parameters
    ----------
    true
        ``[n_trials, T]`` or ``[n_trials, T, k]`` true values, or integer class labels
        ``[n_trials, T]`` for ``metric="cross_entropy"`` / ``"error_rate"``.
    pred
        Predictions: same shape as ``true``; for ``"cross_entropy"`` class
        probabilities ``[n_trials, T, n_classes]``; for ``"error_rate"`` predicted
        labels ``[n_trials, T]`` or probabilities ``[n_trials, T, n_classes]``.
    conditions
        One label per trial (stimulus ``f``); default all trials are one condition.
    metric
        ``"squared"`` (mean over variables of the squared error), ``"absolute"``,
        ``"cross_entropy"`` (``-log p(true class)``) or ``"error_rate"`` (1 if the
        predicted class is wrong).

    Returns
    -------
    numpy.ndarray
        ``[F, T]`` with conditions in sorted label order.
    """
    t = np.asarray(true)
    p = np.asarray(pred, dtype=np.float64)
    if t.ndim < 2:
        raise SparksError(f"true must be [n_trials, T(, k)]; got shape {t.shape}.", "Pass trials x time.")
    if metric in ("squared", "absolute"):
        t = t.astype(np.float64)
        if t.shape != p.shape:
            raise SparksError(f"true {t.shape} and pred {p.shape} differ in shape.", "Pass aligned predictions.")
        check_finite(p, "pred")
        d = (t - p) ** 2 if metric == "squared" else np.abs(t - p)
        err = d.reshape(d.shape[0], d.shape[1], -1).mean(axis=2)
    elif metric in ("cross_entropy", "error_rate"):
        labels = t.astype(np.int64)
        if labels.ndim != 2:
            raise SparksError(f"Class labels must be [n_trials, T]; got shape {labels.shape}.", "Pass integer labels.")
        if metric == "error_rate" and p.shape == labels.shape:
            err = (np.rint(p).astype(np.int64) != labels).astype(np.float64)
        else:
            if p.ndim != 3 or p.shape[:2] != labels.shape:
                raise SparksError(
                    f"Probabilities must be [n_trials, T, n_classes]; got {p.shape}.", "Pass class probabilities."
                )
            if labels.min() < 0 or labels.max() >= p.shape[2]:
                raise SparksError("A class label is outside 0..n_classes-1.", "Check the labels and class count.")
            p_true = np.take_along_axis(p, labels[..., None], axis=2)[..., 0]
            if metric == "cross_entropy":
                err = -np.log(np.clip(p_true, 1e-12, None))
            else:
                err = (np.argmax(p, axis=2) != labels).astype(np.float64)
    else:
        raise SparksError(f"Unknown metric '{metric}'.", "Use 'squared', 'absolute', 'cross_entropy' or 'error_rate'.")
    if conditions is None:
        return err.mean(axis=0, keepdims=True)
    labs = np.asarray(conditions).reshape(-1)
    if len(labs) != err.shape[0]:
        raise SparksError(f"{len(labs)} condition labels for {err.shape[0]} trials.", "Give one label per trial.")
    return np.stack([err[labs == c].mean(axis=0) for c in np.unique(labs)])


def _error_stack(errors: Any) -> tuple[np.ndarray, list[str]]:
    if isinstance(errors, Mapping):
        names = [str(k) for k in errors]
        arrs = [np.asarray(v, dtype=np.float64) for v in errors.values()]
        shapes = {a.shape for a in arrs}
        if len(shapes) != 1:
            raise SparksError(
                f"Error curves of the areas have different shapes {sorted(shapes)}.",
                "Compute every area's errors on the same conditions and time bins.",
            )
        E = np.stack(arrs)
    else:
        E = np.asarray(errors, dtype=np.float64)
        names = [f"area {i}" for i in range(len(E))] if E.ndim >= 1 else []
    if E.ndim == 2:
        E = E[:, None, :]
    if E.ndim != 3 or E.shape[0] < 2:
        raise SparksError(
            f"Errors must be [areas, (conditions,) time] with at least 2 areas; got shape {E.shape}.",
            "Pass one error curve per area (e.g. a dict area -> error_curves(...)).",
        )
    check_finite(E, "errors")
    return E, names


def projection_scores(errors: Any) -> np.ndarray:
    """``proj[i, j] = sum_{f,t} [e_i < e_j] |e_i - e_j|`` (area i projects to area j).

    Parameters
    ----------
    errors
        ``[A, F, T]`` or ``[A, T]`` error curves, or a dict area -> ``[F, T]``.

    Returns
    -------
    numpy.ndarray
        ``[A, A]``, zero diagonal.
    """
    E, _ = _error_stack(errors)
    diff = E[None, :, :, :] - E[:, None, :, :]  # diff[i, j] = e_j - e_i
    return np.clip(diff, 0, None).sum(axis=(2, 3))


def hierarchy_scores(projection: Any) -> np.ndarray:
    """Hierarchy score of each area: incoming minus outgoing projection, ``sum_i P[i, j] - sum_k P[j, k]``.

    Parameters
    ----------
    projection
        ``[A, A]`` from :func:`projection_scores`.

    Returns
    -------
    numpy.ndarray
        ``[A]``; sums to zero.
    """
    P = np.asarray(projection, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] != P.shape[1]:
        raise SparksError(f"The projection matrix must be square; got shape {P.shape}.", "Pass projection_scores(...).")
    return P.sum(axis=0) - P.sum(axis=1)


@dataclass
class HierarchyResult:
    """Projection matrix and hierarchy of a set of areas.

    Attributes
    ----------
    areas
        Area names.
    errors
        ``[A, F, T]`` error curves.
    projection
        ``[A, A]`` projection scores, ``[source, target]``.
    hierarchy
        ``[A]`` incoming - outgoing.
    order
        Area indices from lowest to highest hierarchy score.
    """

    areas: list[str]
    errors: np.ndarray
    projection: np.ndarray
    hierarchy: np.ndarray

    @property
    def order(self) -> np.ndarray:
        return np.argsort(self.hierarchy, kind="stable")

    def as_dict(self) -> dict[str, Any]:
        return {
            "areas": list(self.areas),
            "hierarchy": {a: float(h) for a, h in zip(self.areas, self.hierarchy, strict=False)},
            "projection": self.projection.tolist(),
            "order": [self.areas[i] for i in self.order],
        }


def hierarchy_from_errors(errors: Any, areas: Sequence[str] | None = None, normalise: bool = False) -> HierarchyResult:
    """Projection scores and hierarchy from per-area error curves.

    Parameters
    ----------
    errors
        ``[A, F, T]``, ``[A, T]`` or dict area -> ``[F, T]``.
    areas
        Area names (default the dict keys or ``"area i"``).
    normalise
        Divide the projection matrix by its total so scores are comparable across
        datasets with different error units / numbers of bins.

    Returns
    -------
    HierarchyResult
    """
    E, names = _error_stack(errors)
    if areas is not None:
        if len(areas) != len(E):
            raise SparksError(f"{len(areas)} area names for {len(E)} areas.", "Give one name per area.")
        names = [str(a) for a in areas]
    P = projection_scores(E)
    if normalise:
        total = P.sum()
        P = P / total if total > 0 else P
    return HierarchyResult(names, E, P, hierarchy_scores(P))
