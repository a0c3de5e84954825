"""npe2 manifest, readers, writers and sample data (no Qt, no viewer)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sparks_gui import _napari_io, _napari_samples
from sparks_gui.data.nwb import write_nwb
from sparks_gui.data.synthetic import make_reach
from sparks_gui.data.synthetic_network import make_calcium_movie


def test_manifest_declares_readers_writers_samples():
    npe2 = pytest.importorskip("npe2")
    m = npe2.PluginManifest.from_file(Path(_napari_io.__file__).parent / "napari.yaml")
    assert [r.command for r in m.contributions.readers] == ["sparks-gui.get_reader"]
    assert {w.command for w in m.contributions.writers} == {
        "sparks-gui.write_nwb",
        "sparks-gui.write_npy",
        "sparks-gui.write_csv",
    }
    keys = {s.key for s in m.contributions.sample_data}
    assert {"reach", "network", "stimulus_movie", "calcium_movie"} <= keys
    for c in m.contributions.commands:  # every python_name resolves
        mod, attr = c.python_name.split(":")
        assert callable(getattr(__import__(mod, fromlist=[attr]), attr))


def test_reader_opens_nwb_with_movie_and_masks(tmp_path):
    rec = make_calcium_movie(n_neurons=4, size=32, n_frames=20)
    path = write_nwb(rec, tmp_path / "ca.nwb")
    reader = _napari_io.get_reader(str(path))
    assert reader is not None and _napari_io.get_reader(str(tmp_path / "x.docx")) is None
    layers = reader(str(path))
    kinds = [k for _, _, k in layers]
    assert kinds == ["image", "image", "labels"]
    (act, meta, _), (movie, _, _), (labels, _, _) = layers
    assert meta["metadata"]["sparks_recording"].n_neurons == 4
    assert movie.shape == (20, 32, 32) and type(movie).__module__.startswith("dask")
    np.testing.assert_array_equal(labels, rec.rois.labels())
    from sparks_gui.data import registry

    assert any(r is meta["metadata"]["sparks_recording"] for r in registry.recordings().values())


def test_nwb_writer_and_array_writers(tmp_path):
    rec = make_reach(n_trials_per_direction=1)
    layers = _napari_io.layers_for_recording(rec)
    layers[0][1]["metadata"]["sparks_results"] = {"latents": np.zeros((rec.n_time, 2)), "order": np.arange(65)[::-1]}
    out = _napari_io.write_nwb_layers(str(tmp_path / "out.nwb"), layers)
    from sparks_gui.data.export import read_sparks_module
    from sparks_gui.data.io import load_recording

    np.testing.assert_array_equal(read_sparks_module(out[0])["neurons.order"], np.arange(65)[::-1])
    np.testing.assert_array_equal(load_recording(out[0]).activity, rec.activity)
    emb = np.random.default_rng(0).normal(size=(50, 3))
    _napari_io.write_npy(str(tmp_path / "emb.npy"), emb, {"name": "emb"})
    np.testing.assert_array_equal(np.load(tmp_path / "emb.npy"), emb)
    _napari_io.write_csv(str(tmp_path / "emb.csv"), emb, {"name": "emb"})
    np.testing.assert_allclose(np.loadtxt(tmp_path / "emb.csv", delimiter=","), emb, rtol=1e-8)


def test_sample_functions_return_layers():
    layers = _napari_samples.calcium_movie()
    assert [k for _, _, k in layers] == ["image", "image", "labels"]
    assert [k for _, _, k in _napari_samples.stimulus_movie()][-1] == "image"


def test_data_and_io_import_without_torch_or_qt():
    code = (
        "import sys; import sparks_gui.data.io, sparks_gui.data.nwb, sparks_gui.data.suite2p, sparks_gui.data.phy, "
        "sparks_gui.data.tiff, sparks_gui.data.export, sparks_gui.data.synthetic, sparks_gui._napari_io; "
        "bad = [m for m in ('torch', 'qtpy', 'PyQt5', 'napari') if m in sys.modules]; print(bad); assert not bad"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_reader_opens_the_shipped_gzipped_csv_trial():
    """napari's reader takes the MC_Maze trial as shipped (.csv.gz), the manifest claims the pattern."""
    path = Path(__file__).parent / "data" / "mc_maze_hisde" / "trial_748_data.csv.gz"
    assert "*.csv.gz" in (Path(_napari_io.__file__).parent / "napari.yaml").read_text()
    reader = _napari_io.get_reader(str(path))
    assert reader is not None
    layers = reader(str(path))
    rec = layers[0][1]["metadata"]["sparks_recording"]
    assert rec.n_neurons == 182 and rec.dt == pytest.approx(0.001) and "hand_vel" in rec.behaviour
