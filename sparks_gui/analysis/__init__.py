"""Analysis of recordings and trained models: numpy/scipy/scikit-learn only (no torch, no Qt).

Modules
-------
ordering
    Neuron orderings (latent phase, correlation, PCA angle, attention clustering,
    optional rastermap) and scores against a known order (circular Spearman, triplets).
oscillation
    Welch PSD of an ordering's population signal, peak-over-tail, our sequence score.
decoding
    R2, KNN decoding from latents, frame accuracy and correlation, BCE / Poisson NLL / bits per
    spike, consistency (also the trainer's held-out metrics and the decoding view's scores).
connectivity
    Attention as effective connectivity, correlation / cross-correlogram baselines,
    AUROC / average precision against known weights, time-shuffled null.
hierarchy
    Per-area error curves, projection scores and the hierarchy score.
nlb
    Neural Latents Benchmark bits per spike (pooled, per neuron), co-smoothing, forward
    prediction and region-level bits per spike, and a ridge linear probe of behaviour (MtM).
verdict
    Plain-language verdicts on a finished run's held-out numbers (no better than the mean rate?).

The most used functions are re-exported here.
"""

from .connectivity import (
    connectivity_scores,
    correlation_connectivity,
    effective_connectivity,
    per_condition_connectivity,
    shuffled_null,
    time_shuffle,
    xcorr_peak_connectivity,
)
from .decoding import (
    binary_cross_entropy,
    bits_per_spike,
    consistency_matrix,
    consistency_r2,
    frame_accuracy,
    frame_correlation,
    knn_decode,
    poisson_nll,
    r2_overall,
    r2_per_variable,
)
from .hierarchy import error_curves, hierarchy_from_errors, hierarchy_scores, projection_scores
from .nlb import (
    BitsPerSpike,
    ProbeResult,
    co_smoothing,
    forward_prediction,
    linear_probe,
    nlb_bits_per_spike,
    nlb_bits_per_spike_per_neuron,
    region_bits_per_spike,
)
from .ordering import (
    Ordering,
    available_orderings,
    circular_spearman,
    compute_ordering,
    neuron_order_from_latents,
    neuron_order_from_phase,
    order_by_attention_clustering,
    order_by_correlation,
    order_by_pca_angle,
    order_by_rastermap,
    pca_phase,
    phase_agreement,
    ring_phase,
    triplet_accuracy,
)
from .oscillation import ordering_quality, phase_signal_psd, population_signal, sequence_score, spectral_peak, welch_psd
from .verdict import held_out_verdicts

__all__ = [
    "held_out_verdicts",
    "BitsPerSpike",
    "Ordering",
    "ProbeResult",
    "available_orderings",
    "binary_cross_entropy",
    "bits_per_spike",
    "circular_spearman",
    "co_smoothing",
    "compute_ordering",
    "connectivity_scores",
    "consistency_matrix",
    "consistency_r2",
    "correlation_connectivity",
    "effective_connectivity",
    "error_curves",
    "forward_prediction",
    "frame_accuracy",
    "frame_correlation",
    "hierarchy_from_errors",
    "hierarchy_scores",
    "knn_decode",
    "linear_probe",
    "neuron_order_from_latents",
    "nlb_bits_per_spike",
    "nlb_bits_per_spike_per_neuron",
    "neuron_order_from_phase",
    "order_by_attention_clustering",
    "order_by_correlation",
    "order_by_pca_angle",
    "pca_phase",
    "phase_agreement",
    "order_by_rastermap",
    "ordering_quality",
    "per_condition_connectivity",
    "phase_signal_psd",
    "poisson_nll",
    "population_signal",
    "projection_scores",
    "r2_overall",
    "region_bits_per_spike",
    "r2_per_variable",
    "ring_phase",
    "sequence_score",
    "shuffled_null",
    "spectral_peak",
    "time_shuffle",
    "triplet_accuracy",
    "welch_psd",
    "xcorr_peak_connectivity",
]
