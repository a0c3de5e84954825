"""Publication figures of the analysis results (matplotlib, Agg-safe, atomic writes).

One function per analysis; each takes plain results (arrays, dicts, the dataclasses of
:mod:`sparks_gui.analysis`) and a path whose extension picks the format (``.png``,
``.svg`` or ``.pdf``), writes the file atomically and returns its path.

* :func:`ordering_figure` - sorted rasters side by side, with order scores.
* :func:`oscillation_figure` - PSDs of the orderings' population signals, peak/tail and
  sequence scores.
* :func:`decoding_summary_figure` - grouped bars: method x metric.
* :func:`frame_accuracy_figure` - accuracy as a function of the tolerance window.
* :func:`consistency_figure` - pairwise consistency R2 heatmap.
* :func:`connectivity_figure` - true weights vs estimates, ROC curves, AUROC vs null.
* :func:`hierarchy_figure` - per-area error curves, projection matrix, hierarchy scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SparksError
from .training import _plt, _save

__all__ = [
    "ordering_figure",
    "oscillation_figure",
    "decoding_summary_figure",
    "frame_accuracy_figure",
    "consistency_figure",
    "connectivity_figure",
    "hierarchy_figure",
]

FORMATS = (".png", ".svg", ".pdf")


def _target(path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise SparksError(
            f"Cannot write a figure as '{p.suffix or '(no extension)'}'.",
            f"Use a file name ending in one of {', '.join(FORMATS)}.",
        )
    return p


def _clean(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)


def _as_order(order: Any) -> np.ndarray:
    return np.asarray(getattr(order, "order", order), dtype=np.int64)


def ordering_figure(
    activity: np.ndarray,
    orderings: Mapping[str, Any],
    path: str | Path,
    dt: float = 1.0,
    true_order: Any = None,
    max_bins: int | None = 2000,
    zscore: bool = True,
    title: str | None = None,
) -> Path:
    """Rasters of the same activity sorted by each ordering.

    Parameters
    ----------
    activity
        ``[N, T]``.
    orderings
        Name -> ordering (permutation or ``Ordering``).
    path
        Output file (``.png``/``.svg``/``.pdf``).
    dt
        Bin width (s) for the time axis.
    true_order
        If given, each panel's title shows circular |rho| and triplet accuracy.
    max_bins
        Show at most this many bins (the first ones) so rasters stay readable.
    zscore
        Z-score each neuron for display.
    title
        Figure title.

    Returns
    -------
    pathlib.Path
    """
    from ..analysis.ordering import circular_spearman, triplet_accuracy

    path = _target(path)
    x = np.asarray(activity, dtype=np.float64)
    if x.ndim != 2 or not orderings:
        raise SparksError("ordering_figure needs activity [N, T] and at least one ordering.", "Pass both.")
    if max_bins is not None:
        x = x[:, :max_bins]
    if zscore:
        sd = x.std(axis=1, keepdims=True)
        x = np.divide(x - x.mean(axis=1, keepdims=True), sd, out=np.zeros_like(x), where=sd > 0)
    plt = _plt()
    n = len(orderings)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.4), sharey=True, squeeze=False)
    vmax = float(np.percentile(x, 99)) if x.size else 1.0
    for ax, (name, order) in zip(axes[0], orderings.items(), strict=False):
        o = _as_order(order)
        ax.imshow(
            x[o],
            aspect="auto",
            cmap="gray_r",
            vmin=0,
            vmax=max(vmax, 1e-9),
            interpolation="nearest",
            extent=(0, x.shape[1] * dt, len(o) - 0.5, -0.5),
        )
        label = name
        if true_order is not None:
            label += (
                f"\ncirc |ρ| = {circular_spearman(o, true_order):.3f}, triplets = {triplet_accuracy(o, true_order):.3f}"
            )
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("time (s)" if dt != 1.0 else "time (bins)")
    axes[0][0].set_ylabel("neuron (sorted)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def oscillation_figure(
    qualities: Mapping[str, Mapping[str, Any]],
    path: str | Path,
    phase_psd: tuple[np.ndarray, np.ndarray] | None = None,
    title: str | None = None,
) -> Path:
    """Power spectra of the orderings' population signals and their scores.

    Parameters
    ----------
    qualities
        Name -> :func:`~sparks_gui.analysis.oscillation.ordering_quality` output.
    path
        Output file.
    phase_psd
        Optional ``(freqs, psd)`` of the latent phase signal, drawn dashed.
    title
        Figure title.

    Returns
    -------
    pathlib.Path
    """
    path = _target(path)
    if not qualities:
        raise SparksError(
            "oscillation_figure needs at least one ordering's quality.", "Pass ordering_quality(...) results."
        )
    plt = _plt()
    fig, (ax, axb) = plt.subplots(1, 2, figsize=(8.5, 3.4), gridspec_kw={"width_ratios": [2, 1]})
    for k, (name, q) in enumerate(qualities.items()):
        f, p = np.asarray(q["freqs"]), np.asarray(q["psd"])
        keep = f > 0
        ax.loglog(f[keep], p[keep], color=f"C{k}", lw=1.2, label=f"{name} (peak/tail {q['peak_over_tail']:.0f})")
        ax.axvline(q["peak_frequency_hz"], color=f"C{k}", lw=0.6, ls=":")
    if phase_psd is not None:
        f, p = np.asarray(phase_psd[0]), np.asarray(phase_psd[1])
        keep = f > 0
        ax.loglog(f[keep], p[keep], color="k", ls="--", lw=1.0, label="latent phase")
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel("PSD of population signal")
    ax.legend(frameon=False, fontsize=7)
    _clean(ax)
    names = list(qualities)
    axb.bar(
        range(len(names)), [qualities[n]["sequence_score"] for n in names], color=[f"C{k}" for k in range(len(names))]
    )
    axb.set_xticks(range(len(names)))
    axb.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    axb.set_ylim(0, 1)
    axb.set_ylabel("sequence score (sparks-gui)")
    _clean(axb)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def decoding_summary_figure(
    table: Mapping[str, Mapping[str, float]],
    path: str | Path,
    metrics: Sequence[str] | None = None,
    errors: Mapping[str, Mapping[str, float]] | None = None,
    title: str | None = None,
) -> Path:
    """Grouped bars of decoding metrics: one group per metric, one bar per method.

    Parameters
    ----------
    table
        Method -> {metric -> value} (e.g. ``{"SPARKS": {"R2": 0.9}, "GRU": {"R2": 0.7}}``).
    path
        Output file.
    metrics
        Metrics to show (default all metrics of the first method).
    errors
        Optional method -> {metric -> error bar} (e.g. s.d. over seeds).
    title
        Figure title.

    Returns
    -------
    pathlib.Path
    """
    path = _target(path)
    if not table:
        raise SparksError("decoding_summary_figure needs at least one method.", "Pass {method: {metric: value}}.")
    methods = list(table)
    metrics = list(metrics) if metrics is not None else list(next(iter(table.values())))
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(3.5, 1.2 * len(metrics) * max(1, len(methods)) * 0.45 + 1.5), 3.3))
    width = 0.8 / len(methods)
    for k, m in enumerate(methods):
        vals = [table[m].get(mt, np.nan) for mt in metrics]
        err = None if errors is None else [errors.get(m, {}).get(mt, 0.0) for mt in metrics]
        pos = np.arange(len(metrics)) + (k - (len(methods) - 1) / 2) * width
        ax.bar(pos, vals, width, yerr=err, label=m, color=f"C{k}", capsize=2)
    ax.set_xticks(np.arange(len(metrics)))
    ax.set_xticklabels(metrics)
    ax.axhline(0, color="k", lw=0.6)
    ax.legend(frameon=False, fontsize=7)
    _clean(ax)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def frame_accuracy_figure(
    true_frames: np.ndarray,
    pred_frames: Mapping[str, np.ndarray] | np.ndarray,
    path: str | Path,
    max_tolerance: int = 30,
    n_frames: int | None = None,
    mark: int | None = None,
    title: str | None = None,
) -> Path:
    """Frame-id accuracy as a function of the tolerance window, and predicted vs true frame.

    Parameters
    ----------
    true_frames
        True frame ids.
    pred_frames
        Predicted ids, or method -> predicted ids.
    path
        Output file.
    max_tolerance
        Largest ``+-k`` on the x axis.
    n_frames
        Cyclic movie length (see :func:`~sparks_gui.analysis.decoding.frame_accuracy`).
    mark
        A tolerance to mark (e.g. the paper's window).
    title
        Figure title.

    Returns
    -------
    pathlib.Path
    """
    from ..analysis.decoding import frame_accuracy

    path = _target(path)
    preds = pred_frames if isinstance(pred_frames, Mapping) else {"decoded": pred_frames}
    plt = _plt()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(8, 3.3))
    ks = np.arange(max_tolerance + 1)
    for c, (name, p) in enumerate(preds.items()):
        acc = [frame_accuracy(true_frames, p, int(k), n_frames) for k in ks]
        ax.plot(ks, acc, color=f"C{c}", label=name)
        if c == 0:
            ax2.plot(np.asarray(true_frames).ravel(), np.asarray(p).ravel(), ".", ms=1.5, alpha=0.3, color=f"C{c}")
    if mark is not None:
        ax.axvline(mark, color="k", ls=":", lw=0.8)
    ax.set_xlabel("tolerance ± k (frames)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend(frameon=False, fontsize=7)
    ax2.set_xlabel("true frame")
    ax2.set_ylabel("decoded frame")
    for a in (ax, ax2):
        _clean(a)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def consistency_figure(matrix: np.ndarray, labels: Sequence[str], path: str | Path, title: str | None = None) -> Path:
    """Heatmap of pairwise consistency R2 (row predicts column).

    Parameters
    ----------
    matrix
        ``[n, n]`` from :func:`~sparks_gui.analysis.decoding.consistency_matrix`.
    labels
        Run / session names.
    path
        Output file.
    title
        Figure title.

    Returns
    -------
    pathlib.Path
    """
    path = _target(path)
    M = np.asarray(matrix, dtype=np.float64)
    if M.ndim != 2 or M.shape[0] != M.shape[1] or len(labels) != len(M):
        raise SparksError(f"Consistency matrix {M.shape} and {len(labels)} labels do not match.", "One label per row.")
    plt = _plt()
    n = len(M)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * n, 0.8 + 0.6 * n))
    im = ax.imshow(M, vmin=0, vmax=1, cmap="viridis")
    for i in range(n):
        for j in range(n):
            if np.isfinite(M[i, j]):
                ax.text(
                    j, i, f"{M[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w" if M[i, j] < 0.6 else "k"
                )
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("predictor")
    fig.colorbar(im, ax=ax, label="consistency R²", shrink=0.8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def connectivity_figure(
    true_weights: np.ndarray,
    estimates: Mapping[str, np.ndarray],
    path: str | Path,
    nulls: Mapping[str, Any] | None = None,
    absolute_score: bool = False,
    title: str | None = None,
) -> Path:
    """Known weights, each estimate, ROC curves and AUROC against the shuffled null.

    Parameters
    ----------
    true_weights
        ``[N, N]`` ground truth, ``[target, source]``.
    estimates
        Method -> ``[N, N]`` score matrix (attention, correlation, xcorr peak ...).
    path
        Output file.
    nulls
        Method -> :class:`~sparks_gui.analysis.connectivity.NullDistribution`; drawn as
        the null mean +- 2 s.d. next to each AUROC bar.
    absolute_score
        Rank estimates by absolute value (for signed estimates).
    title
        Figure title.

    Returns
    -------
    pathlib.Path
    """
    from ..analysis.connectivity import connectivity_scores, roc_curve_points

    path = _target(path)
    if not estimates:
        raise SparksError("connectivity_figure needs at least one estimate.", "Pass {method: matrix}.")
    W = np.asarray(true_weights, dtype=np.float64)
    plt = _plt()
    n = len(estimates)
    fig = plt.figure(figsize=(2.6 * (n + 1), 5.6))
    gs = fig.add_gridspec(2, n + 1)
    mats = {"true weights": W, **{k: np.asarray(v, dtype=np.float64) for k, v in estimates.items()}}
    for c, (name, M) in enumerate(mats.items()):
        ax = fig.add_subplot(gs[0, c])
        D = M.copy()
        np.fill_diagonal(D, np.nan)
        lim = np.nanmax(np.abs(D)) if np.isfinite(D).any() else 1.0
        ax.imshow(D, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("source", fontsize=7)
        ax.set_ylabel("target", fontsize=7)
        ax.tick_params(labelsize=6)
    ax_roc = fig.add_subplot(gs[1, : max(1, (n + 1) // 2)])
    ax_bar = fig.add_subplot(gs[1, max(1, (n + 1) // 2) :]) if n + 1 > 1 else None
    names, aucs = [], []
    for k, (name, M) in enumerate(estimates.items()):
        fpr, tpr = roc_curve_points(M, W, absolute_score=absolute_score)
        sc = connectivity_scores(M, W, absolute_score=absolute_score)
        ax_roc.plot(fpr, tpr, color=f"C{k}", label=f"{name} ({sc.auroc:.2f})")
        names.append(name)
        aucs.append(sc.auroc)
    ax_roc.plot([0, 1], [0, 1], color="k", lw=0.6, ls=":")
    ax_roc.set_xlabel("false-positive rate")
    ax_roc.set_ylabel("true-positive rate")
    ax_roc.legend(frameon=False, fontsize=7)
    _clean(ax_roc)
    if ax_bar is not None:
        ax_bar.bar(range(len(names)), aucs, color=[f"C{k}" for k in range(len(names))])
        if nulls:
            for k, name in enumerate(names):
                if name in nulls:
                    au = np.asarray(nulls[name].auroc)
                    ax_bar.errorbar(k + 0.3, au.mean(), yerr=2 * au.std(), fmt="o", color="gray", ms=3, capsize=2)
        ax_bar.axhline(0.5, color="k", lw=0.6, ls=":")
        ax_bar.set_ylim(0, 1)
        ax_bar.set_xticks(range(len(names)))
        ax_bar.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax_bar.set_ylabel("AUROC (grey: shuffled null)")
        _clean(ax_bar)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def hierarchy_figure(result: Any, path: str | Path, dt: float | None = None, title: str | None = None) -> Path:
    """Per-area error curves, projection matrix and hierarchy scores.

    Parameters
    ----------
    result
        :class:`~sparks_gui.analysis.hierarchy.HierarchyResult`.
    path
        Output file.
    dt
        Bin width (s) for the time axis of the error curves.
    title
        Figure title.

    Returns
    -------
    pathlib.Path
    """
    path = _target(path)
    areas = list(result.areas)
    E = np.asarray(result.errors)
    P = np.asarray(result.projection)
    h = np.asarray(result.hierarchy)
    plt = _plt()
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(11, 3.4))
    t = np.arange(E.shape[-1]) * (dt or 1.0)
    for k, name in enumerate(areas):
        a1.plot(t, E[k].mean(axis=0), color=f"C{k}", label=name)
    a1.set_xlabel("time (s)" if dt else "time (bins)")
    a1.set_ylabel("decoding error (mean over stimuli)")
    a1.legend(frameon=False, fontsize=7, loc="best")
    _clean(a1)
    im = a2.imshow(P, cmap="magma")
    a2.set_xticks(range(len(areas)))
    a2.set_yticks(range(len(areas)))
    a2.set_xticklabels(areas, rotation=45, ha="right", fontsize=8)
    a2.set_yticklabels(areas, fontsize=8)
    a2.set_xlabel("to (j)")
    a2.set_ylabel("from (i)")
    a2.set_title("proj(i → j)", fontsize=9)
    fig.colorbar(im, ax=a2, shrink=0.8)
    order = np.argsort(h, kind="stable")
    a3.barh(range(len(order)), h[order], color=[f"C{k}" for k in order])
    a3.set_yticks(range(len(order)))
    a3.set_yticklabels([areas[k] for k in order], fontsize=8)
    a3.axvline(0, color="k", lw=0.6)
    a3.set_xlabel("hierarchy score (in − out)")
    _clean(a3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
