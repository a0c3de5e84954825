"""Spike times -> binned counts, with the checks that catch broken sorter output.

Used by the NWB ``Units`` reader, the Kilosort/phy reader and spike-time lists.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from ..errors import SparksError

MAX_DENSE_BYTES = 4 * 1024**3


def check_spike_times(times: np.ndarray, unit: object, source: str, allow_unsorted: bool = False) -> np.ndarray:
    """Validate one unit's spike times (seconds); returns them as float64 (sorted if allowed)."""
    t = np.asarray(times, dtype=np.float64).ravel()
    if t.size and not np.all(np.isfinite(t)):
        raise SparksError(
            f"{source}: unit {unit} has {int(np.count_nonzero(~np.isfinite(t)))} NaN/infinite spike times.",
            "Remove those spikes (or that unit) in your spike sorter / NWB export and save again.",
        )
    if t.size and t.min() < 0:
        raise SparksError(
            f"{source}: unit {unit} has negative spike times (first: {t.min():.6g} s).",
            "Spike times must be seconds from the session start (>= 0); re-export with the correct time offset.",
        )
    if t.size > 1 and np.any(np.diff(t) < 0):
        if not allow_unsorted:
            raise SparksError(
                f"{source}: spike times of unit {unit} are not sorted in time.",
                "Sort them (np.sort per unit), or pass allow_unsorted=True to let the reader sort them.",
            )
        t = np.sort(t)
    return t


def bin_spike_times(
    spike_times: Sequence[np.ndarray],
    dt: float,
    t_start: float = 0.0,
    t_stop: float | None = None,
    source: str = "spike times",
    unit_ids: Sequence | None = None,
    allow_unsorted: bool = False,
    empty_units: str = "drop",
) -> tuple[np.ndarray, np.ndarray]:
    """Count spikes per ``dt`` bin on ``[t_start, t_stop)``.

    Parameters
    ----------
    spike_times
        One array of spike times (seconds) per unit.
    empty_units
        What to do with units that have no spikes in the window: ``"drop"`` (with a
        warning), ``"keep"`` (all-zero rows) or ``"error"``.

    Returns
    -------
    counts, kept
        ``counts [n_kept, T]`` float32 and the indices of the units kept.
    """
    if not (np.isfinite(dt) and dt > 0):
        raise SparksError(
            f"{source}: bin width dt={dt} is not a positive number of seconds.", "Pass dt in seconds, e.g. 0.01."
        )
    ids = list(range(len(spike_times))) if unit_ids is None else list(unit_ids)
    checked = [check_spike_times(t, ids[i], source, allow_unsorted) for i, t in enumerate(spike_times)]
    if not checked:
        raise SparksError(f"{source}: there are no units.", "Check that the file holds sorted units.")
    if t_stop is None:
        last = max((float(t.max()) for t in checked if t.size), default=t_start)
        t_stop = t_start + (np.floor((last - t_start) / dt + 1e-9) + 1) * dt
    T = int(np.ceil((t_stop - t_start) / dt - 1e-6))
    if T < 1:
        raise SparksError(
            f"{source}: the time window {t_start}..{t_stop} s holds no bins of {dt} s.", "Check dt and the time range."
        )
    counts_per_unit = []
    for t in checked:
        b = np.floor((t - t_start) / dt + 1e-9).astype(np.int64)
        b = b[(b >= 0) & (b < T)]
        counts_per_unit.append(b)
    empty = [i for i, b in enumerate(counts_per_unit) if b.size == 0]
    if empty:
        names = ", ".join(str(ids[i]) for i in empty[:10]) + (" ..." if len(empty) > 10 else "")
        if empty_units == "error" or len(empty) == len(checked):
            raise SparksError(
                f"{source}: {len(empty)} of {len(checked)} units have no spikes in {t_start:g}..{t_stop:g} s (units {names}).",
                "Remove empty units in the sorter, or pass empty_units='drop' to skip them"
                + (
                    " (here every unit is empty: check the time range and units)."
                    if len(empty) == len(checked)
                    else "."
                ),
            )
        if empty_units == "drop":
            warnings.warn(f"{source}: dropped {len(empty)} units with no spikes (units {names}).", stacklevel=3)
    kept = np.array([i for i in range(len(checked)) if empty_units == "keep" or i not in set(empty)], dtype=np.int64)
    if len(kept) * T * 4 > MAX_DENSE_BYTES:
        raise SparksError(
            f"{source}: {len(kept)} units x {T} bins of {dt} s would need {len(kept) * T * 4 / 1e9:.1f} GB.",
            "Use a larger bin width (dt), or select a time range / fewer units.",
        )
    out = np.zeros((len(kept), T), np.float32)
    for row, i in enumerate(kept):
        if counts_per_unit[i].size:
            out[row] = np.bincount(counts_per_unit[i], minlength=T)
    return out, kept


def spike_times_from_counts(counts: np.ndarray, dt: float, t_start: float = 0.0) -> list[np.ndarray]:
    """Inverse of :func:`bin_spike_times` for export: ``c`` spikes at the centre of each bin."""
    out = []
    for row in np.asarray(counts):
        c = np.rint(row).astype(np.int64)
        bins = np.repeat(np.arange(len(row)), np.maximum(c, 0))
        out.append(t_start + (bins + 0.5) * dt)
    return out


def split_by_unit(times: np.ndarray, unit_ids: np.ndarray, source: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """A flat (time, unit id) list -> sorted unique ids and one time array per unit (stable order)."""
    times = np.asarray(times, dtype=np.float64).ravel()
    unit_ids = np.asarray(unit_ids).ravel()
    if times.shape != unit_ids.shape:
        raise SparksError(
            f"{source}: {times.size} spike times but {unit_ids.size} unit ids.",
            "Give one unit id per spike time (same length).",
        )
    ids, inv = np.unique(unit_ids, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    splits = np.cumsum(np.bincount(inv, minlength=len(ids)))[:-1]
    return ids, np.split(times[order], splits)
