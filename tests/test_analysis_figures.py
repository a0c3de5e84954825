"""Analysis figures: every figure writes a valid PNG/SVG/PDF atomically, headless."""

import numpy as np
import pytest

from sparks_gui.analysis.connectivity import correlation_connectivity, shuffled_null, xcorr_peak_connectivity
from sparks_gui.analysis.decoding import consistency_matrix
from sparks_gui.analysis.hierarchy import hierarchy_from_errors
from sparks_gui.analysis.ordering import order_by_correlation, order_by_pca_angle
from sparks_gui.analysis.oscillation import ordering_quality, phase_signal_psd
from sparks_gui.data.synthetic import make_sequence
from sparks_gui.errors import SparksError
from sparks_gui.figures import analysis as fa

MAGIC = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}


def _check(path, suffix):
    assert path.exists() and path.stat().st_size > 1000
    assert path.read_bytes()[:5].startswith(MAGIC[suffix])
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.fixture(scope="module")
def seq():
    return make_sequence(n_neurons=30, duration=120.0, seed=0)


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_ordering_and_oscillation_figures(tmp_path, seq, suffix):
    gt = seq.ground_truth
    orders = {
        "true phase": gt["order"],
        "PCA angle": order_by_pca_angle(seq.activity),
        "correlation": order_by_correlation(seq.activity),
    }
    p = fa.ordering_figure(seq.activity, orders, tmp_path / f"order{suffix}", dt=seq.dt, true_order=gt["order"])
    _check(p, suffix)
    q = {k: ordering_quality(seq.activity, v, dt=seq.dt) for k, v in orders.items()}
    p = fa.oscillation_figure(q, tmp_path / f"psd{suffix}", phase_psd=phase_signal_psd(gt["phase"], seq.dt))
    _check(p, suffix)


def test_decoding_figures(tmp_path):
    rng = np.random.default_rng(0)
    p = fa.decoding_summary_figure(
        {"SPARKS": {"R2": 0.9, "KNN R2": 0.7}, "GRU": {"R2": 0.8, "KNN R2": 0.5}},
        tmp_path / "dec.png",
        errors={"SPARKS": {"R2": 0.02}},
    )
    _check(p, ".png")
    true = np.tile(np.arange(100), 3)
    p = fa.frame_accuracy_figure(
        true,
        {"SPARKS": true + rng.integers(-5, 6, true.shape), "chance": rng.permutation(true)},
        tmp_path / "frames.svg",
        n_frames=100,
        mark=6,
    )
    _check(p, ".svg")
    lat = [rng.standard_normal((500, 3)) for _ in range(3)]
    p = fa.consistency_figure(consistency_matrix(lat), ["seed 0", "seed 1", "seed 2"], tmp_path / "cons.pdf")
    _check(p, ".pdf")


def test_connectivity_figure(tmp_path):
    rng = np.random.default_rng(0)
    N = 12
    W = (rng.random((N, N)) < 0.2).astype(float)
    np.fill_diagonal(W, 0)
    x = rng.poisson(0.2, (N, 2000)).astype(float)
    est = {"correlation": correlation_connectivity(x), "xcorr peak": xcorr_peak_connectivity(x, max_lag=3)}
    nulls = {"correlation": shuffled_null(correlation_connectivity, x, W, n_shuffles=3)}
    p = fa.connectivity_figure(W, est, tmp_path / "conn.png", nulls=nulls)
    _check(p, ".png")


def test_hierarchy_figure(tmp_path):
    rng = np.random.default_rng(0)
    res = hierarchy_from_errors({a: rng.random((2, 30)) + k for k, a in enumerate(["V1", "LM", "AM"])})
    p = fa.hierarchy_figure(res, tmp_path / "hier.png", dt=0.01)
    _check(p, ".png")


def test_bad_extension_is_a_user_error(tmp_path):
    with pytest.raises(SparksError, match="png"):
        fa.hierarchy_figure(hierarchy_from_errors(np.ones((2, 5))), tmp_path / "h.jpeg")
    assert not list(tmp_path.iterdir())
