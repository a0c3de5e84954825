"""suite2p and Kilosort/phy folders built in tmp_path."""

from __future__ import annotations

import numpy as np
import pytest

from sparks_gui.data.io import detect_format, load_recording
from sparks_gui.errors import SparksError


def make_suite2p(root, n=6, T=120, Ly=20, Lx=24, fs=15.0, iscell=None, plane="plane0"):
    rng = np.random.default_rng(0)
    d = root / "suite2p" / plane
    d.mkdir(parents=True)
    F = rng.uniform(100, 200, (n, T)).astype(np.float32)
    Fneu = rng.uniform(10, 20, (n, T)).astype(np.float32)
    spks = rng.exponential(1.0, (n, T)).astype(np.float32)
    stat = np.array(
        [
            {
                "ypix": np.array([i, i, i + 1]),
                "xpix": np.array([2 * i, 2 * i + 1, 2 * i]),
                "lam": np.array([1.0, 0.5, 0.25], np.float32),
            }
            for i in range(n)
        ],
        dtype=object,
    )
    cells = np.ones((n, 2)) if iscell is None else iscell
    np.save(d / "F.npy", F)
    np.save(d / "Fneu.npy", Fneu)
    np.save(d / "spks.npy", spks)
    np.save(d / "stat.npy", stat, allow_pickle=True)
    np.save(d / "iscell.npy", cells)
    np.save(d / "ops.npy", np.array({"fs": fs, "Ly": Ly, "Lx": Lx, "neucoeff": 0.7}, dtype=object), allow_pickle=True)
    return d, F, Fneu, spks


def test_suite2p_folder_loads(tmp_path):
    iscell = np.array([[1, 0.9], [0, 0.1], [1, 0.8], [1, 0.7], [0, 0.2], [1, 0.95]])
    d, F, Fneu, spks = make_suite2p(tmp_path, iscell=iscell)
    assert detect_format(tmp_path) == "suite2p" and detect_format(d) == "suite2p"
    rec = load_recording(tmp_path)
    keep = [0, 2, 3, 5]
    assert rec.kind == "calcium" and rec.dt == pytest.approx(1 / 15.0)
    np.testing.assert_allclose(rec.activity, F[keep] - np.float32(0.7) * Fneu[keep], rtol=1e-6)
    np.testing.assert_array_equal(rec.neuron_ids, keep)
    assert rec.rois.shape == (20, 24) and len(rec.rois) == 4
    assert rec.rois.dense(1)[2, 4] == 1.0 and rec.rois.dense(1)[3, 4] == 0.25  # ROI 2: ypix 2,2,3 xpix 4,5,4
    np.testing.assert_array_equal(rec.neuron_meta["cell_probability"], np.float32([0.9, 0.8, 0.7, 0.95]))
    rec = load_recording(d, signal="spks", cells_only=False)
    np.testing.assert_array_equal(rec.activity, spks)


def test_suite2p_roi_count_mismatch(tmp_path):
    d, *_ = make_suite2p(tmp_path)
    np.save(d / "stat.npy", np.load(d / "stat.npy", allow_pickle=True)[:4], allow_pickle=True)
    with pytest.raises(SparksError, match="stat.npy' describes 4 ROIs but 'F.npy' has 6 traces"):
        load_recording(tmp_path)


def test_suite2p_several_planes(tmp_path):
    make_suite2p(tmp_path, plane="plane0")
    make_suite2p(tmp_path, plane="plane1")
    with pytest.raises(SparksError, match="several suite2p planes: plane0, plane1") as e:
        load_recording(tmp_path)
    assert "plane=0" in str(e.value)
    assert load_recording(tmp_path, plane=1).provenance["plane_folder"].endswith("plane1")


def make_phy(root, fs=30000.0, labels=True):
    d = root / "ks"
    d.mkdir()
    # cluster 3: 4 spikes, cluster 7: 3 spikes, cluster 9: 2 spikes (noise)
    times_s = np.array([0.001, 0.0105, 0.012, 0.05, 0.051, 0.2, 0.25, 0.3, 0.31])
    clusters = np.array([3, 7, 3, 9, 3, 7, 3, 9, 7])
    np.save(d / "spike_times.npy", np.round(times_s * fs).astype(np.uint64))
    np.save(d / "spike_clusters.npy", clusters.astype(np.int32))
    (d / "params.py").write_text(f"dat_path = 'raw.bin'\nn_channels_dat = 64\ndtype = 'int16'\nsample_rate = {fs}\n")
    if labels:
        (d / "cluster_KSLabel.tsv").write_text("cluster_id\tKSLabel\n3\tgood\n7\tmua\n9\tgood\n")
        (d / "cluster_group.tsv").write_text("cluster_id\tgroup\n3\tgood\n7\tgood\n9\tnoise\n")
    return d


def test_phy_folder_loads(tmp_path):
    d = make_phy(tmp_path)
    assert detect_format(d) == "phy"
    rec = load_recording(d, dt=0.01)
    assert rec.kind == "spikes" and list(rec.neuron_ids) == [3, 7]  # curated 'good' (phy group beats KSLabel)
    assert rec.activity[0].sum() == 4 and rec.activity[1].sum() == 3
    assert rec.activity[0, 0] == 1 and rec.activity[0, 1] == 1 and rec.activity[0, 5] == 1 and rec.activity[0, 25] == 1
    assert rec.n_time == 32  # last kept spike at 0.31 s
    assert list(rec.neuron_meta["quality"]) == ["good", "good"]
    everything = load_recording(d, dt=0.01, groups=None)
    assert everything.n_neurons == 3 and everything.activity.sum() == 9
    assert rec.provenance["sample_rate"] == 30000.0


def test_phy_bad_inputs(tmp_path):
    d = make_phy(tmp_path)
    with pytest.raises(SparksError, match="labelled \\['unknown'\\]"):
        load_recording(d, dt=0.01, groups=("unknown",))
    np.save(d / "spike_clusters.npy", np.zeros(5, np.int32))
    with pytest.raises(SparksError, match="spike_clusters.npy' has 5 entries but 'spike_times.npy' has 9"):
        load_recording(d, dt=0.01)
    (d / "params.py").unlink()
    with pytest.raises(SparksError, match="params.py.*sample_rate"):
        load_recording(d, dt=0.01)


def test_phy_params_not_executed(tmp_path):
    d = make_phy(tmp_path)
    marker = tmp_path / "pwned"
    (d / "params.py").write_text(f"import os\nos.system('touch {marker}')\nsample_rate = 30000.0\n")
    load_recording(d, dt=0.01)
    assert not marker.exists()


def test_unknown_folder(tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(SparksError, match="neither a suite2p output nor a Kilosort/phy folder"):
        load_recording(tmp_path)
