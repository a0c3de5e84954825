"""Welch PSD, peak-over-tail and the sequence score (our definition)."""

import numpy as np
import pytest

from sparks_gui.analysis.ordering import order_by_pca_angle
from sparks_gui.analysis.oscillation import (
    ordering_quality,
    phase_signal_psd,
    population_signal,
    sequence_score,
    spectral_peak,
    welch_psd,
)
from sparks_gui.data.synthetic import make_sequence
from sparks_gui.errors import SparksError


def test_white_noise_psd_level_is_two_sigma_squared_dt():
    rng = np.random.default_rng(0)
    dt = 0.01
    f, p = welch_psd(rng.standard_normal(2**15) * 2.0, dt=dt, nperseg=256)
    assert f[1] == pytest.approx(1 / (256 * dt))
    # one-sided density of white noise of variance 4: 2 * 4 * dt
    assert np.median(p[1:-1]) == pytest.approx(2 * 4.0 * dt, rel=0.05)


def test_sinusoid_peak_frequency_and_peak_over_tail():
    rng = np.random.default_rng(1)
    n, T = 256, 2**16
    f0 = 8 / n  # on a frequency bin
    y = np.cos(2 * np.pi * f0 * np.arange(T)) + rng.standard_normal(T)
    f, p = welch_psd(y, nperseg=n)
    peak = spectral_peak(f, p)
    assert peak.frequency == pytest.approx(f0, abs=0.05 / n)  # within 5 % of a bin
    assert spectral_peak(f, p, interpolate=False).frequency == f0
    # Hann window: peak A^2 n / 3, noise 2 sigma^2 -> ratio A^2 n / 6 = 42.7
    assert peak.ratio == pytest.approx(n / 6, rel=0.15)
    assert peak.ratio_db == pytest.approx(10 * np.log10(peak.ratio))
    # band restriction
    assert spectral_peak(f, p, fmin=0.1).frequency >= 0.1


def test_complex_psd_adds_real_and_imaginary_parts():
    rng = np.random.default_rng(2)
    z = rng.standard_normal(4096) + 1j * rng.standard_normal(4096)
    f, p = welch_psd(z, nperseg=128)
    _, pr = welch_psd(z.real, nperseg=128)
    _, pi = welch_psd(z.imag, nperseg=128)
    assert np.allclose(p, pr + pi)
    # a rotating phasor at 0.05 cycles/bin peaks there
    ph = 2 * np.pi * 0.05 * np.arange(4096)
    f, p = phase_signal_psd(ph, nperseg=200)
    assert spectral_peak(f, p).frequency == pytest.approx(0.05, abs=1e-4)


def _wave(N=20, T=4000, period=80.0, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    phase = 2 * np.pi * np.arange(T) / period
    pref = 2 * np.pi * np.arange(N) / N
    x = np.exp(2 * (np.cos(phase[None] - pref[:, None]) - 1)) + noise * rng.standard_normal((N, T))
    return x


def test_population_signal_of_a_clean_wave_rotates_once_per_period():
    x = _wave()
    z = population_signal(x, np.arange(20))
    f, p = welch_psd(z, nperseg=800)
    assert spectral_peak(f, p).frequency == pytest.approx(1 / 80.0)
    assert np.std(np.abs(z)) < 1e-6 * np.mean(np.abs(z))  # a steady bump: constant amplitude


def test_sequence_score_hand_cases():
    x = _wave()
    good = sequence_score(x, np.arange(20))
    assert good["score"] == pytest.approx(1.0, abs=1e-6)  # quarter-period lag -> 90 degrees exactly
    assert good["direction"] == 1.0 and good["lag_bins"] == 20
    rev = sequence_score(x, np.arange(20)[::-1])
    assert rev["score"] == pytest.approx(1.0, abs=1e-6) and rev["direction"] == -1.0
    assert sequence_score(x, np.roll(np.arange(20), 7))["score"] == pytest.approx(1.0, abs=1e-6)
    # random orderings of the same data, scored at the true period, are near 0
    rng = np.random.default_rng(0)
    rand = [sequence_score(_wave(noise=0.3), rng.permutation(20), period_bins=80)["score"] for _ in range(5)]
    assert np.mean(rand) < 0.35
    # a synchronous (standing) oscillation is not a sequence
    T = 4000
    sync = np.tile(1 + np.sin(2 * np.pi * np.arange(T) / 80), (20, 1)) + 0.1 * np.random.default_rng(1).standard_normal(
        (20, T)
    )
    assert sequence_score(sync, np.arange(20), period_bins=80)["score"] < 0.1
    # pure noise
    assert (
        sequence_score(np.random.default_rng(2).standard_normal((20, T)), np.arange(20), period_bins=80)["score"] < 0.1
    )


def test_ordering_quality_ranks_true_order_above_random_on_synthetic_sequence():
    rec = make_sequence(seed=0)
    gt = rec.ground_truth
    rng = np.random.default_rng(0)
    true_q = ordering_quality(rec.activity, gt["order"], dt=rec.dt)
    pca_q = ordering_quality(rec.activity, order_by_pca_angle(rec.activity), dt=rec.dt)
    rand_q = ordering_quality(rec.activity, rng.permutation(rec.n_neurons), dt=rec.dt)
    # measured: PSD-peak period 11.6 s (mean period of the true phase 9.7 s; the log-normal
    # speed fluctuations skew the spectrum), peak/tail 436 vs 17, sequence score 0.74 vs 0.11
    assert 8.0 < true_q["period_s"] < 14.0
    assert true_q["peak_over_tail"] > 10 * rand_q["peak_over_tail"]
    assert true_q["sequence_score"] > 0.5 > 0.3 > rand_q["sequence_score"]
    assert pca_q["sequence_score"] == pytest.approx(true_q["sequence_score"], abs=0.05)
    assert true_q["freqs"].shape == true_q["psd"].shape


def test_oscillation_input_errors():
    with pytest.raises(SparksError):
        welch_psd(np.array([1.0, np.nan, 2.0, 3.0, 4.0]))
    with pytest.raises(SparksError):
        welch_psd(np.ones(100), dt=0)
    with pytest.raises(SparksError, match="neurons"):
        population_signal(np.ones((5, 100)), np.arange(4))
    with pytest.raises(SparksError):
        spectral_peak(np.arange(10.0), np.ones(10), fmin=100)
