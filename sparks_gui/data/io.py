"""``load_recording``: open a user's file as a :class:`Recording`, picking the reader by content.

NWB, suite2p, Kilosort/phy and TIFF have their own modules; array formats (``.npy``,
``.npz``, ``.mat`` v5/v7.3, ``.h5``, ``.csv``) and spike-time lists are handled here.  Array
files hold an activity matrix ``[neurons, time]`` (or ``[trials, neurons, time]``)
and optionally behaviour arrays, ``trials`` ([n, 2] bin bounds) and ``dt``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SparksError
from .recording import Recording

ACTIVITY_KEYS = ("activity", "spikes", "X", "x", "data", "F", "dff", "traces")
RESERVED = {"trials", "dt", "kind", "neuron_ids"}


def _activity_key(keys: list[str], requested: str | None, path: Path) -> str:
    if requested is not None:
        if requested not in keys:
            raise SparksError(
                f"'{path.name}' has no array named '{requested}' (activity_key).",
                f"Use --activity-key with one of: {', '.join(keys)}.",
            )
        return requested
    for k in ACTIVITY_KEYS:
        if k in keys:
            return k
    raise SparksError(
        f"Could not tell which array of '{path.name}' holds the neural activity (found: {', '.join(keys)}).",
        f"Name it one of {ACTIVITY_KEYS} or pass activity_key=... (--activity-key on the command line).",
    )


def recording_from_arrays(arrays: dict[str, Any], path: Path, activity_key: str | None = None, dt: float | None = None,
                          kind: str | None = None, reader: str = "arrays") -> Recording:
    keys = [k for k in arrays if not k.startswith("__")]
    key = _activity_key(keys, activity_key, path)
    act = np.asarray(arrays[key])
    if act.dtype == object or not np.issubdtype(act.dtype, np.number):
        raise SparksError(f"Array '{key}' in '{path.name}' is not numeric (dtype {act.dtype}).", "Store activity as a numeric matrix.")
    if dt is None:
        dt = float(np.asarray(arrays["dt"]).ravel()[0]) if "dt" in arrays else None
    if dt is None:
        raise SparksError(f"'{path.name}' does not say its bin width.", "Pass dt in seconds (--dt 0.001), or store a 'dt' value in the file.")
    if kind is None:
        kind = str(np.asarray(arrays["kind"]).ravel()[0]) if "kind" in arrays else (
            "spikes" if np.issubdtype(act.dtype, np.integer) or np.all(np.mod(act[: min(len(act), 50)], 1) == 0) else "calcium")
    trials = None
    n_trials = None
    if act.ndim == 3:
        n_trials, n_neurons, length = act.shape
        trials = np.stack([np.arange(n_trials) * length, np.arange(1, n_trials + 1) * length], axis=1)
        act = np.concatenate(list(act), axis=1)
    elif act.ndim != 2:
        raise SparksError(
            f"Array '{key}' in '{path.name}' has shape {act.shape}; expected [neurons, time] or [trials, neurons, time].",
            "Reshape it, or choose another array with --activity-key.",
        )
    if "trials" in arrays and trials is None:
        trials = np.asarray(arrays["trials"]).astype(np.int64)
    n_time = act.shape[1]
    behaviour = {}
    for k in keys:
        if k == key or k in RESERVED:
            continue
        v = np.asarray(arrays[k])
        if not np.issubdtype(v.dtype, np.number) or v.ndim == 0:
            continue
        if n_trials is not None and v.ndim >= 2 and v.shape[0] == n_trials:
            v = v.reshape(n_trials * v.shape[1], -1)
        if v.shape[0] == n_time or (v.ndim == 2 and v.shape[1] == n_time):
            behaviour[k] = v
        elif v.ndim <= 2 and max(v.shape) > 1:
            raise SparksError(
                f"Behaviour '{k}' in '{path.name}' has {v.shape[0]} samples but the activity has {n_time} time bins.",
                "Resample it onto the activity bins (one sample per bin), or remove it from the file.",
            )
    return Recording(activity=act, dt=dt, kind=kind, behaviour=behaviour, trials=trials, name=path.stem,
                     provenance={"source": str(path), "reader": reader, "activity_key": key})


def _read_mat(path: Path) -> dict[str, Any]:
    import scipy.io

    with open(path, "rb") as fh:
        head = fh.read(520)
    if head[512:520] == b"\x89HDF\r\n\x1a\n" or head[:8] == b"\x89HDF\r\n\x1a\n":  # MATLAB v7.3
        return _read_h5(path, transpose=True)
    try:
        return scipy.io.loadmat(path, squeeze_me=True)
    except NotImplementedError:  # MATLAB v7.3 files are HDF5
        return _read_h5(path, transpose=True)


def _read_h5(path: Path, transpose: bool = False) -> dict[str, Any]:
    """Numeric datasets of an HDF5 file by path ('group/name'); MATLAB v7.3 arrays are transposed back."""
    import h5py

    out: dict[str, Any] = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "biuf" and not name.startswith("#"):
                v = obj[()]
                out[name] = np.asarray(v).T if transpose else v
        f.visititems(visit)
    return out


SPIKE_TIME_KEYS = ("spike_times", "spiketimes", "times", "time", "t")
SPIKE_UNIT_KEYS = ("spike_units", "unit_ids", "units", "unit", "spike_clusters", "clusters", "cluster", "neuron", "ids")


def _spike_list_keys(keys: list[str]) -> tuple[str, str] | None:
    low = {k.lower(): k for k in keys}
    t = next((low[k] for k in SPIKE_TIME_KEYS if k in low), None)
    u = next((low[k] for k in SPIKE_UNIT_KEYS if k in low), None)
    return (t, u) if t and u else None


def recording_from_spike_list(times, units, path: Path, dt: float | None, **options) -> Recording:
    """Spike-time list (one time and one unit id per spike) -> binned Recording."""
    from .spikes import bin_spike_times, split_by_unit

    if dt is None:
        raise SparksError(f"'{path.name}' holds spike times; they need a bin width.", "Pass dt in seconds (--dt 0.01).")
    ids, per_unit = split_by_unit(times, units, f"'{path.name}'")
    tr = options.get("time_range")
    act, kept = bin_spike_times(per_unit, dt, 0.0 if tr is None else tr[0], None if tr is None else tr[1],
                                source=f"'{path.name}' spike times", unit_ids=ids,
                                allow_unsorted=options.get("allow_unsorted", True),
                                empty_units=options.get("empty_units", "drop"))
    return Recording(activity=act, dt=dt, kind="spikes", neuron_ids=ids[kept], name=path.stem,
                     provenance={"source": str(path), "reader": "spike_list"})


def _read_csv(p: Path, dt, kind, activity_key, options) -> Recording:
    with open(p) as fh:
        first = fh.readline()
    tokens = [t.strip().strip('"') for t in first.split(",")]
    def _num(t):
        try:
            float(t)
            return True
        except ValueError:
            return False
    if all(_num(t) for t in tokens if t):
        arrays = {"activity": np.loadtxt(p, delimiter=",", dtype=np.float32, ndmin=2)}
        return recording_from_arrays(arrays, p, activity_key=activity_key, dt=dt, kind=kind, reader="csv")
    data = np.genfromtxt(p, delimiter=",", skip_header=1, dtype=np.float64, ndmin=2)
    if data.shape[1] != len(tokens):
        raise SparksError(f"'{p.name}' has {len(tokens)} header names but {data.shape[1]} columns.", "Fix the header row.")
    cols = dict(zip(tokens, data.T))
    pair = _spike_list_keys(tokens)
    if pair and len(tokens) == 2:
        return recording_from_spike_list(cols[pair[0]], cols[pair[1]], p, dt, **options)
    # named columns are signals over time: activity = chosen columns, the rest behaviour
    act_cols = options.get("columns")
    if act_cols is None:
        raise SparksError(f"'{p.name}' has named columns ({', '.join(tokens)}); it is not clear which are neurons.",
                          "Pass columns=[...] with the activity columns (the other columns become behaviour).")
    missing = [c for c in act_cols if c not in cols]
    if missing:
        raise SparksError(f"'{p.name}' has no column(s) {missing}.", f"Choose from: {', '.join(tokens)}.")
    arrays = {"activity": np.stack([cols[c] for c in act_cols]),
              **{c: v for c, v in cols.items() if c not in act_cols and c not in ("dt",)}}
    return recording_from_arrays(arrays, p, dt=dt, kind=kind, reader="csv")


def detect_format(path: str | Path) -> str:
    """What reader ``path`` needs, judged by content (falls back to the extension).

    One of ``suite2p``, ``phy``, ``nwb``, ``hdf5``, ``mat``, ``npy``, ``npz``, ``tiff``, ``csv``.
    """
    p = Path(path)
    if p.is_dir():
        if (p / "spike_times.npy").exists():
            return "phy"
        from .suite2p import find_plane_folder

        try:
            find_plane_folder(p)
            return "suite2p"
        except SparksError as exc:
            if "several suite2p planes" in exc.problem:
                return "suite2p"
        raise SparksError(f"'{p}' is a folder but neither a suite2p output nor a Kilosort/phy folder.",
                          "Point at a suite2p folder (F.npy, stat.npy ...) or a Kilosort folder (spike_times.npy, params.py).")
    with open(p, "rb") as fh:
        head = fh.read(1024 + 8)
    if head[:8] == b"\x89HDF\r\n\x1a\n" or head[512:520] == b"\x89HDF\r\n\x1a\n":
        if head[:6] == b"MATLAB" or p.suffix.lower() == ".mat":
            return "mat"
        import h5py

        try:
            with h5py.File(p, "r") as f:
                return "nwb" if ("nwb_version" in f.attrs or "acquisition" in f) else "hdf5"
        except OSError:
            return "nwb" if p.suffix.lower() == ".nwb" else "hdf5"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if head[:4] == b"PK\x03\x04":
        return "npz"
    if head[:10] == b"MATLAB 5.0" or head[:6] == b"MATLAB":
        return "mat"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    suffix = p.suffix.lower()
    by_suffix = {".nwb": "nwb", ".h5": "hdf5", ".hdf5": "hdf5", ".mat": "mat", ".npy": "npy", ".npz": "npz",
                 ".tif": "tiff", ".tiff": "tiff", ".csv": "csv", ".txt": "csv"}
    if suffix in (".nwb", ".h5", ".hdf5"):
        raise SparksError(f"'{p.name}' is not an NWB/HDF5 file (it does not start with the HDF5 signature).",
                          "Check that this is the real file (not a placeholder, download page or text file) and copy it again.")
    if suffix in by_suffix:
        return by_suffix[suffix]
    raise SparksError(f"Cannot tell the format of '{p.name}'.",
                      "Use NWB (.nwb), a suite2p or Kilosort/phy folder, .npy/.npz/.mat/.h5/.csv arrays or a .tif movie.")


def load_recording(path: str | Path, activity_key: str | None = None, dt: float | None = None,
                   kind: str | None = None, **options) -> Recording:
    """Open ``path`` as a :class:`Recording`, choosing the reader by the file's content.

    Parameters
    ----------
    path
        An ``.nwb`` file, a suite2p output folder, a Kilosort/phy folder, an array file
        (``.npy``, ``.npz``, ``.mat`` v5/v7.3, ``.h5``, ``.csv``; spike-time lists with
        ``spike_times`` + ``spike_units`` arrays or two named CSV columns) or a TIFF movie
        (with ``rois=``).
    activity_key
        Which array (array files) or which source (NWB: ``"units"``, ``"Fluorescence"``,
        ``"DfOverF"``, ...) holds the activity.
    dt
        Bin width in seconds (spike times are binned at it; frame data re-binned to it).
    kind
        ``"spikes"`` or ``"calcium"`` (guessed otherwise).
    **options
        Passed to the reader: NWB :func:`~sparks_gui.data.nwb.read_nwb` (``behaviour``,
        ``movie``, ``time_range``, ``behaviour_nan``, ``empty_units``), suite2p
        :func:`~sparks_gui.data.suite2p.read_suite2p` (``signal``, ``cells_only``, ``plane``),
        phy :func:`~sparks_gui.data.phy.read_phy` (``groups``, ``sample_rate``), TIFF
        :func:`~sparks_gui.data.tiff.read_tiff` (``rois``), CSV (``columns``).
    """
    p = Path(path)
    if not p.exists():
        raise SparksError(f"File '{p}' does not exist.", "Check the path (and that the drive is mounted).")
    fmt = detect_format(p)
    if fmt == "nwb":
        from .nwb import read_nwb

        return read_nwb(p, activity_key=activity_key, dt=dt, kind=kind, **options)
    if fmt == "suite2p":
        from .suite2p import read_suite2p

        rec = read_suite2p(p, dt=dt, **options)
        return rec
    if fmt == "phy":
        from .phy import read_phy

        return read_phy(p, dt=dt, **options)
    if fmt == "tiff":
        from .tiff import read_tiff

        return read_tiff(p, dt=dt, **options)
    try:
        if fmt == "npy":
            arrays = {"activity": np.load(p, allow_pickle=False)}
        elif fmt == "npz":
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        elif fmt == "mat":
            arrays = _read_mat(p)
        elif fmt == "hdf5":
            arrays = _read_h5(p)
        else:
            return _read_csv(p, dt, kind, activity_key, options)
    except SparksError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt file becomes a clear message
        raise SparksError(f"Could not read '{p}': {exc}.", "Check that the file is complete and in the format its extension says.") from exc
    keys = [k for k in arrays if not k.startswith("__")]
    pair = _spike_list_keys(keys)
    if activity_key is None and pair and not any(k in keys for k in ACTIVITY_KEYS if k not in ("X", "x")):
        return recording_from_spike_list(arrays[pair[0]], arrays[pair[1]], p,
                                         dt if dt is not None else (float(np.ravel(arrays["dt"])[0]) if "dt" in arrays else None),
                                         **options)
    return recording_from_arrays(arrays, p, activity_key=activity_key, dt=dt, kind=kind, reader=fmt)
