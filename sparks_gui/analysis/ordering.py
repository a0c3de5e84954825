"""Neuron orderings (sortings) and scores against a known order.

An *ordering* is a permutation of neuron indices: ``order[k]`` is the neuron shown in
row ``k`` of a sorted raster.  Every ``order_*`` function returns an :class:`Ordering`
holding the permutation, the per-neuron sort key it came from, and the method name.

Orderings
---------
* :func:`neuron_order_from_phase` - from a phase signal (e.g. the angle of a ring-shaped
  SPARKS latent, see :func:`ring_phase`): each neuron's preferred phase, or the lag of the
  peak cross-correlation between the neuron and the phase.
* :func:`neuron_order_from_latents` - :func:`ring_phase` followed by the above.
* :func:`order_by_correlation` - lag of the peak cross-correlation with a reference neuron
  (or the zero-lag correlation with it).
* :func:`order_by_pca_angle` - angle of each neuron's loading in the PC1/PC2 plane,
  ``atan2(PC2, PC1)``, as used in the MEC oscillatory-sequence literature.
* :func:`order_by_attention_clustering` - hierarchical clustering of (time-averaged)
  attention profiles, leaves in optimal order.
* :func:`order_by_rastermap` - only when the optional ``rastermap`` package is installed.

Scores
------
* :func:`circular_spearman` - Spearman correlation between predicted and true ranks after
  the best cyclic shift; by default the absolute value (a reflected order scores like the
  original, because the direction of a ring-latent or PCA angle is arbitrary).
* :func:`triplet_accuracy` - fraction of neuron triplets whose cyclic orientation (or,
  for linear orders, their betweenness) agrees with the true order.

All functions are numpy/scipy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import fft as sfft
from scipy.ndimage import gaussian_filter1d

from ..errors import SparksError
from ._common import as_activity, check_finite, rng_from

__all__ = [
    "Ordering",
    "ring_phase",
    "neuron_order_from_phase",
    "neuron_order_from_latents",
    "order_by_correlation",
    "order_by_pca_angle",
    "order_by_attention_clustering",
    "order_by_rastermap",
    "rastermap_available",
    "ORIGINAL",
    "LATENT_PHASE",
    "CORRELATION",
    "PCA_ANGLE",
    "ATTENTION_CLUSTERING",
    "RASTERMAP",
    "PHASE",
    "ORDERING_LABELS",
    "available_orderings",
    "ordering_label",
    "ordering_method",
    "compute_ordering",
    "circular_spearman",
    "triplet_accuracy",
]


@dataclass
class Ordering:
    """A neuron ordering.

    Attributes
    ----------
    order
        Permutation of ``0..N-1``: ``order[k]`` is the neuron in row ``k``.
    key
        The per-neuron value that was sorted (phase in radians, lag in bins, angle ...),
        indexed by neuron, or ``None`` (clustering).
    method
        Name of the method that produced it.
    info
        Method-specific extras (estimated period, reference neuron, ...).
    """

    order: np.ndarray
    key: np.ndarray | None
    method: str
    info: dict[str, Any] = field(default_factory=dict)

    def __array__(self, dtype=None, copy=None):  # np.asarray(ordering) -> the permutation
        return np.asarray(self.order, dtype=dtype)

    def __len__(self) -> int:
        return len(self.order)

    @property
    def rank(self) -> np.ndarray:
        """Position of each neuron in the ordering (inverse permutation)."""
        r = np.empty(len(self.order), dtype=np.int64)
        r[self.order] = np.arange(len(self.order))
        return r


def _as_order(order: Any, name: str = "order") -> np.ndarray:
    arr = np.asarray(order.order if isinstance(order, Ordering) else order)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise SparksError(
            f"{name} must be a 1-D array of neuron indices; got shape {arr.shape}, dtype {arr.dtype}.",
            "Pass a permutation such as np.argsort(key).",
        )
    n = len(arr)
    if n == 0 or not np.array_equal(np.sort(arr), np.arange(n)):
        raise SparksError(
            f"{name} is not a permutation of 0..{n - 1}.",
            "Pass each neuron index exactly once (e.g. the output of np.argsort).",
        )
    return arr.astype(np.int64)


def _ranks(order: np.ndarray) -> np.ndarray:
    r = np.empty(len(order), dtype=np.int64)
    r[order] = np.arange(len(order))
    return r


def _zscore_rows(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    sd = x.std(axis=1, keepdims=True)
    return np.divide(x, sd, out=np.zeros_like(x), where=sd > 0)


def _smooth(x: np.ndarray, sigma_bins: float) -> np.ndarray:
    return gaussian_filter1d(x, sigma_bins, axis=-1, mode="nearest") if sigma_bins and sigma_bins > 0 else x


def _xcorr_rows(x: np.ndarray, ref: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised cross-correlation c_i(l) = mean_t x_i(t + l) ref(t), l in [-max_lag, max_lag].

    ``x`` [N, T] and ``ref`` [T] are z-scored here; positive l means the neuron follows
    the reference.  Returns (lags, c [N, 2*max_lag+1]).
    """
    T = x.shape[1]
    xz = _zscore_rows(x)
    rz = _zscore_rows(ref[None, :])[0]
    n = sfft.next_fast_len(2 * T)
    cc = sfft.irfft(sfft.rfft(xz, n, axis=1) * np.conj(sfft.rfft(rz, n))[None, :], n, axis=1)
    lags = np.arange(-max_lag, max_lag + 1)
    c = cc[:, lags % n] / (T - np.abs(lags))[None, :]
    return lags, c


# ----------------------------------------------------------------------------- phase
def ring_phase(
    latents: np.ndarray, centre: str | np.ndarray = "mean", dims: tuple[int, int] | None = None
) -> np.ndarray:
    """Phase (radians, in ``(-pi, pi]``) of a ring-shaped latent trajectory around its centre.

    Parameters
    ----------
    latents
        ``[T, d]`` (continuous) or ``[n_trials, d, T]`` (the layout of
        :meth:`Sparks.transform`); trials are concatenated in time.
    centre
        ``"mean"`` (centroid of the points), ``"circle_fit"`` (least-squares circle,
        robust to uneven sampling of the ring) or an explicit ``(x, y)`` point.
    dims
        The two latent dimensions to use.  ``None``: both if ``d == 2``, otherwise the
        plane of the first two principal components of the latents.

    Returns
    -------
    numpy.ndarray
        ``[T]`` (``[n_trials * T]`` for trial input) phase in radians.
    """
    z = np.asarray(latents, dtype=np.float64)
    if z.ndim == 3:
        z = np.concatenate(list(np.transpose(z, (0, 2, 1))), axis=0)
    if z.ndim != 2 or z.shape[1] < 2 or z.shape[0] < 3:
        raise SparksError(
            f"Latents must be [T, d] with d >= 2 (or [n, d, T]); got shape {np.shape(latents)}.",
            "Train with a latent dimension of at least 2.",
        )
    check_finite(z, "latents")
    if dims is not None:
        xy = z[:, list(dims)]
    elif z.shape[1] == 2:
        xy = z
    else:
        zc = z - z.mean(axis=0)
        _, _, vt = np.linalg.svd(zc, full_matrices=False)
        xy = zc @ vt[:2].T
    if isinstance(centre, str):
        if centre == "mean":
            c = xy.mean(axis=0)
        elif centre == "circle_fit":  # x^2 + y^2 = 2 a x + 2 b y + c, linear least squares
            A = np.column_stack([2 * xy[:, 0], 2 * xy[:, 1], np.ones(len(xy))])
            sol, *_ = np.linalg.lstsq(A, (xy**2).sum(axis=1), rcond=None)
            c = sol[:2]
        else:
            raise SparksError(f"Unknown centre '{centre}'.", "Use 'mean', 'circle_fit' or an (x, y) pair.")
    else:
        c = np.asarray(centre, dtype=np.float64).reshape(2)
    return np.arctan2(xy[:, 1] - c[1], xy[:, 0] - c[0])


def _period_bins_from_phase(phase: np.ndarray) -> float:
    unwrapped = np.unwrap(phase)
    travelled = abs(unwrapped[-1] - unwrapped[0])
    if travelled < 2 * np.pi:
        raise SparksError(
            f"The phase signal completes only {travelled / (2 * np.pi):.2f} cycles.",
            "Use a longer recording (at least one full cycle of the sequence) or pass max_lag explicitly.",
        )
    return 2 * np.pi * (len(phase) - 1) / travelled


def neuron_order_from_phase(
    activity: Any,
    phase: np.ndarray,
    method: str = "preferred_phase",
    max_lag: int | None = None,
    smooth_bins: float = 0.0,
) -> Ordering:
    """Order neurons by where in the cycle of ``phase`` they are active.

    Parameters
    ----------
    activity
        ``[N, T]`` activity (or a Recording, or trials ``[n, N, T]`` concatenated in time).
    phase
        ``[T]`` phase in radians (e.g. :func:`ring_phase` of SPARKS latents).
    method
        ``"preferred_phase"`` (default): each neuron's key is the angle of its complex
        cross-correlation with the phase at zero lag, ``arg sum_t (x_i(t) - mean x_i) e^{i phase(t)}``,
        i.e. its activity-weighted circular mean phase.  ``"xcorr_lag"``: the lag (bins) of the
        peak cross-correlation between the neuron and ``cos(phase)``, searched within half
        the mean cycle period so that lags map one-to-one onto the cycle.  Both give the
        same order for a constant-speed phase; the first is robust to speed changes.
    max_lag
        Only for ``"xcorr_lag"``; default half the mean period of ``phase``.
    smooth_bins
        Gaussian smoothing (s.d. in bins) of the activity first; 0 = none.

    Returns
    -------
    Ordering
        Neurons sorted by ascending key (phase in ``[0, 2 pi)`` or lag in bins).
    """
    x = as_activity(activity)
    ph = np.asarray(phase, dtype=np.float64).reshape(-1)
    if len(ph) != x.shape[1]:
        raise SparksError(
            f"The phase has {len(ph)} samples but the activity has {x.shape[1]} time bins.",
            "Compute the phase from latents of the same recording (same bins).",
        )
    check_finite(ph, "phase")
    x = _smooth(x, smooth_bins)
    if method == "preferred_phase":
        xc = x - x.mean(axis=1, keepdims=True)
        key = np.mod(np.angle(xc @ np.exp(1j * ph)), 2 * np.pi)
        order = np.argsort(key, kind="stable")
        return Ordering(order, key, "preferred_phase")
    if method == "xcorr_lag":
        period = _period_bins_from_phase(ph)
        L = int(max_lag) if max_lag is not None else max(1, int(round(period / 2)))
        L = min(L, x.shape[1] - 2)
        lags, c = _xcorr_rows(x, np.cos(ph), L)
        key = lags[np.argmax(c, axis=1)].astype(np.float64)
        return Ordering(np.argsort(key, kind="stable"), key, "xcorr_lag", {"max_lag": L, "period_bins": period})
    raise SparksError(f"Unknown method '{method}'.", "Use 'preferred_phase' or 'xcorr_lag'.")


def neuron_order_from_latents(
    activity: Any, latents: np.ndarray, centre: str | np.ndarray = "mean", method: str = "preferred_phase", **kwargs
) -> Ordering:
    """SPARKS ordering: phase of a ring-shaped latent (:func:`ring_phase`) then :func:`neuron_order_from_phase`.

    Parameters
    ----------
    activity
        ``[N, T]`` activity on the same bins as the latents.
    latents
        ``[T, d]`` or ``[n, d, T]`` latents (``Sparks.transform``).
    centre, method, kwargs
        Passed to :func:`ring_phase` and :func:`neuron_order_from_phase`.

    Returns
    -------
    Ordering
        ``info["phase"]`` holds the latent phase.
    """
    ph = ring_phase(latents, centre=centre)
    res = neuron_order_from_phase(activity, ph, method=method, **kwargs)
    res.method = f"latent_{res.method}"
    res.info["phase"] = ph
    return res


# ----------------------------------------------------------------------------- baselines
def _dominant_period_bins(y: np.ndarray) -> float:
    """Period (bins) of the largest non-DC peak of the periodogram of ``y``."""
    y = y - y.mean()
    p = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y))
    p[0] = 0
    k = int(np.argmax(p))
    return 1.0 / f[k] if k > 0 else float(len(y))


def order_by_correlation(
    activity: Any,
    reference: int | None = None,
    by: str = "lag",
    max_lag: int | None = None,
    smooth_bins: float = 0.0,
) -> Ordering:
    """Order neurons by their cross-correlation with a reference neuron.

    Parameters
    ----------
    activity
        ``[N, T]`` activity.
    reference
        Index of the reference neuron; default the neuron with the largest summed
        correlation with all others (the most "central" one).
    by
        ``"lag"`` (default): sort by the lag of the peak cross-correlation with the
        reference (a cyclic order for periodic sequences).  ``"correlation"``: sort by
        descending zero-lag Pearson correlation (a linear order, reference first).
    max_lag
        Lag search range in bins; default half the dominant period of the reference
        neuron (largest periodogram peak), so lags map one-to-one onto a cycle.
    smooth_bins
        Gaussian smoothing (s.d., bins) before correlating; 0 = none.

    Returns
    -------
    Ordering
        ``info["reference"]`` is the reference neuron.
    """
    x = _smooth(as_activity(activity), smooth_bins)
    xz = _zscore_rows(x)
    if reference is None:
        corr = (xz @ xz.T) / x.shape[1]
        reference = int(np.argmax(corr.sum(axis=1)))
    if not 0 <= int(reference) < x.shape[0]:
        raise SparksError(
            f"Reference neuron {reference} is out of range 0..{x.shape[0] - 1}.", "Pick an existing neuron."
        )
    reference = int(reference)
    if by == "correlation":
        key = (xz @ xz[reference]) / x.shape[1]
        return Ordering(np.argsort(-key, kind="stable"), key, "correlation", {"reference": reference})
    if by != "lag":
        raise SparksError(f"Unknown by='{by}'.", "Use 'lag' or 'correlation'.")
    L = int(max_lag) if max_lag is not None else max(1, int(round(_dominant_period_bins(x[reference]) / 2)))
    L = min(L, x.shape[1] - 2)
    lags, c = _xcorr_rows(x, x[reference], L)
    key = lags[np.argmax(c, axis=1)].astype(np.float64)
    return Ordering(np.argsort(key, kind="stable"), key, "correlation_lag", {"reference": reference, "max_lag": L})


def order_by_pca_angle(activity: Any, smooth_bins: float = 0.0, zscore: bool = True) -> Ordering:
    """Order neurons by the angle of their loadings in the PC1/PC2 plane.

    Principal components are computed over time (neurons are the variables); neuron
    ``i`` with loadings ``(u1_i, u2_i)`` gets the key ``atan2(u2_i, u1_i)`` in
    ``[0, 2 pi)``.  For a travelling sequence the loadings lie on a ring, so the angle
    is the neuron's position in the cycle (the start and direction are arbitrary).

    Parameters
    ----------
    activity
        ``[N, T]`` activity.
    smooth_bins
        Gaussian smoothing (s.d., bins) before PCA; 0 = none.
    zscore
        Z-score each neuron first (PCA of the correlation matrix).

    Returns
    -------
    Ordering
        ``info["explained_variance_ratio"]`` of PC1 and PC2.
    """
    x = _smooth(as_activity(activity, min_neurons=3), smooth_bins)
    x = _zscore_rows(x) if zscore else x - x.mean(axis=1, keepdims=True)
    cov = (x @ x.T) / x.shape[1]
    evals, evecs = np.linalg.eigh(cov)
    idx = np.argsort(evals)[::-1]
    u1, u2 = evecs[:, idx[0]], evecs[:, idx[1]]
    key = np.mod(np.arctan2(u2, u1), 2 * np.pi)
    total = max(float(evals.sum()), 1e-300)
    return Ordering(
        np.argsort(key, kind="stable"),
        key,
        "pca_angle",
        {"explained_variance_ratio": (float(evals[idx[0]] / total), float(evals[idx[1]] / total))},
    )


def pca_phase(activity: Any, smooth_bins: float = 0.0, zscore: bool = True) -> np.ndarray:
    """Population phase over time from PCA: ``atan2(PC2(t), PC1(t))`` of the (z-scored) activity, ``[T]``.

    The baseline against which a latent phase (:func:`ring_phase`) is compared: for an
    oscillatory sequence the projection onto the first two components circles once per cycle.
    """
    x = _smooth(as_activity(activity, min_neurons=3), smooth_bins)
    x = _zscore_rows(x) if zscore else x - x.mean(axis=1, keepdims=True)
    evals, evecs = np.linalg.eigh((x @ x.T) / x.shape[1])
    idx = np.argsort(evals)[::-1]
    pcs = evecs[:, idx[:2]].T @ x
    return np.arctan2(pcs[1], pcs[0])


def phase_agreement(phase_a: Any, phase_b: Any, allow_reflection: bool = True) -> float:
    """Agreement of two sets of per-neuron phases: ``|mean_i exp(i (a_i - b_i))|`` in [0, 1].

    1 means the same phases up to a common rotation; unrelated phases give about
    ``1 / sqrt(N)``.  With ``allow_reflection`` the better of ``a - b`` and ``a + b`` counts
    (a ring traversed in the opposite direction is the same ordering).
    """
    a = np.asarray(phase_a, dtype=np.float64).reshape(-1)
    b = np.asarray(phase_b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape or a.size == 0:
        raise SparksError(
            f"Phase arrays must have the same non-zero length; got {a.size} and {b.size}.",
            "Pass one phase per neuron for both methods.",
        )
    check_finite(a, "phase_a")
    check_finite(b, "phase_b")
    same = float(np.abs(np.mean(np.exp(1j * (a - b)))))
    return max(same, float(np.abs(np.mean(np.exp(1j * (a + b)))))) if allow_reflection else same


def _mean_attention(attention: np.ndarray) -> np.ndarray:
    A = np.asarray(attention, dtype=np.float64)
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise SparksError(
            f"Attention must end in [N, N]; got shape {A.shape}.",
            "Pass Sparks.attention() output [T, H, N, N] or an [N, N] matrix.",
        )
    check_finite(A, "attention")
    return A.reshape(-1, A.shape[-2], A.shape[-1]).mean(axis=0)


def order_by_attention_clustering(attention: np.ndarray, linkage_method: str = "average") -> Ordering:
    """Order neurons by hierarchical clustering of their attention profiles.

    The attention (``[T, H, N, N]``, ``[H, N, N]`` or ``[N, N]``; pair ``[i, j]`` = i
    attends to j) is averaged over everything but the last two axes.  Each neuron is
    described by its incoming row and outgoing column ``[A[i, :], A[:, i]]``; neurons
    are clustered by correlation distance between these profiles (scipy ``linkage``)
    and read out as the leaves of the dendrogram in optimal leaf order (adjacent leaves
    as similar as possible).  The result is a *linear* order; score it with
    ``circular_spearman(..., cyclic=False)`` or accept the cyclic score as a bound.

    Parameters
    ----------
    attention
        Attention matrices.
    linkage_method
        scipy linkage method (``"average"``, ``"complete"``, ``"single"``, ``"weighted"``).

    Returns
    -------
    Ordering
        ``key`` is None.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import pdist

    A = _mean_attention(attention)
    N = A.shape[0]
    if N < 3:
        return Ordering(np.arange(N), None, "attention_clustering")
    feats = np.concatenate([A, A.T], axis=1)
    feats = feats - feats.mean(axis=1, keepdims=True)
    feats = feats + 1e-12 * np.random.default_rng(0).standard_normal(feats.shape)  # constant rows -> defined distance
    d = np.clip(pdist(feats, metric="correlation"), 0, None)
    Z = optimal_leaf_ordering(linkage(d, method=linkage_method), d)
    return Ordering(leaves_list(Z).astype(np.int64), None, "attention_clustering", {"linkage": linkage_method})


def rastermap_available() -> bool:
    """True when the optional ``rastermap`` package can be imported."""
    try:
        import rastermap  # noqa: F401
    except Exception:  # noqa: BLE001
        return False
    return True


def order_by_rastermap(activity: Any, **options) -> Ordering:
    """Rastermap sorting (optional dependency, ``pip install rastermap``).

    Parameters
    ----------
    activity
        ``[N, T]`` activity.
    options
        Passed to ``rastermap.Rastermap(...)``.

    Returns
    -------
    Ordering
        ``key`` is Rastermap's ``embedding`` when present.

    Raises
    ------
    SparksError
        When ``rastermap`` is not installed.
    """
    if not rastermap_available():
        raise SparksError(
            "The rastermap ordering needs the optional 'rastermap' package, which is not installed.",
            "pip install rastermap, or pick another ordering.",
        )
    from rastermap import Rastermap

    x = as_activity(activity).astype(np.float32)
    model = Rastermap(**options).fit(x)
    emb = getattr(model, "embedding", None)
    key = None if emb is None else np.asarray(emb, dtype=np.float64).reshape(len(x), -1)[:, 0]
    return Ordering(np.asarray(model.isort, dtype=np.int64), key, "rastermap")


# ----------------------------------------------------------------------------- registry
ORIGINAL = "original"
LATENT_PHASE = "latent_phase"
CORRELATION = "correlation"
PCA_ANGLE = "pca_angle"
ATTENTION_CLUSTERING = "attention_clustering"
RASTERMAP = "rastermap"
PHASE = "phase"
"""Method names of :func:`compute_ordering` (``PHASE`` needs a known phase, so menus leave it out)."""

ORDERING_LABELS = {
    ORIGINAL: "original",
    LATENT_PHASE: "SPARKS latent phase",
    CORRELATION: "correlation",
    PCA_ANGLE: "PCA angle",
    ATTENTION_CLUSTERING: "attention clustering",
    RASTERMAP: "rastermap",
}
"""Method name -> the name a menu shows (the GUI's raster menu, exported ``ordering.json``)."""


def available_orderings() -> dict[str, str]:
    """Orderings available in this installation, name -> what it needs, in menu order.

    For menus (GUI) and reports: ``latent_phase`` needs 2-D+ latents, ``attention_clustering``
    needs attention matrices, the rest need only activity; ``rastermap`` is listed only when the
    optional package is installed.
    """
    out = {
        ORIGINAL: "the recording's own order",
        LATENT_PHASE: "activity + ring-shaped latents (SPARKS, after training)",
        CORRELATION: "activity (lag of peak cross-correlation with a reference neuron)",
        PCA_ANGLE: "activity (angle of PC1/PC2 loadings)",
        ATTENTION_CLUSTERING: "attention matrices (SPARKS, after training)",
    }
    if rastermap_available():
        out[RASTERMAP] = "activity (rastermap package)"
    return out


def ordering_label(method: str) -> str:
    """The name a menu shows for ``method`` (see :data:`ORDERING_LABELS`)."""
    return ORDERING_LABELS.get(method, method)


def ordering_method(label: str) -> str:
    """The method name of a menu label (inverse of :func:`ordering_label`); a method name passes through."""
    for method, text in ORDERING_LABELS.items():
        if label in (text, method):
            return method
    raise SparksError(
        f"Unknown ordering '{label}'.", f"Choose one of {[ordering_label(m) for m in available_orderings()]}."
    )


def compute_ordering(
    method: str,
    activity: Any = None,
    latents: np.ndarray | None = None,
    attention: np.ndarray | None = None,
    phase: np.ndarray | None = None,
    **options,
) -> Ordering:
    """Run the ordering called ``method`` (a key of :func:`available_orderings`, or ``"phase"``).

    Parameters
    ----------
    method
        ``"latent_phase"`` (needs ``activity`` + ``latents``), ``"phase"`` (``activity`` +
        a known ``phase``), ``"original"``, ``"correlation"``, ``"pca_angle"``, ``"rastermap"``
        (``activity``), ``"attention_clustering"`` (``attention``).
    activity, latents, attention, phase
        The inputs the method needs.
    options
        Passed to the ordering function.

    Returns
    -------
    Ordering
    """

    def need(value, what):
        if value is None:
            raise SparksError(f"The '{method}' ordering needs {what}.", f"Pass {what}, or choose another ordering.")
        return value

    if method == ORIGINAL:
        n = as_activity(need(activity, "activity")).shape[0]
        return Ordering(np.arange(n, dtype=np.int64), None, ORIGINAL)
    if method == LATENT_PHASE:
        return neuron_order_from_latents(need(activity, "activity"), need(latents, "latents"), **options)
    if method == PHASE:
        return neuron_order_from_phase(need(activity, "activity"), need(phase, "phase"), **options)
    if method == CORRELATION:
        return order_by_correlation(need(activity, "activity"), **options)
    if method == PCA_ANGLE:
        return order_by_pca_angle(need(activity, "activity"), **options)
    if method == ATTENTION_CLUSTERING:
        return order_by_attention_clustering(need(attention, "attention"), **options)
    if method == RASTERMAP:
        return order_by_rastermap(need(activity, "activity"), **options)
    raise SparksError(f"Unknown ordering '{method}'.", f"Choose one of {sorted(available_orderings())} or '{PHASE}'.")


# ----------------------------------------------------------------------------- scores
def _cyclic_shift_correlations(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Pearson correlation of ((p + s) mod N) with t for every shift s, in O(N log N).

    ``p`` and ``t`` are rank vectors (permutations of 0..N-1) indexed by neuron.
    sum_k ((p_k + s) mod N) t_k = sum p t + s sum t - N * sum_{k: p_k >= N - s} t_k.
    """
    N = len(p)
    c = np.empty(N, dtype=np.float64)
    c[p.astype(np.int64)] = t  # c[v]: true rank of the neuron with predicted rank v
    tail = np.concatenate([[0.0], np.cumsum(c[::-1])])  # tail[s] = sum_{v >= N - s} c[v]
    s = np.arange(N)
    cross = float(p @ t) + s * float(t.sum()) - N * tail[:N]
    mean = (N - 1) / 2.0
    var = (N * N - 1) / 12.0
    return (cross / N - mean * mean) / var


def circular_spearman(order: Any, true_order: Any, directed: bool = False, cyclic: bool = True) -> float:
    """Spearman rank correlation with a known order after the best cyclic shift.

    The predicted and true ranks of each neuron are compared with Spearman's rho for
    every rotation of the predicted order and every starting neuron of the true cycle
    (a sequence has no natural first neuron, in either order), and the best one is kept.
    Rotating both matters: with only the prediction rotated, two neighbours swapped
    across the arbitrary start of the true order would cost ``~6/N`` instead of ``~0``.
    Cost ``O(N^2)``: about 1 s for 5,000 neurons.

    Parameters
    ----------
    order
        Predicted ordering (permutation, or :class:`Ordering`).
    true_order
        Ground-truth ordering of the same neurons.
    directed
        ``False`` (default): return ``max_s |rho_s|``, so the reversed order scores like
        the original.  This is the right default for orderings whose direction is not
        identifiable (ring-latent phase, PCA angle, clustering).  ``True``: return
        ``max_s rho_s`` (signed), which penalises a reversed sequence.
    cyclic
        ``False``: no shift, plain Spearman (``|rho|`` unless ``directed``) for linear orders.

    Returns
    -------
    float
        In ``[0, 1]`` (``[-1, 1]`` when directed).  1 for the true order or any rotation of it.
    """
    o = _as_order(order, "order")
    t = _as_order(true_order, "true_order")
    if len(o) != len(t):
        raise SparksError(
            f"The orders have different lengths ({len(o)} vs {len(t)}).", "Compare orders of the same neurons."
        )
    N = len(o)
    if N < 2:
        return 1.0
    p, r = _ranks(o).astype(np.float64), _ranks(t).astype(np.float64)
    if not cyclic:
        rho = float(np.corrcoef(p, r)[0, 1])
        return rho if directed else abs(rho)
    best = -np.inf
    for u in range(N):  # every start of the true cycle, and inside every rotation of the prediction
        rhos = _cyclic_shift_correlations(p, np.mod(r + u, N))
        best = max(best, float(np.max(rhos) if directed else np.max(np.abs(rhos))))
    return best


def _triplet_indices(N: int, n_triplets: int | None, seed) -> np.ndarray:
    total = N * (N - 1) * (N - 2) // 6
    limit = 200_000 if n_triplets is None else int(n_triplets)
    if total <= limit:
        i, j, k = np.meshgrid(np.arange(N), np.arange(N), np.arange(N), indexing="ij")
        mask = (i < j) & (j < k)
        return np.stack([i[mask], j[mask], k[mask]], axis=1)
    rng = rng_from(seed)
    out = np.empty((0, 3), dtype=np.int64)
    while len(out) < limit:
        cand = rng.integers(0, N, size=(2 * limit, 3))
        cand = cand[(cand[:, 0] != cand[:, 1]) & (cand[:, 1] != cand[:, 2]) & (cand[:, 0] != cand[:, 2])]
        out = np.concatenate([out, cand])
    return out[:limit]


def triplet_accuracy(
    order: Any,
    true_order: Any,
    directed: bool = False,
    cyclic: bool = True,
    n_triplets: int | None = None,
    seed: int = 0,
) -> float:
    """Fraction of neuron triplets placed consistently with the true order.

    For cyclic orders, a triplet ``(a, b, c)`` is correct when its orientation on the
    cycle (``a -> b -> c`` clockwise or counter-clockwise) matches, which is invariant to
    rotation.  For linear orders (``cyclic=False``) a triplet is correct when the same
    neuron lies between the other two (undirected) or all three are in the same
    sequence (directed).

    Parameters
    ----------
    order, true_order
        Predicted and true orderings (permutations of the same neurons).
    directed
        ``False`` (default): a reflected order counts as correct, i.e. the cyclic score
        is ``max(acc, 1 - acc)``; chance level is then a little above 0.5.  ``True``:
        reflected order scores 0 (cyclic).
    cyclic
        Cyclic (default) or linear comparison.  Chance: 0.5 cyclic, 1/3 linear undirected,
        1/6 linear directed.
    n_triplets
        Evaluate all triplets when there are at most this many (default 200,000),
        otherwise this many random triplets (``seed``).
    seed
        Seed for the random triplets.

    Returns
    -------
    float
        In ``[0, 1]``; 1 for the true order (or a rotation of it when cyclic).
    """
    o = _as_order(order, "order")
    t = _as_order(true_order, "true_order")
    if len(o) != len(t):
        raise SparksError(
            f"The orders have different lengths ({len(o)} vs {len(t)}).", "Compare orders of the same neurons."
        )
    N = len(o)
    if N < 3:
        return 1.0
    tri = _triplet_indices(N, n_triplets, seed)
    p, r = _ranks(o)[tri], _ranks(t)[tri]
    if cyclic:

        def orient(x):
            return np.sign((x[:, 0] - x[:, 1]) * (x[:, 1] - x[:, 2]) * (x[:, 2] - x[:, 0]))

        acc = float(np.mean(orient(p) == orient(r)))
        return acc if directed else max(acc, 1.0 - acc)
    if directed:
        return float(np.mean(np.all(np.argsort(p, axis=1) == np.argsort(r, axis=1), axis=1)))
    return float(np.mean(np.argsort(p, axis=1)[:, 1] == np.argsort(r, axis=1)[:, 1]))
