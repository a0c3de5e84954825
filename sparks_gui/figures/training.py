"""Publication-style figures of a training run (matplotlib, headless-safe)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np

from ..data.atomic import atomic_save
from .size import ImageSize, resolve


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        with contextlib.suppress(Exception):
            matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path, dpi: float = 150, exact: bool = False) -> Path:
    """Save atomically.  ``exact``: keep the figure's size (a requested size: ``figsize x dpi`` pixels)
    and fit the axes into it, instead of cropping to a tight bounding box."""
    fmt = path.suffix.lstrip(".") or "png"
    if exact:
        import warnings

        with warnings.catch_warnings():  # e.g. 3-D axes "not compatible with tight_layout"
            warnings.simplefilter("ignore")
            fig.tight_layout()
        atomic_save(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt))
    else:
        atomic_save(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=fmt))
    _plt().close(fig)
    return path


def loss_curve(history: list[dict[str, Any]], path: str | Path, size: ImageSize | None = None) -> Path:
    """Train / test loss per epoch.  ``size``: width, height (0 = this figure's aspect) and DPI."""
    plt = _plt()
    figsize, dpi, exact = resolve(size, (4.5, 3.2))
    fig, ax = plt.subplots(figsize=figsize)
    ep = [h["epoch"] for h in history]
    ax.plot(ep, [h["train_loss"] for h in history], label="train", color="tab:blue")
    test = [(h["epoch"], h["test_loss"]) for h in history if h.get("test_loss") is not None]
    if test:
        ax.plot(*zip(*test, strict=False), label="test", color="tab:orange")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (recon + beta KL)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(frameon=False)
    return _save(fig, Path(path), dpi, exact)


def latent_trajectories(
    latents: np.ndarray,
    path: str | Path,
    condition: np.ndarray | None = None,
    title: str = "SPARKS latents",
    size: ImageSize | None = None,
) -> Path:
    """``latents`` [n, d, T]; one line per example, coloured by ``condition`` (e.g. reach direction)."""
    plt = _plt()
    d = latents.shape[1]
    three = d >= 3
    figsize, dpi, exact = resolve(size, (4.8, 4.2))
    fig = plt.figure(figsize=figsize)
    ax = fig.add_subplot(111, projection="3d" if three else None)
    cmap = plt.get_cmap("hsv")
    conds = np.unique(condition) if condition is not None else None
    for k, lat in enumerate(latents):
        if condition is not None:
            colour = cmap(np.searchsorted(conds, condition[k]) / max(len(conds), 1))
        else:
            colour = plt.get_cmap("viridis")(k / max(len(latents) - 1, 1))
        if three:
            ax.plot(lat[0], lat[1], lat[2], color=colour, lw=0.8, alpha=0.8)
        elif d == 2:
            ax.plot(lat[0], lat[1], color=colour, lw=0.8, alpha=0.8)
        else:
            ax.plot(lat[0], color=colour, lw=0.8, alpha=0.8)
    ax.set_title(title)
    ax.set_xlabel("z1")
    ax.set_ylabel("z2" if d >= 2 else "")
    if three:
        ax.set_zlabel("z3")
    return _save(fig, Path(path), dpi, exact)


def decoding(
    true: np.ndarray,
    pred: np.ndarray,
    path: str | Path,
    names: list[str] | None = None,
    r2: float | None = None,
    dt: float | None = None,
    max_examples: int = 16,
    size: ImageSize | None = None,
) -> Path:
    """True vs decoded reference for held-out examples: ``true``/``pred`` [n, T, k]."""
    plt = _plt()
    n, T, k = true.shape
    n = min(n, max_examples)
    figsize, dpi, exact = resolve(size, (8.5, 3.8) if k == 2 else (6, 3.5))
    if k == 2:  # e.g. hand position: paths in the plane plus traces
        fig, axes = plt.subplots(1, 2, figsize=figsize)
        for e in range(n):
            line = axes[0].plot(true[e, :, 0], true[e, :, 1], lw=1.2, alpha=0.9)[0]
            axes[0].plot(pred[e, :, 0], pred[e, :, 1], lw=1.0, ls="--", color=line.get_color())
        axes[0].set_title("paths (solid: true, dashed: decoded)", fontsize=9)
        axes[0].set_aspect("equal", adjustable="datalim")
        axes[0].set_xlabel(names[0] if names else "variable 0")
        axes[0].set_ylabel(names[1] if names else "variable 1")
        ax = axes[1]
    else:
        fig, ax = plt.subplots(figsize=figsize)
    t = np.arange(T) * (dt or 1.0)
    flat_t = np.concatenate([t + i * t[-1] * 1.05 for i in range(min(n, 4))])
    for v in range(min(k, 4)):
        tv = np.concatenate([true[i, :, v] for i in range(min(n, 4))])
        pv = np.concatenate([pred[i, :, v] for i in range(min(n, 4))])
        ax.plot(flat_t, tv, color=f"C{v}", lw=1.2, label=(names[v] if names else f"var {v}") + " true")
        ax.plot(flat_t, pv, color=f"C{v}", lw=1.0, ls="--", label="decoded")
    ax.set_xlabel("time (s, trials concatenated)" if dt else "step")
    ax.legend(frameon=False, fontsize=7, ncol=2)
    ax.set_title("first held-out trials", fontsize=9)
    fig.suptitle("held-out decoding" + (f"  R² = {r2:.3f}" if r2 is not None else ""), y=1.0)
    fig.tight_layout()
    for a in fig.axes:
        a.spines[["top", "right"]].set_visible(False)
    return _save(fig, Path(path), dpi, exact)
