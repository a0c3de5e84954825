"""Synthetic recordings with known ground truth, used as built-in samples and in tests.

Each generator is seeded, vectorised (a few tens of milliseconds) and returns a
:class:`~sparks_gui.data.recording.Recording` whose ``ground_truth`` holds the answers
an analysis should recover.

* :func:`make_reach` - centre-out reaching: cosine-tuned Poisson neurons driven by the
  hand velocity of minimum-jerk reaches in 8 directions, 1 ms bins, with the true hand
  position/velocity as behaviour and the direction as trial condition.
* :func:`make_sequence` - a travelling sequence (ring attractor read-out): each neuron
  fires around its preferred phase of a slowly drifting phase variable, so sorting the
  neurons by preferred phase reveals a sequence.  Spikes or calcium (GCaMP-like
  exponential filtering plus noise).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import SparksError
from .recording import Recording


def _min_jerk(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-jerk profile on normalised time ``s`` in [0, 1]: position and d/ds."""
    s = np.clip(s, 0.0, 1.0)
    pos = 10 * s**3 - 15 * s**4 + 6 * s**5
    vel = 30 * s**2 - 60 * s**3 + 30 * s**4
    return pos, vel


def make_reach(
    n_neurons: int = 65,
    n_trials_per_direction: int = 24,
    n_directions: int = 8,
    dt: float = 0.001,
    t_before: float = 0.1,
    t_after: float = 0.5,
    reach_distance: float = 0.1,
    movement_time: float = 0.35,
    baseline_hz: float = 12.0,
    modulation_hz: float = 30.0,
    lead_s: float = 0.05,
    seed: int = 0,
) -> Recording:
    """Centre-out reaching population with known hand kinematics.

    Each trial holds still for ``t_before`` s, then reaches ``reach_distance`` metres
    in one of ``n_directions`` directions along a minimum-jerk path (duration
    ``movement_time`` with +-15% jitter, amplitude +-10%, reaction time +-20 ms) and
    stays at the target until ``t_after`` s after the go cue.  Neuron ``i`` fires as
    an inhomogeneous Poisson process with rate
    ``baseline + modulation * max(0, 1 + cos(theta(t) - pd_i) * |v|/v_max * depth_i + pos-gain)``
    where ``theta`` is the movement direction, leading the kinematics by ``lead_s``.
    Trials are concatenated in a shuffled order.

    Behaviour: ``hand_pos`` (x, y in metres) and ``hand_vel`` (m/s), ``[T, 2]`` each.
    Conditions: ``direction`` (index) and ``direction_deg``.
    Ground truth: ``preferred_direction`` (radians, per neuron), ``depth``.
    """
    if n_neurons < 1 or n_trials_per_direction < 1 or n_directions < 1:
        raise SparksError("make_reach needs at least one neuron, trial and direction.", "Use positive counts.")
    rng = np.random.default_rng(seed)
    L = int(round((t_before + t_after) / dt))
    n_trials = n_trials_per_direction * n_directions
    directions = np.repeat(np.arange(n_directions), n_trials_per_direction)
    rng.shuffle(directions)
    angles = 2 * np.pi * directions / n_directions

    lead = int(round(lead_s / dt))
    t_ext = np.arange(L + lead) * dt  # kinematics computed beyond the trial so rates can lead them
    onset = t_before + rng.uniform(-0.02, 0.02, n_trials)
    duration = movement_time * rng.uniform(0.85, 1.15, n_trials)
    amplitude = reach_distance * rng.uniform(0.9, 1.1, n_trials)
    s = (t_ext[None, :] - onset[:, None]) / duration[:, None]
    p, dp = _min_jerk(s)
    speed = dp * (amplitude / duration)[:, None] * ((s >= 0) & (s <= 1))  # [n_trials, L+lead] m/s
    dist = p * amplitude[:, None]
    ux, uy = np.cos(angles)[:, None], np.sin(angles)[:, None]
    pos = np.stack([dist * ux, dist * uy], axis=-1)  # [trials, L+lead, 2]
    vel = np.stack([speed * ux, speed * uy], axis=-1)

    pd = rng.uniform(0, 2 * np.pi, n_neurons)
    depth = rng.uniform(0.6, 1.0, n_neurons)
    pos_gain = rng.uniform(0.0, 0.5, n_neurons)
    base = baseline_hz * rng.uniform(0.5, 1.5, n_neurons)
    mod = modulation_hz * rng.uniform(0.6, 1.4, n_neurons)
    v_max = float(np.max(np.linalg.norm(vel, axis=-1)))

    # drive uses kinematics ``lead`` bins in the future (neurons lead movement)
    v_lead = vel[:, lead : lead + L]  # [trials, L, 2]
    p_lead = pos[:, lead : lead + L]
    unit_pd = np.stack([np.cos(pd), np.sin(pd)], axis=0)  # [2, N]
    vel_drive = (v_lead @ unit_pd) / v_max * depth  # [trials, L, N]
    pos_drive = (p_lead @ unit_pd) / reach_distance * pos_gain
    rate = base + mod * np.maximum(0.0, vel_drive + pos_drive)  # Hz
    counts = rng.poisson(rate * dt).astype(np.float32)  # [trials, L, N]

    activity = np.ascontiguousarray(counts.reshape(n_trials * L, n_neurons).T)
    hand_pos = pos[:, :L].reshape(n_trials * L, 2).astype(np.float32)
    hand_vel = vel[:, :L].reshape(n_trials * L, 2).astype(np.float32)
    starts = np.arange(n_trials) * L
    return Recording(
        activity=activity,
        dt=dt,
        kind="spikes",
        behaviour={"hand_pos": hand_pos, "hand_vel": hand_vel},
        trials=np.stack([starts, starts + L], axis=1),
        conditions={"direction": directions, "direction_deg": 360.0 * directions / n_directions},
        ground_truth={"preferred_direction": pd, "depth": depth, "lead_s": lead_s, "generator": "make_reach"},
        provenance={"source": "synthetic", "generator": "make_reach", "seed": seed},
        name="synthetic reach",
    )


def make_sequence(
    n_neurons: int = 60,
    duration: float = 300.0,
    dt: float = 0.05,
    period: float = 10.0,
    kind: str = "spikes",
    kappa: float = 4.0,
    peak_hz: float = 8.0,
    baseline_hz: float = 0.3,
    calcium_tau: float = 0.6,
    noise: float = 0.05,
    seed: int = 0,
) -> Recording:
    """A travelling sequence: neurons fire in a fixed cyclic order as a latent phase drifts.

    The phase advances at ``2*pi/period`` rad/s with slow speed fluctuations (an
    Ornstein-Uhlenbeck modulation, never reversing).  Neuron ``i`` has a preferred
    phase and a von Mises tuning curve of concentration ``kappa``; neuron indices are
    randomly permuted so the sequence is hidden in the raw order.

    ``kind="calcium"`` convolves the spikes with an exponential kernel (``calcium_tau``
    s) and adds Gaussian noise of ``noise`` x the trace's standard deviation.

    Ground truth: ``order`` (neuron indices sorted by preferred phase), ``preferred_phase``
    (radians), ``phase`` (``[T]``, radians), ``spikes`` for the calcium version.
    Behaviour: ``phase`` as ``[T, 2]`` (cos, sin), usable as a supervised target.
    """
    if kind not in ("spikes", "calcium"):
        raise SparksError(f"Unknown kind '{kind}' for make_sequence.", "Use 'spikes' or 'calcium'.")
    rng = np.random.default_rng(seed)
    T = int(round(duration / dt))
    if T < 2:
        raise SparksError(f"duration={duration} s at dt={dt} gives fewer than two bins.", "Use a longer duration.")
    # slow, positive speed fluctuations (OU process on log-speed)
    tau_ou = 5.0
    a = np.exp(-dt / tau_ou)
    eps = rng.normal(0, np.sqrt(1 - a * a) * 0.3, T)
    from scipy.signal import lfilter

    log_speed = lfilter([1.0], [1.0, -a], eps)
    omega = 2 * np.pi / period * np.exp(log_speed)
    phase = np.mod(rng.uniform(0, 2 * np.pi) + np.cumsum(omega) * dt, 2 * np.pi)

    pref = np.sort(rng.uniform(0, 2 * np.pi, n_neurons))
    perm = rng.permutation(n_neurons)  # neuron perm[k] gets the k-th phase
    preferred = np.empty(n_neurons)
    preferred[perm] = pref
    gain = rng.uniform(0.6, 1.4, n_neurons)
    tuning = np.exp(kappa * (np.cos(phase[None, :] - preferred[:, None]) - 1.0))  # [N, T]
    rate = baseline_hz + peak_hz * gain[:, None] * tuning
    spikes = rng.poisson(rate * dt).astype(np.float32)
    order = np.argsort(preferred, kind="stable")
    gt = {"order": order, "preferred_phase": preferred, "phase": phase.astype(np.float32), "generator": "make_sequence"}
    activity = spikes
    if kind == "calcium":
        decay = np.exp(-dt / calcium_tau)
        trace = lfilter([1.0], [1.0, -decay], spikes, axis=1)
        sd = trace.std(axis=1, keepdims=True) + 1e-6
        activity = (trace + noise * sd * rng.standard_normal(trace.shape)).astype(np.float32)
        gt["spikes"] = spikes
    return Recording(
        activity=activity,
        dt=dt,
        kind=kind,
        behaviour={"phase": np.stack([np.cos(phase), np.sin(phase)], axis=1).astype(np.float32)},
        ground_truth=gt,
        provenance={"source": "synthetic", "generator": "make_sequence", "seed": seed, "kind": kind},
        name=f"synthetic sequence ({kind})",
    )


SAMPLES: dict[str, tuple[str, Callable[..., Recording]]] = {
    "reach": ("Centre-out reach: 65 cosine-tuned neurons, 8 directions, 1 ms bins", make_reach),
    "sequence": ("Travelling sequence: 60 neurons in a hidden cyclic order (spikes)", make_sequence),
    "sequence_calcium": (
        "Travelling sequence, calcium traces",
        lambda **kw: make_sequence(kind="calcium", **kw),
    ),
}


def make_sample(name: str, **options) -> Recording:
    """Build the built-in sample ``name`` (one of :data:`SAMPLES`)."""
    if name not in SAMPLES:
        raise SparksError(f"Unknown sample '{name}'.", f"Choose one of {sorted(SAMPLES)}.")
    return SAMPLES[name][1](**options)


def _register_more() -> None:
    from .synthetic_network import make_calcium_movie, make_network, make_stimulus_movie

    SAMPLES.update(
        {
            "network": ("E/I network (Hawkes GLM): 40 neurons with known sparse directed connectivity", make_network),
            "stimulus_movie": (
                "Stimulus movie: 50 neurons with receptive fields, 30-frame movie x 20 repeats",
                make_stimulus_movie,
            ),
            "calcium_movie": (
                "Calcium imaging movie: 20 ROI footprints whose traces equal a known activity matrix",
                make_calcium_movie,
            ),
            "multiarea": (
                "Multi-area: 3 coupled areas x 40 neurons with brain_area labels (try objective 'mtm')",
                make_multiarea_sample,
            ),
        }
    )


def make_multiarea_sample(**options) -> Recording:
    """The multi-area sample: 3 areas (area0 -> area1 -> area2) of 40 neurons, 100 trials of 1 s at 10 ms,
    ``neuron_meta["brain_area"]`` per neuron (:func:`~sparks_gui.data.synthetic_multiarea.make_multiarea`)."""
    from .synthetic_multiarea import make_multiarea

    kw = {"n_areas": 3, "neurons_per_area": 40, "n_trials": 100, "trial_length": 100, "dt": 0.01, "seed": 0}
    kw.update(options)
    return make_multiarea(**kw)


_register_more()
