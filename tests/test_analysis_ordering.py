"""Neuron orderings and order scores: hand-computable cases and recovery on synthetic sequences."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import spearmanr

from sparks_gui.analysis.ordering import (
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
    rastermap_available,
    ring_phase,
    triplet_accuracy,
)
from sparks_gui.data.synthetic import make_sequence
from sparks_gui.errors import SparksError


@pytest.fixture(scope="module")
def seq_spikes():
    return make_sequence(kind="spikes", seed=0)


@pytest.fixture(scope="module")
def seq_calcium():
    return make_sequence(kind="calcium", seed=1)


def test_analysis_imports_without_torch_or_qt():
    code = (
        "import sys, sparks_gui.analysis, sparks_gui.analysis.ordering; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PyQt5', 'qtpy', 'napari')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ------------------------------------------------------------------ circular Spearman
def test_circular_spearman_perfect_and_rotations_score_one():
    true = np.arange(10)
    assert circular_spearman(true, true) == pytest.approx(1.0)
    for s in range(10):
        assert circular_spearman(np.roll(true, s), true, directed=True) == pytest.approx(1.0)


def test_circular_spearman_reversal():
    # undirected (default): a reflected order is as good as the original
    assert circular_spearman(np.arange(8)[::-1], np.arange(8)) == pytest.approx(1.0)
    # directed, N = 4: best signed rho over all rotations of [3, 2, 1, 0] vs [0, 1, 2, 3]
    # is rho([1, 0, 3, 2], [0, 1, 2, 3]) = 3 / 5 = 0.6 (hand computed: sum of products of
    # deviations 3, sum of squared deviations 5).
    assert circular_spearman(np.arange(4)[::-1], np.arange(4), directed=True) == pytest.approx(0.6)
    # N = 3: only two cyclic orders exist; the reversed one scores 0.5 at best
    assert circular_spearman(np.array([2, 1, 0]), np.arange(3), directed=True) == pytest.approx(0.5)


def test_circular_spearman_matches_brute_force():
    rng = np.random.default_rng(3)
    for N in (5, 9, 16):
        o, t = rng.permutation(N), rng.permutation(N)
        ro, rt = np.argsort(o), np.argsort(t)  # ranks
        rhos = [spearmanr((ro + s) % N, (rt + u) % N)[0] for s in range(N) for u in range(N)]
        assert circular_spearman(o, t) == pytest.approx(np.max(np.abs(rhos)))
        assert circular_spearman(o, t, directed=True) == pytest.approx(np.max(rhos))
        assert circular_spearman(o, t, cyclic=False) == pytest.approx(abs(spearmanr(ro, rt)[0]))


def test_swap_across_the_true_start_costs_little():
    true = np.arange(60)
    pred = true.copy()
    pred[[0, -1]] = pred[[-1, 0]]  # neighbours on the cycle, swapped across the seam
    assert circular_spearman(pred, true) > 0.99


def test_random_orders_score_low():
    rng = np.random.default_rng(0)
    scores = [circular_spearman(rng.permutation(60), np.arange(60)) for _ in range(20)]
    # the max over N^2 rotations inflates chance; measured ~0.45 for N = 60
    assert np.mean(scores) < 0.6


def test_scores_reject_bad_orders():
    with pytest.raises(SparksError):
        circular_spearman([0, 0, 1], [0, 1, 2])
    with pytest.raises(SparksError):
        triplet_accuracy([0, 1, 2], [0, 1, 2, 3])


# ------------------------------------------------------------------ triplets
def test_triplet_accuracy_hand_cases():
    true = np.arange(7)
    assert triplet_accuracy(true, true) == 1.0
    assert triplet_accuracy(np.roll(true, 3), true, directed=True) == 1.0  # rotation keeps orientation
    assert triplet_accuracy(true[::-1], true, directed=True) == 0.0  # reflection flips every triplet
    assert triplet_accuracy(true[::-1], true) == 1.0
    # swapping two neighbours in N = 5 flips exactly the triplets containing both: 3 of 10
    assert triplet_accuracy(np.array([1, 0, 2, 3, 4]), np.arange(5), directed=True) == pytest.approx(0.7)
    # linear: reversed keeps betweenness (undirected) but no directed triplet
    assert triplet_accuracy(true[::-1], true, cyclic=False) == 1.0
    assert triplet_accuracy(true[::-1], true, cyclic=False, directed=True) == 0.0


def test_triplet_accuracy_random_near_chance_and_sampling():
    rng = np.random.default_rng(1)
    acc = [triplet_accuracy(rng.permutation(40), np.arange(40), directed=True) for _ in range(10)]
    assert abs(np.mean(acc) - 0.5) < 0.03
    # sampled triplets agree with the exact value
    o = rng.permutation(30)
    exact = triplet_accuracy(o, np.arange(30), directed=True)
    sampled = triplet_accuracy(o, np.arange(30), directed=True, n_triplets=1000, seed=2)
    assert abs(exact - sampled) < 0.06


# ------------------------------------------------------------------ orderings
def _ring_data(N=24, T=3000, seed=0):
    """Noise-free travelling bump: neuron i peaks at phase 2 pi i / N, phase at constant speed."""
    rng = np.random.default_rng(seed)
    phase = np.mod(2 * np.pi * np.arange(T) / 150.0, 2 * np.pi)
    pref = 2 * np.pi * np.arange(N) / N
    x = np.exp(3 * (np.cos(phase[None] - pref[:, None]) - 1))
    perm = rng.permutation(N)
    return x[perm], phase, np.argsort(perm)  # true order: neurons sorted by preferred phase


def test_orderings_exact_on_clean_ring():
    x, phase, true = _ring_data()
    for res in (
        neuron_order_from_phase(x, phase),
        neuron_order_from_phase(x, phase, method="xcorr_lag"),
        order_by_pca_angle(x),
        order_by_correlation(x),
    ):
        assert isinstance(res, Ordering)
        assert triplet_accuracy(res, true) == 1.0, res.method
        assert circular_spearman(res, true) == pytest.approx(1.0), res.method
    # direction is known for the phase-based ordering: ascending phase
    assert triplet_accuracy(neuron_order_from_phase(x, phase), true, directed=True) == 1.0


def test_preferred_phase_recovers_phase_values():
    x, phase, true = _ring_data(N=12)
    res = neuron_order_from_phase(x, phase)
    pref = 2 * np.pi * np.arange(12) / 12
    err = np.angle(np.exp(1j * (res.key[true] - pref)))
    assert np.max(np.abs(err)) < 0.01


def test_ring_phase_of_a_circle():
    t = np.linspace(0, 6 * np.pi, 500)
    z = np.stack([3 + 2 * np.cos(t), -1 + 2 * np.sin(t)], axis=1)
    ph = ring_phase(z)
    assert np.max(np.abs(np.angle(np.exp(1j * (ph - t))))) < 0.05
    # circle fit is unbiased when only part of the ring is sampled
    arc = np.linspace(0, np.pi, 200)
    za = np.stack([2 * np.cos(arc), 2 * np.sin(arc)], axis=1)
    assert np.max(np.abs(ring_phase(za, centre="circle_fit") - arc)) < 1e-6
    # trial layout [n, d, T] and d > 2 are accepted
    z3 = np.concatenate([z, np.zeros((500, 1))], axis=1).T[None]
    assert ring_phase(z3).shape == (500,)


@pytest.mark.parametrize("fixture,floor_rho,floor_triplet", [("seq_spikes", 0.99, 0.97), ("seq_calcium", 0.99, 0.97)])
def test_true_phase_recovers_ground_truth_order(request, fixture, floor_rho, floor_triplet):
    rec = request.getfixturevalue(fixture)
    gt = rec.ground_truth
    res = neuron_order_from_phase(rec.activity, gt["phase"])
    # measured: rho 0.999, triplets 0.983-0.988 (seeds 0-3)
    assert circular_spearman(res, gt["order"], directed=True) > floor_rho
    assert triplet_accuracy(res, gt["order"], directed=True) > floor_triplet
    res2 = neuron_order_from_phase(rec.activity, gt["phase"], method="xcorr_lag")
    assert circular_spearman(res2, gt["order"]) > 0.99  # measured 0.999
    assert triplet_accuracy(res2, gt["order"]) > 0.96  # measured 0.970-0.981


@pytest.mark.parametrize("fixture", ["seq_spikes", "seq_calcium"])
def test_pca_angle_recovers_ground_truth_order(request, fixture):
    rec = request.getfixturevalue(fixture)
    res = order_by_pca_angle(rec.activity)
    # measured: rho 0.999-1.000, triplets 0.975-0.988
    assert circular_spearman(res, rec.ground_truth["order"]) > 0.99
    assert triplet_accuracy(res, rec.ground_truth["order"]) > 0.96
    assert sum(res.info["explained_variance_ratio"]) > 0.1


def test_correlation_lag_recovers_ground_truth_order(seq_spikes, seq_calcium):
    # measured: spikes rho 0.992-0.994, triplets 0.910-0.915; calcium 0.998, 0.96-0.97
    for rec, tri in ((seq_spikes, 0.88), (seq_calcium, 0.93)):
        res = order_by_correlation(rec.activity)
        assert circular_spearman(res, rec.ground_truth["order"]) > 0.98
        assert triplet_accuracy(res, rec.ground_truth["order"]) > tri
    # the zero-lag correlation is a linear order and cannot recover a cycle
    res = order_by_correlation(seq_spikes.activity, by="correlation")
    assert triplet_accuracy(res, seq_spikes.ground_truth["order"]) < 0.7


def test_latent_ordering_from_a_noisy_distorted_ring(seq_spikes):
    gt = seq_spikes.ground_truth
    rng = np.random.default_rng(0)
    ring = np.stack([np.cos(gt["phase"]), np.sin(gt["phase"])], axis=1)
    latents = ring @ np.array([[2.0, 0.5], [0.0, 0.7]]) + np.array([4.0, -1.0]) + 0.1 * rng.standard_normal(ring.shape)
    res = neuron_order_from_latents(seq_spikes.activity, latents)
    assert res.info["phase"].shape == gt["phase"].shape
    # measured 0.999 / 0.98: the ordering survives an affine distortion of the ring
    assert circular_spearman(res, gt["order"]) > 0.99
    assert triplet_accuracy(res, gt["order"]) > 0.95


def test_attention_clustering_recovers_sequence_from_sequence_attention():
    N = 30
    rng = np.random.default_rng(0)
    perm = rng.permutation(N)
    pos = np.empty(N)
    pos[perm] = 2 * np.pi * np.arange(N) / N  # neuron perm[k] is k-th in the sequence
    # Hebbian-like attention: i attends to j when j fires just before i
    A = np.exp(3 * (np.cos(pos[:, None] - pos[None, :] - 0.3) - 1)) + 0.05 * rng.random((5, 2, N, N))
    res = order_by_attention_clustering(A)
    true = perm
    # measured 1.000 / 1.000: neighbours in the sequence cluster together
    assert circular_spearman(res, true) > 0.95
    assert triplet_accuracy(res, true) > 0.9


def test_rastermap_is_optional():
    if rastermap_available():
        assert "rastermap" in available_orderings()
    else:
        assert "rastermap" not in available_orderings()
        with pytest.raises(SparksError, match="pip install rastermap"):
            order_by_rastermap(np.random.default_rng(0).random((5, 50)))


def test_ordering_errors_are_user_errors():
    with pytest.raises(SparksError, match="time bins"):
        neuron_order_from_phase(np.ones((3, 10)), np.zeros(9))
    with pytest.raises(SparksError):
        neuron_order_from_phase(np.ones((3, 10)), np.zeros(10), method="nope")
    with pytest.raises(SparksError, match="NaN"):
        order_by_pca_angle(np.full((4, 10), np.nan))
    with pytest.raises(SparksError, match="cycles"):
        neuron_order_from_phase(np.random.default_rng(0).random((3, 10)), np.linspace(0, 1, 10), method="xcorr_lag")


def test_compute_ordering_dispatches_by_name():
    x, phase, true = _ring_data()
    latents = np.stack([np.cos(phase), np.sin(phase)], axis=1)
    for name in ("latent_phase", "correlation", "pca_angle"):
        res = compute_ordering(name, x, latents=latents)
        assert triplet_accuracy(res, true) == 1.0, name
    assert triplet_accuracy(compute_ordering("phase", x, phase=phase), true) == 1.0
    with pytest.raises(SparksError, match="latents"):
        compute_ordering("latent_phase", x)
    with pytest.raises(SparksError, match="attention"):
        compute_ordering("attention_clustering", x)
    with pytest.raises(SparksError, match="Unknown ordering"):
        compute_ordering("tsp", x)
    np.testing.assert_array_equal(compute_ordering("original", x).order, np.arange(len(x)))


def test_registry_names_labels_and_menu_order():
    from sparks_gui.analysis import ordering as reg

    names = list(available_orderings())
    assert names[:5] == [reg.ORIGINAL, reg.LATENT_PHASE, reg.CORRELATION, reg.PCA_ANGLE, reg.ATTENTION_CLUSTERING]
    assert (reg.RASTERMAP in names) == rastermap_available()
    for name in names:  # every listed name has a label that maps back, and the method name passes through
        assert reg.ordering_method(reg.ordering_label(name)) == name == reg.ordering_method(name)
    assert reg.ordering_label(reg.LATENT_PHASE) == "SPARKS latent phase"  # what exports have always written
    with pytest.raises(SparksError, match="Unknown ordering"):
        reg.ordering_method("by colour")
