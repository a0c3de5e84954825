"""More synthetic ground truth: a connected network, a stimulus-movie population, a calcium movie.

* :func:`make_network` - a discrete-time Hawkes / Poisson-GLM network with a known sparse,
  directed excitatory/inhibitory connectivity (for attention-vs-connectivity checks).
* :func:`make_stimulus_movie` - neurons with random receptive fields watching a small
  synthetic movie, repeated in trials (frame decoding and reconstruction).
* :func:`make_calcium_movie` - an imaging movie built from disjoint binary ROI footprints
  so that each ROI's mean trace equals a known activity matrix.

Each returns a :class:`Recording` that :func:`sparks_gui.data.nwb.write_nwb` can store.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.signal import lfilter

from ..errors import SparksError
from .recording import Recording
from .rois import RoiMasks


def make_network(
    n_neurons: int = 40,
    duration: float = 60.0,
    dt: float = 0.005,
    p_connect: float = 0.1,
    frac_inhibitory: float = 0.2,
    w_exc: float = 0.6,
    w_inh: float = -1.5,
    tau: float = 0.02,
    baseline_hz: float = 8.0,
    max_hz: float = 200.0,
    seed: int = 0,
) -> Recording:
    """Poisson-GLM (Hawkes) network with sparse directed E/I coupling.

    ``rate_i(t) = baseline_i * exp(sum_j W[i, j] * h_j(t))``, where ``h_j`` is neuron
    ``j``'s past spikes filtered by an exponential of time constant ``tau``.  Neurons of
    the first ``(1 - frac_inhibitory)`` fraction (before shuffling) are excitatory
    (outgoing weights > 0), the rest inhibitory (< 0).

    Ground truth: ``connectivity`` ``[N, N]`` (row = post, column = pre),
    ``adjacency`` (bool), ``excitatory`` (bool per neuron).  Behaviour:
    ``population_rate`` (``[T, 1]`` expected spikes per bin, summed over neurons).
    """
    if n_neurons < 2:
        raise SparksError("make_network needs at least two neurons.", "Use n_neurons >= 2.")
    rng = np.random.default_rng(seed)
    T = int(round(duration / dt))
    exc = rng.permutation(np.arange(n_neurons) < int(round(n_neurons * (1 - frac_inhibitory))))
    adj = rng.random((n_neurons, n_neurons)) < p_connect
    np.fill_diagonal(adj, False)
    mag = rng.uniform(0.5, 1.0, (n_neurons, n_neurons))
    W = np.where(adj, mag * np.where(exc[None, :], w_exc, w_inh), 0.0)
    base = baseline_hz * rng.uniform(0.5, 1.5, n_neurons) * dt
    decay = np.exp(-dt / tau)
    h = np.zeros(n_neurons)
    counts = np.zeros((T, n_neurons), np.float32)
    expected = np.zeros(T, np.float32)
    cap = max_hz * dt
    u = rng.random((T, n_neurons))  # pre-drawn uniforms -> Poisson by inversion for small rates
    for t in range(T):
        lam = np.minimum(base * np.exp(W @ h), cap)
        expected[t] = lam.sum()
        # Poisson sample via the CDF (rates are << 1 per bin here)
        p0 = np.exp(-lam)
        c = (u[t] > p0).astype(np.float32)
        second = u[t] > p0 * (1 + lam)
        c += second
        counts[t] = c
        h = h * decay + c
    return Recording(
        activity=np.ascontiguousarray(counts.T),
        dt=dt,
        kind="spikes",
        behaviour={"population_rate": expected[:, None]},
        neuron_meta={"cell_type": np.where(exc, "E", "I")},
        ground_truth={
            "connectivity": W.astype(np.float32),
            "adjacency": adj,
            "excitatory": exc,
            "tau": tau,
            "generator": "make_network",
        },
        provenance={"source": "synthetic", "generator": "make_network", "seed": seed},
        name="synthetic E/I network",
    )


def _smooth_frames(n_frames: int, size: int, rng, sigma: float = 1.5) -> np.ndarray:
    frames = gaussian_filter(rng.standard_normal((n_frames, size, size)), sigma=(0, sigma, sigma), mode="wrap")
    frames /= frames.std(axis=(1, 2), keepdims=True) + 1e-9
    return frames.astype(np.float32)


def make_stimulus_movie(
    n_neurons: int = 50,
    n_frames: int = 30,
    frame_size: int = 16,
    bins_per_frame: int = 5,
    n_repeats: int = 20,
    dt: float = 0.02,
    baseline_hz: float = 2.0,
    gain_hz: float = 25.0,
    seed: int = 0,
) -> Recording:
    """Neurons with Gaussian-windowed random receptive fields watching a repeated movie.

    The movie (``n_frames`` smooth random ``frame_size``^2 images) plays in the same order
    every repeat, each frame for ``bins_per_frame`` bins; each repeat is one trial.
    Neuron ``i``'s rate is ``baseline + gain * relu(<rf_i, frame>)``.

    Stimulus: ``frame_ids`` per bin and the ``frames``.  Behaviour: ``stimulus_pixels``
    (``[T, (frame_size/2)^2]``, the frame shown, 2x down-sampled) for reconstruction, and
    ``frame_phase`` (cos, sin of the position in the movie).  Conditions: ``repeat``.
    Ground truth: ``receptive_fields`` ``[N, size, size]``, ``frame_ids``.
    """
    rng = np.random.default_rng(seed)
    frames = _smooth_frames(n_frames, frame_size, rng)
    yy, xx = np.mgrid[:frame_size, :frame_size]
    cy, cx = rng.uniform(2, frame_size - 2, (2, n_neurons))
    env = np.exp(
        -((yy[None] - cy[:, None, None]) ** 2 + (xx[None] - cx[:, None, None]) ** 2) / (2 * (frame_size / 6) ** 2)
    )
    rf = (_smooth_frames(n_neurons, frame_size, rng, sigma=1.0) * env).astype(np.float32)
    rf /= np.linalg.norm(rf.reshape(n_neurons, -1), axis=1)[:, None, None] + 1e-9
    drive = np.maximum(rf.reshape(n_neurons, -1) @ frames.reshape(n_frames, -1).T, 0.0)  # [N, frames]
    drive /= drive.max(axis=1, keepdims=True) + 1e-9
    ids_one = np.repeat(np.arange(n_frames), bins_per_frame)
    frame_ids = np.tile(ids_one, n_repeats)
    T = len(frame_ids)
    rate = baseline_hz + gain_hz * drive[:, frame_ids]
    spikes = rng.poisson(rate * dt).astype(np.float32)
    small = frames.reshape(n_frames, frame_size // 2, 2, frame_size // 2, 2).mean(axis=(2, 4)).reshape(n_frames, -1)
    L = len(ids_one)
    starts = np.arange(n_repeats) * L
    phase = 2 * np.pi * (np.arange(T) % L) / L
    return Recording(
        activity=spikes,
        dt=dt,
        kind="spikes",
        behaviour={"stimulus_pixels": small[frame_ids], "frame_phase": np.stack([np.cos(phase), np.sin(phase)], 1)},
        trials=np.stack([starts, starts + L], axis=1),
        conditions={"repeat": np.arange(n_repeats)},
        stimulus={"frame_ids": frame_ids, "frames": frames},
        ground_truth={"receptive_fields": rf, "frame_ids": frame_ids, "generator": "make_stimulus_movie"},
        provenance={"source": "synthetic", "generator": "make_stimulus_movie", "seed": seed},
        name="synthetic stimulus movie",
    )


def make_calcium_movie(
    n_neurons: int = 20,
    size: int = 64,
    n_frames: int = 600,
    dt: float = 1 / 30,
    rate_hz: float = 1.0,
    tau: float = 0.5,
    radius: int = 3,
    seed: int = 0,
) -> Recording:
    """An imaging movie whose ROI traces equal a known activity matrix.

    ROIs are disjoint binary discs of ``radius`` pixels on a ``size`` x ``size`` field;
    ``movie[t] = sum_i activity[i, t] * footprint_i``, so the mean of ROI ``i``'s pixels
    is exactly ``activity[i, t]`` (up to float32 rounding).  Activity is GCaMP-like:
    Poisson spikes filtered by an exponential of time constant ``tau``.

    Ground truth: ``spikes`` ``[N, T]``, ``footprints`` (a label image).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    labels = np.zeros((size, size), np.int32)
    centres = []
    tries = 0
    while len(centres) < n_neurons:
        tries += 1
        if tries > 10000:
            raise SparksError(
                f"Could not place {n_neurons} disjoint ROIs of radius {radius} on {size}x{size}.",
                "Use a bigger field, fewer neurons or a smaller radius.",
            )
        c = rng.uniform(radius + 1, size - radius - 1, 2)
        if all(np.hypot(*(c - d)) > 2 * radius + 2 for d in centres):
            centres.append(c)
            disc = (yy - c[0]) ** 2 + (xx - c[1]) ** 2 <= radius**2
            labels[disc] = len(centres)
    rois = RoiMasks.from_labels(labels)
    spikes = rng.poisson(rate_hz * dt, (n_neurons, n_frames)).astype(np.float32)
    act = lfilter([1.0], [1.0, -np.exp(-dt / tau)], spikes, axis=1).astype(np.float32)
    lut = np.concatenate([np.zeros((1, n_frames), np.float32), act])  # label 0 -> 0
    movie = np.ascontiguousarray(np.moveaxis(lut[labels], -1, 0))  # [T, H, W]
    cen = rois.centroids()
    return Recording(
        activity=act,
        dt=dt,
        kind="calcium",
        rois=rois,
        movie=movie,
        movie_dt=dt,
        neuron_meta={"centroid_row": cen[:, 0], "centroid_col": cen[:, 1]},
        ground_truth={"spikes": spikes, "footprints": labels, "generator": "make_calcium_movie"},
        provenance={"source": "synthetic", "generator": "make_calcium_movie", "seed": seed},
        name="synthetic calcium movie",
    )
