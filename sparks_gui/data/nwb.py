"""NWB in and out (pynwb/hdmf), read lazily.

Reading (:func:`read_nwb`)
    * activity: the ``Units`` table (spike times binned at ``dt``) or an ophys
      ``RoiResponseSeries`` (inside ``Fluorescence`` / ``DfOverF``) with its
      ``PlaneSegmentation`` masks (``image_mask`` or ``pixel_mask``);
    * behaviour: every ``TimeSeries``/``SpatialSeries`` in ``Position``,
      ``BehavioralTimeSeries``, ``CompassDirection``, ``PupilTracking``, ``EyeTracking``
      containers and plain non-image ``TimeSeries``, resampled onto the activity clock;
    * the ``trials`` table (start/stop -> bins, other columns -> conditions);
    * imaging movies (``TwoPhotonSeries``/``OnePhotonSeries``/``ImageSeries`` in
      acquisition) as lazy dask arrays over the HDF5 dataset;
    * stimulus ``IndexSeries`` (+ ``Images``) or ``ImageSeries``/``OpticalSeries``
      presentations -> per-bin frame ids and the frames.

    Several activity sources -> the user names one (``activity_key``); the error
    lists them.  :func:`nwb_contents` lists what a file offers.

Writing (:func:`write_nwb`)
    A Recording -> a new NWB file (atomic), such that ``read_nwb`` gives back the
    same activity, behaviour, trials, conditions, masks and stimulus.

Pixel-mask convention: NWB stores masks and movie frames with the same two
spatial axes (``x``, ``y`` in the schema); we keep them in stored order, so mask
pixel ``(x, y)`` is ``movie[t, x, y]`` and ``RoiMasks.ypix`` holds ``x``.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SparksError, SparksWarning
from .atomic import atomic_path
from .recording import Recording
from .rois import RoiMasks
from .spikes import bin_spike_times, spike_times_from_counts

NO_MASKS = "sparks-gui: traces without ROI masks"
BEHAVIOUR_CONTAINERS = ("Position", "BehavioralTimeSeries", "CompassDirection", "PupilTracking", "EyeTracking")
MOVIE_TYPES = ("TwoPhotonSeries", "OnePhotonSeries", "ImageSeries")
SKIP_SERIES = (
    "ImageSeries",
    "TwoPhotonSeries",
    "OnePhotonSeries",
    "OpticalSeries",
    "IndexSeries",
    "RoiResponseSeries",
    "ElectricalSeries",
    "SpikeEventSeries",
    "LFP",
    "ImageMaskSeries",
)
MAX_FRAMES_IN_MEMORY = 256 * 1024**2


def _tname(obj) -> str:
    return type(obj).__name__


def _open(path: Path):
    """Open an NWB file read-only with clear errors for missing / non-HDF5 / corrupt files."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            is_nwb = "nwb_version" in f.attrs or ("acquisition" in f and "general" in f)
    except OSError as exc:
        with open(path, "rb") as fh:
            head = fh.read(8)
        if head != b"\x89HDF\r\n\x1a\n":
            raise SparksError(
                f"'{path.name}' is not an NWB/HDF5 file (it does not start with the HDF5 signature).",
                "Pass an .nwb file written by pynwb/MatNWB, or use the reader for this file's real format.",
            ) from exc
        raise SparksError(
            f"'{path.name}' is a truncated or corrupt HDF5 file ({exc}).",
            "Copy or download the file again (compare its size/checksum with the original).",
        ) from exc
    if not is_nwb:
        raise SparksError(
            f"'{path.name}' is an HDF5 file but not NWB (no 'nwb_version' attribute).",
            "For plain HDF5 arrays use a .h5 extension and name the activity dataset with activity_key=.",
        )
    from pynwb import NWBHDF5IO

    try:
        io = NWBHDF5IO(str(path), "r", load_namespaces=True)
        nwbfile = io.read()
    except Exception as exc:
        raise SparksError(
            f"pynwb could not read '{path.name}': {exc}.",
            "Validate the file with `python -m pynwb.validate` (or nwbinspector) and re-export it.",
        ) from exc
    return io, nwbfile


# ------------------------------------------------------------------ discovery
def _walk_interfaces(nwbfile):
    """Yield (location, object) for acquisition and every processing module's data interfaces."""
    for obj in nwbfile.acquisition.values():
        yield "acquisition", obj
    for mod_name, mod in nwbfile.processing.items():
        for obj in mod.data_interfaces.values():
            yield mod_name, obj


def _activity_candidates(nwbfile) -> dict[str, Any]:
    out: dict[str, Any] = {}
    seen: set[int] = set()
    if nwbfile.units is not None and len(nwbfile.units) > 0:
        out["units"] = nwbfile.units
    for loc, obj in _walk_interfaces(nwbfile):
        if _tname(obj) in ("Fluorescence", "DfOverF"):
            for sname, series in obj.roi_response_series.items():
                if id(series) not in seen:
                    seen.add(id(series))
                    out[f"{loc}/{obj.name}/{sname}"] = series
    for loc, obj in _walk_interfaces(nwbfile):  # bare series not inside a Fluorescence/DfOverF container
        if _tname(obj) == "RoiResponseSeries" and id(obj) not in seen:
            seen.add(id(obj))
            out[f"{loc}/{obj.name}"] = obj
    return out


def _behaviour_candidates(nwbfile) -> dict[str, Any]:
    found: list[tuple[str, str, Any]] = []  # (short name, long name, series)
    for loc, obj in _walk_interfaces(nwbfile):
        t = _tname(obj)
        if t in BEHAVIOUR_CONTAINERS:
            inner = getattr(obj, "spatial_series", None) or getattr(obj, "time_series", None) or {}
            for sname, series in inner.items():
                found.append((sname, f"{obj.name}/{sname}", series))
        elif t in ("TimeSeries", "SpatialSeries") and loc in ("acquisition",) + tuple(nwbfile.processing):
            if loc != "acquisition" and loc in ("ophys", "ecephys"):
                continue
            found.append((obj.name, f"{loc}/{obj.name}", obj))
    names = [f[0] for f in found]
    return {(short if names.count(short) == 1 else long): s for short, long, s in found}


def _movie_candidates(nwbfile) -> dict[str, Any]:
    """Imaging series with their frames inside the file (external-file placeholders are left out)."""
    return {name: obj for name, obj in nwbfile.acquisition.items() if _is_movie(obj)}


def _is_movie(obj) -> bool:
    try:
        return bool(
            _tname(obj) in MOVIE_TYPES
            and obj.data is not None
            and len(getattr(obj.data, "shape", ())) >= 3
            and not _external_file(obj)
            and obj.data.shape[0] >= 2
        )
    except Exception:  # noqa: BLE001 - an odd series is not a movie
        return False


def _intervals_tables(nwbfile) -> dict[str, Any]:
    """Intervals tables with rows and start/stop times: ``trials`` first, then the others by name."""
    out = {}
    if nwbfile.trials is not None and len(nwbfile.trials):
        out["trials"] = nwbfile.trials
    for name, table in sorted((nwbfile.intervals or {}).items()):
        if name in out or name in ("epochs", "invalid_times"):
            continue
        with contextlib.suppress(Exception):  # an odd table is not a trial structure
            if len(table) and "start_time" in table.colnames and "stop_time" in table.colnames:
                out[name] = table
    return out


def _trials_table(nwbfile, name: str | bool | None, path: Path):
    """The intervals table used as trials: ``name``; ``False``: none; ``None``: ``trials``, else the only one."""
    if name is False:
        return None
    tables = _intervals_tables(nwbfile)
    if name is not None:
        if name not in tables:
            raise SparksError(
                f"'{path.name}' has no intervals table '{name}' with rows.",
                f"Choose one of {sorted(tables) or ['(none: load without trials)']} for trials=...",
            )
        return tables[name]
    if "trials" in tables:
        return tables["trials"]
    if len(tables) == 1:
        ((only, table),) = tables.items()
        warnings.warn(
            f"'{path.name}': no trials table; using the intervals table '{only}' ({len(table)} rows) as trials.",
            SparksWarning,
            stacklevel=3,
        )
        return table
    if tables:
        warnings.warn(
            f"'{path.name}': no trials table and several intervals tables ({', '.join(sorted(tables))}); "
            "loaded without trials. Pass trials='<table>' (CLI: --trials TABLE; GUI: the Data dock's trials box) to use one.",
            SparksWarning,
            stacklevel=3,
        )
    return None


def intervals_table_names(path: str | Path) -> list[str]:
    """Names of the intervals tables that ``trials=`` accepts (``trials`` first), for pickers."""
    io, nwbfile = _open(Path(path))
    try:
        return list(_intervals_tables(nwbfile))
    finally:
        io.close()


def nwb_contents(path: str | Path) -> dict[str, list[str]]:
    """What ``path`` offers: activity sources, behaviour signals, movies, stimuli, trial columns."""
    io, nwbfile = _open(Path(path))
    try:
        return {
            "activity": list(_activity_candidates(nwbfile)),
            "behaviour": list(_behaviour_candidates(nwbfile)),
            "movies": list(_movie_candidates(nwbfile)),
            "stimulus": list(nwbfile.stimulus),
            "trials": [
                f"{name} ({len(t)} rows; {', '.join(c for c in t.colnames if c not in ('start_time', 'stop_time'))})"
                for name, t in _intervals_tables(nwbfile).items()
            ],
        }
    finally:
        io.close()


def _pick(cands: dict[str, Any], key: str | None, path: Path, what: str, option: str):
    if key is not None:
        if key in cands:
            return key, cands[key]
        matches = [k for k in cands if k.split("/")[-1] == key or k.endswith("/" + key) or key in k.split("/")]
        if len(matches) == 1:
            return matches[0], cands[matches[0]]
        raise SparksError(
            f"'{path.name}' has no {what} named '{key}'" + (" (it is ambiguous)." if matches else "."),
            f"Use {option} with one of: {', '.join(cands) or '(none)'}.",
        )
    if not cands:
        return None, None
    if len(cands) > 1:
        raise SparksError(
            f"'{path.name}' holds several {what}s: {', '.join(cands)}.",
            f"Choose one by name with {option}='...' (--activity-key on the command line).",
        )
    k = next(iter(cands))
    return k, cands[k]


# ----------------------------------------------------------------- helpers
def _series_times(series, n: int) -> np.ndarray:
    if series.timestamps is not None:
        return np.asarray(series.timestamps[:], dtype=np.float64)
    rate = float(series.rate)
    return float(series.starting_time or 0.0) + np.arange(n) / rate


def _series_values(series) -> np.ndarray:
    data = np.asarray(series.data[:])
    if data.ndim == 1:
        data = data[:, None]
    data = data.reshape(data.shape[0], -1).astype(np.float64)
    conv = float(getattr(series, "conversion", 1.0) or 1.0)
    off = float(getattr(series, "offset", 0.0) or 0.0)
    if conv != 1.0 or off != 0.0:
        data = data * conv + off
    return data


def _fill_nans(values: np.ndarray, times: np.ndarray, name: str, path: Path, policy: str) -> np.ndarray:
    bad = ~np.isfinite(values)
    if not bad.any():
        return values
    n_bad = int(bad.any(axis=1).sum())
    if policy == "error" or bad.all(axis=0).any():
        raise SparksError(
            f"Behaviour '{name}' in '{path.name}' has {n_bad} samples with NaN/inf"
            + (" (a whole column is empty)." if bad.all(axis=0).any() else "."),
            "Fill the gaps before export, exclude it with behaviour=[...], or pass behaviour_nan='interpolate'.",
        )
    warnings.warn(
        f"'{path.name}': behaviour '{name}' had {n_bad} NaN samples; filled by linear interpolation in time.",
        SparksWarning,
        stacklevel=4,
    )
    out = values.copy()
    for j in range(out.shape[1]):
        ok = ~bad[:, j]
        out[~ok, j] = np.interp(times[~ok], times[ok], out[ok, j])
    return out


def _is_event_codes(series, times: np.ndarray, values: np.ndarray, bin_times: np.ndarray) -> bool:
    """Whether a series holds event codes rather than a sampled variable: explicit timestamps that
    are irregular (or far sparser than the bins), integer values, at most 256 distinct codes."""
    if series.timestamps is None or len(times) < 2 or values.size == 0 or not np.all(np.isfinite(values)):
        return False
    if not np.allclose(values, np.round(values)) or len(np.unique(values)) > 256:
        return False
    gaps = np.diff(times)
    irregular = float(np.std(gaps)) > 0.5 * float(np.mean(gaps)) if np.mean(gaps) > 0 else False
    sparse = len(bin_times) > 1 and len(times) < 0.1 * len(bin_times)
    return irregular or sparse


def _resample(
    series, name: str, t_start: float, dt: float, n_time: int, path: Path, nan_policy: str, events: list | None = None
) -> np.ndarray:
    values = _series_values(series)
    times = _series_times(series, len(values))
    if len(times) != len(values):
        raise SparksError(
            f"Behaviour '{name}' in '{path.name}' has {len(values)} samples but {len(times)} timestamps.",
            "Fix the series so data and timestamps have the same length.",
        )
    values = _fill_nans(values, times, name, path, nan_policy)
    bin_times = t_start + np.arange(n_time) * dt
    if series.timestamps is None and abs(float(series.rate) * dt - 1.0) < 1e-9:
        offset = (float(series.starting_time or 0.0) - t_start) / dt
        k = round(offset)
        if abs(offset - k) < 1e-6 and k <= 0 and len(values) + k >= n_time:  # same clock: copy exactly
            return values[-k : -k + n_time]
    if _is_event_codes(series, times, values, bin_times):
        # event markers (TTL codes, trial/block ids stamped at irregular instants): each bin holds the
        # last code at or before it; interpolating would invent codes between two markers (70.00004)
        idx = np.clip(np.searchsorted(times, bin_times, side="right") - 1, 0, len(times) - 1)
        if events is not None:
            events.append(name)
        return values[idx]
    period = float(np.median(np.diff(times))) if len(times) > 1 else dt
    if len(times) < 2 or times[0] > bin_times[0] + period + 1e-9 or times[-1] < bin_times[-1] - period - 1e-9:
        raise SparksError(
            f"Behaviour '{name}' in '{path.name}' covers {times[0] if len(times) else 0:.3f}..{times[-1] if len(times) else 0:.3f} s "
            f"but the activity spans {bin_times[0]:.3f}..{bin_times[-1] + dt:.3f} s (behaviour shorter than activity).",
            "Restrict the activity with time_range=(start, stop) seconds, or leave this signal out with behaviour=[...].",
        )
    return np.stack([np.interp(bin_times, times, values[:, j]) for j in range(values.shape[1])], axis=1)


def _regular_rate(series) -> float | None:
    if series.timestamps is None and series.rate:
        return float(series.rate)
    return None


def _series_end(series) -> float:
    n = int(series.data.shape[0])
    if series.timestamps is not None:
        ts = series.timestamps
        return float(ts[n - 1]) if n else 0.0
    return float(series.starting_time or 0.0) + n / float(series.rate)


def _lazy(dataset, chunk_frames: int = 64):
    """A dask array over an HDF5 dataset (frames first), never read whole."""
    import dask.array as da

    chunks = (min(chunk_frames, dataset.shape[0]),) + tuple(dataset.shape[1:])
    return da.from_array(dataset, chunks=chunks, lock=True, asarray=True, name=False)


def _h5_dataset(path: Path, dataset_name: str):
    import h5py

    return h5py.File(path, "r")[dataset_name]  # the dataset keeps its file open


def _masks(series, path: Path, n_traces: int, shape_hint) -> RoiMasks | None:
    rois = series.rois
    table = rois.table
    if (table.description or "").startswith(NO_MASKS):
        return None
    idx = np.asarray(rois.data[:], dtype=np.int64)
    if len(idx) != n_traces:
        raise SparksError(
            f"'{path.name}': RoiResponseSeries '{series.name}' has {n_traces} traces but references {len(idx)} ROIs "
            f"of PlaneSegmentation '{table.name}'.",
            "Re-export so the series has one column per referenced ROI (rois region length = data.shape[1]).",
        )
    if len(table) and (idx.max() >= len(table) or idx.min() < 0):
        raise SparksError(
            f"'{path.name}': '{series.name}' references ROI {int(idx.max())} but '{table.name}' has {len(table)} ROIs.",
            "Fix the rois region of the series.",
        )
    cols = table.colnames
    if "image_mask" in cols:
        data = np.asarray(table["image_mask"].data[:])
        return RoiMasks.from_dense(data[idx])
    if "pixel_mask" in cols:
        col = table["pixel_mask"]
        flat = np.asarray(col.target.data[:])
        ends = np.asarray(col.data[:], dtype=np.int64)
        starts = np.concatenate([[0], ends[:-1]])
        names = flat.dtype.names or ("x", "y", "weight")
        xs = flat[names[0]].astype(np.int64)
        ys = flat[names[1]].astype(np.int64)
        ws = flat[names[2]].astype(np.float32)
        if shape_hint is not None:
            shape = tuple(int(s) for s in shape_hint)
        else:
            shape = (int(xs.max()) + 1 if xs.size else 1, int(ys.max()) + 1 if ys.size else 1)
        return RoiMasks(
            shape,
            [xs[starts[i] : ends[i]] for i in idx],
            [ys[starts[i] : ends[i]] for i in idx],
            [ws[starts[i] : ends[i]] for i in idx],
        )
    return None


def _column_values(col, n: int) -> np.ndarray | None:
    try:
        vals = col[:] if not hasattr(col, "data") else col.data[:]
    except Exception:  # noqa: BLE001
        return None
    arr = np.asarray(vals)
    if arr.ndim != 1 or len(arr) != n:
        return None
    if arr.dtype.kind in "SO":
        arr = np.array([v.decode() if isinstance(v, bytes) else v for v in arr])
        if arr.dtype == object:
            return None
    return arr


def _external_file(obj) -> list[str]:
    ext = getattr(obj, "external_file", None)
    if ext is None:
        return []
    try:
        return [v.decode() if isinstance(v, bytes) else str(v) for v in ext[:]]
    except Exception:  # noqa: BLE001
        return ["?"]


def _name_files(files: list[str], most: int = 3) -> str:
    """'a.mp4, b.mp4, c.mp4 and 87 more': a message names a few files, not all of them."""
    shown = ", ".join(files[:most])
    return shown if len(files) <= most else f"{shown} and {len(files) - most} more"


def _one_stimulus(name: str, obj, t_start: float, dt: float, n_time: int) -> dict[str, Any] | None:
    """Per-bin frame ids (and frames) of one stimulus series; None when it is not a frame stimulus.

    Raises ``ValueError`` with the reason when the series cannot be used (the caller warns)."""
    t = _tname(obj)
    if t == "IndexSeries":
        ids = np.asarray(obj.data[:], dtype=np.int64)
        times = _series_times(obj, len(ids))
        frames = None
        if obj.indexed_images is not None:
            imgs = obj.indexed_images
            order = imgs.order_of_images
            seq = list(order.data[:]) if order is not None else list(imgs.images.values())
            frames = np.stack([np.asarray(im.data[:]) for im in seq])
        elif getattr(obj, "indexed_timeseries", None) is not None:
            its = obj.indexed_timeseries
            if _external_file(its):
                raise ValueError(f"its frames are in external file(s) {_name_files(_external_file(its))}")
            frames = _frames(its.data)
        if frames is not None and ids.size and (ids.max() >= len(frames) or ids.min() < -1):
            raise ValueError(f"it indexes frame {int(ids.max())} but {len(frames)} frames are stored")
    elif t in ("ImageSeries", "OpticalSeries"):
        ext = _external_file(obj)
        if ext:
            raise ValueError(
                f"its frames are in external file(s) {_name_files(ext)} (the NWB file holds only a placeholder)"
            )
        if obj.data is None or len(obj.data.shape) < 3:
            raise ValueError(f"its data has shape {getattr(obj.data, 'shape', None)}, not [frames, height, width]")
        frames = _frames(obj.data)
        ids = np.arange(frames.shape[0])
        times = _series_times(obj, len(ids))
    else:
        return None
    if len(times) != len(ids):
        raise ValueError(f"it has {len(ids)} frames/ids but {len(times)} timestamps")
    if len(times) > 1 and np.any(np.diff(times) < 0):
        raise ValueError("its timestamps are not sorted")
    bin_times = t_start + np.arange(n_time) * dt
    j = np.searchsorted(times, bin_times + 1e-9 * dt, side="right") - 1
    frame_ids = np.where(j >= 0, ids[np.clip(j, 0, max(len(ids) - 1, 0))], -1) if len(ids) else np.full(n_time, -1)
    out: dict[str, Any] = {"frame_ids": frame_ids, "name": name}
    if frames is not None:
        out["frames"] = frames
    return out


def _stimulus(nwbfile, t_start: float, dt: float, n_time: int, path: Path) -> dict[str, Any]:
    """The first usable frame stimulus; the ones that cannot be used are skipped with one warning."""
    skipped = []
    found: dict[str, Any] = {}
    for name, obj in nwbfile.stimulus.items():
        try:
            stim = _one_stimulus(name, obj, t_start, dt, n_time)
        except Exception as exc:  # noqa: BLE001 - an unusable stimulus never stops the load
            skipped.append(f"'{name}' ({_tname(obj)}: {exc})")
            continue
        if stim is not None:
            found = stim
            break
    if skipped:
        warnings.warn(
            f"'{path.name}': stimulus not loaded: {'; '.join(skipped)}. The recording loads without it "
            "(no frame_id/frames targets from it).",
            SparksWarning,
            stacklevel=3,
        )
    return found


def _frames(data):
    nbytes = int(np.prod(data.shape)) * data.dtype.itemsize
    return np.asarray(data[:]) if nbytes <= MAX_FRAMES_IN_MEMORY else _lazy(data)


# -------------------------------------------------------------------- read
def read_nwb(
    path: str | Path,
    activity_key: str | None = None,
    dt: float | None = None,
    kind: str | None = None,
    behaviour: list[str] | None = None,
    movie: str | None = None,
    time_range: tuple[float, float] | None = None,
    behaviour_nan: str = "interpolate",
    empty_units: str = "drop",
    allow_unsorted: bool = False,
    trials: str | None = None,
    **_ignored,
) -> Recording:
    """Read an NWB file as a :class:`Recording` (see the module docstring for what is read).

    Parameters
    ----------
    activity_key
        ``"units"`` or the name of an ophys series (``"Fluorescence"``, ``"DfOverF"``,
        ``"ophys/Fluorescence/RoiResponseSeries"``, ...) when the file holds several.
    dt
        Bin width in seconds.  For spike times: default the value this package stored,
        else the fastest regularly-sampled behaviour clock (>= 1 ms), else 10 ms.  For
        ophys: the frame period (a multiple of it re-bins by averaging).
    behaviour
        Names of behaviour signals to load (default: all that cover the activity; those
        that do not are skipped with a warning).  Named ones must cover it.
    movie
        Name of the acquisition imaging series to attach lazily (default: the first one).
    time_range
        ``(start, stop)`` in seconds of the source clock.
    behaviour_nan
        ``"interpolate"`` (warn and fill gaps linearly) or ``"error"``.
    trials
        Name of the intervals table that defines the trials.  Default: the ``trials`` table, else
        the only other intervals table with rows (e.g. ``encoding_table``), said in a warning.
    """
    path = Path(path)
    io, nwbfile = _open(path)
    try:
        cands = _activity_candidates(nwbfile)
        if not cands:
            raise SparksError(
                f"'{path.name}' has neither a Units table nor ophys traces (Fluorescence/DfOverF RoiResponseSeries).",
                "Add spike-sorted units or ROI traces to the file (e.g. with NeuroConv), or load an array file instead.",
            )
        if activity_key is None and len(cands) > 1:
            order = sorted(cands, key=lambda k: (k != "units", "DfOverF" not in k))  # units, then dF/F, then the rest
            key, source = order[0], cands[order[0]]
            warnings.warn(
                f"'{path.name}' holds several activity sources: {', '.join(cands)}; using '{key}'. "
                f"To use another, pass activity_key='{order[1]}' (--activity-key on the command line, or the "
                "'array' box in the Data dock).",
                SparksWarning,
                stacklevel=2,
            )
        else:
            key, source = _pick(cands, activity_key, path, "activity source", "activity_key")
        provenance: dict[str, Any] = {
            "source": str(path),
            "reader": "nwb",
            "activity_key": key,
            "identifier": str(nwbfile.identifier),
        }
        beh_cands = _behaviour_candidates(nwbfile)
        if behaviour is not None:
            missing = [b for b in behaviour if b not in beh_cands]
            if missing:
                raise SparksError(
                    f"'{path.name}' has no behaviour signal named {missing}.",
                    f"Choose from: {', '.join(beh_cands) or '(none)'}.",
                )
        scratch = dict(nwbfile.scratch) if nwbfile.scratch is not None else {}
        neuron_meta: dict[str, np.ndarray] = {}
        rois = None
        movies = _movie_candidates(nwbfile)
        mkey, mseries = (None, None)
        if movies:
            mkey, mseries = (
                _pick(movies, movie, path, "movie", "movie")
                if (movie or len(movies) == 1)
                else next(iter(movies.items()))
            )

        if key == "units":
            units = source
            if dt is None:
                if "sparks_dt" in scratch:
                    dt = float(np.asarray(scratch["sparks_dt"].data))
                else:
                    rates = [_regular_rate(s) for s in beh_cands.values()]
                    rates = [r for r in rates if r]
                    dt = max(1.0 / max(rates), 0.001) if rates else None
                    if dt is None:
                        dt = 0.01
                        warnings.warn(
                            f"'{path.name}': no bin width given; binning spikes at {dt} s (pass dt= to change).",
                            SparksWarning,
                            stacklevel=2,
                        )
            st = units["spike_times"]
            flat = np.asarray(st.target.data[:], dtype=np.float64)
            ends = np.asarray(st.data[:], dtype=np.int64)
            starts = np.concatenate([[0], ends[:-1]])
            times = [flat[a:b] for a, b in zip(starts, ends, strict=False)]
            ids = np.asarray(units.id[:])
            t0 = 0.0 if time_range is None else float(time_range[0])
            if time_range is not None:
                t1 = float(time_range[1])
            else:
                last = float(max((t.max() for t in times if len(t)), default=0.0))
                ends_t = [t0 + (np.floor((last - t0) / dt + 1e-9) + 1) * dt]
                if nwbfile.trials is not None and len(nwbfile.trials):
                    ends_t.append(float(np.max(nwbfile.trials["stop_time"].data[:])))
                for s in beh_cands.values():
                    if _regular_rate(s) and abs(_regular_rate(s) * dt - 1) < 1e-9:
                        ends_t.append(_series_end(s))
                t1 = max(ends_t)
            activity, kept = bin_spike_times(
                times,
                dt,
                t0,
                t1,
                source=f"'{path.name}' units",
                unit_ids=ids,
                allow_unsorted=allow_unsorted,
                empty_units=empty_units,
            )
            neuron_ids = ids[kept]
            for c in units.colnames:
                if c in ("spike_times", "obs_intervals", "electrodes", "waveforms", "waveform_mean", "waveform_sd"):
                    continue
                v = _column_values(units[c], len(ids))
                if v is not None:
                    neuron_meta[c] = v[kept]
            if "electrodes" in units.colnames:
                try:
                    elec = units["electrodes"]
                    if hasattr(elec, "target"):  # ragged: a VectorIndex over a DynamicTableRegion
                        table = elec.target.table
                        eidx = np.asarray(elec.target.data[:], dtype=np.int64)
                        eend = np.asarray(elec.data[:], dtype=np.int64)
                    else:  # one electrode per unit: a plain DynamicTableRegion (e.g. DANDI 000207)
                        table = elec.table
                        eidx = np.asarray(elec.data[:], dtype=np.int64)
                        eend = np.arange(1, len(eidx) + 1)
                    first = np.concatenate([[0], eend[:-1]])
                    locs = np.asarray(
                        [v.decode() if isinstance(v, bytes) else str(v) for v in table["location"].data[:]]
                    )
                    neuron_meta.setdefault(
                        "location",
                        np.asarray([locs[eidx[a]] if b > a else "" for a, b in zip(first, eend, strict=False)])[kept],
                    )
                except Exception as exc:  # noqa: BLE001 - metadata is optional, but say it is missing
                    warnings.warn(
                        f"'{path.name}': the units' electrode locations could not be read "
                        f"({type(exc).__name__}: {exc}); neurons are not grouped by brain area. "
                        "Give areas with a 'brain_area' column in the units table, or neuron_groups=... .",
                        stacklevel=2,
                    )
            if len(kept) < len(ids):
                provenance["dropped_units"] = [
                    int(i) if np.issubdtype(np.asarray(i).dtype, np.integer) else str(i)
                    for i in np.setdiff1d(ids, neuron_ids)
                ]
            kind = kind or "spikes"
            t_start = t0
        else:
            series = source
            data = np.asarray(series.data[:], dtype=np.float32)
            if data.ndim == 1:
                data = data[:, None]
            elif data.ndim > 2 and all(s == 1 for s in data.shape[2:]):
                data = data.reshape(data.shape[0], data.shape[1])
            if data.ndim != 2:
                raise SparksError(
                    f"'{path.name}': '{key}' has data of shape {data.shape}; expected [time, ROIs].",
                    "Choose another activity source with activity_key=..., or re-export the traces as [time, ROIs].",
                )
            times = _series_times(series, data.shape[0])
            native = 1.0 / float(series.rate) if series.timestamps is None else float(np.median(np.diff(times)))
            t_start = float(times[0]) if len(times) else 0.0
            shape_hint = tuple(mseries.data.shape[1:3]) if mseries is not None else None
            try:
                rois = _masks(series, path, data.shape[1], shape_hint)
            except SparksError:
                raise
            except Exception as exc:  # noqa: BLE001 - masks are optional; odd ones are skipped
                rois = None
                warnings.warn(
                    f"'{path.name}': ROI masks of '{key}' could not be read ({type(exc).__name__}: {exc}); "
                    "loaded the traces without masks.",
                    SparksWarning,
                    stacklevel=2,
                )
            activity = data.T
            if time_range is not None:
                keep = (times >= time_range[0]) & (times < time_range[1])
                activity = activity[:, keep]
                t_start = float(times[keep][0]) if keep.any() else t_start
            try:
                table = series.rois.table
                tid = np.asarray(table.id[:])[np.asarray(series.rois.data[:], dtype=np.int64)]
                neuron_ids = tid
                for c in table.colnames:
                    if c in ("image_mask", "pixel_mask", "voxel_mask"):
                        continue
                    v = _column_values(table[c], len(table))
                    if v is not None:
                        neuron_meta[c] = v[np.asarray(series.rois.data[:], dtype=np.int64)]
            except Exception:  # noqa: BLE001
                neuron_ids = None
            if rois is not None:
                neuron_meta.setdefault("centroid_row", rois.centroids()[:, 0])
                neuron_meta.setdefault("centroid_col", rois.centroids()[:, 1])
            kind = kind or "calcium"
            target_dt, dt = dt, native

        n_time = activity.shape[1]
        beh: dict[str, np.ndarray] = {}
        skipped = []
        event_names: list[str] = []  # behaviour series that hold event codes (not default targets)
        for name, s in beh_cands.items():
            if behaviour is not None and name not in behaviour:
                continue
            try:
                beh[name] = _resample(s, name, t_start, dt, n_time, path, behaviour_nan, events=event_names)
            except SparksError as exc:
                if behaviour is not None or (behaviour_nan == "error" and "NaN" in exc.problem):
                    raise
                skipped.append((name, exc.problem))
            except Exception as exc:  # an odd behaviour series never stops the load
                if behaviour is not None:
                    raise SparksError(
                        f"Behaviour '{name}' in '{path.name}' could not be read ({type(exc).__name__}: {exc}).",
                        "Leave it out of behaviour=[...].",
                    ) from exc
                skipped.append((name, f"'{name}' ({_tname(s)}) could not be read: {type(exc).__name__}: {exc}"))
        if event_names:
            provenance["event_behaviour"] = [n for n in event_names if n in beh]
        if skipped:
            provenance["skipped_behaviour"] = [n for n, _ in skipped]
            warnings.warn(
                f"Skipped behaviour ({len(skipped)}): "
                + " | ".join(why for _, why in skipped)
                + " Pass behaviour=[...] with the signals you need.",
                SparksWarning,
                stacklevel=2,
            )

        trials_out, conditions = None, {}
        tt = _trials_table(nwbfile, trials, path)
        try:
            has_trials = tt is not None and len(tt) > 0
            if has_trials:
                np.asarray(tt["start_time"].data[:], dtype=np.float64)
                np.asarray(tt["stop_time"].data[:], dtype=np.float64)
        except Exception as exc:  # noqa: BLE001
            has_trials = False
            warnings.warn(
                f"'{path.name}': the trials table could not be read ({type(exc).__name__}: {exc}); "
                "loaded without trials.",
                SparksWarning,
                stacklevel=2,
            )
        if has_trials:
            provenance["trials_table"] = tt.name
            st_b = np.rint((np.asarray(tt["start_time"].data[:]) - t_start) / dt).astype(np.int64)
            sp_b = np.rint((np.asarray(tt["stop_time"].data[:]) - t_start) / dt).astype(np.int64)
            sp_b = np.minimum(sp_b, n_time)
            keep = (st_b >= 0) & (sp_b > st_b)
            if (~keep).any():
                warnings.warn(
                    f"'{path.name}': {int((~keep).sum())} trials fall outside the activity and were dropped.",
                    SparksWarning,
                    stacklevel=2,
                )
            if keep.any():
                trials_out = np.stack([st_b[keep], sp_b[keep]], axis=1)
                for c in tt.colnames:
                    if c in ("start_time", "stop_time", "tags", "timeseries"):
                        continue
                    v = _column_values(tt[c], len(tt))
                    if v is not None:
                        conditions[c] = v[keep]

        gt = {}
        for sname, sobj in scratch.items():
            if sname.startswith("ground_truth_") and hasattr(sobj, "data"):
                with contextlib.suppress(Exception):  # optional
                    gt[sname[len("ground_truth_") :]] = np.asarray(sobj.data[:] if np.ndim(sobj.data) else sobj.data)

        lazy_movie, movie_dt = None, None
        if mseries is not None:
            try:
                lazy_movie = _lazy(_h5_dataset(path, mseries.data.name))
                mts = _series_times(mseries, 2)
                movie_dt = float(mts[1] - mts[0]) if len(mts) > 1 else dt
                provenance["movie"] = mkey
            except Exception as exc:  # noqa: BLE001 - the movie is optional
                lazy_movie, movie_dt = None, None
                warnings.warn(
                    f"'{path.name}': imaging movie '{mkey}' could not be opened ({type(exc).__name__}: {exc}); "
                    "loaded without it.",
                    SparksWarning,
                    stacklevel=2,
                )

        stim = _stimulus(nwbfile, t_start, dt, n_time, path)
        if stim:
            provenance["stimulus"] = stim.pop("name")

        rec = Recording(
            activity=activity,
            dt=dt,
            kind=kind,
            behaviour=beh,
            trials=trials_out,
            conditions=conditions,
            neuron_ids=neuron_ids,
            neuron_meta=neuron_meta,
            ground_truth=gt,
            provenance=provenance,
            name=path.stem,
            stimulus=stim,
            movie=lazy_movie,
            movie_dt=movie_dt,
            rois=rois,
            start_time=t_start,
        )
        if key != "units" and target_dt is not None and abs(target_dt - dt) > 1e-9 * dt:
            rec = rec.bin(target_dt)
        return rec
    finally:
        io.close()


# ------------------------------------------------------------------- write
def _new_nwbfile(rec: Recording, session_description: str | None, identifier: str | None):
    import datetime
    import uuid

    from pynwb import NWBFile

    return NWBFile(
        session_description=session_description or f"{rec.name} (written by sparks-gui)",
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc),
    )


def build_nwbfile(rec: Recording, session_description: str | None = None, identifier: str | None = None):
    """An in-memory ``pynwb.NWBFile`` holding ``rec`` (see :func:`write_nwb`)."""
    from pynwb import TimeSeries
    from pynwb.behavior import BehavioralTimeSeries
    from pynwb.ophys import DfOverF, Fluorescence, ImageSegmentation, OpticalChannel, TwoPhotonSeries

    nwb = _new_nwbfile(rec, session_description, identifier)
    rate = 1.0 / rec.dt
    nwb.add_scratch(
        np.asarray(rec.dt, dtype=np.float64),
        name="sparks_dt",
        description="bin width (s) of the sparks-gui Recording this file was written from",
    )

    def _meta_columns(table, skip=()):
        cols = {}
        for k, v in rec.neuron_meta.items():
            arr = np.asarray(v)
            if k in skip or arr.ndim != 1 or arr.dtype.kind not in "biufUS":
                continue
            cols[k] = arr
        return cols

    if rec.kind == "spikes":
        ids = np.asarray(rec.neuron_ids)
        use_ids = np.issubdtype(ids.dtype, np.integer) and len(np.unique(ids)) == len(ids)
        cols = _meta_columns(None, skip=("spike_times", "id"))
        for k in cols:
            nwb.add_unit_column(name=k, description=f"{k} (from sparks-gui neuron_meta)")
        for i, times in enumerate(spike_times_from_counts(rec.activity, rec.dt, rec.start_time)):
            kw = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in cols.items()}
            nwb.add_unit(spike_times=times, id=int(ids[i]) if use_ids else i, **kw)
    else:
        device = nwb.create_device(name="Microscope")
        plane = nwb.create_imaging_plane(
            name="ImagingPlane",
            optical_channel=OpticalChannel(name="OpticalChannel", description="channel", emission_lambda=500.0),
            imaging_rate=rate,
            description="imaging plane",
            device=device,
            excitation_lambda=920.0,
            indicator="GCaMP",
            location="unknown",
        )
        ophys = nwb.create_processing_module("ophys", "optical physiology (sparks-gui)")
        seg = ImageSegmentation()
        ophys.add(seg)
        has_masks = rec.rois is not None
        ps = seg.create_plane_segmentation(
            description="ROI footprints" if has_masks else NO_MASKS, imaging_plane=plane, name="PlaneSegmentation"
        )
        cols = _meta_columns(None, skip=("centroid_row", "centroid_col"))
        for k in cols:
            ps.add_column(name=k, description=f"{k} (from sparks-gui neuron_meta)")
        ids = np.asarray(rec.neuron_ids)
        use_ids = np.issubdtype(ids.dtype, np.integer) and len(np.unique(ids)) == len(ids)
        for i in range(rec.n_neurons):
            kw = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in cols.items()}
            if has_masks:
                r = rec.rois
                pm = [(int(x), int(y), float(w)) for x, y, w in zip(r.ypix[i], r.xpix[i], r.weights[i], strict=False)]
                ps.add_roi(pixel_mask=pm or [(0, 0, 0.0)], id=int(ids[i]) if use_ids else i, **kw)
            else:
                ps.add_roi(pixel_mask=[(0, 0, 0.0)], id=int(ids[i]) if use_ids else i, **kw)
        region = ps.create_roi_table_region(region=list(range(rec.n_neurons)), description="all ROIs")
        container = Fluorescence() if rec.provenance.get("signal", "F") != "dff" else DfOverF()
        ophys.add(container)
        container.create_roi_response_series(
            name="RoiResponseSeries",
            data=rec.activity.T.copy(),
            rois=region,
            unit="a.u.",
            rate=rate,
            starting_time=rec.start_time,
        )
        if rec.movie is not None:
            nwb.add_acquisition(
                TwoPhotonSeries(
                    name="TwoPhotonSeries",
                    data=np.asarray(rec.movie),
                    imaging_plane=plane,
                    unit="a.u.",
                    rate=1.0 / (rec.movie_dt or rec.dt),
                    starting_time=rec.start_time,
                )
            )

    if rec.behaviour:
        mod = nwb.create_processing_module("behavior", "behaviour on the activity clock (sparks-gui)")
        bts = BehavioralTimeSeries(name="BehavioralTimeSeries")
        for name, values in rec.behaviour.items():
            bts.add_timeseries(
                TimeSeries(name=name, data=np.asarray(values), unit="a.u.", rate=rate, starting_time=rec.start_time)
            )
        mod.add(bts)

    if rec.trials is not None:
        reserved = {"start_time", "stop_time", "tags", "timeseries", "id"}
        conds = {k: np.asarray(v) for k, v in rec.conditions.items() if k not in reserved and np.asarray(v).ndim == 1}
        for k in conds:
            nwb.add_trial_column(name=k, description=f"trial condition '{k}' (sparks-gui)")
        for i, (a, b) in enumerate(rec.trials):
            kw = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in conds.items()}
            nwb.add_trial(start_time=rec.start_time + a * rec.dt, stop_time=rec.start_time + b * rec.dt, **kw)

    if rec.stimulus.get("frame_ids") is not None:
        _write_stimulus(nwb, rec)

    for k, v in rec.ground_truth.items():
        arr = np.asarray(v) if not isinstance(v, str) else None
        if arr is not None and arr.dtype.kind in "biuf":
            nwb.add_scratch(arr, name=f"ground_truth_{k}", description=f"synthetic ground truth '{k}' (sparks-gui)")
    return nwb


def _write_stimulus(nwb, rec: Recording) -> None:
    from pynwb.base import ImageReferences, Images
    from pynwb.image import GrayscaleImage, IndexSeries, RGBImage

    ids = rec.stimulus["frame_ids"]
    frames = rec.stimulus.get("frames")
    change = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
    change = change[ids[change] >= 0]
    if frames is None:
        warnings.warn("Stimulus frame ids without frames are not written to NWB.", stacklevel=3)
        return
    frames = np.asarray(frames)
    cls = RGBImage if frames.ndim == 4 else GrayscaleImage
    imgs = [cls(name=f"frame_{i:05d}", data=frames[i]) for i in range(len(frames))]
    images = Images(
        name="stimulus_frames",
        images=imgs,
        description="stimulus frames",
        order_of_images=ImageReferences(name="order_of_images", data=imgs),
    )
    nwb.add_stimulus_template(images)
    nwb.add_stimulus(
        IndexSeries(
            name="stimulus_presentation",
            data=ids[change].astype(np.uint32),
            indexed_images=images,
            unit="N/A",
            timestamps=rec.start_time + change * rec.dt,
        )
    )


def write_nwb(
    rec: Recording,
    path: str | Path,
    overwrite: bool = False,
    session_description: str | None = None,
    identifier: str | None = None,
) -> Path:
    """Write ``rec`` to a new NWB file at ``path`` (atomically: temp file, then rename).

    Spikes become a ``Units`` table (``c`` spikes at the centre of a bin holding ``c``),
    calcium an ophys ``Fluorescence`` ``RoiResponseSeries`` with a ``PlaneSegmentation``
    (pixel masks), behaviour ``TimeSeries`` in a ``behavior`` module on the activity
    clock, trials + conditions the ``trials`` table, the stimulus an ``IndexSeries`` over
    ``Images``, the movie a ``TwoPhotonSeries``, numeric ground truth ``scratch`` data.
    """
    from pynwb import NWBHDF5IO

    path = Path(path)
    if path.exists() and not overwrite:
        raise SparksError(f"'{path}' already exists.", "Choose another file name or pass overwrite=True.")
    src = rec.provenance.get("source")
    if src and Path(str(src)).exists() and Path(str(src)).resolve() == path.resolve():
        raise SparksError(f"Refusing to write into the input file '{path.name}'.", "Write to a new file name.")
    nwb = build_nwbfile(rec, session_description, identifier)
    with atomic_path(path) as tmp, NWBHDF5IO(str(tmp), "w") as io:
        io.write(nwb)
    return path
