"""Loaders on files as real users have them: sparse matrices, [time, neurons] arrays next to
train/test copies, rates in ``*fs`` variables, CSV tables with unit columns, NWB files with
external-file stimuli, suite2p folders without ops.npy/Fneu.npy; `sparks-gui inspect` and
`--set`.  The two shipped real recordings (tests/data) must load with no hints."""

from __future__ import annotations

import datetime
import gzip
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from sparks_gui.data.inspect import format_report, inspect_file
from sparks_gui.data.io import activity_candidates, activity_choices, detect_format, load_recording, read_arrays
from sparks_gui.errors import SparksError, SparksWarning

DATA = Path(__file__).resolve().parent / "data"
SONGBIRD = DATA / "songbird_hvc" / "MackeviciusData.mat"
MC_MAZE = DATA / "mc_maze_hisde" / "trial_748_data.csv.gz"


def load(path, **kw):
    """load_recording, returning (recording, [SparksWarning messages])."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rec = load_recording(path, **kw)
    return rec, [str(w.message) for w in caught if issubclass(w.category, SparksWarning)]


def reaching_mat(path, n_train=1200, n_test=1818, n_neurons=(71, 71), seed=0):
    """A file laid out like the DAD reaching demos: Ytr/Yte [time, neurons] counts, Xtr/Xte
    [time, 2] velocity, Ttr/Tte [time] target ids, no bin width."""
    import scipy.io

    rng = np.random.default_rng(seed)
    arrays = {
        "Ytr": rng.poisson(2.0, (n_train, n_neurons[0])).astype(np.uint8),
        "Yte": rng.poisson(2.0, (n_test, n_neurons[1])).astype(np.uint8),
        "Xtr": rng.normal(0, 10, (n_train, 2)),
        "Xte": rng.normal(0, 10, (n_test, 2)),
        "Ttr": rng.integers(0, 4, n_train).astype(np.uint8),
        "Tte": rng.integers(0, 4, n_test).astype(np.uint8),
    }
    arrays["Ytr"][5, 3] = 12  # counts up to 12 stay counts
    scipy.io.savemat(path, arrays)
    return arrays


def write_v73(path, variables: dict):
    """A MATLAB v7.3-like file: HDF5 with a 512-byte MATLAB header; dense arrays stored transposed,
    sparse matrices as groups with jc/ir/data and the MATLAB_sparse row count."""
    import h5py
    import scipy.sparse as sp

    with h5py.File(path, "w", userblock_size=512) as f:
        for name, v in variables.items():
            if sp.issparse(v):
                m = sp.csc_matrix(v)
                g = f.create_group(name)
                g.attrs["MATLAB_class"] = np.bytes_("logical" if m.dtype == bool else "double")
                g.attrs["MATLAB_sparse"] = np.uint64(m.shape[0])
                g["jc"] = m.indptr.astype(np.uint64)
                if m.nnz:
                    g["ir"] = m.indices.astype(np.uint64)
                    g["data"] = m.data.astype(np.uint8 if m.dtype == bool else np.float64)
            elif isinstance(v, str):
                d = f.create_dataset(name, data=np.array([[ord(c)] for c in v], dtype=np.uint16))
                d.attrs["MATLAB_class"] = np.bytes_("char")
            else:
                arr = np.atleast_2d(np.asarray(v, dtype=np.float64))
                d = f.create_dataset(name, data=arr.T)
                d.attrs["MATLAB_class"] = np.bytes_("double")
    with open(path, "r+b") as fh:
        fh.write(
            b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .".ljust(
                116
            )
            + b"\x00" * 8
            + b"\x00\x02IM"
        )


# --------------------------------------------------------------------------- sparse
def test_sparse_mat_v5_becomes_dense_activity(tmp_path):
    import scipy.io
    import scipy.sparse as sp

    rng = np.random.default_rng(1)
    dense = (rng.random((30, 2000)) < 0.02).astype(np.float64)
    scipy.io.savemat(
        tmp_path / "ca.mat",
        {
            "spikes": sp.csc_matrix(dense),
            "fs": 20.0,
            "running": rng.random(2000),
            "notes": "session 3",
            "cells": {"depth": np.arange(30.0)},
        },
    )
    arrays = read_arrays(tmp_path / "ca.mat")
    assert sp.issparse(arrays["spikes"]) and "cells.depth" in arrays  # structs flattened, sparse kept sparse
    rec, msgs = load(tmp_path / "ca.mat")
    assert rec.activity.shape == (30, 2000) and rec.activity.dtype == np.float32
    np.testing.assert_array_equal(rec.activity, dense)
    assert rec.dt == pytest.approx(0.05) and rec.kind == "spikes"
    assert rec.provenance["activity_key"] == "spikes" and rec.provenance["sparse"] is True
    assert list(rec.behaviour) == ["running"] and rec.behaviour["running"].shape == (2000, 1)
    np.testing.assert_array_equal(rec.neuron_meta["cells.depth"], np.arange(30.0))
    assert any("fs = 20 Hz" in m for m in msgs)
    assert not any("notes" in m for m in msgs)  # text is not data: listed by inspect, not warned about
    assert inspect_file(tmp_path / "ca.mat").loaded["ignored"]["notes"] == "text"


def test_hour_of_imaging_with_frame_times_and_cell_positions(tmp_path):
    """An hour of binary events as a sparse matrix, next to frame times, cell positions and a cell array."""
    import scipy.io
    import scipy.sparse as sp

    rng = np.random.default_rng(7)
    events = sp.random(300, 72_000, density=0.005, format="csc", random_state=1, data_rvs=np.ones).astype(bool)
    scipy.io.savemat(
        tmp_path / "hour.mat",
        {
            "binaryMatrix": events,
            "frameTimes": 12.0 + np.arange(72_000) / 20.0,
            "cellXY": rng.random((300, 2)),
            "mouse": "M1",
            "trialNames": np.array(["a", "bb"], dtype=object),
            "spikeTimes": np.array([np.arange(3.0), np.arange(5.0)], dtype=object),
        },
    )
    rec, msgs = load(tmp_path / "hour.mat")
    assert rec.activity.shape == (300, 72_000) and rec.activity.sum() == events.nnz and rec.kind == "spikes"
    assert (
        rec.dt == pytest.approx(0.05) and rec.start_time == pytest.approx(12.0) and rec.duration == pytest.approx(3600)
    )
    assert rec.provenance["layout"] == "neurons_time" and "frameTimes" in rec.provenance["layout_reason"]
    assert rec.neuron_meta["cellXY"].shape == (300, 2) and rec.behaviour == {}  # time stamps are not behaviour
    assert any("median step of the time stamps 'frameTimes'" in m for m in msgs)
    skipped = [m for m in msgs if "skipped" in m]
    assert len(skipped) == 1 and "spikeTimes MATLAB cell array, not numeric" in skipped[0]
    assert "mouse" not in skipped[0] and "trialNames" not in skipped[0]
    _, msgs = load(tmp_path / "hour.mat", dt=0.1)
    assert any("dt = 0.1 s was given, but the time stamps 'frameTimes' step by 0.05 s" in m for m in msgs)


def test_cell_id_vector_does_not_decide_the_time_axis(tmp_path):
    """As in the public MEC ultraslow-oscillation session: [neurons, time] sparse events next to the
    neurons' IDs (``cells_d``, one per neuron).  The IDs are per-neuron metadata, not a behaviour
    with one sample per bin: the 484 x 27832 matrix is 484 neurons, not 27832."""
    import scipy.io
    import scipy.sparse as sp

    events = sp.random(48, 2_800, density=0.01, format="csc", random_state=2, data_rvs=np.ones)
    ids = np.sort(np.random.default_rng(0).choice(np.arange(1, 60), 48, replace=False)).astype(np.uint16)
    scipy.io.savemat(tmp_path / "session17.mat", {"spikes_d_s": events, "cells_d": ids})
    rec, msgs = load(tmp_path / "session17.mat", fs=7.73)
    assert rec.activity.shape == (48, 2_800) and rec.provenance["layout"] == "neurons_time"
    assert rec.behaviour == {} and rec.dt == pytest.approx(1 / 7.73)
    np.testing.assert_array_equal(rec.neuron_meta["cells_d"].reshape(-1), ids)
    assert not any("read as time x neurons" in m for m in msgs)


def test_sparse_mat_v73_and_logical(tmp_path):
    import scipy.sparse as sp

    rng = np.random.default_rng(2)
    counts = rng.poisson(0.1, (25, 900)).astype(np.float64)
    binary = rng.random((25, 900)) < 0.05
    p = tmp_path / "big.mat"
    write_v73(
        p,
        {
            "raster": sp.csc_matrix(counts),
            "events": sp.csc_matrix(binary),
            "frame_rate": 30.0,
            "speed": rng.random(900),
            "empty": sp.csc_matrix((3, 4)),
            "animal": "M12",
        },
    )
    assert detect_format(p) == "mat"
    arrays = read_arrays(p)
    assert sp.issparse(arrays["raster"]) and arrays["raster"].shape == (25, 900)
    assert arrays["events"].dtype == bool and arrays["empty"].nnz == 0 and arrays["animal"] == "M12"
    rec, _ = load(p, activity_key="raster")
    np.testing.assert_array_equal(rec.activity, counts.astype(np.float32))
    assert rec.dt == pytest.approx(1 / 30) and rec.kind == "spikes" and rec.activity.max() == counts.max()
    assert "speed" in rec.behaviour and "events" in rec.behaviour  # [25, 900]: one column per neuron, same clock
    rec2, _ = load(p, activity_key="events")
    np.testing.assert_array_equal(rec2.activity, binary.astype(np.float32))
    info = {v.name: v for v in inspect_file(p).variables}
    assert info["raster"].sparse and info["raster"].shape == (25, 900) and info["raster"].maximum == counts.max()


def test_sparse_npz_from_save_npz(tmp_path):
    import scipy.sparse as sp

    dense = np.zeros((8, 500), np.float32)
    dense[np.arange(8), np.arange(8) * 50] = 3
    sp.save_npz(tmp_path / "s.npz", sp.csr_matrix(dense))
    assert detect_format(tmp_path / "s.npz") == "npz"
    rec, _ = load(tmp_path / "s.npz", dt=0.01)
    np.testing.assert_array_equal(rec.activity, dense)
    assert rec.provenance["sparse"] is True and rec.activity.max() == 3  # counts stay counts


# ------------------------------------------------------------------- layout & skipping
def test_time_by_neurons_found_by_behaviour_length(tmp_path):
    p = tmp_path / "reach.mat"
    arrays = reaching_mat(p)
    cands = activity_candidates(read_arrays(p))
    assert [c.key for c in cands if c.fits] == ["Ytr", "Yte"]
    rec, msgs = load(p, dt=0.05)
    assert rec.activity.shape == (71, 1200) and rec.n_time == 1200
    np.testing.assert_array_equal(rec.activity, arrays["Ytr"].T)
    assert rec.activity.max() == 12 and rec.kind == "spikes"  # counts, not binarised
    assert list(rec.behaviour) == ["Xtr", "Ttr"]  # continuous signals before integer labels
    assert rec.behaviour["Xtr"].shape == (1200, 2)
    assert rec.provenance["layout"] == "time_neurons"
    assert set(rec.provenance["skipped"]) == {"Tte", "Xte", "Yte"}
    choice = [m for m in msgs if "several arrays could hold the activity" in m]
    assert len(choice) == 1 and "'Yte' [1818 x 71]" in choice[0] and "activity_key='Yte'" in choice[0]
    assert "train/test" in choice[0]
    layout = [m for m in msgs if "read as time x neurons" in m]
    assert len(layout) == 1 and "2 other variable(s)" in layout[0] and "Ttr" in layout[0] and "Xtr" in layout[0]
    assert "layout='neurons_time'" in layout[0]
    skipped = [m for m in msgs if "skipped" in m]
    assert len(skipped) == 1 and "Tte [1818]" in skipped[0] and "Xte [1818 x 2]" in skipped[0]
    # the test part on request, and the layout forced
    rec, _ = load(p, dt=0.05, activity_key="Yte")
    assert rec.activity.shape == (71, 1818) and set(rec.behaviour) == {"Xte", "Tte"}
    rec, msgs = load(p, dt=0.05, layout="neurons_time")
    assert rec.activity.shape == (1200, 71) and not any("read as" in m for m in msgs)


def test_train_test_parts_with_different_neuron_counts(tmp_path):
    import scipy.io

    p = tmp_path / "mihi.mat"
    arrays = reaching_mat(p, n_train=623, n_test=803, n_neurons=(174, 187))
    # rates in Hz from counts in 0.2 s bins (float noise included): the missing bin width is suggested
    rates = {**arrays, "Ytr": arrays["Ytr"] * 5.0 * (1 + 1e-13), "Yte": arrays["Yte"] * 5.0}
    scipy.io.savemat(tmp_path / "rates.mat", rates)
    with pytest.raises(SparksError, match="whole multiples of 5: spike rates in Hz from counts in 0.2 s bins"):
        load_recording(tmp_path / "rates.mat")
    rec, _ = load(p, fs=20)
    assert rec.activity.shape == (174, 623) and rec.dt == pytest.approx(0.05)
    assert rec.provenance["dt_source"].startswith("given (fs = 20 Hz")
    assert "Yte" in rec.provenance["skipped"]


def test_other_lengths_never_abort_and_longer_axis_is_time(tmp_path):
    rng = np.random.default_rng(3)
    np.savez(
        tmp_path / "a.npz",
        activity=rng.random((1500, 40)),
        dt=0.1,
        lick_times=rng.random(37),
        pupil=rng.random(1499),
        xy=rng.random((7, 2)),
    )
    rec, msgs = load(tmp_path / "a.npz")
    assert rec.activity.shape == (40, 1500)  # [time, neurons] by the longer axis
    assert any("the longer axis (1500" in m for m in msgs)
    skipped = [m for m in msgs if "skipped" in m]
    assert (
        len(skipped) == 1
        and "lick_times [37]" in skipped[0]
        and "pupil [1499]" in skipped[0]
        and "xy [7 x 2]" in skipped[0]
    )
    assert rec.behaviour == {}


# ---------------------------------------------------------------------- rates
@pytest.mark.parametrize(
    "variables,dt,source",
    [
        ({"fs": 100.0}, 0.01, "fs = 100 Hz"),
        ({"Fs": 30.0}, 1 / 30, "Fs = 30 Hz"),
        ({"FS": 1000}, 0.001, "FS = 1000 Hz"),
        ({"sampling_rate": 40.0}, 0.025, "sampling_rate"),
        ({"frameRate": 15.0}, 1 / 15, "frameRate"),
        ({"fps": 60.0}, 1 / 60, "fps"),
        ({"srate": 500.0}, 0.002, "srate"),
        ({"imagingFs": 7.5}, 1 / 7.5, "imagingFs"),
        ({"bin_width": 0.02}, 0.02, "bin_width = 0.02 s"),
        ({"binsize": 50.0}, 0.05, "read as milliseconds"),
        ({"bin_ms": 25.0}, 0.025, "bin_ms = 25 ms"),
        ({"dt": 20.0}, 0.02, "read as milliseconds"),
    ],
)
def test_rate_variables(tmp_path, variables, dt, source):
    rng = np.random.default_rng(4)
    np.savez(tmp_path / "r.npz", spikes=rng.poisson(1, (10, 300)), **variables)
    rec, msgs = load(tmp_path / "r.npz")
    assert rec.dt == pytest.approx(dt)
    assert source in rec.provenance["dt_source"]
    assert any("bin width" in m for m in msgs)


def test_rate_chosen_by_matching_duration(tmp_path):
    rng = np.random.default_rng(5)
    # two rates not named after a variable; 'spec' at specfs lasts 10 s, like the activity at fs_b (300 / 30)
    np.savez(
        tmp_path / "d.npz",
        activity=rng.random((12, 300)),
        spec=rng.random((5, 2000)),
        specfs=200.0,
        fs_a=100.0,
        fs_b=30.0,
    )
    rec, _ = load(tmp_path / "d.npz")
    assert rec.dt == pytest.approx(1 / 30)
    assert "fs_b" in rec.provenance["dt_source"] and "like 'spec'" in rec.provenance["dt_source"]
    assert rec.behaviour["spec"].shape == (300, 5)  # averaged onto the activity bins
    np.testing.assert_allclose(
        rec.behaviour["spec"][0], np.load(tmp_path / "d.npz")["spec"][:, :7].mean(axis=1), rtol=1e-5
    )
    # a rate that belongs to another variable is never the activity's
    np.savez(tmp_path / "e.npz", activity=rng.random((12, 300)), spec=rng.random((5, 2000)), specfs=200.0)
    with pytest.raises(SparksError, match="does not say the bin width of 'activity'.*specfs = 200 Hz") as e:
        load_recording(tmp_path / "e.npz")
    assert "--dt" in e.value.fix and "--fs" in e.value.fix


# ------------------------------------------------------------------ shipped real data
def test_songbird_hvc_loads_with_no_hints():
    rec, msgs = load(SONGBIRD)
    assert rec.provenance["activity_key"] == "NEURAL" and rec.provenance["layout"] == "neurons_time"
    assert rec.activity.shape == (75, 666) and rec.kind == "calcium"
    assert rec.dt == pytest.approx(1 / 30) and rec.duration == pytest.approx(22.2)
    assert "VIDEOfs = 30 Hz" in rec.provenance["dt_source"]
    assert list(rec.behaviour) == ["SONG"] and rec.behaviour["SONG"].shape == (666, 141)
    import scipy.io

    raw = scipy.io.loadmat(SONGBIRD)
    np.testing.assert_allclose(rec.activity, raw["NEURAL"].astype(np.float32))
    # bin 0 of the imaging clock (0..1/30 s) holds spectrogram columns 0..6 (200 Hz)
    np.testing.assert_allclose(rec.behaviour["SONG"][0], raw["SONG"][:, :7].mean(axis=1), rtol=1e-5)
    assert any("bin width 0.0333333 s from VIDEOfs = 30 Hz" in m and "SONGfs = 200 Hz" in m for m in msgs)
    assert any("'SONG' resampled from 200 Hz" in m for m in msgs)
    assert not any("skipped" in m for m in msgs)


def test_mc_maze_csv_gz_loads_with_no_hints():
    assert detect_format(MC_MAZE) == "csv"
    rec, msgs = load(MC_MAZE)
    assert rec.activity.shape == (182, 3236) and rec.kind == "spikes"
    assert rec.dt == pytest.approx(0.001, rel=1e-9) and rec.start_time == pytest.approx(2282.6)
    assert int(rec.activity.sum()) == 1654 and rec.activity.max() == 1
    assert set(rec.behaviour) == {"cursor_pos", "eye_pos", "hand_pos", "hand_vel"}
    assert all(v.shape == (3236, 2) for v in rec.behaviour.values())
    np.testing.assert_allclose(rec.behaviour["hand_vel"][0], [-18.35745817151835, -19.12180210219816], rtol=1e-6)
    assert rec.neuron_ids[0] == 1011 and rec.neuron_ids[-1] == 2961
    assert len(msgs) == 1 and "182 columns named like neurons (unit_1011 ... unit_2961)" in msgs[0]
    assert "hand_vel [x, y]" in msgs[0] and "bin width 0.001 s" in msgs[0]


def test_shipped_data_is_small_and_licensed():
    files = [p for p in DATA.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 5 * 1024 * 1024
    for folder in (SONGBIRD.parent, MC_MAZE.parent):
        assert "MIT License" in (folder / "LICENSE").read_text()
        assert (folder / "README.md").stat().st_size > 200


# ------------------------------------------------------------------------- CSV
def test_csv_time_columns_and_compression(tmp_path):
    rows = "\n".join(f"{i * 10},{i % 3},{(i + 1) % 2},{0.1 * i:.1f},{-0.1 * i:.1f}" for i in range(50))
    (tmp_path / "ms.csv").write_text("time_ms,neuron_1,neuron_2,pos_x,pos_y\n" + rows + "\n")
    rec, msgs = load(tmp_path / "ms.csv")
    assert rec.dt == pytest.approx(0.01) and rec.activity.shape == (2, 50) and rec.behaviour["pos"].shape == (50, 2)
    assert len(msgs) == 1 and "bin width 0.01 s" in msgs[0] and "read as milliseconds" in msgs[0]
    # a bare 't' column stepping by 1 is read as milliseconds, and said so
    with gzip.open(tmp_path / "t.tsv.gz", "wt") as fh:
        fh.write("t\tcell_a\tcell_b\tspeed\n" + "".join(f"{i}\t{i % 2}\t1\t{i / 10}\n" for i in range(40)))
    rec, _ = load(tmp_path / "t.tsv.gz")
    assert rec.dt == pytest.approx(0.001) and rec.activity.shape == (2, 40) and list(rec.behaviour) == ["speed"]
    assert "read as milliseconds" in rec.provenance["dt_source"]
    # no time column: the bin width must be given
    (tmp_path / "n.csv").write_text("unit_1,unit_2\n1,0\n0,1\n")
    with pytest.raises(SparksError, match="no time column") as e:
        load_recording(tmp_path / "n.csv")
    assert "--dt" in e.value.fix
    assert load_recording(tmp_path / "n.csv", fs=100).dt == pytest.approx(0.01)


# ------------------------------------------------------------------------- NWB
def _nwb_with_external_stimulus(path):
    import h5py
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.image import OpticalSeries

    nwb = NWBFile(
        session_description="external stimulus",
        identifier="ext",
        session_start_time=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
    )
    rng = np.random.default_rng(0)
    for _ in range(4):
        nwb.add_unit(spike_times=np.sort(rng.uniform(0, 10, 50)))
    nwb.add_stimulus(
        OpticalSeries(
            name="StimulusPresentation",
            distance=0.7,
            field_of_view=[0.2, 0.3, 0.7],
            orientation="lower left",
            data=np.zeros((20, 1, 1, 3), np.uint8),
            unit="n.a.",
            format="raw",
            timestamps=np.arange(0, 10, 0.5),
        )
    )
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    # as NWB 2.4-era files hold it: frames in an external movie, a 2-frame placeholder in the file
    with h5py.File(path, "a") as f:
        g = f["stimulus/presentation/StimulusPresentation"]
        attrs = dict(g["data"].attrs)
        del g["data"]
        d = g.create_dataset("data", data=np.zeros((2, 1, 1, 3), np.uint8))
        for k, v in attrs.items():
            d.attrs[k] = v
        g.create_dataset("external_file", data=np.array([b"stimulus_movie.avi"]), dtype=h5py.string_dtype())
        g["external_file"].attrs["starting_frame"] = np.array([0])
        del g["format"]
        g.create_dataset("format", data="external", dtype=h5py.string_dtype())


def test_nwb_external_file_stimulus_is_skipped_with_a_warning(tmp_path):
    pytest.importorskip("pynwb")
    p = tmp_path / "ext.nwb"
    _nwb_with_external_stimulus(p)
    rec, msgs = load(p, dt=0.1)  # was: IndexError: index 2 is out of bounds for axis 0 with size 2
    assert rec.activity.shape == (4, 100) and rec.activity.sum() == 200
    assert rec.stimulus == {}
    stim = [m for m in msgs if "stimulus not loaded" in m]
    assert len(stim) == 1 and "StimulusPresentation" in stim[0] and "stimulus_movie.avi" in stim[0]
    report = inspect_file(p, dt=0.1)
    assert report.would_load and report.contents["stimulus"] == ["StimulusPresentation"]
    assert any("external file" in w for w in report.warnings)


# ---------------------------------------------------------------------- suite2p
def test_suite2p_without_ops_and_fneu(tmp_path):
    rng = np.random.default_rng(6)
    d = tmp_path / "suite2p" / "plane0"
    d.mkdir(parents=True)
    F = rng.uniform(100, 200, (5, 90)).astype(np.float32)
    np.save(d / "F.npy", F)
    np.save(d / "iscell.npy", np.array([[1, 0.9], [0, 0.2], [1, 0.8], [1, 0.7], [1, 0.6]]))
    assert detect_format(tmp_path) == "suite2p"
    with pytest.raises(SparksError, match="no ops.npy with the frame rate") as e:
        load_recording(tmp_path)
    assert "--fs" in e.value.fix and "--dt" in e.value.fix
    rec, msgs = load(tmp_path, fs=15)
    assert rec.dt == pytest.approx(1 / 15) and rec.provenance["signal"] == "F"
    np.testing.assert_array_equal(rec.activity, F[[0, 2, 3, 4]])
    assert (
        len(msgs) == 1
        and "no Fneu.npy" in msgs[0]
        and "without neuropil correction" in msgs[0]
        and "no ops.npy" in msgs[0]
    )
    with pytest.raises(SparksError, match="no Fneu.npy \\(needed for signal='F_corrected'\\)") as e:
        load_recording(tmp_path, fs=15, signal="F_corrected")
    assert "F" in e.value.fix and "--signal" in e.value.fix
    from sparks_gui.cli import main

    assert main(["inspect", str(tmp_path), "--fs", "15", "--signal", "F", "--all-rois"]) == 0


# ---------------------------------------------------------------------- inspect
def test_inspect_report_and_cli(tmp_path, capsys):
    from sparks_gui.cli import main

    p = tmp_path / "reach.mat"
    reaching_mat(p)
    report = inspect_file(p)
    assert not report.would_load and "bin width" in report.problem and "--dt" in report.fix
    assert report.loaded["activity"] == "Ytr [1200 x 71]" and report.loaded["layout"] == "time_neurons"
    assert report.loaded["n_neurons"] == 71 and report.loaded["n_time"] == 1200 and report.loaded["dt"] is None
    assert set(report.loaded["skipped"]) == {"Tte", "Xte", "Yte"} and set(report.loaded["behaviour"]) == {"Xtr", "Ttr"}
    names = {v.name: v for v in report.variables}
    assert names["Ytr"].shape == (1200, 71) and names["Ytr"].dtype == "uint8" and names["Ytr"].maximum == 12
    text = format_report(report)
    for piece in (
        "Variables (6):",
        "Ytr [1200 x 71] -> 71 neurons x 1200 time bins (spikes)",
        "time_neurons",
        "Would NOT load",
        "Fix: Pass dt",
    ):
        assert piece in text, piece
    assert main(["inspect", str(p)]) == 1
    assert main(["inspect", str(p), "--dt", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "dt         0.05 s  (from: given (dt = 0.05 s))" in out and "Loads with these options." in out
    assert main(["inspect", str(p), "--fs", "20", "--json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["would_load"] and data["loaded"]["dt"] == pytest.approx(0.05)
    (tmp_path / "junk.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 40)
    assert main(["inspect", str(tmp_path / "junk.mat")]) == 2
    err = capsys.readouterr().err
    assert "sparks-gui: error: Could not read" in err and "Traceback" not in err


def test_activity_choices_for_the_gui(tmp_path):
    p = tmp_path / "reach.mat"
    reaching_mat(p)
    assert activity_choices(p)[:2] == ["Ytr", "Yte"]
    assert activity_choices(SONGBIRD) == ["NEURAL", "SONG"]
    assert activity_choices(MC_MAZE) == []


# ------------------------------------------------------------------------ --set
def test_set_parses_every_config_type():
    from sparks_gui.cli import _config_from_args, build_parser, parse_set_options

    got = parse_set_options(
        [
            "epochs=5",
            "lr=1e-3",
            "learn_traces=false",
            "neurons=0,1,2",
            "out_dir=none",
            'extra={"note": "x"}',
            "tau-s=0.3",
            "target=hand_vel",
            "neurons=[3, 4]",
        ]
    )
    assert got == {
        "epochs": 5,
        "lr": 0.001,
        "learn_traces": False,
        "neurons": [3, 4],
        "out_dir": None,
        "extra": {"note": "x"},
        "tau_s": 0.3,
        "target": "hand_vel",
    }
    assert parse_set_options(["data_path=none", "seed=7"]) == {"data_path": None, "seed": 7}
    from sparks_gui.engine import config as config_module

    if "epochs" in getattr(config_module, "AUTO_FIELDS", ()):  # 0 = chosen from the recording
        assert parse_set_options(["epochs=auto"]) == {"epochs": 0}
    with pytest.raises(SparksError, match="'epoch' is not a SparksConfig field \\(did you mean epochs") as e:
        parse_set_options(["epoch=5"])
    assert "batch_size" in e.value.fix
    for bad, msg in (
        ("epochs=many", "not an integer"),
        ("learn_traces=maybe", "not a boolean"),
        ("lr=fast", "not a number"),
        ("epochs", "has no '='"),
    ):
        with pytest.raises(SparksError, match=msg):
            parse_set_options([bad])
    args = build_parser().parse_args(
        ["train", "x.mat", "--epochs", "4", "--set", "tau_s=0.25", "--set", "segment_length=100"]
    )
    cfg = _config_from_args(args)
    assert cfg.epochs == 4 and cfg.tau_s == 0.25 and cfg.segment_length == 100
    args = build_parser().parse_args(["train", "x.mat", "--set", "embed_dim=0"])
    with pytest.raises(SparksError, match="embed_dim=0 must be at least 1"):
        _config_from_args(args)


def test_loader_options_reach_the_loader(tmp_path):
    from sparks_gui.cli import _loader_options, build_parser

    args = build_parser().parse_args(
        [
            "train",
            "f.mat",
            "--activity-key",
            "Yte",
            "--layout",
            "time_neurons",
            "--fs",
            "20",
            "--behaviour",
            "Xte,Tte",
            "--signal",
            "F",
            "--plane",
            "1",
            "--time-range",
            "0,60",
            "--no-resample",
            "--all-rois",
            "--columns",
            "a,b",
        ]
    )
    opts = _loader_options(args)
    assert opts == {
        "activity_key": "Yte",
        "layout": "time_neurons",
        "fs": 20.0,
        "behaviour": ["Xte", "Tte"],
        "signal": "F",
        "plane": 1,
        "time_range": (0.0, 60.0),
        "resample": False,
        "cells_only": False,
        "columns": ["a", "b"],
    }
    p = tmp_path / "reach.mat"
    reaching_mat(p)
    opts.pop("signal"), opts.pop("plane"), opts.pop("columns"), opts.pop("time_range"), opts.pop("cells_only")
    rec, _ = load(p, **opts)
    assert rec.activity.shape == (71, 1818) and list(rec.behaviour) == ["Xte", "Tte"] and rec.dt == pytest.approx(0.05)


# ------------------------------------------------------------------- bad inputs
def test_bad_inputs_are_sparks_errors_with_a_fix(tmp_path, capsys):
    from sparks_gui.cli import main

    p = tmp_path / "reach.mat"
    reaching_mat(p)
    np.savez(tmp_path / "vec.npz", a=np.arange(10.0), b=np.arange(10.0))
    np.savez(tmp_path / "nan.npz", spikes=np.array([[1.0, np.nan, 0.0], [0.0, 1.0, 2.0]]), dt=0.1)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "x.bin.gz").write_bytes(gzip.compress(b"\x00\x01"))
    cases = [
        (
            lambda: load_recording(p, dt=0.05, activity_key="Ytrain"),
            "no array named 'Ytrain'.*Did you mean Ytr",
            "--activity-key",
        ),
        (lambda: load_recording(p, dt=0.05, layout="rows"), "Unknown layout 'rows'", "neurons_time"),
        (lambda: load_recording(p, dt=0.05, behaviour=["speed"]), "no variable named \\['speed'\\]", "Xtr"),
        (lambda: load_recording(p, dt=0.05, behaviour=["Xte"]), "Behaviour 'Xte'.*1200 time bins", "behaviour"),
        (lambda: load_recording(tmp_path / "vec.npz", dt=0.1), "no numeric 2-D array", "[neurons, time]"),
        (lambda: load_recording(tmp_path / "nan.npz"), "holds 1 NaN", "Replace them"),
        (lambda: load_recording(tmp_path / "obj.npy", dt=0.1), "pickled object array", "np.save"),
        (lambda: load_recording(tmp_path / "x.bin.gz"), "gzip-compressed", "gunzip"),
        (lambda: load_recording(p, dt=0.05, fs=30), "disagree", "only one"),
        (lambda: load_recording(p, fs=-3), "not a positive number", "fs in Hz"),
        (
            lambda: load_recording(
                SONGBIRD,
                activity_key="NEURAL",
                kind="calcium",
                layout="time_neurons",
                behaviour=["SONG"],
                resample=False,
            ),
            "Behaviour 'SONG'",
            "behaviour",
        ),
    ]
    for call, problem, fix in cases:
        with pytest.raises(SparksError, match=problem) as e:
            call()
        assert e.value.fix and fix in e.value.fix, (problem, e.value.fix)
    # the CLI prints the message, no traceback, non-zero exit
    assert main(["train", str(p), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "sparks-gui: error: 'reach.mat' does not say the bin width of 'Ytr'" in err and "Traceback" not in err
    assert "sparks-gui: warning: 'reach.mat': several arrays could hold the activity" in err


# --------------------------------------------------------------------------- GUI
@pytest.mark.gui
def test_data_dock_offers_the_array_and_bin_width(make_napari_viewer, qtbot, tmp_path):
    pytest.importorskip("napari")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        pytest.skip("GUI tests need a display (run under xvfb-run)")
    from napari.utils.notifications import notification_manager

    from sparks_gui.gui._session import session_for
    from sparks_gui.gui.data_widget import DataWidget

    viewer = make_napari_viewer(show=False)
    session = session_for(viewer)
    w = DataWidget(viewer, session=session)
    seen = []
    notification_manager.notification_ready.connect(lambda n: seen.append(str(n.message)))
    p = tmp_path / "reach.mat"
    reaching_mat(p)
    assert not w.array_box.isVisibleTo(w) and not w.dt_box.isVisibleTo(w)
    w.open_file(p)  # no bin width in the file: a notification, then the dock asks for it
    qtbot.waitUntil(lambda: any("does not say the bin width" in m for m in seen), timeout=10_000)
    qtbot.waitUntil(lambda: w.open_btn.isEnabled(), timeout=5000)
    assert session.recording is None
    assert w.array_box.isVisibleTo(w) and w.dt_box.isVisibleTo(w)
    assert [w.array_box.itemText(i) for i in range(w.array_box.count())][:2] == ["Ytr", "Yte"]
    w.dt_box.setValue(50.0)  # ms: reloads
    qtbot.waitUntil(lambda: session.recording is not None, timeout=10_000)
    assert session.recording.activity.shape == (71, 1200) and session.recording.dt == pytest.approx(0.05)
    assert any("several arrays could hold the activity" in m for m in seen)
    qtbot.waitUntil(lambda: w.open_btn.isEnabled(), timeout=5000)
    n_layers = len(viewer.layers)
    w.array_box.setCurrentText("Yte")
    w.array_box.activated.emit(w.array_box.currentIndex())
    qtbot.waitUntil(lambda: session.recording is not None and session.recording.n_time == 1818, timeout=10_000)
    assert session.recording.provenance["activity_key"] == "Yte" and len(viewer.layers) == n_layers
