"""NWB with results (data/export.py): per-example latents/predictions, a selection's neuron index and the
run config are written into the copy and read back with pynwb as they went in."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

pytest.importorskip("pynwb")

from sparks_gui.data.export import export_to_nwb, free_module_name, read_sparks_config, read_sparks_module
from sparks_gui.data.nwb import write_nwb
from sparks_gui.data.synthetic import make_sequence
from sparks_gui.errors import SparksError


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_examples_selection_and_config_read_back_with_pynwb(tmp_path):
    from pynwb import NWBHDF5IO

    rec = make_sequence(n_neurons=20, duration=20.0)
    src = write_nwb(rec, tmp_path / "in.nwb")
    before = _digest(src)
    rng = np.random.default_rng(0)
    lat = rng.normal(size=(5, 40, 3)).astype(np.float32)
    pred = rng.normal(size=(5, 40, 2)).astype(np.float32)
    true = rng.normal(size=(5, 40, 2)).astype(np.float32)
    whole = rng.normal(size=(rec.n_time // 2, 3)).astype(np.float32)
    sel = np.array([2, 5, 7, 11, 19])
    order = np.array([3, 0, 4, 1, 2])
    config = {"epochs": 7, "lr": 0.002, "neurons": [2, 5], "target": "auto", "out_dir": None}
    out = export_to_nwb(
        tmp_path / "out.nwb",
        source=src,
        recording=rec,
        latents=whole,
        latent_dt=2 * rec.dt,
        latent_start=1.5,
        predictions={"pos": whole[:, :2]},
        order=order,
        neuron_index=sel,
        examples={
            "latents": lat,
            "predictions": pred,
            "true": true,
            "dt": 0.1,
            "target": "pos",
            "example_idx": np.array([4, 9, 1, 0, 3]),
            "start_time": np.array([0.0, 2.0, 4.0, 6.0, 8.0]),
        },
        config=config,
    )
    assert _digest(src) == before  # the input is never modified
    with NWBHDF5IO(str(out), "r") as io:
        nwb = io.read()
        mod = nwb.processing["sparks"]
        assert set(mod.data_interfaces) == {
            "latents",
            "prediction_pos",
            "neurons",
            "example_latents",
            "example_predictions",
            "example_true",
            "examples",
            "config",
        }
        ts = mod["example_latents"]
        assert ts.data.shape == (40, 5, 3) and ts.rate == pytest.approx(10.0)
        np.testing.assert_array_equal(ts.data[:], lat.transpose(1, 0, 2))
        np.testing.assert_array_equal(mod["example_predictions"].data[:], pred.transpose(1, 0, 2))
        np.testing.assert_array_equal(mod["example_true"].data[:, 2], true[2])
        np.testing.assert_array_equal(mod["examples"]["example_index"].data[:], [4, 9, 1, 0, 3])
        np.testing.assert_array_equal(mod["examples"]["start_time"].data[:], [0, 2, 4, 6, 8])
        np.testing.assert_array_equal(mod["neurons"]["recording_index"].data[:], sel)
        np.testing.assert_array_equal(mod["neurons"]["order"].data[:], order)
        np.testing.assert_array_equal(mod["neurons"]["rank"].data[:], [1, 3, 4, 0, 2])
        assert mod["latents"].data.shape == whole.shape and mod["latents"].starting_time == 1.5
    # the recording is still there, as in the source
    from sparks_gui.data.io import load_recording

    np.testing.assert_array_equal(load_recording(out).activity, load_recording(src).activity)
    assert read_sparks_config(out) == config
    # a copy of an exported file gets the next module name; the first one is kept
    assert free_module_name(out) == "sparks_2"
    again = export_to_nwb(
        tmp_path / "again.nwb", source=out, recording=rec, config={"epochs": 1}, module_name=free_module_name(out)
    )
    assert read_sparks_config(again, "sparks_2") == {"epochs": 1}
    np.testing.assert_array_equal(read_sparks_module(again)["example_latents"], lat.transpose(1, 0, 2))


def test_bad_results_are_clear_errors(tmp_path):
    rec = make_sequence(n_neurons=10, duration=10.0)
    with pytest.raises(SparksError, match="outside the recording's 10 neurons"):
        export_to_nwb(tmp_path / "a.nwb", recording=rec, order=np.arange(2), neuron_index=np.array([3, 12]))
    with pytest.raises(SparksError, match=r"expected \[examples, time, latent_dim\]"):
        export_to_nwb(tmp_path / "b.nwb", recording=rec, examples={"latents": np.zeros((4, 3)), "dt": 0.1})
    assert not (tmp_path / "a.nwb").exists() and not (tmp_path / "b.nwb").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary left behind
