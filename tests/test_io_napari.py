"""npe2 manifest, readers, writers and sample data (no Qt, no viewer)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sparks_gui.data.nwb import write_nwb
from sparks_gui.data.synthetic import make_reach
from sparks_gui.data.synthetic_network import make_calcium_movie
from sparks_gui.napari import layers, reader, samples, writer


def test_manifest_declares_readers_writers_samples():
    npe2 = pytest.importorskip("npe2")
    m = npe2.PluginManifest.from_file(Path(reader.__file__).parents[1] / "napari.yaml")
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
    read = reader.get_reader(str(path))
    assert read is not None and reader.get_reader(str(tmp_path / "x.docx")) is None
    out = read(str(path))
    kinds = [k for _, _, k in out]
    assert kinds == ["image", "image", "labels"]
    (act, meta, _), (movie, movie_meta, _), (labels, labels_meta, _) = out
    assert layers.recording_of(meta).n_neurons == 4
    assert [layers.role_of(m) for m in (meta, movie_meta, labels_meta)] == [
        layers.LayerRole.ACTIVITY,
        layers.LayerRole.MOVIE,
        layers.LayerRole.ROIS,
    ]
    assert all(layers.recording_of(m) is layers.recording_of(meta) for m in (movie_meta, labels_meta))
    assert movie.shape == (20, 32, 32) and type(movie).__module__.startswith("dask")
    np.testing.assert_array_equal(labels, rec.rois.labels())


def test_nwb_writer_and_array_writers(tmp_path):
    rec = make_reach(n_trials_per_direction=1)
    made = layers.layers_for_recording(rec)
    made[0][1]["metadata"][layers.RESULTS_KEY] = {"latents": np.zeros((rec.n_time, 2)), "order": np.arange(65)[::-1]}
    out = writer.write_nwb_layers(str(tmp_path / "out.nwb"), made)
    from sparks_gui.data.export import read_sparks_module
    from sparks_gui.data.io import load_recording

    np.testing.assert_array_equal(read_sparks_module(out[0])["neurons.order"], np.arange(65)[::-1])
    np.testing.assert_array_equal(load_recording(out[0]).activity, rec.activity)
    emb = np.random.default_rng(0).normal(size=(50, 3))
    writer.write_npy(str(tmp_path / "emb.npy"), emb, {"name": "emb"})
    np.testing.assert_array_equal(np.load(tmp_path / "emb.npy"), emb)
    writer.write_csv(str(tmp_path / "emb.csv"), emb, {"name": "emb"})
    np.testing.assert_allclose(np.loadtxt(tmp_path / "emb.csv", delimiter=","), emb, rtol=1e-8)


def test_sample_functions_return_layers():
    made = samples.calcium_movie()
    assert [k for _, _, k in made] == ["image", "image", "labels"]
    stim = samples.stimulus_movie()
    assert [k for _, _, k in stim][-1] == "image" and layers.role_of(stim[-1][1]) is layers.LayerRole.STIMULUS
    assert stim[0][1]["visible"] is False  # the activity image does not cover the frames


def test_data_and_io_import_without_torch_or_qt():
    code = (
        "import sys; import sparks_gui.data.io, sparks_gui.data.nwb, sparks_gui.data.suite2p, sparks_gui.data.phy, "
        "sparks_gui.data.tiff, sparks_gui.data.export, sparks_gui.data.synthetic, sparks_gui.napari.reader, "
        "sparks_gui.napari.writer, sparks_gui.napari.samples, sparks_gui.napari.frames; "
        "bad = [m for m in ('torch', 'qtpy', 'PyQt5', 'napari') if m in sys.modules]; print(bad); assert not bad"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_reader_opens_the_shipped_gzipped_csv_trial():
    """napari's reader takes the MC_Maze trial as shipped (.csv.gz), the manifest claims the pattern."""
    path = Path(__file__).parent / "data" / "mc_maze_hisde" / "trial_748_data.csv.gz"
    assert "*.csv.gz" in (Path(reader.__file__).parents[1] / "napari.yaml").read_text()
    read = reader.get_reader(str(path))
    assert read is not None
    rec = layers.recording_of(read(str(path))[0][1])
    assert rec.n_neurons == 182 and rec.dt == pytest.approx(0.001) and "hand_vel" in rec.behaviour


def test_lazy_frames_show_stimulus_and_decoded_frames_on_the_bin_clock():
    from sparks_gui.napari.frames import LazyFrames, bin_lookup, decoded_frames

    frames = np.arange(3 * 2 * 2, dtype=np.float32).reshape(3, 2, 2)
    movie = LazyFrames(frames, [0, 2, -1, 1])
    assert movie.shape == (4, 2, 2) and movie.dtype == np.float32
    np.testing.assert_array_equal(movie[1], frames[2])
    np.testing.assert_array_equal(movie[2], np.full((2, 2), frames.mean()))  # no frame: blank
    np.testing.assert_array_equal(np.asarray(movie)[[0, 3]], frames[[0, 1]])
    np.testing.assert_array_equal(movie[1:3, 0, 1], [frames[2, 0, 1], frames.mean()])
    colour = LazyFrames(np.stack([frames] * 3, -1), [1])
    np.testing.assert_allclose(colour[0], frames[1])

    # 2 examples x 3 steps at the recording's rate (factor 1), offset 1: bins 1..2 and 6..7 decoded
    ex, step = bin_lookup([0, 5], n_steps=3, offset=1, factor=1, n_bins=10)
    np.testing.assert_array_equal(ex, [-1, 0, 0, -1, -1, -1, 1, 1, -1, -1])
    np.testing.assert_array_equal(step, [-1, 0, 1, -1, -1, -1, 0, 1, -1, -1])
    pixels = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    dec = decoded_frames(pixels, ex, step, (2, 2), blank=-1.0)
    np.testing.assert_array_equal(dec[7], pixels[1, 1].reshape(2, 2))
    np.testing.assert_array_equal(dec[0], np.full((2, 2), -1.0))
    classes = np.array([[[2.0], [0.2], [9.0]], [[1.0], [3.0], [0.0]]])  # 3 and 9 lie outside the frames: blank
    dec = decoded_frames(classes, ex, step, (2, 2), frames=frames, blank=-1.0)
    np.testing.assert_array_equal(dec[1], frames[2])
    np.testing.assert_array_equal(dec[2], frames[0])
    np.testing.assert_array_equal(dec[6], frames[1])
    np.testing.assert_array_equal(dec[7], np.full((2, 2), -1.0))
