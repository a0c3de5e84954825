"""Hierarchy from per-area decoding-error curves."""

import numpy as np
import pytest

from sparks_gui.analysis.hierarchy import (
    error_curves,
    hierarchy_from_errors,
    hierarchy_scores,
    projection_scores,
)
from sparks_gui.errors import SparksError


def test_projection_and_hierarchy_hand_case():
    # two areas, one condition, two time bins
    e = np.array([[1.0, 2.0], [3.0, 1.0]])
    P = projection_scores(e)
    # proj(0->1) = [1<3]*2 + [2<1]*1 = 2 ; proj(1->0) = [3<1]*2 + [1<2]*1 = 1
    assert np.allclose(P, [[0, 2], [1, 0]])
    # hierarchy = incoming - outgoing: area 0: 1 - 2 = -1 ; area 1: 2 - 1 = +1
    assert np.allclose(hierarchy_scores(P), [-1, 1])


def test_hierarchy_identity_and_chain():
    rng = np.random.default_rng(0)
    E = rng.random((5, 3, 40))  # areas x conditions x time
    res = hierarchy_from_errors(E, areas=list("ABCDE"))
    # in - out = A * total error of the area - grand total (see the module docstring)
    totals = E.sum(axis=(1, 2))
    assert np.allclose(res.hierarchy, 5 * totals - totals.sum())
    assert res.hierarchy.sum() == pytest.approx(0.0)
    assert np.allclose(np.diag(res.projection), 0)
    # a chain of areas with increasing error is ordered early -> late
    base = rng.random((3, 50))
    chain = {name: base + k for k, name in enumerate(["V1", "LM", "AL", "PM"])}
    res = hierarchy_from_errors(chain)
    assert res.as_dict()["order"] == ["V1", "LM", "AL", "PM"]
    # each earlier area projects to each later one with weight = summed difference
    assert res.projection[0, 3] == pytest.approx(3 * base.size)
    assert res.projection[3, 0] == 0.0
    norm = hierarchy_from_errors(chain, normalise=True)
    assert norm.projection.sum() == pytest.approx(1.0)


def test_error_curves_metrics():
    true = np.zeros((4, 3, 2))
    pred = np.ones((4, 3, 2))
    pred[2:] = 3.0
    e = error_curves(true, pred, conditions=[0, 0, 1, 1])
    assert e.shape == (2, 3)
    assert np.allclose(e[0], 1.0) and np.allclose(e[1], 9.0)
    assert np.allclose(error_curves(true, pred, metric="absolute"), 2.0)
    labels = np.array([[0, 1], [1, 1]])
    probs = np.zeros((2, 2, 2))
    probs[..., 0], probs[..., 1] = 0.25, 0.75
    ce = error_curves(labels, probs, metric="cross_entropy")
    assert np.allclose(ce, [[(np.log(4) + np.log(4 / 3)) / 2, np.log(4 / 3)]])
    er = error_curves(labels, probs, metric="error_rate")
    assert np.allclose(er, [[0.5, 0.0]])
    assert np.allclose(error_curves(labels, np.array([[1, 1], [1, 0]]), metric="error_rate"), [[0.5, 0.5]])


def test_hierarchy_errors():
    with pytest.raises(SparksError, match="2 areas"):
        projection_scores(np.ones((1, 5)))
    with pytest.raises(SparksError, match="shapes"):
        hierarchy_from_errors({"a": np.ones(5), "b": np.ones(6)})
    with pytest.raises(SparksError):
        error_curves(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(SparksError):
        error_curves(np.zeros((2, 3)), np.zeros((2, 3)), metric="nope")
