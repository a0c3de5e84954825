"""Array files (.npz, .mat v5/v7.3, .h5, .csv), spike-time lists and TIFF movies."""

from __future__ import annotations

import hashlib
import resource

import numpy as np
import pytest

from sparks_gui.data.io import detect_format, load_recording
from sparks_gui.data.rois import RoiMasks
from sparks_gui.data.synthetic_network import make_calcium_movie
from sparks_gui.errors import SparksError


def test_mat_v5_and_v73_and_h5(tmp_path):
    import h5py
    import scipy.io

    act = np.arange(12, dtype=np.float64).reshape(3, 4)
    scipy.io.savemat(tmp_path / "a.mat", {"spikes": act, "dt": 0.01})
    rec = load_recording(tmp_path / "a.mat")
    np.testing.assert_array_equal(rec.activity, act)
    with pytest.raises(SparksError, match="a.mat' has no array named 'rates' \\(activity_key\\)") as e:
        load_recording(tmp_path / "a.mat", activity_key="rates")
    assert "spikes" in str(e.value)
    # MATLAB v7.3 = HDF5 with a 512-byte header, arrays stored transposed
    p = tmp_path / "b.mat"
    with h5py.File(p, "w", userblock_size=512) as f:
        f["spikes"] = act.T
        f["dt"] = np.array([[0.01]])
    with open(p, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file".ljust(128, b" "))
    assert detect_format(p) == "mat"
    np.testing.assert_array_equal(load_recording(p).activity, act)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f["data/activity"] = act
        f["speed"] = np.arange(4.0)
    rec = load_recording(tmp_path / "c.h5", activity_key="data/activity", dt=0.1)
    np.testing.assert_array_equal(rec.activity, act)
    np.testing.assert_array_equal(rec.behaviour["speed"][:, 0], np.arange(4.0))


def test_spike_time_lists(tmp_path):
    times = np.array([0.05, 0.01, 0.15, 0.02, 0.31])
    units = np.array([2, 5, 2, 2, 5])
    np.savez(tmp_path / "s.npz", spike_times=times, spike_units=units)
    rec = load_recording(tmp_path / "s.npz", dt=0.1)
    assert list(rec.neuron_ids) == [2, 5]
    np.testing.assert_array_equal(rec.activity, [[2, 1, 0, 0], [1, 0, 0, 1]])
    (tmp_path / "s.csv").write_text("time,unit\n" + "".join(f"{t},{u}\n" for t, u in zip(times, units, strict=False)))
    np.testing.assert_array_equal(load_recording(tmp_path / "s.csv", dt=0.1).activity, rec.activity)
    with pytest.raises(SparksError, match="s.npz' holds spike times; they need a bin width"):
        load_recording(tmp_path / "s.npz")


def test_csv_named_columns(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,speed\n1,0,0.5\n0,2,0.6\n3,1,0.7\n")
    with pytest.raises(SparksError, match="t.csv' has named columns.*none is named like a neuron") as e:
        load_recording(p, dt=0.1)
    assert "columns=" in e.value.fix
    rec = load_recording(p, dt=0.1, columns=["a", "b"])
    np.testing.assert_array_equal(rec.activity, [[1, 0, 3], [0, 2, 1]])
    np.testing.assert_allclose(rec.behaviour["speed"][:, 0], [0.5, 0.6, 0.7])
    # columns named like neurons (n1, n2) are the activity without being told, with a warning
    (tmp_path / "n.csv").write_text("n1,n2,speed\n1,0,0.5\n0,2,0.6\n3,1,0.7\n")
    with pytest.warns(UserWarning, match="2 columns named like neurons"):
        rec = load_recording(tmp_path / "n.csv", dt=0.1)
    np.testing.assert_array_equal(rec.activity, [[1, 0, 3], [0, 2, 1]])


def test_tiff_movie_with_rois_and_input_untouched(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rec = make_calcium_movie(n_neurons=5, size=32, n_frames=40)
    p = tmp_path / "movie.tif"
    tifffile.imwrite(p, rec.movie, imagej=True, metadata={"finterval": rec.dt, "axes": "TYX"})
    np.save(tmp_path / "labels.npy", rec.ground_truth["footprints"])
    before = hashlib.sha256(p.read_bytes()).hexdigest()
    mtime = p.stat().st_mtime_ns
    assert detect_format(p) == "tiff"
    with pytest.raises(SparksError, match="movie.tif' is an imaging movie.*rois="):
        load_recording(p)
    back = load_recording(p, rois=tmp_path / "labels.npy")
    assert back.dt == pytest.approx(rec.dt, rel=1e-6)
    np.testing.assert_allclose(back.activity, rec.activity, atol=1e-6)
    assert isinstance(back.movie, np.memmap) and not back.movie.flags.writeable
    assert hashlib.sha256(p.read_bytes()).hexdigest() == before and p.stat().st_mtime_ns == mtime
    # compressed TIFF -> page-wise lazy dask array
    tifffile.imwrite(tmp_path / "z.tif", rec.movie, compression="zlib")
    from sparks_gui.data.tiff import open_movie

    lazy = open_movie(tmp_path / "z.tif")
    assert type(lazy).__module__.startswith("dask") and lazy.shape == rec.movie.shape
    np.testing.assert_array_equal(np.asarray(lazy[3]), rec.movie[3])


def test_huge_tiff_opens_lazily(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    p = tmp_path / "huge.tif"
    shape = (20_000, 512, 512)  # 10.5 GB of uint16, written as a sparse file
    m = tifffile.memmap(p, shape=shape, dtype=np.uint16, bigtiff=True)
    m[-1, -1, -1] = 7
    m.flush()
    del m
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from sparks_gui.data.tiff import open_movie

    movie = open_movie(p)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    assert movie.shape == shape and movie.nbytes > 10e9
    assert grown_mb < 200
    assert int(movie[-1, -1, -1]) == 7


def test_roi_masks_views():
    r = RoiMasks((4, 5), [[0, 0, 1], [3]], [[0, 1, 0], [4]], [[1, 2, 3], [5]])
    assert len(r) == 2
    lab = r.labels()
    assert lab[0, 0] == 1 and lab[3, 4] == 2 and lab.sum() == 3 * 1 + 2
    np.testing.assert_allclose(r.centroids()[1], [3, 4])
    assert RoiMasks.from_dense(r.to_dense()).equals(r)
    with pytest.raises(SparksError, match="outside the \\(4, 5\\) image"):
        RoiMasks((4, 5), [[9]], [[0]])
