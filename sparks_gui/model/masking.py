"""Multi-task masking (MtM, Zhang et al. 2024): what the encoder may not see, and what the loss scores.

Four schemes hide part of a batch ``x`` [B, N, T] (neurons x time, as everywhere in
``model/``):

``"neuron"``
    A random ``ratio`` of the neurons, all time steps (co-smoothing; NDT-style masking).
``"causal"``
    The last ``ratio`` of the time steps, all neurons (forward prediction).
``"intra_region"``
    A random ``ratio`` of the neurons of one randomly chosen region; the region's other
    neurons (and the other regions) stay visible.
``"inter_region"``
    Every neuron of one randomly chosen region, predicted from the other regions.

Each sample of the batch draws its own neurons / region; :func:`mask_batch` applies one scheme
to the whole batch, :func:`mask_mixed` draws a scheme per sample (MtM's multi-task mix: every
batch trains every task).  Hidden entries are set to 0
(silent) in ``masked_input``; ``mask`` (bool, [B, N, T]) is True exactly on those entries,
the ones the reconstruction loss is computed on.  ``masked_input`` is built with
``torch.where(mask, 0, x)``, so it does not depend on the values at masked entries at all.

Region labels come one per neuron (``Recording.neuron_meta["brain_area"]`` and friends;
see :func:`sparks_gui.data.regions.neuron_regions`).  Without labels the region schemes are
unavailable: :func:`draw_scheme` skips them and :func:`mask_batch` refuses them by name.
``"inter_region"`` further needs two regions (something must stay visible).

:class:`TaskToken` is a learned embedding per scheme that tells the encoder which task it
is solving (MtM's prompt token).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import SparksError

__all__ = [
    "REGION_SCHEMES",
    "SCHEMES",
    "TaskToken",
    "available_schemes",
    "draw_scheme",
    "mask_batch",
    "mask_entries",
    "mask_mixed",
    "masked_loss",
    "region_codes",
]

SCHEMES: tuple[str, ...] = ("neuron", "causal", "intra_region", "inter_region")
REGION_SCHEMES: tuple[str, ...] = ("intra_region", "inter_region")


# --------------------------------------------------------------------------- regions
def region_codes(regions: Any, n_neurons: int) -> tuple[torch.Tensor, list[str]] | None:
    """Region labels (one per neuron) -> (integer code per neuron [N], names); None for no labels.

    Labels may be strings or integers (numpy array, list or tensor); they are compared as
    strings and numbered in sorted order.
    """
    if regions is None:
        return None
    if isinstance(regions, torch.Tensor):
        regions = regions.detach().cpu().numpy()
    labels = np.asarray(regions).astype(str).ravel()
    if labels.size != n_neurons:
        raise SparksError(
            f"{labels.size} region labels for {n_neurons} neurons.",
            "Give one region label per neuron (e.g. Recording.neuron_meta['brain_area']).",
        )
    names, codes = np.unique(labels, return_inverse=True)
    return torch.as_tensor(codes, dtype=torch.long), [str(n) for n in names]


def available_schemes(
    regions: Any = None, schemes: Sequence[str] = SCHEMES, n_neurons: int | None = None
) -> tuple[str, ...]:
    """The schemes of ``schemes`` that can run with these region labels.

    Region schemes need labels; ``"inter_region"`` needs at least two regions.
    """
    _check_schemes(schemes)
    n_regions = 0
    if regions is not None:
        labels = regions.detach().cpu().numpy() if isinstance(regions, torch.Tensor) else np.asarray(regions)
        if n_neurons is not None and labels.size != n_neurons:
            raise SparksError(
                f"{labels.size} region labels for {n_neurons} neurons.", "Give one region label per neuron."
            )
        n_regions = np.unique(labels.astype(str)).size
    out = []
    for s in schemes:
        if s == "intra_region" and n_regions < 1:
            continue
        if s == "inter_region" and n_regions < 2:
            continue
        out.append(s)
    return tuple(out)


def _check_schemes(schemes: Sequence[str]) -> None:
    if isinstance(schemes, str):
        schemes = (schemes,)
    bad = [s for s in schemes if s not in SCHEMES]
    if bad or len(schemes) == 0:
        raise SparksError(f"Unknown masking scheme(s) {bad or list(schemes)}.", f"Use some of {list(SCHEMES)}.")


def _runnable_schemes(regions: Any, schemes: Sequence[str], n_neurons: int | None = None) -> tuple[str, ...]:
    """:func:`available_schemes`, refusing with the fix when none can run."""
    avail = available_schemes(regions, schemes, n_neurons)
    if not avail:
        raise SparksError(
            f"None of the masking schemes {list(schemes)} can run without region labels.",
            "Add 'neuron' or 'causal', or give the neurons region labels (brain_area).",
        )
    return avail


def draw_scheme(regions: Any = None, generator: torch.Generator | None = None, schemes: Sequence[str] = SCHEMES) -> str:
    """Draw one scheme uniformly among those available (region schemes only with labels)."""
    avail = _runnable_schemes(regions, schemes)
    i = int(torch.randint(len(avail), (1,), generator=generator, device=_gen_device(generator)).item())
    return avail[i]


# --------------------------------------------------------------------------- masks
def _gen_device(generator: torch.Generator | None) -> torch.device:
    return generator.device if generator is not None else torch.device("cpu")


def _check_ratio(ratio: float) -> float:
    r = float(ratio)
    if not (0.0 < r < 1.0):
        raise SparksError(f"Mask ratio {ratio} must lie strictly between 0 and 1.", "Use e.g. 0.3.")
    return r


def _sample_ratios(ratio: Any, B: int, generator: torch.Generator | None) -> torch.Tensor:
    """One mask ratio per sample [B]: ``ratio`` itself, or uniform in ``ratio = (low, high)``."""
    dev = _gen_device(generator)
    if isinstance(ratio, (tuple, list)):
        if len(ratio) != 2:
            raise SparksError(f"A mask-ratio range needs (low, high); got {ratio}.", "Use e.g. (0.1, 0.5).")
        lo, hi = (_check_ratio(r) for r in ratio)
        if lo > hi:
            raise SparksError(f"Mask-ratio range {ratio} has low > high.", "Use e.g. (0.1, 0.5).")
        return lo + (hi - lo) * torch.rand(B, generator=generator, device=dev, dtype=torch.float64)
    return torch.full((B,), _check_ratio(ratio), device=dev, dtype=torch.float64)


def _n_hidden_each(r: torch.Tensor, n: torch.Tensor | int) -> torch.Tensor:
    """Entries to hide per sample: round(r * n), at least 1 and, when n >= 2, at most n - 1 (keep something visible)."""
    n = torch.as_tensor(n, device=r.device)
    k = torch.clamp(torch.round(r * n.double()).long(), min=1)
    return torch.where(n >= 2, torch.minimum(k, torch.clamp(n - 1, min=1)), torch.ones_like(k))


def _check_x(x: Any) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise SparksError(
            f"The batch must be a torch tensor [B, N, T]; got {type(x).__name__}.", "Pass torch.as_tensor(x)."
        )
    if x.ndim != 3 or min(x.shape) == 0:
        raise SparksError(
            f"The batch must be [B, N, T] with no empty axis; got shape {tuple(x.shape)}.",
            "Pass trials/segments as batch x neurons x time.",
        )
    return x


def mask_batch(
    x: torch.Tensor,
    scheme: str | None = None,
    regions: Any = None,
    ratio: float | tuple[float, float] = 0.3,
    generator: torch.Generator | None = None,
    schemes: Sequence[str] = SCHEMES,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide part of ``x`` [B, N, T] by one MtM scheme.

    Parameters
    ----------
    x
        Activity batch [B, N, T].
    scheme
        One of :data:`SCHEMES`, or ``None`` / ``"random"`` to draw one with
        :func:`draw_scheme` (among ``schemes``; call :func:`draw_scheme` yourself with the
        same generator when you need to know which).
    regions
        One region label per neuron, or None (region schemes unavailable).
    ratio
        Fraction of neurons (``"neuron"``), of time steps (``"causal"``) or of the chosen
        region's neurons (``"intra_region"``) to hide; ignored by ``"inter_region"``.
        Rounded, at least one entry and never everything.  A ``(low, high)`` pair draws
        one ratio per sample uniformly in that range (MtM's random mask ratio).
    generator
        Seeded ``torch.Generator`` for reproducible masks (its device is used for the draws).

    Returns
    -------
    (masked_input, mask)
        ``masked_input`` = ``x`` with hidden entries set to 0; ``mask`` bool [B, N, T], True on
        hidden entries (where the loss is computed).
    """
    x = _check_x(x)
    B, N, T = x.shape
    if scheme is None or scheme == "random":
        scheme = draw_scheme(regions, generator, schemes)
    _check_schemes((scheme,))
    dev = _gen_device(generator)
    r = _sample_ratios(ratio, B, generator)  # [B], on the generator's device
    if scheme == "neuron":
        k = _n_hidden_each(r, N)
        scores = torch.rand(B, N, generator=generator, device=dev)
        rank = scores.argsort(dim=1).argsort(dim=1)
        hidden = (rank < k[:, None]).to(x.device)  # [B, N]
        mask = hidden[:, :, None].expand(B, N, T)
    elif scheme == "causal":
        k = _n_hidden_each(r, T).to(x.device)
        steps = torch.arange(T, device=x.device)[None, :] >= T - k[:, None]  # [B, T]
        mask = steps[:, None, :].expand(B, N, T)
    else:
        coded = region_codes(regions, N)
        if coded is None:
            raise SparksError(
                f"Masking scheme '{scheme}' needs a region label per neuron and none were given.",
                "Give regions (e.g. Recording.neuron_meta['brain_area']) or use 'neuron'/'causal'.",
            )
        codes, names = coded
        R = len(names)
        if scheme == "inter_region" and R < 2:
            raise SparksError(
                f"Masking scheme 'inter_region' needs at least two regions; the neurons have {R} ({names}).",
                "Use 'intra_region', 'neuron' or 'causal' for single-region recordings.",
            )
        codes = codes.to(dev)
        region = torch.randint(R, (B,), generator=generator, device=dev)  # one region per sample
        member = codes[None, :] == region[:, None]  # [B, N]
        if scheme == "inter_region":
            hidden = member
        else:
            k = _n_hidden_each(r, member.sum(dim=1))  # of the chosen region's neurons
            scores = torch.rand(B, N, generator=generator, device=dev).masked_fill(~member, float("inf"))
            rank = scores.argsort(dim=1).argsort(dim=1)
            hidden = member & (rank < k[:, None])
        mask = hidden.to(x.device)[:, :, None].expand(B, N, T)
    mask = mask.contiguous()
    return torch.where(mask, torch.zeros((), dtype=x.dtype, device=x.device), x), mask


def mask_mixed(
    x: torch.Tensor,
    schemes: Sequence[str] = SCHEMES,
    regions: Any = None,
    ratio: float | tuple[float, float] = 0.3,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Hide part of ``x`` [B, N, T] with a scheme drawn per sample (MtM's multi-task mix).

    Each sample draws one of the available ``schemes`` uniformly (region schemes only with
    labels, see :func:`available_schemes`), so every batch trains every task.  ``ratio`` is a
    fraction or a ``(low, high)`` range drawn per sample (see :func:`mask_batch`).

    Returns ``(masked_input, mask, names)``: as :func:`mask_batch`, plus the scheme of each
    sample (a list of B names, what :class:`TaskToken` takes).
    """
    x = _check_x(x)
    B = x.shape[0]
    avail = _runnable_schemes(regions, schemes, x.shape[1])
    pick = torch.randint(len(avail), (B,), generator=generator, device=_gen_device(generator)).to(x.device)
    mask = torch.zeros(x.shape, dtype=torch.bool, device=x.device)
    for i, s in enumerate(avail):
        rows = pick == i
        _, m = mask_batch(x, s, regions, ratio, generator)  # drawn for the whole batch, kept on its rows
        mask[rows] = m[rows]
    names = [avail[i] for i in pick.tolist()]
    return torch.where(mask, torch.zeros((), dtype=x.dtype, device=x.device), x), mask, names


def mask_entries(x: torch.Tensor, neurons: Any = None, steps: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic masking for evaluation: hide the given neurons (all steps) and/or steps (all neurons).

    ``mask_entries(x, neurons=heldout)`` is co-smoothing's input; ``steps=range(T - k, T)``
    forward prediction's.  Returns ``(masked_input, mask)`` like :func:`mask_batch`.
    """
    x = _check_x(x)
    B, N, T = x.shape
    hidden = torch.zeros(N, T, dtype=torch.bool, device=x.device)
    if neurons is None and steps is None:
        raise SparksError("Nothing to mask: give neurons and/or steps.", "Pass the held-out neuron indices.")
    for sel, n, axis in ((neurons, N, 0), (steps, T, 1)):
        if sel is None:
            continue
        idx = torch.as_tensor(np.asarray(sel), device=x.device)
        if idx.dtype == torch.bool:
            if idx.numel() != n:
                raise SparksError(
                    f"The {'neuron' if axis == 0 else 'step'} mask has {idx.numel()} entries for {n}.",
                    "Give one entry per neuron/step.",
                )
            idx = idx.nonzero().ravel()
        idx = idx.long().ravel()
        if idx.numel() and (idx.min() < 0 or idx.max() >= n):
            raise SparksError(f"{'Neuron' if axis == 0 else 'Step'} index out of range 0..{n - 1}.", "Fix the indices.")
        if axis == 0:
            hidden[idx, :] = True
        else:
            hidden[:, idx] = True
    mask = hidden[None].expand(B, N, T).contiguous()
    return torch.where(mask, torch.zeros((), dtype=x.dtype, device=x.device), x), mask


# --------------------------------------------------------------------------- loss
def masked_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, likelihood: str = "poisson", log_rate: bool = True
) -> torch.Tensor:
    """Mean reconstruction loss over the masked entries only.

    ``likelihood="poisson"`` (spikes): ``pred`` is the log-rate (``log_rate=True``) or the rate;
    the loss is the Poisson negative log-likelihood without the ``log y!`` constant.
    ``likelihood="gaussian"`` (calcium): squared error (Gaussian NLL with unit variance, halved).
    Returns 0 (with a gradient path) when nothing is masked.
    """
    if pred.shape != target.shape or mask.shape != target.shape:
        raise SparksError(
            f"pred {tuple(pred.shape)}, target {tuple(target.shape)} and mask {tuple(mask.shape)} differ.",
            "Predict every entry of the batch and pass the mask of mask_batch.",
        )
    if likelihood == "poisson":
        per = torch.exp(pred) - target * pred if log_rate else pred - target * torch.log(pred.clamp_min(1e-09))
    elif likelihood == "gaussian":
        per = 0.5 * (pred - target) ** 2
    else:
        raise SparksError(f"Unknown likelihood '{likelihood}'.", "Use 'poisson' (spikes) or 'gaussian' (calcium).")
    m = mask.to(per.dtype)
    return (per * m).sum() / m.sum().clamp_min(1.0)


# --------------------------------------------------------------------------- task token
class TaskToken(nn.Module):
    """A learned vector per masking scheme, telling the encoder which task it solves.

    ``TaskToken(dim)(scheme, batch_size)`` -> [B, dim]; ``scheme`` is a name, a list of
    names (one per sample) or a tensor of scheme indices.
    """

    def __init__(self, dim: int, schemes: Sequence[str] = SCHEMES):
        super().__init__()
        _check_schemes(schemes)
        self.schemes = tuple(schemes)
        self.embedding = nn.Embedding(len(self.schemes), int(dim))
        nn.init.normal_(self.embedding.weight, std=0.02)

    def index(self, scheme: str) -> int:
        """Row of ``scheme`` in the embedding."""
        if scheme not in self.schemes:
            raise SparksError(f"Masking scheme '{scheme}' has no task token.", f"Use one of {list(self.schemes)}.")
        return self.schemes.index(scheme)

    def forward(self, scheme: str | Sequence[str] | torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        dev = self.embedding.weight.device
        if isinstance(scheme, torch.Tensor):
            idx = scheme.to(dev).long().ravel()
        elif isinstance(scheme, str):
            idx = torch.full((batch_size or 1,), self.index(scheme), dtype=torch.long, device=dev)
        else:
            idx = torch.as_tensor([self.index(s) for s in scheme], dtype=torch.long, device=dev)
        return self.embedding(idx)
