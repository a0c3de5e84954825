"""NWB in/out: exact round trips, pynwb mock files, bad inputs, export into a copy, lazy movies."""

from __future__ import annotations

import datetime
import hashlib
import resource
import warnings

import numpy as np
import pytest

pynwb = pytest.importorskip("pynwb")
from pynwb import NWBHDF5IO, NWBFile, TimeSeries  # noqa: E402
from pynwb.behavior import BehavioralTimeSeries  # noqa: E402

from sparks_gui.data.export import export_to_nwb, read_sparks_module  # noqa: E402
from sparks_gui.data.io import load_recording  # noqa: E402
from sparks_gui.data.nwb import nwb_contents, write_nwb  # noqa: E402
from sparks_gui.data.synthetic import make_reach, make_sequence  # noqa: E402
from sparks_gui.data.synthetic_network import make_calcium_movie, make_network, make_stimulus_movie  # noqa: E402
from sparks_gui.errors import SparksError  # noqa: E402


def _nwbfile():
    return NWBFile(
        session_description="test",
        identifier="test",
        session_start_time=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc),
    )


def _save(nwb, path):
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def _digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


# ------------------------------------------------------------------ round trips
def test_reach_round_trip_exact(tmp_path):
    rec = make_reach(n_trials_per_direction=2)
    path = write_nwb(rec, tmp_path / "reach.nwb")
    back = load_recording(path)
    assert back.provenance["reader"] == "nwb" and back.kind == "spikes"
    assert back.dt == rec.dt
    np.testing.assert_array_equal(back.activity, rec.activity)
    assert back.activity.sum() == rec.activity.sum() > 1000
    for k in ("hand_pos", "hand_vel"):
        np.testing.assert_array_equal(back.behaviour[k], rec.behaviour[k])
    np.testing.assert_array_equal(back.trials, rec.trials)
    np.testing.assert_array_equal(back.conditions["direction"], rec.conditions["direction"])
    np.testing.assert_allclose(back.ground_truth["preferred_direction"], rec.ground_truth["preferred_direction"])


def test_calcium_movie_round_trip_masks_and_lazy_movie(tmp_path):
    rec = make_calcium_movie(n_neurons=6, size=32, n_frames=90)
    back = load_recording(write_nwb(rec, tmp_path / "ca.nwb"))
    assert back.kind == "calcium"
    np.testing.assert_array_equal(back.activity, rec.activity)
    assert back.dt == pytest.approx(rec.dt, rel=1e-12)
    assert back.rois is not None and back.rois.equals(rec.rois)
    np.testing.assert_array_equal(back.rois.labels(), rec.rois.labels())
    assert type(back.movie).__module__.startswith("dask")  # lazy, not an ndarray
    np.testing.assert_array_equal(np.asarray(back.movie[10:12]), rec.movie[10:12])
    # traces recomputed from the stored movie and masks equal the stored activity
    np.testing.assert_allclose(back.rois.traces(back.movie), rec.activity, atol=1e-6)


def test_stimulus_and_network_round_trip(tmp_path):
    stim = make_stimulus_movie(n_neurons=10, n_frames=8, n_repeats=3)
    back = load_recording(write_nwb(stim, tmp_path / "stim.nwb"))
    np.testing.assert_array_equal(back.stimulus["frame_ids"], stim.stimulus["frame_ids"])
    np.testing.assert_array_equal(back.stimulus["frames"], stim.stimulus["frames"])
    np.testing.assert_array_equal(back.behaviour["stimulus_pixels"], stim.behaviour["stimulus_pixels"])
    np.testing.assert_array_equal(back.trials, stim.trials)
    net = make_network(n_neurons=12, duration=5.0)
    back = load_recording(write_nwb(net, tmp_path / "net.nwb"))
    np.testing.assert_array_equal(back.activity, net.activity)
    np.testing.assert_array_equal(back.ground_truth["connectivity"], net.ground_truth["connectivity"])
    np.testing.assert_array_equal(back.neuron_meta["cell_type"], net.neuron_meta["cell_type"])


def test_calcium_sequence_without_masks_round_trip(tmp_path):
    rec = make_sequence(kind="calcium", duration=20.0)
    back = load_recording(write_nwb(rec, tmp_path / "seq.nwb"))
    np.testing.assert_array_equal(back.activity, rec.activity)
    np.testing.assert_array_equal(back.behaviour["phase"], rec.behaviour["phase"])
    assert back.rois is None


def test_rebin_on_read(tmp_path):
    rec = make_sequence(kind="calcium", duration=20.0, dt=0.05)
    back = load_recording(write_nwb(rec, tmp_path / "seq.nwb"), dt=0.1)
    assert back.dt == pytest.approx(0.1) and back.n_time == rec.n_time // 2
    np.testing.assert_allclose(back.activity, rec.activity.reshape(rec.n_neurons, -1, 2).mean(2), rtol=1e-6)


# ------------------------------------------------------------------ pynwb mock files
def test_pynwb_mock_units_file_loads(tmp_path):
    from pynwb.testing.mock.ecephys import mock_Units
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    units = mock_Units(num_units=7, max_spikes_per_unit=12, nwbfile=nwb)
    path = _save(nwb, tmp_path / "mock_units.nwb")
    rec = load_recording(path, dt=0.01)
    assert rec.kind == "spikes" and rec.n_neurons == 7
    expected = sum(len(units["spike_times"][i]) for i in range(7))
    assert rec.activity.sum() == expected
    assert list(rec.neuron_meta["unit_name"][:2]) == ["unit_0", "unit_1"]


def test_pynwb_mock_ophys_file_loads(tmp_path):
    from pynwb.ophys import Fluorescence
    from pynwb.testing.mock.file import mock_NWBFile
    from pynwb.testing.mock.ophys import mock_PlaneSegmentation, mock_RoiResponseSeries

    nwb = mock_NWBFile()
    ps = mock_PlaneSegmentation(n_rois=4, mask_type="pixel_mask", nwbfile=nwb)
    data = np.arange(30 * 4, dtype=np.float64).reshape(30, 4)
    fl = Fluorescence(name="Fluorescence")
    nwb.processing["ophys"].add(fl)
    fl.add_roi_response_series(mock_RoiResponseSeries(data=data, plane_segmentation=ps, rate=20.0))
    path = _save(nwb, tmp_path / "mock_ophys.nwb")
    rec = load_recording(path)
    assert rec.kind == "calcium" and rec.dt == pytest.approx(0.05)
    np.testing.assert_array_equal(rec.activity, data.T.astype(np.float32))
    assert len(rec.rois) == 4 and rec.rois.dense(0).sum() == pytest.approx(10.0)


def test_pynwb_mock_behaviour_and_trials(tmp_path):
    from pynwb.testing.mock.ecephys import mock_Units
    from pynwb.testing.mock.file import mock_NWBFile

    nwb = mock_NWBFile()
    mock_Units(num_units=3, max_spikes_per_unit=20, nwbfile=nwb)
    beh = nwb.create_processing_module("behavior", "b")
    bts = BehavioralTimeSeries(name="BehavioralTimeSeries")
    bts.add_timeseries(TimeSeries(name="speed", data=np.linspace(0, 1, 200), unit="m/s", rate=10.0, starting_time=0.0))
    beh.add(bts)
    nwb.add_trial(start_time=0.0, stop_time=1.0)
    nwb.add_trial(start_time=1.0, stop_time=2.5)
    rec = load_recording(_save(nwb, tmp_path / "m.nwb"))
    assert rec.dt == pytest.approx(0.1)  # the behaviour clock
    np.testing.assert_array_equal(rec.trials, [[0, 10], [10, 25]])
    np.testing.assert_allclose(rec.behaviour["speed"][:, 0], np.linspace(0, 1, 200)[: rec.n_time], rtol=1e-6)


# ------------------------------------------------------------------ bad input
def test_missing_file():
    with pytest.raises(SparksError, match="does not exist"):
        load_recording("/nonexistent/session.nwb")


def test_not_an_hdf5_file(tmp_path):
    p = tmp_path / "fake.nwb"
    p.write_text("this is not an nwb file")
    with pytest.raises(SparksError, match="fake.nwb.*not an NWB/HDF5"):
        load_recording(p)


def test_truncated_hdf5(tmp_path):
    good = write_nwb(make_sequence(duration=10.0), tmp_path / "good.nwb")
    bad = tmp_path / "cut.nwb"
    bad.write_bytes(good.read_bytes()[:3000])
    with pytest.raises(SparksError, match="cut.nwb.*(truncated|corrupt)") as e:
        load_recording(bad)
    assert "again" in str(e.value)


def test_nwb_without_units_or_ophys(tmp_path):
    nwb = _nwbfile()
    nwb.add_acquisition(TimeSeries(name="x", data=np.zeros(10), unit="a", rate=1.0))
    with pytest.raises(SparksError, match="empty.nwb.*neither a Units table nor ophys"):
        load_recording(_save(nwb, tmp_path / "empty.nwb"))


def _units_file(tmp_path, spike_lists, name="u.nwb"):
    nwb = _nwbfile()
    for t in spike_lists:
        nwb.add_unit(spike_times=np.asarray(t, dtype=float))
    return _save(nwb, tmp_path / name)


@pytest.mark.parametrize(
    "times,msg",
    [
        ([0.3, 0.1, 0.2], "not sorted"),
        ([-0.5, 0.1], "negative spike times"),
        ([0.1, np.nan], "NaN"),
    ],
)
def test_bad_spike_times(tmp_path, times, msg):
    path = _units_file(tmp_path, [[0.1, 0.2], times])
    with pytest.raises(SparksError, match=msg) as e:
        load_recording(path, dt=0.01)
    assert "u.nwb" in str(e.value) and "unit 1" in str(e.value) and "Fix:" in str(e.value)


def test_unsorted_allowed_when_asked(tmp_path):
    rec = load_recording(_units_file(tmp_path, [[0.3, 0.1, 0.2]]), dt=0.1, allow_unsorted=True)
    assert rec.activity.sum() == 3


def test_units_with_no_spikes(tmp_path):
    path = _units_file(tmp_path, [[0.1, 0.2], [], [0.5]])
    with pytest.warns(UserWarning, match="dropped 1 units"):
        rec = load_recording(path, dt=0.1)
    assert rec.n_neurons == 2 and list(rec.neuron_ids) == [0, 2] and rec.provenance["dropped_units"] == [1]
    with pytest.raises(SparksError, match="u.nwb.*1 of 3 units have no spikes"):
        load_recording(path, dt=0.1, empty_units="error")
    with pytest.raises(SparksError, match="every unit is empty"):
        load_recording(_units_file(tmp_path, [[], []], name="e.nwb"), dt=0.1)


def _units_with_behaviour(tmp_path, data, rate=100.0, name="b.nwb"):
    nwb = _nwbfile()
    nwb.add_unit(spike_times=np.linspace(0.005, 1.995, 50))
    mod = nwb.create_processing_module("behavior", "b")
    bts = BehavioralTimeSeries(name="BehavioralTimeSeries")
    bts.add_timeseries(TimeSeries(name="speed", data=np.asarray(data, float), unit="m/s", rate=rate))
    mod.add(bts)
    return _save(nwb, tmp_path / name)


def test_behaviour_shorter_than_activity(tmp_path):
    path = _units_with_behaviour(tmp_path, np.ones(100))  # 1 s of behaviour, 2 s of spikes
    with pytest.raises(SparksError, match="speed' in 'b.nwb.*shorter than activity") as e:
        load_recording(path, dt=0.01, behaviour=["speed"])
    assert "time_range" in str(e.value)
    with pytest.warns(UserWarning, match="Skipped behaviour"):
        rec = load_recording(path, dt=0.01)
    assert "speed" not in rec.behaviour and rec.provenance["skipped_behaviour"] == ["speed"]
    rec = load_recording(path, dt=0.01, behaviour=["speed"], time_range=(0.0, 1.0))
    assert rec.behaviour["speed"].shape == (100, 1)


def test_behaviour_longer_is_cropped(tmp_path):
    rec = load_recording(_units_with_behaviour(tmp_path, np.arange(300.0)), dt=0.01)
    assert rec.n_time == 200 + 100 or rec.behaviour["speed"].shape[0] == rec.n_time
    np.testing.assert_array_equal(rec.behaviour["speed"][:, 0], np.arange(300.0)[: rec.n_time])


def test_behaviour_nan_gaps(tmp_path):
    data = np.arange(200.0)
    data[50:55] = np.nan
    path = _units_with_behaviour(tmp_path, data)
    with pytest.warns(UserWarning, match="5 NaN samples; filled"):
        rec = load_recording(path, dt=0.01)
    np.testing.assert_allclose(rec.behaviour["speed"][:, 0], np.arange(200.0))
    with pytest.raises(SparksError, match="speed' in 'b.nwb.*NaN"):
        load_recording(path, dt=0.01, behaviour_nan="error")


def test_roi_count_mismatch(tmp_path):
    from hdmf.common import DynamicTableRegion
    from pynwb.testing.mock.file import mock_NWBFile
    from pynwb.testing.mock.ophys import mock_PlaneSegmentation, mock_RoiResponseSeries

    nwb = mock_NWBFile()
    ps = mock_PlaneSegmentation(n_rois=5, nwbfile=nwb)
    region = DynamicTableRegion(name="rois", description="r", table=ps, data=[0, 1, 2])
    mock_RoiResponseSeries(data=np.ones((20, 4)), rois=region, plane_segmentation=ps, nwbfile=nwb)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = _save(nwb, tmp_path / "mismatch.nwb")
    with pytest.raises(SparksError, match="mismatch.nwb.*4 traces but references 3 ROIs"):
        load_recording(path)


def test_several_sources_user_picks(tmp_path):
    from pynwb.testing.mock.file import mock_NWBFile
    from pynwb.testing.mock.ophys import mock_DfOverF, mock_Fluorescence

    nwb = mock_NWBFile()
    mock_Fluorescence(nwbfile=nwb)
    mock_DfOverF(nwbfile=nwb)
    path = _save(nwb, tmp_path / "two.nwb")
    assert len(nwb_contents(path)["activity"]) == 2
    with pytest.warns(UserWarning, match="several activity sources") as rec_warn:  # picks one, never fails
        rec = load_recording(path)
    msg = str(rec_warn[0].message)
    assert "Fluorescence" in msg and "DfOverF" in msg and "activity_key=" in msg
    assert "DfOverF" in rec.provenance["activity_key"]  # dF/F preferred over raw fluorescence
    rec = load_recording(path, activity_key="Fluorescence")
    assert "DfOverF" not in rec.provenance["activity_key"]
    with pytest.raises(SparksError, match="no activity source named 'nope'"):
        load_recording(path, activity_key="nope")


# ------------------------------------------------------------------ export into a copy
def test_export_into_copy_never_touches_source(tmp_path):
    rec = make_reach(n_trials_per_direction=1)
    src = write_nwb(rec, tmp_path / "src.nwb")
    before, mtime = _digest(src), src.stat().st_mtime_ns
    back = load_recording(src)
    lat = np.random.default_rng(0).normal(size=(back.n_time, 3)).astype(np.float32)
    order = np.arange(back.n_neurons)[::-1]
    out = export_to_nwb(
        tmp_path / "out.nwb",
        source=src,
        recording=back,
        latents=lat,
        order=order,
        predictions={"hand_pos": back.behaviour["hand_pos"]},
        neuron_summaries={"attention_out": np.linspace(0, 1, back.n_neurons)},
    )
    assert _digest(src) == before and src.stat().st_mtime_ns == mtime
    res = read_sparks_module(out)
    np.testing.assert_array_equal(res["latents"], lat)
    assert res["latents.rate"] == pytest.approx(1 / rec.dt)
    np.testing.assert_array_equal(res["neurons.order"], order)
    np.testing.assert_array_equal(res["neurons.rank"][order], np.arange(back.n_neurons))
    # the copy still reads as the same recording
    np.testing.assert_array_equal(load_recording(out).activity, rec.activity)
    with pytest.raises(SparksError, match="input file"):
        export_to_nwb(src, source=src, latents=lat, latent_dt=rec.dt)
    with pytest.raises(SparksError, match="already has a processing module 'sparks'"):
        export_to_nwb(tmp_path / "out2.nwb", source=out, latents=lat, latent_dt=rec.dt)
    assert not (tmp_path / "out2.nwb").exists() and not list(tmp_path.glob(".out2*"))


def test_export_new_nwb_from_recording(tmp_path):
    rec = make_sequence(duration=10.0)
    out = export_to_nwb(tmp_path / "new.nwb", recording=rec, latents=np.zeros((rec.n_time, 2)))
    assert read_sparks_module(out)["latents"].shape == (rec.n_time, 2)
    np.testing.assert_array_equal(load_recording(out).activity, rec.activity)


# ------------------------------------------------------------------ big movie stays lazy
def test_big_nwb_movie_opens_lazily(tmp_path):
    import h5py

    rec = make_calcium_movie(n_neurons=3, size=32, n_frames=30)
    rec.movie = None
    path = write_nwb(rec, tmp_path / "big.nwb")
    # add a 10 GB (never written, so unallocated) movie to the file's acquisition by hand
    from pynwb.ophys import TwoPhotonSeries  # noqa: F401

    with NWBHDF5IO(str(path), "a") as io:
        nwb = io.read()
        plane = nwb.imaging_planes["ImagingPlane"]
        nwb.add_acquisition(
            TwoPhotonSeries(
                name="Big", data=np.zeros((1, 32, 32), np.uint16), imaging_plane=plane, unit="a.u.", rate=30.0
            )
        )
        io.write(nwb)
    with h5py.File(path, "a") as f:
        del f["acquisition/Big/data"]
        f.create_dataset("acquisition/Big/data", shape=(20_000, 512, 512), dtype=np.uint16, chunks=(1, 512, 512))
    assert path.stat().st_size < 50e6
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    back = load_recording(path)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    assert back.movie.shape == (20_000, 512, 512) and back.movie.nbytes > 10e9
    assert grown_mb < 200
    assert np.asarray(back.movie[5]).shape == (512, 512)


@pytest.mark.parametrize("ragged", [True, False])
def test_electrode_locations_become_neuron_regions(tmp_path, ragged):
    """Units name their electrode either through a ragged region (pynwb today) or one electrode per
    unit without an index (older writers, e.g. the human MTL recordings of DANDI 000207): both give
    each neuron its electrode's location, which the region-based tools read as brain areas."""
    h5py = pytest.importorskip("h5py")
    from sparks_gui.data.regions import neuron_regions

    nwb = _nwbfile()
    dev = nwb.create_device("probe")
    group = nwb.create_electrode_group("g", description="microwires", location="MTL", device=dev)
    for loc in ["amygdala_right"] * 2 + ["hippocampus_right"] * 3:
        nwb.add_electrode(group=group, location=loc)
    rng = np.random.default_rng(0)
    for i in range(5):
        nwb.add_unit(spike_times=np.sort(rng.uniform(0, 20, 200)), electrodes=[4 - i])
    path = _save(nwb, tmp_path / "mtl.nwb")
    if not ragged:
        with h5py.File(path, "a") as f:
            del f["units/electrodes_index"]
    before = _digest(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # a silently skipped location would warn now
        warnings.filterwarnings("ignore", message=".*bin width.*")
        rec = load_recording(path, dt=0.05)
    want = ["hippocampus_right"] * 3 + ["amygdala_right"] * 2
    assert list(rec.neuron_meta["location"]) == want
    assert list(neuron_regions(rec)) == want
    assert _digest(path) == before


def test_irregular_event_codes_are_held_not_interpolated(tmp_path):
    """Event markers stamped at irregular instants (TTL codes, block ids) keep their exact codes in
    every bin (the last marker at or before it) and are never the default target; a regularly
    sampled variable in the same file is interpolated and trained on by default."""
    from sparks_gui.engine.targets import default_target

    nwb = _nwbfile()
    rng = np.random.default_rng(1)
    for _ in range(4):
        nwb.add_unit(spike_times=np.sort(rng.uniform(0, 10, 300)))
    stamps = np.array([0.0, 0.7, 0.75, 3.2, 6.0, 9.1])
    codes = np.array([70, 71, 71, 72, 70, 72], dtype=float)
    nwb.add_acquisition(TimeSeries(name="experiment_ids", data=codes, timestamps=stamps, unit="n/a"))
    speed = np.sin(np.linspace(0, 6, 1000))
    nwb.add_acquisition(TimeSeries(name="speed", data=speed, rate=100.0, starting_time=0.0, unit="m/s"))
    path = _save(nwb, tmp_path / "codes.nwb")
    rec = load_recording(path, dt=0.1)
    ids = rec.behaviour["experiment_ids"][:, 0]
    assert set(np.unique(ids)) == {70.0, 71.0, 72.0}
    t = np.arange(len(ids)) * 0.1
    expect = codes[np.clip(np.searchsorted(stamps, t, side="right") - 1, 0, None)]
    np.testing.assert_array_equal(ids, expect)
    assert rec.provenance["event_behaviour"] == ["experiment_ids"]
    assert default_target(rec) == "speed"
    rec2 = load_recording(path, dt=0.1, behaviour=["experiment_ids"])
    assert default_target(rec2) == "unsupervised"


def test_intervals_tables_as_trials(tmp_path):
    """Files without a 'trials' table (e.g. task blocks in 'encoding_table') use their only other
    intervals table as trials, with a warning; with several, trials=<name> picks one."""
    from pynwb.epoch import TimeIntervals

    from sparks_gui.errors import SparksWarning

    def file(names):
        nwb = _nwbfile()
        rng = np.random.default_rng(2)
        for _ in range(3):
            nwb.add_unit(spike_times=np.sort(rng.uniform(0, 10, 200)))
        for k, name in enumerate(names):
            table = TimeIntervals(name=name, description="task")
            table.add_column("category", "clip category")
            for i in range(4):
                table.add_row(start_time=1.0 + 2 * i + 0.1 * k, stop_time=2.0 + 2 * i, category=f"{name}{i % 2}")
            nwb.add_time_intervals(table)
        return _save(nwb, tmp_path / f"{len(names)}.nwb")

    one = file(["encoding_table"])
    with pytest.warns(SparksWarning, match="encoding_table"):
        rec = load_recording(one, dt=0.1)
    np.testing.assert_array_equal(rec.trials[:, 0], [10, 30, 50, 70])
    np.testing.assert_array_equal(rec.trials[:, 1], [20, 40, 60, 80])
    assert list(rec.conditions["category"]) == ["encoding_table0", "encoding_table1"] * 2
    assert nwb_contents(one)["trials"] == ["encoding_table (4 rows; category)"]

    two = file(["encoding_table", "recognition_table"])
    with pytest.warns(SparksWarning, match="several intervals tables"):
        assert load_recording(two, dt=0.1).trials is None
    rec = load_recording(two, dt=0.1, trials="recognition_table")
    np.testing.assert_array_equal(rec.trials[:, 0], [11, 31, 51, 71])
    assert rec.provenance["trials_table"] == "recognition_table"
    with pytest.raises(SparksError, match="no intervals table 'nope'"):
        load_recording(two, dt=0.1, trials="nope")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", SparksWarning)  # an explicit 'no trials' is not warned about
        assert load_recording(two, dt=0.1, trials=False).trials is None
    from sparks_gui.data.io import trials_choices

    assert trials_choices(two) == ["encoding_table", "recognition_table"]


@pytest.mark.gui
def test_data_dock_offers_the_intervals_tables_as_trials(make_napari_viewer, qtbot, tmp_path):
    """An NWB file with several intervals tables and none named 'trials': the Data dock lists them (and
    'none'); picking one reloads the file with its rows as trials."""
    import os

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        pytest.skip("GUI tests need a display (run under xvfb-run)")
    from pynwb.epoch import TimeIntervals

    from sparks_gui.gui._session import session_for
    from sparks_gui.gui.data_widget import DataWidget

    nwb = _nwbfile()
    rng = np.random.default_rng(2)
    for _ in range(3):
        nwb.add_unit(spike_times=np.sort(rng.uniform(0, 10, 200)))
    for k, name in enumerate(["encoding_table", "recognition_table"]):
        table = TimeIntervals(name=name, description="task")
        for i in range(3 + k):
            table.add_row(start_time=1.0 + 2 * i, stop_time=2.0 + 2 * i)
        nwb.add_time_intervals(table)
    path = _save(nwb, tmp_path / "blocks.nwb")

    viewer = make_napari_viewer(show=False)
    session = session_for(viewer)
    w = DataWidget(viewer, session=session)
    assert not w.trials_box.isVisibleTo(w)
    w.open_file(path, dt=0.1)
    qtbot.waitUntil(lambda: session.recording is not None, timeout=10_000)
    qtbot.waitUntil(lambda: w.open_btn.isEnabled(), timeout=5000)
    assert session.recording.trials is None
    assert w.trials_box.isVisibleTo(w)
    items = [w.trials_box.itemText(i) for i in range(w.trials_box.count())]
    assert items == ["encoding_table", "recognition_table", w.NO_TRIALS]
    assert w.trials_box.currentText() == w.NO_TRIALS
    w.trials_box.setCurrentText("recognition_table")
    w.trials_box.activated.emit(w.trials_box.currentIndex())
    qtbot.waitUntil(lambda: session.recording.trials is not None, timeout=10_000)
    assert len(session.recording.trials) == 4
    assert w.trials_box.currentText() == "recognition_table"


def test_long_external_file_lists_are_shortened():
    """A stimulus stored as 90 external movies is named by its first files and a count, not all 90."""
    from sparks_gui.data.nwb import _name_files

    files = [f"clip_{i}.mp4" for i in range(90)]
    assert _name_files(files) == "clip_0.mp4, clip_1.mp4, clip_2.mp4 and 87 more"
    assert _name_files(files[:2]) == "clip_0.mp4, clip_1.mp4"
