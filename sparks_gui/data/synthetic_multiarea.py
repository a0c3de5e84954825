"""A synthetic multi-area spiking recording with known latent dynamics and directed inter-area coupling.

Ground truth for multi-task masked modelling (MtM): region-level prediction needs areas
whose activity is partly predictable from each other, and multi-session pre-training needs
several recordings of the *same* dynamics through *different* neurons.

Model (one step ``dt``; ``A`` areas, ``d`` latent dimensions per area, ``d`` even)::

    z_a(t+1) = rho R_a z_a(t)                                    own damped rotations
               + sqrt(1 - rho^2) * sum_b C[a, b] M_ab z_b(t - lag)  input from other areas
               + sqrt(1 - rho^2) * noise * eps_a(t)              private innovations
               (+ a condition-dependent pulse into area 0 at each trial's onset)

``R_a`` rotates each 2-D plane of area ``a`` at its own frequency, ``rho = exp(-dt/tau)``,
``M_ab`` is a fixed random rotation and ``C`` ([target, source]) the known coupling (by
default a chain ``area0 -> area1 -> ...``).  Each area's latent is scaled to unit variance.
Neuron ``i`` of area ``a`` fires Poisson spikes at::

    rate_i(t) = base_i * exp(w_i . z_a(t) - |w_i|^2 / 2)          (link="exp", mean ~ base_i)
    rate_i(t) = base_i * softplus(1 + w_i . z_a(t)) / softplus(1)  (link="softplus")

capped at ``max_hz``.  Region labels land in ``Recording.neuron_meta["brain_area"]``, where
the NWB reader puts a units table's ``brain_area`` column and the data dock looks for
neuron groups (:func:`sparks_gui.data.regions.neuron_regions` finds them).

:func:`make_multiarea_sessions` draws several sessions with the same dynamics (same
frequencies, coupling, rotations: ``dynamics_seed``) but different neurons (counts,
loadings, base rates) and different trajectories.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import SparksError
from .recording import Recording

__all__ = ["chain_coupling", "make_multiarea", "make_multiarea_sessions"]


def chain_coupling(n_areas: int, gain: float = 1.0) -> np.ndarray:
    """Coupling ``[target, source]`` of a feed-forward chain ``area0 -> area1 -> ... -> area{A-1}``."""
    C = np.zeros((n_areas, n_areas))
    for a in range(1, n_areas):
        C[a, a - 1] = gain
    return C


def _rotation(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def _random_orthogonal(rng: np.random.Generator, d: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))[None, :]


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _dynamics(n_areas: int, latent_dim: int, dt: float, frequencies_hz: Sequence[float] | None, dynamics_seed: int):
    """The session-independent part: plane frequencies and inter-area rotations."""
    rng = np.random.default_rng([dynamics_seed, 7919])
    if frequencies_hz is None:
        base = np.linspace(1.5, 4.0, n_areas) if n_areas > 1 else np.array([2.0])
        freqs = base * rng.uniform(0.9, 1.1, n_areas)
    else:
        freqs = np.asarray(frequencies_hz, dtype=np.float64).ravel()
        if freqs.size != n_areas or np.any(~np.isfinite(freqs)) or np.any(freqs <= 0):
            raise SparksError(
                f"frequencies_hz needs {n_areas} positive values; got {list(freqs)}.",
                "Give one oscillation frequency (Hz) per area.",
            )
        if np.any(freqs >= 0.5 / dt):
            raise SparksError(
                f"An area frequency is at or above the Nyquist frequency {0.5 / dt:g} Hz.",
                "Use lower frequencies or a smaller dt.",
            )
    n_planes = latent_dim // 2
    plane_freqs = (
        freqs[:, None] * (1.0 + 0.35 * np.arange(n_planes))[None, :] * rng.uniform(0.95, 1.05, (n_areas, n_planes))
    )
    mixing = np.stack([np.stack([_random_orthogonal(rng, latent_dim) for _ in range(n_areas)]) for _ in range(n_areas)])
    return freqs, plane_freqs, mixing


def make_multiarea(
    n_areas: int = 3,
    neurons_per_area: int | Sequence[int] = 40,
    latent_dim: int = 2,
    n_trials: int = 100,
    trial_length: int = 100,
    continuous: bool = False,
    dt: float = 0.01,
    coupling: Any = None,
    lag_s: float = 0.05,
    frequencies_hz: Sequence[float] | None = None,
    tau_s: float = 0.5,
    noise: float = 1.0,
    n_conditions: int = 4,
    pulse: float = 3.0,
    baseline_hz: tuple[float, float] = (2.0, 20.0),
    loading_scale: float = 0.8,
    link: str = "exp",
    max_hz: float = 150.0,
    area_names: Sequence[str] | None = None,
    shuffle_neurons: bool = True,
    dynamics_seed: int = 0,
    seed: int = 0,
    name: str | None = None,
) -> Recording:
    """Several areas with their own oscillatory latent dynamics, coupled with a lag; Poisson spikes.

    Parameters
    ----------
    n_areas
        Number of areas (>= 1).
    neurons_per_area
        Neurons in every area (int) or one count per area.
    latent_dim
        Latent dimensions per area (even: pairs of rotating planes).
    n_trials, trial_length
        The recording is ``n_trials * trial_length`` bins long; with ``continuous=False``
        it is cut into that many trials, each opened by a pulse into area 0 in one of
        ``n_conditions`` directions (the trial's ``condition``).
    continuous
        No trials and no pulses: one stationary stretch.
    dt
        Bin width in seconds.
    coupling
        ``[n_areas, n_areas]`` gains, row = target, column = source (diagonal ignored);
        default :func:`chain_coupling` with gain 1.
    lag_s
        Delay of the inter-area input (seconds, >= one bin).
    frequencies_hz
        Each area's base rotation frequency (default spaced over 1.5-4 Hz).
    tau_s
        Damping time constant of the rotations.
    noise
        Scale of each area's private innovations (relative to the inter-area input).
    pulse
        Size of the trial-onset pulse into area 0.
    baseline_hz
        Range of the neurons' mean rates (drawn log-uniformly).
    loading_scale
        Norm of each neuron's loading vector (depth of rate modulation).
    link
        ``"exp"`` or ``"softplus"``.
    max_hz
        Rate cap.
    area_names
        Labels of the areas (default ``area0, area1, ...``).
    shuffle_neurons
        Interleave the areas' neurons (labels, not order, tell the areas apart).
    dynamics_seed
        Seed of the session-independent dynamics (frequencies, inter-area rotations).
    seed
        Seed of this session: neurons, trajectories, conditions, spikes.

    Returns
    -------
    Recording
        ``neuron_meta["brain_area"]`` per neuron; behaviour ``readout`` (``[T, 2]``, the last
        area's first latent plane); conditions ``condition`` (trials); ground truth
        ``latents`` ``[A, d, T]``, ``coupling``, ``lag_bins``, ``frequencies_hz``,
        ``area_of_neuron``, ``area_names``, ``loadings`` ``[N, d]``, ``baseline_hz``,
        ``rates`` (expected counts per bin ``[N, T]``), ``dynamics_seed``.
    """
    if not isinstance(n_areas, (int, np.integer)) or n_areas < 1:
        raise SparksError(f"n_areas={n_areas} must be a positive integer.", "Use e.g. n_areas=3.")
    counts = (
        np.full(n_areas, neurons_per_area, dtype=np.int64)
        if np.isscalar(neurons_per_area)
        else np.asarray(neurons_per_area, dtype=np.int64).ravel()
    )
    if counts.size != n_areas or np.any(counts < 1):
        raise SparksError(
            f"neurons_per_area must give at least one neuron to each of {n_areas} areas; got {list(counts)}.",
            "Pass one positive count per area, or a single int.",
        )
    if latent_dim < 2 or latent_dim % 2:
        raise SparksError(f"latent_dim={latent_dim} must be an even number >= 2 (rotating planes).", "Use 2 or 4.")
    if n_trials < 1 or trial_length < 2:
        raise SparksError(
            "make_multiarea needs n_trials >= 1 and trial_length >= 2.", "Use e.g. 100 trials of 100 bins."
        )
    if not (np.isfinite(dt) and dt > 0 and np.isfinite(tau_s) and tau_s > 0):
        raise SparksError(f"dt={dt} and tau_s={tau_s} must be positive seconds.", "Use e.g. dt=0.01, tau_s=0.5.")
    if link not in ("exp", "softplus"):
        raise SparksError(f"Unknown link '{link}'.", "Use 'exp' or 'softplus'.")
    lo_hz, hi_hz = float(baseline_hz[0]), float(baseline_hz[1])
    if not (0 < lo_hz <= hi_hz < max_hz):
        raise SparksError(f"baseline_hz={baseline_hz} must be 0 < low <= high < max_hz={max_hz}.", "Use e.g. (2, 20).")
    names = [f"area{a}" for a in range(n_areas)] if area_names is None else [str(n) for n in area_names]
    if len(names) != n_areas or len(set(names)) != n_areas:
        raise SparksError(f"area_names needs {n_areas} distinct names; got {names}.", "Give one unique name per area.")
    C = chain_coupling(n_areas) if coupling is None else np.array(coupling, dtype=np.float64)
    if C.shape != (n_areas, n_areas) or not np.all(np.isfinite(C)):
        raise SparksError(
            f"coupling must be a finite [{n_areas}, {n_areas}] matrix (row = target, column = source); "
            f"got shape {C.shape}.",
            "Give one gain per pair of areas, or None for a chain.",
        )
    np.fill_diagonal(C, 0.0)
    lag = max(1, int(round(lag_s / dt)))

    freqs, plane_freqs, mixing = _dynamics(n_areas, latent_dim, dt, frequencies_hz, dynamics_seed)
    rng = np.random.default_rng([seed, dynamics_seed, 104729])
    d = latent_dim
    D = n_areas * d
    rho = float(np.exp(-dt / tau_s))
    drive = np.sqrt(1.0 - rho**2)
    F = np.zeros((D, D))
    G = np.zeros((D, D))
    for a in range(n_areas):
        for p in range(d // 2):
            i = a * d + 2 * p
            F[i : i + 2, i : i + 2] = rho * _rotation(2 * np.pi * plane_freqs[a, p] * dt)
        for b in range(n_areas):
            if C[a, b] != 0:
                G[a * d : (a + 1) * d, b * d : (b + 1) * d] = drive * C[a, b] * mixing[a, b]

    n_time = n_trials * trial_length
    burn = int(np.ceil(5 * tau_s / dt)) + lag
    total = burn + n_time
    innov = drive * noise * rng.standard_normal((total, D))
    trials = conditions = None
    if not continuous:
        conditions = rng.integers(0, n_conditions, n_trials)
        starts = np.arange(n_trials) * trial_length
        trials = np.stack([starts, starts + trial_length], axis=1)
        onset = burn + starts + min(10, trial_length // 4)
        angle = 2 * np.pi * conditions / n_conditions
        kick = drive * pulse * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # into area 0's first plane
        for k in range(3):  # a short pulse: three bins
            innov[onset + k, 0:2] += kick
    z = np.zeros((total, D))
    for t in range(total - 1):
        nxt = F @ z[t] + innov[t]
        if t >= lag:
            nxt += G @ z[t - lag]
        z[t + 1] = nxt
    z = z[burn:]
    lat = z.reshape(n_time, n_areas, d)
    scale = lat.std(axis=(0, 2), keepdims=True)
    lat = lat / np.where(scale > 0, scale, 1.0)

    area_of = np.repeat(np.arange(n_areas), counts)
    N = int(area_of.size)
    if shuffle_neurons:
        area_of = area_of[rng.permutation(N)]
    w = rng.standard_normal((N, d))
    w *= loading_scale / np.linalg.norm(w, axis=1, keepdims=True)
    base = np.exp(rng.uniform(np.log(lo_hz), np.log(hi_hz), N))
    drive_i = np.einsum("nd,tnd->nt", w, lat[:, area_of, :])  # [N, T]
    if link == "exp":
        rate_hz = base[:, None] * np.exp(drive_i - 0.5 * loading_scale**2)
    else:
        rate_hz = base[:, None] * _softplus(1.0 + drive_i) / _softplus(1.0)
    rate_hz = np.minimum(rate_hz, max_hz)
    expected = rate_hz * dt
    spikes = rng.poisson(expected).astype(np.float32)

    readout = lat[:, -1, :2].astype(np.float32)
    gt = {
        "latents": np.ascontiguousarray(np.transpose(lat, (1, 2, 0))).astype(np.float32),
        "coupling": C,
        "lag_bins": lag,
        "frequencies_hz": freqs,
        "area_of_neuron": area_of,
        "area_names": list(names),
        "loadings": w,
        "baseline_hz": base,
        "rates": expected.astype(np.float32),
        "dynamics_seed": int(dynamics_seed),
        "generator": "make_multiarea",
    }
    cond = {} if conditions is None else {"condition": conditions}
    return Recording(
        activity=spikes,
        dt=dt,
        kind="spikes",
        behaviour={"readout": readout},
        trials=trials,
        conditions=cond,
        neuron_meta={"brain_area": np.asarray(names, dtype=object)[area_of].astype(str)},
        ground_truth=gt,
        provenance={
            "source": "synthetic",
            "generator": "make_multiarea",
            "seed": int(seed),
            "dynamics_seed": int(dynamics_seed),
            "n_areas": int(n_areas),
            "continuous": bool(continuous),
        },
        name=name or f"synthetic multi-area ({n_areas} areas)",
    )


def make_multiarea_sessions(
    n_sessions: int = 4,
    neurons_per_area: tuple[int, int] = (20, 50),
    dynamics_seed: int = 0,
    seed: int = 0,
    **options: Any,
) -> list[Recording]:
    """Several sessions of the same multi-area dynamics recorded through different neurons.

    Every session shares ``dynamics_seed`` (area frequencies, inter-area rotations,
    coupling, lag) and differs in its neurons (count per area drawn uniformly from
    ``neurons_per_area`` = (low, high), loadings, base rates), its latent trajectory and its
    spikes.  Other ``options`` go to :func:`make_multiarea` (e.g. ``n_areas``, ``n_trials``).

    Returns
    -------
    list of Recording
        Named ``multi-area session k``; ``ground_truth["session"] = k``.
    """
    if not isinstance(n_sessions, (int, np.integer)) or n_sessions < 1:
        raise SparksError(f"n_sessions={n_sessions} must be a positive integer.", "Use e.g. 4.")
    lo, hi = (
        (int(neurons_per_area), int(neurons_per_area))
        if np.isscalar(neurons_per_area)
        else (int(neurons_per_area[0]), int(neurons_per_area[1]))
    )
    if not 1 <= lo <= hi:
        raise SparksError(
            f"neurons_per_area={neurons_per_area} must be (low, high) with 1 <= low <= high.", "Use e.g. (20, 50)."
        )
    n_areas = int(options.get("n_areas", 3))
    rng = np.random.default_rng([seed, dynamics_seed, 15485863])
    out = []
    for k in range(n_sessions):
        counts = rng.integers(lo, hi + 1, n_areas)
        rec = make_multiarea(
            neurons_per_area=counts,
            dynamics_seed=dynamics_seed,
            seed=int(rng.integers(2**31)),
            name=f"multi-area session {k}",
            **options,
        )
        rec.ground_truth["session"] = k
        rec.provenance["session"] = k
        out.append(rec)
    return out
