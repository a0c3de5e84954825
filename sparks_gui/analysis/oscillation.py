"""Sequence and oscillation quality of a neuron ordering.

The *population signal of an ordering* (:func:`population_signal`) is the first Fourier
mode of the sorted raster along the neuron axis::

    z(t) = (1/N) sum_k  x~_{order[k]}(t) * exp(2 pi i k / N)

with ``x~`` the z-scored activity.  When the ordering follows a travelling sequence,
the activity bump moves along the sorted rows and ``z(t)`` rotates once per cycle of
the sequence, so its power spectrum (:func:`welch_psd`) has a sharp peak at the
sequence frequency; for a random ordering ``z`` is noise with a flat spectrum.  A
synchronous (standing) oscillation of all neurons cancels in ``z``.

Measures
--------
* :func:`spectral_peak` - peak frequency, power and the peak-over-tail ratio (peak power
  divided by the median power at frequencies above ``tail_factor`` x the peak frequency).
* :func:`sequence_score` - **our own definition** (the SPARKS preprint does not publish
  its formula), called "sequence score (sparks-gui)" in reports::

      S = | Im sum_t z(t + tau) conj(z(t)) | / sum_t |z(t + tau)| |z(t)|,   tau = P / 4

  with ``P`` the period (bins) of the sequence.  It is the consistency with which the
  sorted activity advances a quarter cycle in one direction: 1 for a clean travelling
  sequence (any start, either direction), ~0 for a random ordering, for noise, or for a
  synchronous oscillation.  Its sign (``direction``) says whether activity travels
  towards increasing (+1) or decreasing (-1) positions of the ordering.
* :func:`ordering_quality` - all of the above for one ordering, as a dict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.signal import welch

from ..errors import SparksError
from ._common import as_activity, check_finite

__all__ = [
    "welch_psd",
    "population_signal",
    "phase_signal_psd",
    "SpectralPeak",
    "spectral_peak",
    "sequence_score",
    "ordering_quality",
]


def _default_nperseg(T: int) -> int:
    if T < 16:
        return T
    return int(min(T, 2 ** int(np.floor(np.log2(max(T / 4, 16))))))


def welch_psd(signal: np.ndarray, dt: float = 1.0, nperseg: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density (Hann window, 50 % overlap, mean removed).

    Parameters
    ----------
    signal
        ``[T]`` real or complex signal, or ``[k, T]`` (one PSD per row).  For a complex
        signal the PSDs of the real and imaginary parts are added (the power of
        ``|z|^2`` split by frequency, regardless of the direction of rotation).
    dt
        Sample step in seconds; frequencies are in Hz (cycles per bin when ``dt = 1``).
    nperseg
        Segment length; default the largest power of two <= T/4 (at least 16, at most T).

    Returns
    -------
    freqs, psd
        ``[F]`` frequencies and ``[F]`` (or ``[k, F]``) one-sided power spectral density
        in units^2 / Hz.
    """
    y = np.asarray(signal)
    if y.ndim not in (1, 2) or y.shape[-1] < 4:
        raise SparksError(f"Expected a signal [T] or [k, T] with T >= 4; got shape {y.shape}.", "Pass a longer signal.")
    if not np.all(np.isfinite(y)):
        raise SparksError("The signal contains NaN or infinite values.", "Remove or interpolate them first.")
    if not (np.isfinite(dt) and dt > 0):
        raise SparksError(f"dt={dt} is not a positive number of seconds.", "Pass the bin width in seconds.")
    T = y.shape[-1]
    n = _default_nperseg(T) if nperseg is None else int(min(max(nperseg, 4), T))
    kw = dict(fs=1.0 / dt, nperseg=n, noverlap=n // 2, window="hann", detrend="constant", scaling="density", axis=-1)
    if np.iscomplexobj(y):
        f, p_re = welch(y.real, **kw)
        _, p_im = welch(y.imag, **kw)
        return f, p_re + p_im
    return welch(y.astype(np.float64), **kw)


def population_signal(activity: Any, order: Any, zscore: bool = True) -> np.ndarray:
    """First Fourier mode of the sorted raster along the neuron axis (complex ``[T]``).

    Parameters
    ----------
    activity
        ``[N, T]`` activity.
    order
        Ordering (permutation or :class:`~sparks_gui.analysis.ordering.Ordering`).
    zscore
        Z-score each neuron first (default), so every neuron weighs the same.

    Returns
    -------
    numpy.ndarray
        ``z(t) = mean_k x~_{order[k]}(t) exp(2 pi i k / N)``.
    """
    from .ordering import _as_order

    x = as_activity(activity)
    o = _as_order(order)
    if len(o) != x.shape[0]:
        raise SparksError(
            f"The ordering has {len(o)} neurons but the activity has {x.shape[0]}.",
            "Compute the ordering on the same neurons.",
        )
    x = x - x.mean(axis=1, keepdims=True)
    if zscore:
        sd = x.std(axis=1, keepdims=True)
        x = np.divide(x, sd, out=np.zeros_like(x), where=sd > 0)
    N = len(o)
    weights = np.exp(2j * np.pi * np.arange(N) / N)
    return (weights @ x[o]) / N


def phase_signal_psd(phase: np.ndarray, dt: float = 1.0, nperseg: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD of a phase signal, taken as the unit phasor ``exp(i phase)``.

    Parameters
    ----------
    phase
        ``[T]`` phase in radians (e.g. from :func:`~sparks_gui.analysis.ordering.ring_phase`).
    dt, nperseg
        As in :func:`welch_psd`.

    Returns
    -------
    freqs, psd
    """
    ph = np.asarray(phase, dtype=np.float64).reshape(-1)
    check_finite(ph, "phase")
    return welch_psd(np.exp(1j * ph), dt=dt, nperseg=nperseg)


@dataclass
class SpectralPeak:
    """The largest peak of a spectrum and how far it stands above the tail.

    Attributes
    ----------
    frequency
        Peak frequency (Hz, or cycles per bin when ``dt = 1``), interpolated between bins.
    power
        PSD at the peak.
    tail
        Median PSD at frequencies >= ``tail_factor`` x the peak frequency.
    ratio
        ``power / tail`` (NaN when there is no tail).
    """

    frequency: float
    power: float
    tail: float
    ratio: float

    @property
    def ratio_db(self) -> float:
        """``10 log10(ratio)``."""
        return float(10 * np.log10(self.ratio)) if self.ratio > 0 else float("nan")

    @property
    def period(self) -> float:
        """``1 / frequency``."""
        return float(1.0 / self.frequency) if self.frequency > 0 else float("inf")


def spectral_peak(
    freqs: np.ndarray,
    psd: np.ndarray,
    fmin: float | None = None,
    fmax: float | None = None,
    tail_factor: float = 4.0,
    interpolate: bool = True,
) -> SpectralPeak:
    """Largest PSD peak in ``[fmin, fmax]`` (DC excluded) and its height over the tail.

    Parameters
    ----------
    freqs, psd
        From :func:`welch_psd` (1-D).
    fmin, fmax
        Search band for the peak; default all positive frequencies.
    tail_factor
        The tail is every frequency >= ``tail_factor * f_peak``; its median PSD is the
        reference level.  For white noise plus a sinusoid of amplitude ``A`` the ratio is
        about ``A^2 nperseg / (6 sigma^2)`` (Hann window).
    interpolate
        Refine the peak frequency between bins with a parabola through the log PSD of the
        peak bin and its two neighbours (the reported power stays the bin's value).

    Returns
    -------
    SpectralPeak
    """
    f = np.asarray(freqs, dtype=np.float64)
    p = np.asarray(psd, dtype=np.float64)
    if f.ndim != 1 or p.shape != f.shape:
        raise SparksError(f"freqs {f.shape} and psd {p.shape} must be 1-D of the same length.", "Pass one spectrum.")
    band = f > 0
    if fmin is not None:
        band &= f >= fmin
    if fmax is not None:
        band &= f <= fmax
    if not band.any():
        raise SparksError("No frequency falls inside the requested band.", "Widen fmin/fmax or use a longer signal.")
    idx = np.flatnonzero(band)
    k = idx[int(np.argmax(p[idx]))]
    f_peak = float(f[k])
    if interpolate and 0 < k < len(f) - 1 and np.all(p[k - 1 : k + 2] > 0):
        a, b, c = np.log(p[k - 1 : k + 2])
        denom = a - 2 * b + c
        if denom < 0:
            f_peak = float(f[k] + np.clip(0.5 * (a - c) / denom, -0.5, 0.5) * (f[k + 1] - f[k]))
    tail_mask = f >= tail_factor * f_peak
    tail = float(np.median(p[tail_mask])) if tail_mask.any() else float("nan")
    ratio = float(p[k] / tail) if tail_mask.any() and tail > 0 else float("nan")
    return SpectralPeak(f_peak, float(p[k]), tail, ratio)


def _sequence_stat(z: np.ndarray, tau: int) -> tuple[float, float]:
    a, b = z[:-tau], z[tau:]
    num = np.sum(b * np.conj(a))
    den = np.sum(np.abs(a) * np.abs(b))
    if den <= 0:
        return 0.0, 0.0
    s = float(num.imag / den)
    return abs(s), float(np.sign(s))


def sequence_score(
    activity: Any, order: Any, period_bins: float | None = None, zscore: bool = True
) -> dict[str, float]:
    """Sequence score (sparks-gui definition): directed quarter-cycle advance of the sorted activity.

    ``S = |Im sum_t z(t+tau) conj(z(t))| / sum_t |z(t+tau)| |z(t)|`` with ``z`` the
    :func:`population_signal` of the ordering and ``tau = round(period_bins / 4)``.
    For activity that travels along the ordering at a steady speed, the phase of ``z``
    advances by 90 degrees per ``tau`` and ``S = 1``; a random ordering, noise, or a
    synchronous oscillation give ``S ~ 0``.  This is our definition, not the preprint's.

    Parameters
    ----------
    activity
        ``[N, T]`` activity.
    order
        The ordering to score.
    period_bins
        Period of the sequence in bins.  Default: the peak of the Welch PSD of ``z``.
        When comparing orderings of one recording, pass the same period to all (e.g.
        from the SPARKS latent phase) so they are scored at the same lag.
    zscore
        Z-score neurons in :func:`population_signal`.

    Returns
    -------
    dict
        ``score`` (in [0, 1]), ``direction`` (+1: activity travels towards later rows of
        the ordering, -1: earlier), ``period_bins`` and ``lag_bins`` used.
    """
    z = population_signal(activity, order, zscore=zscore)
    T = len(z)
    if period_bins is None:
        f, p = welch_psd(z, dt=1.0)
        period_bins = spectral_peak(f, p).period
    if not (np.isfinite(period_bins) and period_bins > 0):
        raise SparksError(f"period_bins={period_bins} is not a positive number.", "Pass the sequence period in bins.")
    tau = int(np.clip(round(period_bins / 4), 1, T - 2))
    s, direction = _sequence_stat(z, tau)
    return {"score": s, "direction": direction, "period_bins": float(period_bins), "lag_bins": float(tau)}


def ordering_quality(
    activity: Any,
    order: Any,
    dt: float = 1.0,
    period_bins: float | None = None,
    fmin: float | None = None,
    fmax: float | None = None,
    tail_factor: float = 4.0,
    nperseg: int | None = None,
) -> dict[str, Any]:
    """Spectral peak and sequence score of one ordering (what the report and figure use).

    Parameters
    ----------
    activity
        ``[N, T]`` activity.
    order
        The ordering.
    dt
        Bin width in seconds (frequencies in Hz).
    period_bins
        Passed to :func:`sequence_score`; default the PSD peak of this ordering.
    fmin, fmax, tail_factor
        Passed to :func:`spectral_peak` (Hz).
    nperseg
        Passed to :func:`welch_psd`.

    Returns
    -------
    dict
        ``peak_frequency_hz``, ``peak_power``, ``peak_over_tail``, ``sequence_score``,
        ``direction``, ``period_s``, and ``freqs``/``psd`` arrays for plotting.
    """
    z = population_signal(activity, order)
    f, p = welch_psd(z, dt=dt, nperseg=nperseg)
    peak = spectral_peak(f, p, fmin=fmin, fmax=fmax, tail_factor=tail_factor)
    if period_bins is None:
        period_bins = peak.period / dt
    seq = sequence_score(activity, order, period_bins=period_bins)
    return {
        "peak_frequency_hz": peak.frequency,
        "peak_power": peak.power,
        "peak_over_tail": peak.ratio,
        "sequence_score": seq["score"],
        "direction": seq["direction"],
        "period_s": seq["period_bins"] * dt,
        "freqs": f,
        "psd": p,
    }
