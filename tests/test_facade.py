"""The scikit-learn-style facade, configuration round trips and bad-input messages."""

import numpy as np
import pytest

from sparks_gui import Sparks, SparksConfig, SparksError
from sparks_gui.data.synthetic import make_reach, make_sequence
from sparks_gui.engine.dataset import as_recording, prepare

FAST = dict(epochs=2, batch_size=8, bin_factor=4, latent_dim=2, embed_dim=8, tau_p=3)


@pytest.fixture(scope="module")
def fitted():
    rec = make_reach(n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=2)
    return Sparks(SparksConfig(**FAST)).fit(rec, target="hand_pos"), rec


def test_transform_predict_attention_shapes(fitted):
    est, rec = fitted
    L = 200 // 4
    assert est.transform().shape == (16, 2, L)  # [trials, d, T]
    assert est.predict().shape == (16, L, 2)
    A = est.attention(example=0, every=5)
    assert A.shape == (L // 5, 1, 65, 65)
    # continuous input -> [T, d] at the training bin width (bin_factor 4)
    x = rec.activity[:, :400]
    assert est.transform(x).shape == (100, 2)
    assert est.predict(x).shape == (100, 2)


def test_save_load_roundtrip(fitted, tmp_path):
    est, rec = fitted
    path = est.save(tmp_path / "m.pt")
    again = Sparks.load(path)
    np.testing.assert_allclose(again.transform(rec), est.transform(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(again.predict(rec), est.predict(), rtol=1e-6, atol=1e-6)
    assert again.config == est.config


def test_add_session_with_other_neuron_count(fitted):
    est, _ = fitted
    other = make_reach(n_neurons=30, n_trials_per_direction=2, t_before=0.05, t_after=0.15, seed=5)
    s = est.add_session(30)
    est.fit_session(other, s, target="hand_pos", freeze_shared=True)
    assert est.transform(other, session=s).shape == (16, 2, 50)
    with pytest.raises(SparksError, match="expects 65"):
        est.transform(other, session=0)


def test_arrays_with_target_array():
    rng = np.random.default_rng(0)
    x = (rng.random((6, 5, 40)) < 0.2).astype(np.float32)
    y = np.cumsum(x.sum(1, keepdims=True), axis=2).transpose(0, 2, 1)  # [trials, T, 1]
    est = Sparks(epochs=1, batch_size=4, latent_dim=2, embed_dim=4, tau_p=2, test_fraction=0.34).fit(
        x, target=y, dt=0.01
    )
    assert est.transform().shape == (6, 2, 40)
    assert est.predict().shape == (6, 40, 1)


def test_unfitted_model_says_what_to_do():
    with pytest.raises(SparksError, match="fit"):
        Sparks().transform(np.zeros((3, 10)))


@pytest.mark.parametrize(
    "data,target,match",
    [
        (np.zeros(10), None, "dimensions"),
        (np.zeros((2, 3, 4, 5)), None, "dimensions"),
        (np.zeros((0, 10)), None, "empty"),
        (np.array([[0.0, np.nan, 1.0]]), None, "NaN"),
        (np.zeros((4, 100)), np.zeros((90, 2)), "90 samples but the data has 100"),
        (np.zeros((3, 4, 20)), np.zeros((3, 19, 1)), "does not match"),
    ],
)
def test_bad_input_messages(data, target, match):
    with pytest.raises(SparksError, match=match) as info:
        as_recording(data, target=target)
    assert info.value.fix  # every message says how to fix it


def test_unknown_target_lists_choices():
    rec = make_sequence(duration=20)
    with pytest.raises(SparksError, match="phase"):
        prepare(rec, SparksConfig(target="speed"))


def test_config_roundtrip_json_yaml(tmp_path):
    cfg = SparksConfig(latent_dim=5, stdp_rule="additive", grad_mode="truncated", extra={"note": "x"})
    cfg.to_json(tmp_path / "c.json")
    cfg.to_yaml(tmp_path / "c.yaml")
    assert SparksConfig.load(tmp_path / "c.json") == cfg
    assert SparksConfig.load(tmp_path / "c.yaml") == cfg


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"grad_mode": "sometimes"}, "grad_mode"),
        ({"latent_dim": -1}, "latent_dim"),
        ({"embed_dim": 10, "n_heads": 3}, "divisible"),
        ({"lr": -1.0}, "lr"),
        ({"test_fraction": 1.5}, "test_fraction"),
    ],
)
def test_config_validation(changes, match):
    with pytest.raises(SparksError, match=match):
        SparksConfig(**changes)


def test_config_unknown_key_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("latent_dims: 3\n")
    with pytest.raises(SparksError, match="latent_dims"):
        SparksConfig.load(p)
