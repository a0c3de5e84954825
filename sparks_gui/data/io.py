"""``load_recording``: open a user's file as a :class:`Recording`, picking the reader by content.

NWB, suite2p, Kilosort/phy and TIFF have their own modules; array formats (``.npy``,
``.npz`` incl. ``scipy.sparse.save_npz``, ``.mat`` v5/v7.3 incl. sparse matrices and
structs, ``.h5``, ``.csv``/``.csv.gz``) and spike-time lists are handled here.

Array files are read the way real files are written, not the way we would write them:

* **which array** holds the activity: every numeric 2-D/3-D array is a candidate, scored
  by its name (``activity``, ``spikes``, ``neural``, ``Y``, ``F``, ``dff`` ...), its size and
  whether it holds counts (:func:`activity_candidates`).  The best is used; when several fit
  (e.g. ``Ytr``/``Yte``), a :class:`~sparks_gui.errors.SparksWarning` names the others and
  ``activity_key=`` picks another.
* **which axis is time**: the axis whose length other variables share (behaviour is one
  sample per bin); else the longer axis.  ``layout="neurons_time"|"time_neurons"`` forces it.
* **the bin width**: ``dt=``/``fs=``, else a variable such as ``dt``, ``fs``, ``*fs``
  (``VIDEOfs``), ``frame_rate``, ``fps``, ``sampling_rate``, ``bin_width`` ...
  (:func:`rate_variables`); where several rates are stored, the one whose duration matches
  the other variables (``SONG`` at ``SONGfs``) or whose name says imaging/neural.
* **the rest**: variables with one sample per bin become behaviour, per-neuron vectors
  neuron metadata, variables with their own stored rate and the same duration are averaged
  onto the activity bins; everything else is skipped with *one* warning listing it.

:func:`plan_arrays` makes these choices without building the recording (``sparks-gui
inspect`` prints them); :func:`recording_from_arrays` builds it.
"""

from __future__ import annotations

import gzip
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SparksError, SparksWarning
from .recording import Recording

ACTIVITY_KEYS = ("activity", "spikes", "X", "x", "data", "F", "dff", "traces")
"""Names the original loader recognised; still strong evidence (see :func:`activity_candidates`)."""
RESERVED = {"trials", "dt", "kind", "neuron_ids"}
LAYOUTS = ("neurons_time", "time_neurons")

STRONG_NAMES = {
    "activity",
    "activities",
    "spikes",
    "spike",
    "spks",
    "neural",
    "neuron",
    "neurons",
    "dff",
    "deltaf",
    "dfof",
    "df_f",
    "f",
    "fluorescence",
    "calcium",
    "ca",
    "traces",
    "trace",
    "counts",
    "spikecounts",
    "spike_counts",
    "rates",
    "firingrates",
    "firing_rates",
    "fr",
    "raster",
    "binned",
    "psth",
    "y",
    "s",
    "c",
    "responses",
    "resp",
    "cells",
    "units",
    "deconv",
    "deconvolved",
    "events",
}
WEAK_NAMES = {"x", "data", "mat", "m", "r", "a", "d", "matrix", "signal", "signals", "z", "xs"}
NEGATIVE_NAMES = {
    "song",
    "spec",
    "spectrogram",
    "specgram",
    "audio",
    "sound",
    "stim",
    "stimulus",
    "image",
    "images",
    "img",
    "movie",
    "frame",
    "frames",
    "video",
    "pos",
    "position",
    "positions",
    "vel",
    "velocity",
    "acc",
    "kin",
    "kinematics",
    "behav",
    "behaviour",
    "behavior",
    "target",
    "targets",
    "cursor",
    "eye",
    "hand",
    "time",
    "times",
    "t",
    "ts",
    "timestamps",
    "label",
    "labels",
    "trial",
    "trials",
    "cond",
    "condition",
    "conditions",
    "xy",
    "speed",
    "pupil",
    "lick",
    "licks",
    "reward",
    "mask",
    "masks",
    "roi",
    "rois",
    "stat",
    "coords",
    "loc",
    "location",
    "locations",
    "depth",
    "id",
    "ids",
    "idx",
    "index",
    "lfp",
    "wav",
    "mic",
    "force",
    "emg",
    "joint",
    "joints",
    "angle",
    "angles",
    "footprints",
    "template",
    "templates",
    "waveform",
    "waveforms",
    "weights",
    "w",
    "h",
}
PER_NEURON_NAMES = {
    "id",
    "ids",
    "neuron_ids",
    "unit_ids",
    "cell_ids",
    "depth",
    "depths",
    "area",
    "areas",
    "region",
    "regions",
    "iscell",
    "cell_type",
    "celltype",
    "location",
    "locations",
    "channel",
    "channels",
    "cluster",
    "clusters",
    "quality",
    "snr",
    "layer",
    "electrode",
    "electrodes",
    "shank",
    "cell",
    "cells",
    "neuron",
    "neurons",
    "unit",
    "units",
    "roi",
    "rois",
}
_SPLIT_RE = re.compile(
    r"^(?P<base>.+?)[_\-. ]?(?P<split>train|test|training|testing|valid|val|tr|te|trn|tst)$", re.IGNORECASE
)
_TRAIN_SPLITS = {"train", "training", "tr", "trn"}
_RATE_RE = re.compile(
    r"^(?P<prefix>.*?)[_\-. ]?(?P<what>fs|fps|srate|samprate|framerate|frame_rate|samplingrate|"
    r"sampling_rate|samplerate|sample_rate|imagingrate|imaging_rate|acqrate|acq_rate|volumerate|"
    r"volume_rate|sampling_frequency|samplingfrequency)$",
    re.IGNORECASE,
)
_RATE_FIRST_RE = re.compile(r"^(?P<what>fs|fps|srate)[_\-. ](?P<prefix>.+)$", re.IGNORECASE)
_PERIOD_RE = re.compile(
    r"^(?P<prefix>.*?)[_\-. ]?(?P<what>dt|binwidth|bin_width|binsize|bin_size|tbin|bin|"
    r"frameperiod|frame_period|samplinginterval|sampling_interval|timestep|time_step)$",
    re.IGNORECASE,
)
_UNIT_SUFFIX_RE = re.compile(r"^(?P<name>.+?)[_\-. ]?(?P<unit>ms|msec|s|sec|secs|seconds)$", re.IGNORECASE)
_ACTIVITY_CLOCK_HINTS = (
    "video",
    "frame",
    "imag",
    "img",
    "neural",
    "neuron",
    "calc",
    "ca",
    "spike",
    "ophys",
    "2p",
    "scope",
    "bin",
    "scan",
    "vol",
    "plane",
    "cell",
    "fluo",
)
_OTHER_CLOCK_HINTS = (
    "song",
    "audio",
    "sound",
    "mic",
    "wav",
    "spec",
    "behav",
    "lfp",
    "ephys",
    "raw",
    "stim",
    "eye",
    "pupil",
    "camera",
    "cam",
    "lick",
    "running",
    "wheel",
)


_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def _warn(message: str, stacklevel: int | None = None) -> None:
    """Warn with :class:`SparksWarning`, attributed to the first caller outside sparks_gui."""
    import sys

    level, frame = 2, sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, SparksWarning, stacklevel=level)


# ---------------------------------------------------------------- variables
@dataclass(frozen=True)
class Opaque:
    """A variable we can list but not use (MATLAB text, cell array, struct array, object references)."""

    what: str
    shape: tuple[int, ...] = ()

    def __repr__(self) -> str:
        return f"<{self.what}>"


def is_sparse(v: Any) -> bool:
    """True for scipy.sparse matrices/arrays."""
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy is a dependency
        return False
    return sp.issparse(v)


def _is_numeric(v: Any) -> bool:
    if is_sparse(v):
        return v.dtype.kind in "biuf"
    if isinstance(v, (Opaque, str, bytes)):
        return False
    if isinstance(v, (bool, int, float, np.number, np.bool_)):
        return True
    return isinstance(v, np.ndarray) and v.dtype.kind in "biuf"


def _shape(v: Any) -> tuple[int, ...]:
    if isinstance(v, Opaque):
        return tuple(v.shape)
    return tuple(int(s) for s in getattr(v, "shape", np.shape(v) if not isinstance(v, (str, bytes)) else ()))


def _size(v: Any) -> int:
    return int(np.prod(_shape(v))) if _shape(v) else 1


def _scalar(v: Any) -> float | None:
    """The value of a numeric variable holding one number, else None."""
    if not _is_numeric(v) or _size(v) != 1:
        return None
    arr = v.toarray() if is_sparse(v) else np.asarray(v)
    val = float(arr.ravel()[0])
    return val if math.isfinite(val) else None


def _dense(v: Any, dtype=None) -> np.ndarray:
    if is_sparse(v):
        v = v.astype(dtype) if dtype is not None else v
        return np.asarray(v.toarray())
    return np.asarray(v) if dtype is None else np.asarray(v, dtype=dtype)


def _sample_values(v: Any, limit: int = 200_000) -> np.ndarray:
    """Up to ``limit`` values of ``v`` (for sparse matrices: the stored ones plus a 0 when some are implicit)."""
    if is_sparse(v):
        data = np.asarray(v.data).ravel()
        if v.nnz < int(np.prod(v.shape)):
            data = np.concatenate([data[:limit], [0]])
        return data[: limit + 1]
    arr = np.asarray(v).ravel()
    if arr.size > limit:
        arr = arr[:: arr.size // limit + 1]
    return arr


def _leaf(key: str) -> str:
    return re.split(r"[./]", key)[-1]


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return " x ".join(str(s) for s in shape) if shape else "scalar"


@dataclass
class VariableInfo:
    """One variable of an array file as ``sparks-gui inspect`` lists it."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    sparse: bool = False
    minimum: float | None = None
    maximum: float | None = None
    note: str = ""


def describe_variables(arrays: dict[str, Any]) -> list[VariableInfo]:
    """Name, shape, dtype, min/max and sparseness of every variable of an array file."""
    out = []
    for k, v in arrays.items():
        if k.startswith("__"):
            continue
        if isinstance(v, Opaque):
            out.append(VariableInfo(k, tuple(v.shape), "-", note=v.what))
            continue
        if isinstance(v, (str, bytes)):
            out.append(VariableInfo(k, (), "text", note=f"text: {str(v)[:40]!r}"))
            continue
        sparse = is_sparse(v)
        dtype = str(v.dtype) if hasattr(v, "dtype") else type(v).__name__
        info = VariableInfo(k, _shape(v), dtype, sparse=sparse)
        if _is_numeric(v) and _size(v):
            vals = v.data if sparse else np.asarray(v)
            vals = np.asarray(vals, dtype=np.float64) if np.asarray(vals).dtype.kind == "b" else np.asarray(vals)
            finite = vals[np.isfinite(vals)] if vals.dtype.kind == "f" else vals
            if finite.size:
                lo, hi = float(np.min(finite)), float(np.max(finite))
                if sparse and v.nnz < _size(v):
                    lo, hi = min(lo, 0.0), max(hi, 0.0)
                info.minimum, info.maximum = lo, hi
            if vals.dtype.kind == "f" and finite.size < vals.size:
                info.note = f"{vals.size - finite.size} NaN/inf"
        elif not _is_numeric(v):
            info.note = "not numeric"
        out.append(info)
    return out


# ---------------------------------------------------------------- readers
def _flatten_mat(name: str, v: Any, out: dict[str, Any], depth: int = 0) -> None:
    from scipy.io.matlab import mat_struct

    if isinstance(v, mat_struct):
        if depth >= 4:
            out[name] = Opaque("MATLAB struct (nested too deep)")
            return
        for f in v._fieldnames:
            _flatten_mat(f"{name}.{f}", getattr(v, f), out, depth + 1)
    elif isinstance(v, np.ndarray) and v.dtype == object:
        if v.size and all(isinstance(e, mat_struct) for e in v.flat):
            out[name] = Opaque("MATLAB struct array", v.shape)
        elif v.size and all(isinstance(e, str) for e in v.flat):
            out[name] = Opaque("MATLAB cell array of text", v.shape)
        else:
            out[name] = Opaque("MATLAB cell array", v.shape)
    elif isinstance(v, np.ndarray) and v.dtype.kind == "U":
        out[name] = Opaque("MATLAB text", v.shape)
    elif isinstance(v, np.ndarray) and v.dtype.names:
        out[name] = Opaque("MATLAB struct", v.shape)
    else:
        out[name] = v


def _read_mat(path: Path) -> dict[str, Any]:
    """Every variable of a MATLAB file: v5 via scipy (structs flattened to ``s.field``), v7.3 via h5py."""
    import scipy.io

    with open(path, "rb") as fh:
        head = fh.read(520)
    if head[512:520] == b"\x89HDF\r\n\x1a\n" or head[:8] == b"\x89HDF\r\n\x1a\n":  # MATLAB v7.3
        return _read_h5(path, transpose=True, mat=True)
    try:
        raw = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    except NotImplementedError:  # MATLAB v7.3 files are HDF5
        return _read_h5(path, transpose=True, mat=True)
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if not k.startswith("__"):
            _flatten_mat(k, v, out)
    return out


def _h5_attr(obj, name: str):
    v = obj.attrs.get(name)
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    if isinstance(v, np.ndarray) and v.dtype.kind == "S":
        return v.tobytes().decode(errors="replace")
    return v


def _h5_sparse(group) -> Any:
    """A MATLAB v7.3 sparse matrix (group with ``jc``, ``ir``, ``data`` and the ``MATLAB_sparse`` row count)."""
    import scipy.sparse as sp

    n_rows = int(np.asarray(group.attrs["MATLAB_sparse"]).ravel()[0])
    jc = np.asarray(group["jc"][()], dtype=np.int64).ravel()
    n_cols = len(jc) - 1
    if "ir" in group and "data" in group:
        ir = np.asarray(group["ir"][()], dtype=np.int64).ravel()
        data = np.asarray(group["data"][()]).ravel()
    else:  # an all-zero sparse matrix is stored without ir/data
        ir, data = np.zeros(0, np.int64), np.zeros(0)
    if data.dtype.names:  # complex: real part only would lose information
        return Opaque("MATLAB complex sparse matrix", (n_rows, n_cols))
    if _h5_attr(group, "MATLAB_class") == "logical":
        data = data.astype(bool)
    if len(ir) != len(data) or (len(jc) and jc[-1] != len(data)):
        return Opaque("MATLAB sparse matrix with inconsistent ir/jc/data", (n_rows, n_cols))
    return sp.csc_matrix((data, ir, jc), shape=(n_rows, n_cols))


def _read_h5(path: Path, transpose: bool = False, mat: bool = False) -> dict[str, Any]:
    """Variables of an HDF5 file by path ('group/name'; ``group.name`` for MATLAB v7.3 structs).

    MATLAB v7.3 arrays are transposed back to MATLAB's orientation, sparse matrices rebuilt,
    text decoded; cell arrays and object references are listed as :class:`Opaque`.
    """
    import h5py

    out: dict[str, Any] = {}
    sparse_groups: list[str] = []
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            if any(part.startswith("#") for part in name.split("/")):
                return  # MATLAB's #refs# / #subsystem#
            if any(name.startswith(g + "/") for g in sparse_groups):
                return
            key = name.replace("/", ".") if mat else name
            cls = _h5_attr(obj, "MATLAB_class")
            if isinstance(obj, h5py.Group):
                if "MATLAB_sparse" in obj.attrs:
                    sparse_groups.append(name)
                    try:
                        out[key] = _h5_sparse(obj)
                    except Exception as exc:  # noqa: BLE001 - listed, not fatal
                        out[key] = Opaque(f"unreadable sparse matrix ({exc})")
                return
            if not isinstance(obj, h5py.Dataset):
                return
            if obj.attrs.get("MATLAB_empty"):
                out[key] = np.zeros((0,))
                return
            if cls == "char":
                try:
                    codes = np.asarray(obj[()]).ravel()
                    out[key] = "".join(chr(int(c)) for c in codes[:10_000])
                except Exception:  # noqa: BLE001 - odd text is listed, not fatal
                    out[key] = Opaque("MATLAB text", obj.shape)
                return
            if cls in ("cell", "struct") or obj.dtype.kind == "O" or h5py.check_dtype(ref=obj.dtype) is not None:
                out[key] = Opaque(f"MATLAB {cls or 'reference'} array", obj.shape)
                return
            if obj.dtype.kind in "biuf":
                v = np.asarray(obj[()])
                v = v.T if transpose else v
                out[key] = v.astype(bool) if cls == "logical" else v
            else:
                out[key] = Opaque(f"HDF5 dataset of dtype {obj.dtype}", obj.shape)

        f.visititems(visit)
    return out


def _read_npz(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as z:
        files = set(z.files)
        if {"format", "shape"} <= files and ({"data", "indices", "indptr"} <= files or {"row", "col", "data"} <= files):
            import scipy.sparse

            return {"activity": scipy.sparse.load_npz(path)}
        out: dict[str, Any] = {}
        for k in z.files:
            try:
                out[k] = z[k]
            except ValueError:  # pickled object array
                out[k] = Opaque("pickled object array (not loaded: pickles can run code)")
        return out


def read_arrays(path: str | Path, fmt: str | None = None) -> dict[str, Any]:
    """Every variable of an array file (``.npy``, ``.npz``, ``.mat``, ``.h5``) by name.

    Sparse matrices stay sparse; MATLAB structs are flattened to ``struct.field`` names;
    variables that cannot be used are :class:`Opaque` (so they can still be listed).
    """
    p = Path(path)
    fmt = fmt or detect_format(p)
    try:
        if fmt == "npy":
            try:
                return {"activity": np.load(p, allow_pickle=False)}
            except ValueError as exc:
                raise SparksError(
                    f"'{p.name}' holds a pickled object array, which is not loaded (pickles can run code).",
                    "Save the activity as a plain numeric array (np.save(path, array.astype(float))).",
                ) from exc
        if fmt == "npz":
            return _read_npz(p)
        if fmt == "mat":
            return _read_mat(p)
        if fmt == "hdf5":
            return _read_h5(p)
    except SparksError:
        raise
    except Exception as exc:  # a corrupt file becomes a clear message
        raise SparksError(
            f"Could not read '{p}': {exc}.", "Check that the file is complete and in the format its extension says."
        ) from exc
    raise SparksError(f"'{p.name}' is not an array file ({fmt}).", "Use load_recording for it.")


# ---------------------------------------------------------------- activity
@dataclass
class ActivityCandidate:
    """An array that could hold the activity, with the evidence for it."""

    key: str
    shape: tuple[int, ...]
    score: float
    fits: bool
    why: str
    sparse: bool = False
    split: str | None = None

    def label(self) -> str:
        return f"{self.key} [{_fmt_shape(self.shape)}]" + (" sparse" if self.sparse else "")


def _split_names(keys: list[str]) -> dict[str, tuple[str, str | None]]:
    """``key -> (base name, split)`` where a train/test suffix is recognised (``Ytr`` -> ``('y', 'tr')``)."""
    raw = {}
    for k in keys:
        m = _SPLIT_RE.match(_leaf(k))
        raw[k] = (m.group("base").lower(), m.group("split").lower()) if m else (_leaf(k).lower(), None)
    out = {}
    for k, (base, split) in raw.items():
        if split is None:
            out[k] = (base, None)
            continue
        prefix = k[: len(k) - len(_leaf(k))]
        partner = any(
            o != k and raw[o][0] == base and raw[o][1] not in (None, split) and o[: len(o) - len(_leaf(o))] == prefix
            for o in raw
        )
        out[k] = (base, split) if (partner or base in STRONG_NAMES or base in WEAK_NAMES) else (_leaf(k).lower(), None)
    return out


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]


def _name_score(base: str) -> tuple[float, str]:
    toks = _tokens(base)
    if base in STRONG_NAMES:
        return 3.0, f"name '{base}' is a usual activity name"
    if any(t in STRONG_NAMES and len(t) > 1 for t in toks) or any(s in base for s in ("spike", "neur", "calc", "fluo")):
        return 2.0, "name suggests neural activity"
    if any(t in NEGATIVE_NAMES for t in toks) or base in NEGATIVE_NAMES:
        return -3.0, "name suggests behaviour/stimulus/metadata"
    if base in WEAK_NAMES:
        return 1.0, "generic data name"
    return 0.0, "name says nothing"


def activity_candidates(arrays: dict[str, Any]) -> list[ActivityCandidate]:
    """Numeric 2-D/3-D arrays that could hold the activity, best first.

    Scored by name (``activity``, ``spikes``, ``neural``, ``Y``, ``F``, ``dff`` ... raise it;
    ``song``, ``pos``, ``vel``, ``stim`` ... lower it), size, and content (counts, binary and
    non-negative values raise it; fewer than 4 rows or columns lowers it).  ``fits`` marks
    the plausible ones; the Data dock offers all of them.
    """
    keys = [k for k in arrays if not k.startswith("__")]
    splits = _split_names(keys)
    out = []
    for k in keys:
        v = arrays[k]
        if k in RESERVED or not _is_numeric(v):
            continue
        shape = _shape(v)
        if len(shape) not in (2, 3) or min(shape[-2:]) < 2:
            continue
        base, split = splits[k]
        score, why = _name_score(base)
        reasons = [why]
        if min(shape[-2:]) <= 3:
            score -= 2.0
            reasons.append(f"only {min(shape[-2:])} rows/columns")
        score += 0.5 * math.log10(max(_size(v), 1))
        vals = _sample_values(v)
        if vals.dtype.kind == "b":
            score += 1.0
            reasons.append("binary")
        elif vals.size and np.all(np.isfinite(vals)) and vals.min() >= 0:
            if np.all(np.mod(vals, 1) == 0):
                score += 1.0
                reasons.append("non-negative counts")
            else:
                score += 0.5
                reasons.append("non-negative")
        if is_sparse(v):
            score += 0.5
            reasons.append("sparse")
        if split in _TRAIN_SPLITS:
            score += 0.3
        out.append(
            ActivityCandidate(
                k,
                shape,
                round(score, 3),
                fits=score >= 1.5 and min(shape[-2:]) >= 2,
                why=", ".join(reasons),
                sparse=is_sparse(v),
                split=split,
            )
        )
    out.sort(key=lambda c: -c.score)
    return out


def _resolve_key(keys: list[str], requested: str, path: Path) -> str:
    if requested in keys:
        return requested
    alt = [k for k in keys if k.replace("/", ".") == requested.replace("/", ".")]
    if len(alt) == 1:
        return alt[0]
    low = [k for k in keys if k.lower() == requested.lower()]
    if len(low) == 1:
        return low[0]
    import difflib

    close = difflib.get_close_matches(requested, keys, n=3)
    raise SparksError(
        f"'{path.name}' has no array named '{requested}' (activity_key)."
        + (f" Did you mean {', '.join(close)}?" if close else ""),
        f"Use --activity-key with one of: {', '.join(keys)}.",
    )


# ---------------------------------------------------------------- rates
@dataclass
class RateVariable:
    """A stored sampling rate or bin width: ``VIDEOfs = 30`` -> ``dt = 1/30`` s."""

    name: str
    value: float
    dt: float
    how: str
    target: str | None = None
    """The variable this rate belongs to (``SONGfs`` -> ``SONG``), or None when it names none."""


def rate_variables(arrays: dict[str, Any]) -> list[RateVariable]:
    """Scalars that store a rate (``fs``, ``Fs``, ``*fs``, ``sampling_rate``, ``frame_rate``, ``fps``,
    ``srate``) or a bin width (``dt``, ``bin_width``, ``binsize``, ``*_ms``), converted to seconds."""
    keys = [k for k in arrays if not k.startswith("__")]
    by_lower = {}
    for k in keys:
        if _scalar(arrays[k]) is None and _is_numeric(arrays[k]):
            by_lower.setdefault(_leaf(k).lower().strip("_"), k)
    out = []
    for k in keys:
        val = _scalar(arrays[k])
        if val is None or val <= 0:
            continue
        leaf = _leaf(k)
        m = _RATE_RE.match(leaf) or _RATE_FIRST_RE.match(leaf)
        if m:
            rv = RateVariable(k, val, 1.0 / val, f"{leaf} = {val:g} Hz")
        else:
            unit = None
            name = leaf
            mu = _UNIT_SUFFIX_RE.match(leaf)
            if mu and _PERIOD_RE.match(mu.group("name")):
                name, unit = mu.group("name"), mu.group("unit").lower()
            m = _PERIOD_RE.match(name)
            if not m:
                continue
            if unit in ("ms", "msec"):
                rv = RateVariable(k, val, val / 1000.0, f"{leaf} = {val:g} ms")
            elif unit is not None:
                rv = RateVariable(k, val, val, f"{leaf} = {val:g} s")
            elif val >= 1.0:
                rv = RateVariable(k, val, val / 1000.0, f"{leaf} = {val:g}, read as milliseconds (>= 1)")
            else:
                rv = RateVariable(k, val, val, f"{leaf} = {val:g} s")
        prefix = (m.group("prefix") or "").strip("_-. ").lower()
        if prefix and prefix in by_lower:
            rv.target = by_lower[prefix]
        out.append(rv)
    return out


_TIME_VECTOR_NAMES = {
    "time",
    "times",
    "t",
    "ts",
    "tt",
    "timestamps",
    "timestamp",
    "tvec",
    "timevec",
    "taxis",
    "frametimes",
    "frame_times",
    "frame_time",
    "time_s",
    "time_ms",
    "t_ms",
    "t_s",
    "bin_times",
    "bintimes",
    "bin_centers",
    "bin_centres",
}


def _looks_like_time_vector(k: str, v: Any) -> bool:
    leaf = _leaf(k).lower()
    if not (leaf in _TIME_VECTOR_NAMES or leaf.endswith(("times", "timestamps", "_time", "time_s", "time_ms"))):
        return False
    if not _is_numeric(v) or is_sparse(v) or len(_shape(v)) != 1 or _size(v) < 2:
        return False
    t = np.asarray(v, dtype=np.float64)
    return bool(np.all(np.isfinite(t)) and np.all(np.diff(t) > 0))


def _time_vector(arrays: dict[str, Any], key: str, length: int) -> tuple[str, float, str] | None:
    """A 1-D, increasing variable named like time stamps with one value per bin: (name, dt in s, unit)."""
    for k, v in arrays.items():
        if k == key or k.startswith("__") or not _is_numeric(v) or is_sparse(v):
            continue
        leaf = _leaf(k).lower()
        if not (leaf in _TIME_VECTOR_NAMES or leaf.endswith(("times", "timestamps", "_time", "time_s", "time_ms"))):
            continue
        t = np.asarray(v, dtype=np.float64).ravel()
        if len(t) != length or len(t) < 2 or not np.all(np.isfinite(t)):
            continue
        steps = np.diff(t)
        if np.any(steps <= 0):
            continue
        med = float(np.median(steps))
        in_ms = "ms" in _tokens(leaf) or leaf.endswith("ms") or (med >= 0.5 and not leaf.endswith(("_s", "sec")))
        if (steps.max() - steps.min()) > 0.05 * med:
            continue  # irregular: not a bin clock
        return k, float(f"{med * (1e-3 if in_ms else 1.0):.6g}"), "read as milliseconds" if in_ms else "seconds"
    return None


def _time_length(v: Any) -> int:
    shape = _shape(v)
    return max(shape) if shape else 1


def _choose_dt(
    rates: list[RateVariable], arrays: dict[str, Any], key: str, n_time: int
) -> tuple[RateVariable | None, str]:
    """The stored rate that is the activity's, and why."""
    if not rates:
        return None, ""
    own = [r for r in rates if r.target == key]
    if own:
        return own[0], f"named after '{key}'"
    free = [r for r in rates if r.target is None]
    others = [r for r in rates if r.target is not None]
    durations = [(r, _time_length(arrays[r.target]) * r.dt) for r in others]
    if len(free) == 1:
        f = free[0]
        agree = [o for o, d in durations if abs(n_time * f.dt - d) <= max(2 * f.dt, 2 * o.dt, 1e-3 * d)]
        return f, (
            "the only stored rate not named after another variable"
            + (
                f"; the {n_time} bins last {n_time * f.dt:.4g} s, like '{agree[0].target}' at {agree[0].name}"
                if agree
                else ""
            )
        )
    if len(free) > 1:
        match = [
            f for f in free if any(abs(n_time * f.dt - d) <= max(2 * f.dt, 2 * o.dt, 1e-3 * d) for o, d in durations)
        ]
        if len(match) == 1:
            o = next(
                o for o, d in durations if abs(n_time * match[0].dt - d) <= max(2 * match[0].dt, 2 * o.dt, 1e-3 * d)
            )
            return match[0], (
                f"{n_time} bins at it last {n_time * match[0].dt:.4g} s, like '{o.target}' "
                f"({_time_length(arrays[o.target])} samples at {o.name})"
            )
        pool = match or free
        generic = [
            r for r in pool if not _RATE_RE.match(_leaf(r.name)) or not (_RATE_RE.match(_leaf(r.name)).group("prefix"))
        ]
        hinted = [
            r
            for r in pool
            if any(h in _leaf(r.name).lower() for h in _ACTIVITY_CLOCK_HINTS)
            and not any(h in _leaf(r.name).lower() for h in _OTHER_CLOCK_HINTS)
        ]
        if hinted:
            return hinted[0], "its name suggests the imaging/neural clock"
        if generic and len(generic) == 1:
            return generic[0], "a generic rate name"
        unlikely = [r for r in pool if not any(h in _leaf(r.name).lower() for h in _OTHER_CLOCK_HINTS)]
        pick = (unlikely or pool)[0]
        return pick, "first of several stored rates (" + ", ".join(r.name for r in pool) + ")"
    # every rate names another variable: one whose variable has the activity's length shares its clock
    same = [r for r in others if _time_length(arrays[r.target]) == n_time]
    if same:
        return same[0], f"'{same[0].target}' has as many samples as the activity has bins"
    return None, ""


def _rate_quantum_hint(v: Any, key: str) -> str:
    """' Its values are whole multiples of 5 ...' when the activity looks like counts / bin width (rates in Hz)."""
    vals = _sample_values(v)
    if vals.dtype.kind not in "f":
        return ""
    nz = vals[np.isfinite(vals) & (vals > 0)]
    if nz.size < 20:
        return ""
    q = float(nz.min())
    ratio = nz / q
    if q <= 1.0:  # counts (min 1) and continuous signals
        return ""
    if not np.allclose(ratio, np.round(ratio), atol=1e-6, rtol=0):
        return ""
    width = 1.0 / q
    return (
        f" Its values are whole multiples of {q:.6g}: spike rates in Hz from counts in {width:.6g} s bins? "
        f"If so, the bin width is {width:.6g} s."
    )


# ---------------------------------------------------------------- plan
@dataclass
class ArrayPlan:
    """What :func:`recording_from_arrays` will load from an array file, and why."""

    source: str
    key: str
    shape: tuple[int, ...]
    sparse: bool
    layout: str
    layout_reason: str
    n_neurons: int
    n_time: int
    n_trials: int | None
    dt: float | None
    dt_source: str
    kind: str
    start_time: float = 0.0
    behaviour: dict[str, str] = field(default_factory=dict)
    """Behaviour signals kept -> how (same length / trial-wise / resampled)."""
    neuron_meta: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """Variables left out -> why."""
    ignored: dict[str, str] = field(default_factory=dict)
    """Scalars and rate variables that are not data (not warned about)."""
    candidates: list[ActivityCandidate] = field(default_factory=list)
    alternatives: list[ActivityCandidate] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problem: SparksError | None = None
    """Why the file would not load with these options (e.g. no bin width), else None."""
    trials: np.ndarray | None = field(default=None, repr=False)
    behaviour_values: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    neuron_meta_values: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    neuron_ids: np.ndarray | None = field(default=None, repr=False)

    def provenance(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "activity_key": self.key,
            "layout": self.layout,
            "layout_reason": self.layout_reason,
            "dt_source": self.dt_source,
        }
        if self.sparse:
            out["sparse"] = True
        if self.skipped:
            out["skipped"] = dict(self.skipped)
        if any("resampled" in how for how in self.behaviour.values()):
            out["resampled"] = {k: how for k, how in self.behaviour.items() if "resampled" in how}
        out["activity_candidates"] = [c.key for c in self.candidates]
        return out


def _decide_layout(
    arrays: dict[str, Any], key: str, shape: tuple[int, ...], layout: str | None, exclude: set[str]
) -> tuple[str, str, bool]:
    """(layout, reason, certain): which of the last two axes of the activity is time."""
    a, b = shape[-2], shape[-1]
    if layout is not None:
        return layout, "layout given", True
    if a == b:
        return "neurons_time", f"square array ({a} x {b}); assumed neurons x time", False
    votes: dict[int, list[str]] = {0: [], 1: []}
    for k, v in arrays.items():
        if k == key or k in exclude or k.startswith("__") or not _is_numeric(v) or k in RESERVED:
            continue
        if any(t in PER_NEURON_NAMES for t in _tokens(_leaf(k))):
            continue
        shp = _shape(v)
        if not shp or _size(v) <= 1:
            continue
        if len(shape) == 3 and len(shp) >= 2 and shp[0] == shape[0]:
            shp = shp[1:2]  # trial-wise variables: [trials, time, ...]
        weight = 2 if len(shp) == 1 and _looks_like_time_vector(k, v) else 1  # time stamps are strong evidence
        if a in shp:
            votes[0] += [k] * weight
        if b in shp:
            votes[1] += [k] * weight
    axis_name = ("rows", "columns")
    if len(votes[0]) != len(votes[1]):
        t = 0 if len(votes[0]) > len(votes[1]) else 1
        votes[t] = list(dict.fromkeys(votes[t]))
        names = votes[t]
        listed = ", ".join(names[:4]) + (" ..." if len(names) > 4 else "")
        return (
            ("time_neurons", "neurons_time")[t],
            f"{len(names)} other variable(s) ({listed}) have {shape[-2 + t]} samples, like its {axis_name[t]}",
            True,
        )
    t = 0 if a > b else 1
    why = "no other variable has the length of either axis" if not votes[0] else "other variables match both axes"
    return (
        ("time_neurons", "neurons_time")[t],
        f"{why}; the longer axis ({shape[-2 + t]}, its {axis_name[t]}) taken as time",
        False,
    )


def _resample_onto(values: np.ndarray, rate_dt: float, dt: float, n_time: int) -> np.ndarray:
    """``values [n, k]`` sampled every ``rate_dt`` -> ``[n_time, k]`` on bins of ``dt`` (bin means, or
    linear interpolation at bin centres when the source is coarser than the bins)."""
    n = values.shape[0]
    if rate_dt <= dt:
        edges = np.clip(np.round(np.arange(n_time + 1) * dt / rate_dt).astype(np.int64), 0, n)
        csum = np.concatenate([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0, dtype=np.float64)])
        counts = np.maximum(edges[1:] - edges[:-1], 1)[:, None]
        out = (csum[edges[1:]] - csum[edges[:-1]]) / counts
        empty = edges[1:] <= edges[:-1]
        if empty.any():
            idx = np.clip(edges[:-1][empty], 0, n - 1)
            out[empty] = values[idx]
        return out
    centres = (np.arange(n_time) + 0.5) * dt
    src = (np.arange(n) + 0.5) * rate_dt
    return np.stack([np.interp(centres, src, values[:, j]) for j in range(values.shape[1])], axis=1)


def plan_arrays(
    arrays: dict[str, Any],
    path: str | Path,
    activity_key: str | None = None,
    dt: float | None = None,
    kind: str | None = None,
    layout: str | None = None,
    behaviour: list[str] | None = None,
    resample: bool = True,
    dt_source: str | None = None,
    **_ignored,
) -> ArrayPlan:
    """Decide what to load from the variables of an array file (see the module docstring).

    Never raises for a missing bin width: ``plan.problem`` says what is missing, so that
    ``sparks-gui inspect`` can still show the rest.  Raises :class:`SparksError` for a bad
    ``activity_key``, ``layout`` or ``behaviour`` name, or when no array can hold activity.
    """
    path = Path(path)
    keys = [k for k in arrays if not k.startswith("__")]
    if layout in (None, "auto"):
        layout = None
    elif layout not in LAYOUTS:
        raise SparksError(
            f"Unknown layout '{layout}'.", f"Use one of {LAYOUTS} (or leave it out to decide by the data)."
        )
    cands = activity_candidates(arrays)
    warn_list: list[str] = []
    splits = _split_names(keys)
    if activity_key is not None:
        key = _resolve_key(keys, activity_key, path)
        v = arrays[key]
        if isinstance(v, Opaque) or not _is_numeric(v):
            what = v.what if isinstance(v, Opaque) else f"dtype {getattr(v, 'dtype', type(v).__name__)}"
            raise SparksError(
                f"Array '{key}' in '{path.name}' is not numeric ({what}).",
                "Store activity as a numeric matrix, or choose another array with --activity-key"
                + (f" ({', '.join(c.key for c in cands)})." if cands else "."),
            )
        alternatives: list[ActivityCandidate] = []
    else:
        fitting = [c for c in cands if c.fits]
        if not cands:
            numeric = [
                k for k in keys if _is_numeric(arrays[k]) and len(_shape(arrays[k])) == 1 and _size(arrays[k]) > 1
            ]
            raise SparksError(
                f"'{path.name}' has no numeric 2-D array that could hold the activity (variables: {', '.join(keys) or 'none'}).",
                "Store the activity as a [neurons, time] (or [time, neurons]) matrix"
                + (f"; 1-D variables ({', '.join(numeric[:5])}) cannot be activity." if numeric else "."),
            )
        best = fitting[0] if fitting else cands[0]
        key = best.key
        alternatives = [c for c in fitting if c.key != key]
        if alternatives:
            base = splits[key][0]
            pair = [c.key for c in alternatives if splits[c.key][0] == base and c.split is not None]
            msg = (
                f"'{path.name}': several arrays could hold the activity; using '{key}' [{_fmt_shape(best.shape)}] "
                f"({best.why}). Also fit: "
                + ", ".join(f"'{c.key}' [{_fmt_shape(c.shape)}]" for c in alternatives)
                + ". "
            )
            if pair:
                msg += (
                    f"'{key}' and {', '.join(repr(p) for p in pair)} look like train/test parts of one recording; "
                    f"only '{key}' is loaded. "
                )
            msg += (
                f"To use another, pass activity_key='{alternatives[0].key}' (--activity-key {alternatives[0].key} "
                "on the command line, or the 'array' box in the Data dock)."
            )
            warn_list.append(msg)
        elif not fitting:
            warn_list.append(
                f"'{path.name}': no array looks clearly like neural activity; using '{key}' "
                f"[{_fmt_shape(best.shape)}] ({best.why}). Pass activity_key=... to choose another."
            )
    raw = arrays[key]
    sparse = is_sparse(raw)
    shape = _shape(raw)
    if len(shape) == 1 or (len(shape) == 2 and min(shape) == 1 and layout is None):
        raise SparksError(
            f"Array '{key}' in '{path.name}' has shape {shape}: one neuron or one time bin.",
            "Choose a [neurons, time] matrix with --activity-key (or reshape this one).",
        )
    if len(shape) not in (2, 3):
        raise SparksError(
            f"Array '{key}' in '{path.name}' has shape {shape}; expected [neurons, time] or [trials, neurons, time].",
            "Reshape it, or choose another array with --activity-key.",
        )
    base = splits[key][0]
    siblings = {
        k for k in keys if k != key and splits[k][1] is not None and splits[k][0] == base and splits[key][1] is not None
    }
    lay, lay_reason, certain = _decide_layout(arrays, key, shape, layout, siblings)
    if layout is None and (lay == "time_neurons" or not certain):
        n_t = shape[-2] if lay == "time_neurons" else shape[-1]
        n_n = shape[-1] if lay == "time_neurons" else shape[-2]
        if lay == "time_neurons" or lay_reason.startswith("square") or "both" in lay_reason or len(shape) == 3:
            warn_list.append(
                f"'{path.name}': '{key}' [{_fmt_shape(shape)}] read as "
                f"{'time x neurons' if lay == 'time_neurons' else 'neurons x time'} ({n_n} neurons, {n_t} time bins): "
                f"{lay_reason}. If that is wrong, pass layout='{'neurons_time' if lay == 'time_neurons' else 'time_neurons'}' "
                f"(--layout on the command line)."
            )
    n_trials = shape[0] if len(shape) == 3 else None
    n_neurons = shape[-1] if lay == "time_neurons" else shape[-2]
    length = shape[-2] if lay == "time_neurons" else shape[-1]
    n_time = length * (n_trials or 1)

    # ---- bin width
    rates = rate_variables(arrays)
    rate_names = {r.name for r in rates}
    problem = None
    chosen: RateVariable | None = None
    stamps = _time_vector(arrays, key, length) if n_trials is None else None
    time_key = stamps[0] if stamps is not None else None
    if dt is not None:
        source = dt_source or "given (dt)"
        if stamps is not None and abs(stamps[1] - dt) > 0.01 * dt:
            warn_list.append(
                f"'{path.name}': dt = {dt:g} s was given, but the time stamps '{stamps[0]}' step by "
                f"{stamps[1]:g} s; the given dt is used."
            )
    elif "dt" in arrays and _scalar(arrays["dt"]) is not None and 0 < _scalar(arrays["dt"]) < 1:
        dt, source = _scalar(arrays["dt"]), "the file's 'dt' (seconds)"
    else:
        chosen, why = _choose_dt(rates, arrays, key, length)
        if chosen is None and stamps is not None:
            tkey, step, unit = stamps
            dt = step
            source = f"median step of '{tkey}' ({unit}) -> dt = {dt:.6g} s"
            warn_list.append(
                f"'{path.name}': bin width {dt:.6g} s from the median step of the time stamps "
                f"'{tkey}' ({unit}). Pass dt=... (--dt) if that is not the activity's bin width."
            )
        elif chosen is not None:
            dt = chosen.dt
            source = f"{chosen.how} -> dt = {dt:.6g} s ({why})"
            warn_list.append(
                f"'{path.name}': bin width {dt:.6g} s from {chosen.how} ({why})."
                + (
                    f" Other stored rates: {', '.join(r.how for r in rates if r is not chosen)}."
                    if len(rates) > 1
                    else ""
                )
                + " Pass dt=... (--dt) if that is not the activity's bin width."
            )
        else:
            source = "not found"
            listed = f" (stored rates: {', '.join(r.how for r in rates)}, none of them the activity's)" if rates else ""
            hint = _rate_quantum_hint(raw, key)
            problem = SparksError(
                f"'{path.name}' does not say the bin width of '{key}'{listed}.{hint}",
                "Pass dt in seconds (--dt 0.01) or the sampling rate (--fs 100), or store a 'dt' or 'fs' value in the file.",
            )

    # ---- kind
    if kind is None:
        if "kind" in arrays and not isinstance(arrays["kind"], Opaque):
            kind = str(np.asarray(arrays["kind"]).ravel()[0])
        else:
            vals = _sample_values(raw)
            counts = vals.dtype.kind in "biu" or (
                vals.size and np.all(np.isfinite(vals)) and np.all(np.mod(vals, 1) == 0)
            )
            kind = "spikes" if counts and (vals.size == 0 or vals.min() >= 0) else "calcium"

    start_time = 0.0
    if time_key is not None:
        first = float(_dense(arrays[time_key]).ravel()[0])
        start_time = first * (1e-3 if stamps[2] != "seconds" else 1.0)
    plan = ArrayPlan(
        source=str(path),
        key=key,
        start_time=start_time,
        shape=shape,
        sparse=sparse,
        layout=lay,
        layout_reason=lay_reason,
        n_neurons=n_neurons,
        n_time=n_time,
        n_trials=n_trials,
        dt=dt,
        dt_source=source,
        kind=kind,
        candidates=cands,
        alternatives=alternatives,
        problem=problem,
    )

    # ---- trials
    if n_trials is not None:
        plan.trials = np.stack([np.arange(n_trials) * length, np.arange(1, n_trials + 1) * length], axis=1)
    elif "trials" in arrays and _is_numeric(arrays["trials"]):
        plan.trials = _dense(arrays["trials"]).astype(np.int64)
    if "neuron_ids" in arrays and _is_numeric(arrays["neuron_ids"]) and _size(arrays["neuron_ids"]) == n_neurons:
        plan.neuron_ids = _dense(arrays["neuron_ids"]).ravel()

    # ---- the other variables
    if behaviour is not None:
        missing = [b for b in behaviour if b not in arrays]
        if missing:
            raise SparksError(
                f"'{path.name}' has no variable named {missing} (behaviour).",
                f"Choose from: {', '.join(k for k in keys if k != key)}.",
            )
    rate_for = {r.target: r for r in rates if r.target is not None}
    for k in keys:
        if k == key or k in RESERVED:
            continue
        v = arrays[k]
        shp = _shape(v)
        if k in rate_names:
            plan.ignored[k] = "bin width (used)" if chosen is not None and chosen.name == k else "stored rate"
            continue
        if k == time_key:
            plan.ignored[k] = "time stamps (bin width and start time)"
            continue
        if behaviour is not None and k not in behaviour:
            plan.ignored[k] = "not in behaviour=[...]"
            continue
        if isinstance(v, (Opaque, str, bytes)) or not _is_numeric(v):
            what = v.what if isinstance(v, Opaque) else "text"
            if behaviour is not None:
                raise SparksError(
                    f"Behaviour '{k}' in '{path.name}' is not numeric ({what}).", "Choose numeric variables."
                )
            if isinstance(v, (str, bytes)) or (isinstance(v, Opaque) and v.what.endswith("text")):
                plan.ignored[k] = "text"  # notes, names: not data
            else:
                plan.skipped[k] = f"{what}, not numeric"
            continue
        if _size(v) <= 1:
            plan.ignored[k] = f"scalar = {_scalar(v)}"
            continue
        if k in siblings:
            plan.skipped[k] = f"[{_fmt_shape(shp)}], the {splits[k][1]} part next to '{key}'"
            continue
        dense = _dense(v)
        if dense.dtype.kind == "b":
            dense = dense.astype(np.float32)
        if n_trials is not None and dense.ndim >= 2 and dense.shape[0] == n_trials and dense.shape[1] == length:
            plan.behaviour_values[k] = dense.reshape(n_trials * length, -1)
            plan.behaviour[k] = "trial-wise, concatenated"
            continue
        if dense.ndim <= 2 and n_time in dense.shape:
            if dense.ndim == 2 and dense.shape[0] != n_time:
                dense = dense.T
            if not np.all(np.isfinite(dense)):
                plan.skipped[k] = f"[{_fmt_shape(shp)}], holds NaN/inf"
                continue
            plan.behaviour_values[k] = dense
            plan.behaviour[k] = "one sample per bin"
            continue
        if dense.ndim == 1 and dense.shape[0] == n_neurons:
            plan.neuron_meta_values[k] = dense
            plan.neuron_meta.append(k)
            continue
        if dense.ndim == 2 and n_neurons in dense.shape and min(dense.shape) <= 16 and n_neurons > 16:
            plan.neuron_meta_values[k] = dense if dense.shape[0] == n_neurons else dense.T  # e.g. cell positions
            plan.neuron_meta.append(k)
            continue
        r = rate_for.get(k)
        if resample and r is not None and dt is not None and dense.ndim <= 2:
            duration = n_time * dt
            axes = [i for i, s in enumerate(dense.shape) if abs(s * r.dt - duration) <= max(2 * r.dt, 2 * dt)]
            if axes and np.all(np.isfinite(dense)):
                vals = np.moveaxis(dense, axes[0], 0).reshape(dense.shape[axes[0]], -1).astype(np.float64)
                plan.behaviour_values[k] = _resample_onto(vals, r.dt, dt, n_time).astype(np.float32)
                plan.behaviour[k] = (
                    f"resampled from {1 / r.dt:g} Hz ({r.name}; {dense.shape[axes[0]]} samples, "
                    f"{dense.shape[axes[0]] * r.dt:.4g} s) onto the {n_time} bins"
                )
                continue
        if behaviour is not None:
            raise SparksError(
                f"Behaviour '{k}' in '{path.name}' has shape {shp} but the activity has {n_time} time bins.",
                "Resample it onto the activity bins (one sample per bin), or leave it out of behaviour=[...].",
            )
        plan.skipped[k] = f"[{_fmt_shape(shp)}]"

    # continuous signals first, integer labels (target ids, trial numbers) last: 'auto' targets take the first
    def _is_label(name: str) -> bool:
        vals = plan.behaviour_values[name]
        return (vals.ndim == 1 or vals.shape[1] == 1) and bool(np.all(np.mod(vals, 1) == 0))

    order = sorted(plan.behaviour, key=_is_label)
    plan.behaviour = {k: plan.behaviour[k] for k in order}
    plan.behaviour_values = {k: plan.behaviour_values[k] for k in order}
    resampled = {k: how for k, how in plan.behaviour.items() if "resampled" in how}
    for k, how in resampled.items():
        warn_list.append(
            f"'{path.name}': '{k}' {how} of '{key}' (bin means); kept as behaviour '{k}'. "
            "Pass resample=False to leave it out."
        )
    if plan.skipped:
        listed = "; ".join(f"{k} {why}" for k, why in plan.skipped.items())
        warn_list.append(
            f"'{path.name}': skipped {len(plan.skipped)} variable(s) that do not have one sample per time bin of "
            f"'{key}' ({n_time} bins) or are not numeric: {listed}. Resample them onto the activity bins to use them "
            "as behaviour, or choose another array with activity_key=...."
        )
    plan.warnings = warn_list
    return plan


def recording_from_arrays(
    arrays: dict[str, Any],
    path: Path,
    activity_key: str | None = None,
    dt: float | None = None,
    kind: str | None = None,
    reader: str = "arrays",
    layout: str | None = None,
    behaviour: list[str] | None = None,
    resample: bool = True,
    dt_source: str | None = None,
    **_ignored,
) -> Recording:
    """Build a :class:`Recording` from named arrays (see :func:`plan_arrays` for the choices);
    the choices are reported as :class:`~sparks_gui.errors.SparksWarning` and in ``provenance``."""
    path = Path(path)
    plan = plan_arrays(
        arrays,
        path,
        activity_key=activity_key,
        dt=dt,
        kind=kind,
        layout=layout,
        behaviour=behaviour,
        resample=resample,
        dt_source=dt_source,
    )
    for msg in plan.warnings:
        _warn(msg, stacklevel=3)
    if plan.problem is not None:
        raise plan.problem
    return build_recording(arrays, plan, reader=reader)


def build_recording(arrays: dict[str, Any], plan: ArrayPlan, reader: str = "arrays") -> Recording:
    """The :class:`Recording` that ``plan`` describes (densifies a sparse activity as float32)."""
    raw = arrays[plan.key]
    act = _dense(raw, np.float32) if is_sparse(raw) else np.asarray(raw)
    if act.dtype.kind == "b":
        act = act.astype(np.float32)
    if plan.layout == "time_neurons":
        act = np.swapaxes(act, -1, -2)
    if act.ndim == 3:
        act = np.concatenate(list(act), axis=1)
    path = Path(plan.source)
    if not np.all(np.isfinite(act)):
        bad = int(np.count_nonzero(~np.isfinite(act)))
        raise SparksError(
            f"Array '{plan.key}' in '{path.name}' holds {bad} NaN or infinite values.",
            "Replace them (interpolate calcium gaps, 0 for missing spike bins), or choose another array "
            "with --activity-key.",
        )
    return Recording(
        activity=act,
        dt=float(plan.dt),
        kind=plan.kind,
        behaviour=dict(plan.behaviour_values),
        start_time=plan.start_time,
        trials=plan.trials,
        neuron_ids=plan.neuron_ids,
        neuron_meta=dict(plan.neuron_meta_values),
        name=_stem(path),
        provenance={"source": str(path), "reader": reader, **plan.provenance()},
    )


# ---------------------------------------------------------------- spike lists
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
    ids, per_unit = split_by_unit(np.asarray(times).ravel(), np.asarray(units).ravel(), f"'{path.name}'")
    tr = options.get("time_range")
    act, kept = bin_spike_times(
        per_unit,
        dt,
        0.0 if tr is None else tr[0],
        None if tr is None else tr[1],
        source=f"'{path.name}' spike times",
        unit_ids=ids,
        allow_unsorted=options.get("allow_unsorted", True),
        empty_units=options.get("empty_units", "drop"),
    )
    return Recording(
        activity=act,
        dt=dt,
        kind="spikes",
        neuron_ids=ids[kept],
        name=path.stem,
        provenance={"source": str(path), "reader": "spike_list"},
    )


# ---------------------------------------------------------------- CSV
NEURON_COLUMN_RE = re.compile(
    r"^(unit|units|neuron|neurons|nrn|cell|cells|roi|rois|clu|cluster|spk|spikes?|n|u|ch|chan|"
    r"channel)[ _\-.#]?\d+$",
    re.IGNORECASE,
)
NEURON_PREFIX_RE = re.compile(r"^(unit|neuron|cell|roi|cluster|spikes?)[ _\-.#]", re.IGNORECASE)
TIME_COLUMNS = (
    "timestamp",
    "timestamps",
    "time",
    "times",
    "t",
    "time_s",
    "t_s",
    "time_sec",
    "time_ms",
    "t_ms",
    "timestamp_ms",
    "timestamp_s",
    "seconds",
    "sec",
    "secs",
    "ms",
)
_AXIS_COLUMN_RE = re.compile(r"^(?P<base>.+?)[ _\-.]?(?P<axis>[xyzXYZ])$")


def _open_text(p: Path):
    with open(p, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(p, "rt", errors="replace") if gz else open(p, errors="replace")


def _delimiter(line: str) -> str | None:
    if "\t" in line:
        return "\t"
    if "," in line:
        return ","
    if ";" in line:
        return ";"
    return None  # whitespace


def _read_table(p: Path, delim: str | None, skip_header: bool) -> np.ndarray:
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        engine = "c" if delim else "python"
        frame = pd.read_csv(
            p, sep=delim if delim else r"\s+", header=0 if skip_header else None, engine=engine, compression="infer"
        )
        return frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    with _open_text(p) as fh:
        return np.genfromtxt(fh, delimiter=delim, skip_header=1 if skip_header else 0, dtype=np.float64, ndmin=2)


def csv_columns(path: str | Path) -> tuple[list[str], np.ndarray | None]:
    """The header names and the numeric table of a CSV (``.csv``, ``.tsv``, ``.txt``, optionally gzipped)."""
    p = Path(path)
    with _open_text(p) as fh:
        first = fh.readline()
    delim = _delimiter(first)
    tokens = [t.strip().strip('"').strip("'") for t in (first.split(delim) if delim else first.split())]

    def _num(t):
        try:
            float(t)
            return True
        except ValueError:
            return False

    header = not all(_num(t) for t in tokens if t)
    data = _read_table(p, delim, skip_header=header)
    if data.ndim == 1:
        data = data[:, None]
    return (tokens if header else []), data


def _group_axes(names: list[str]) -> dict[str, list[str]]:
    """``hand_vel_x, hand_vel_y`` -> ``{'hand_vel': [...x, ...y]}``; other columns alone."""
    groups: dict[str, list[str]] = {}
    by_base: dict[str, list[tuple[str, str]]] = {}
    for n in names:
        m = _AXIS_COLUMN_RE.match(n)
        if m:
            by_base.setdefault(m.group("base"), []).append((m.group("axis").lower(), n))
    for n in names:
        m = _AXIS_COLUMN_RE.match(n)
        base = m.group("base") if m else None
        if (
            base is not None
            and len(by_base.get(base, [])) >= 2
            and len({a for a, _ in by_base[base]}) == len(by_base[base])
        ):
            if base not in groups:
                groups[base] = [c for _, c in sorted(by_base[base])]
        else:
            groups[n] = [n]
    return groups


def _stem(p: Path) -> str:
    name = p.name[:-3] if p.name.lower().endswith(".gz") else p.name
    return Path(name).stem or name


def _read_csv(p: Path, dt, kind, activity_key, options) -> Recording:
    tokens, data = csv_columns(p)
    layout = options.get("layout")
    if not tokens:
        arrays = {"activity": data.astype(np.float32)}
        return recording_from_arrays(
            arrays, p, dt=dt, kind=kind, reader="csv", layout=layout, dt_source=options.get("dt_source")
        )
    if data.shape[1] != len(tokens):
        raise SparksError(
            f"'{p.name}' has {len(tokens)} header names but {data.shape[1]} columns.", "Fix the header row."
        )
    cols = dict(zip(tokens, data.T, strict=False))
    pair = _spike_list_keys(tokens)
    if pair and len(tokens) == 2:
        return recording_from_spike_list(cols[pair[0]], cols[pair[1]], p, dt, **options)
    notes: list[str] = []
    act_cols = options.get("columns")
    if isinstance(act_cols, str):
        act_cols = [c.strip() for c in act_cols.split(",") if c.strip()]
    if act_cols is None and activity_key is not None:
        act_cols = [c for c in tokens if c == activity_key or c.startswith(activity_key)]
        if not act_cols:
            raise SparksError(
                f"'{p.name}' has no column named or starting with '{activity_key}' (activity_key).",
                f"Columns: {', '.join(tokens[:30])}{' ...' if len(tokens) > 30 else ''}.",
            )
    if act_cols is None:
        act_cols = [c for c in tokens if NEURON_COLUMN_RE.match(c) or NEURON_PREFIX_RE.match(c)]
        if not act_cols:
            raise SparksError(
                f"'{p.name}' has named columns ({', '.join(tokens[:20])}{' ...' if len(tokens) > 20 else ''}); "
                "none is named like a neuron (unit_*, neuron_*, cell_*, roi_*, n1, u1 ...), so it is not clear which are neurons.",
                "Pass columns=[...] (--columns a,b,c) with the activity columns, or activity_key='prefix' "
                "(the other columns become behaviour).",
            )
        notes.append(f"{len(act_cols)} columns named like neurons ({act_cols[0]} ... {act_cols[-1]}) are the activity")
    missing = [c for c in act_cols if c not in cols]
    if missing:
        raise SparksError(f"'{p.name}' has no column(s) {missing}.", f"Choose from: {', '.join(tokens)}.")
    act = np.stack([cols[c] for c in act_cols]).astype(np.float32)
    if not np.all(np.isfinite(act)):
        bad = [c for c in act_cols if not np.all(np.isfinite(cols[c]))]
        raise SparksError(
            f"'{p.name}': activity column(s) {', '.join(bad[:5])} hold empty, text or NaN values.",
            "Fill them (0 for missing spike bins) or leave them out with columns=[...].",
        )
    rest = [c for c in tokens if c not in act_cols]
    time_col = options.get("time_column")
    if time_col is None:
        low = {c.lower(): c for c in rest}
        time_col = next((low[t] for t in TIME_COLUMNS if t in low), None)
    start_time = 0.0
    source = options.get("dt_source") or "given (dt)"
    if time_col is not None:
        t = cols[time_col]
        ok = np.isfinite(t)
        steps = np.diff(t[ok])
        pos = steps[steps > 0]
        if pos.size:
            med = float(np.median(pos))
            lname = time_col.lower()
            in_ms = (
                "ms" in _tokens(lname)
                or lname.endswith("ms")
                or (med >= 0.5 and not any(s in lname for s in ("sec", "_s")))
            )
            scale = 1e-3 if in_ms else 1.0
            col_dt = float(f"{med * scale:.6g}")  # timestamps carry float noise (0.0010000000002)
            unit = "milliseconds" if in_ms else "seconds"
            start_time = float(t[ok][0]) * scale
            if np.any(steps <= 0) or (pos.max() - pos.min()) > 0.01 * med:
                notes.append(
                    f"column '{time_col}' is not evenly spaced (steps {pos.min():g}..{pos.max():g}); the median is used"
                )
            if dt is None:
                dt = col_dt
                source = f"median step of column '{time_col}' ({med:g}, read as {unit}) -> dt = {dt:.6g} s"
                notes.append(f"bin width {dt:.6g} s from the {source.split(' -> ')[0]}")
            elif abs(dt - col_dt) > 0.01 * dt:
                notes.append(f"dt={dt:g} s given, but column '{time_col}' steps by {col_dt:g} s; the given dt is used")
        rest.remove(time_col)
    if dt is None:
        raise SparksError(
            f"'{p.name}' has no time column ({', '.join(TIME_COLUMNS[:6])} ...) to read the bin width from.",
            "Pass dt in seconds (--dt 0.001) or fs (--fs 1000).",
        )
    behaviour: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    wanted = options.get("behaviour")
    for name, members in _group_axes(rest).items():
        if wanted is not None and name not in wanted and not any(m in wanted for m in members):
            continue
        vals = np.stack([cols[m] for m in members], axis=1)
        bad = ~np.isfinite(vals)
        if bad.all(axis=0).any():
            skipped[name] = "empty or text"
            continue
        if bad.any():
            x = np.arange(len(vals))
            for j in range(vals.shape[1]):
                ok = ~bad[:, j]
                vals[~ok, j] = np.interp(x[~ok], x[ok], vals[ok, j])
            notes.append(f"behaviour '{name}' had {int(bad.any(axis=1).sum())} empty/NaN rows, filled by interpolation")
        behaviour[name] = vals
    grouped = [f"{k} [{', '.join(m.split('_')[-1] for m in v)}]" for k, v in _group_axes(rest).items() if len(v) > 1]
    if grouped:
        notes.append("x/y columns grouped into " + ", ".join(grouped))
    if skipped:
        notes.append("skipped " + ", ".join(f"{k} ({why})" for k, why in skipped.items()))
    if kind is None:
        kind = "spikes" if np.all(np.mod(act, 1) == 0) and act.min() >= 0 else "calcium"
    if notes:
        _warn(f"'{p.name}': " + "; ".join(notes) + ".", stacklevel=3)
    prov = {
        "source": str(p),
        "reader": "csv",
        "activity_key": f"{len(act_cols)} columns",
        "activity_columns": list(act_cols),
        "layout": "time_neurons",
        "layout_reason": "CSV columns are signals over time",
        "dt_source": source,
        "time_column": time_col,
    }
    if skipped:
        prov["skipped"] = skipped
    suffix = [re.search(r"(\d+)$", c) for c in act_cols]
    ids = [int(m.group(1)) for m in suffix if m] if all(suffix) else []
    neuron_ids = np.asarray(ids) if len(set(ids)) == len(act_cols) else None
    return Recording(
        activity=act,
        dt=float(dt),
        kind=kind,
        behaviour=behaviour,
        name=_stem(p),
        neuron_ids=neuron_ids,
        neuron_meta={"column": np.asarray(act_cols)},
        start_time=start_time,
        provenance=prov,
    )


# ---------------------------------------------------------------- entry points
_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".dat")


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
        raise SparksError(
            f"'{p}' is a folder but neither a suite2p output nor a Kilosort/phy folder.",
            "Point at a suite2p folder (F.npy, stat.npy ...) or a Kilosort folder (spike_times.npy, params.py).",
        )
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
    suffixes = [s.lower() for s in p.suffixes]
    if head[:2] == b"\x1f\x8b":
        if len(suffixes) >= 2 and suffixes[-2] in _TEXT_SUFFIXES:
            return "csv"
        raise SparksError(
            f"'{p.name}' is gzip-compressed and not a CSV/TSV table.",
            "Decompress it first (gunzip), or name a compressed table *.csv.gz.",
        )
    suffix = p.suffix.lower()
    by_suffix = {
        ".nwb": "nwb",
        ".h5": "hdf5",
        ".hdf5": "hdf5",
        ".mat": "mat",
        ".npy": "npy",
        ".npz": "npz",
        ".tif": "tiff",
        ".tiff": "tiff",
        ".csv": "csv",
        ".txt": "csv",
        ".tsv": "csv",
        ".dat": "csv",
    }
    if suffix in (".nwb", ".h5", ".hdf5"):
        raise SparksError(
            f"'{p.name}' is not an NWB/HDF5 file (it does not start with the HDF5 signature).",
            "Check that this is the real file (not a placeholder, download page or text file) and copy it again.",
        )
    if suffix in by_suffix:
        return by_suffix[suffix]
    raise SparksError(
        f"Cannot tell the format of '{p.name}'.",
        "Use NWB (.nwb), a suite2p or Kilosort/phy folder, .npy/.npz/.mat/.h5/.csv(.gz) arrays or a .tif movie.",
    )


def activity_choices(path: str | Path) -> list[str]:
    """Names that ``activity_key=`` accepts for ``path``, best guess first: the candidate arrays of an
    array file (:func:`activity_candidates`), the activity sources of an NWB file, else ``[]``."""
    p = Path(path)
    fmt = detect_format(p)
    if fmt in ("npy", "npz", "mat", "hdf5"):
        return [c.key for c in activity_candidates(read_arrays(p, fmt))]
    if fmt == "nwb":
        from .nwb import nwb_contents

        return list(nwb_contents(p)["activity"])
    return []


def trials_choices(path: str | Path) -> list[str]:
    """Intervals tables that ``trials=`` accepts for ``path`` (NWB; ``trials`` first), else ``[]``."""
    p = Path(path)
    if detect_format(p) != "nwb":
        return []
    from .nwb import intervals_table_names

    return intervals_table_names(p)


def _dt_from_options(dt: float | None, fs: float | None) -> tuple[float | None, str | None]:
    for name, value in (("dt", dt), ("fs", fs)):
        if value is not None and not (
            isinstance(value, (int, float, np.number)) and math.isfinite(value) and value > 0
        ):
            raise SparksError(
                f"{name}={value!r} is not a positive number.", "Pass dt in seconds (e.g. 0.01) or fs in Hz (e.g. 100)."
            )
    if fs is None:
        return (None, None) if dt is None else (float(dt), f"given (dt = {float(dt):g} s)")
    if dt is not None and abs(float(dt) * float(fs) - 1.0) > 1e-6:
        raise SparksError(f"dt={dt} s and fs={fs} Hz disagree (1/fs = {1 / fs:g} s).", "Pass only one of them.")
    return 1.0 / float(fs), f"given (fs = {float(fs):g} Hz -> dt = {1 / float(fs):.6g} s)"


def load_recording(
    path: str | Path, activity_key: str | None = None, dt: float | None = None, kind: str | None = None, **options
) -> Recording:
    """Open ``path`` as a :class:`Recording`, choosing the reader by the file's content.

    Parameters
    ----------
    path
        An ``.nwb`` file, a suite2p output folder, a Kilosort/phy folder, an array file
        (``.npy``, ``.npz`` incl. scipy.sparse ``save_npz``, ``.mat`` v5/v7.3 incl. sparse
        matrices and structs, ``.h5``, ``.csv``/``.tsv`` optionally gzipped; spike-time lists with
        ``spike_times`` + ``spike_units`` arrays or two named CSV columns) or a TIFF movie
        (with ``rois=``).
    activity_key
        Which array (array files; the best candidate by default, see
        :func:`activity_candidates`), which columns (CSV: a column-name prefix) or which source
        (NWB: ``"units"``, ``"Fluorescence"``, ``"DfOverF"``, ...) holds the activity.
    dt
        Bin width in seconds (spike times are binned at it; frame data re-binned to it).
    kind
        ``"spikes"`` or ``"calcium"`` (guessed otherwise; counts stay counts).
    **options
        ``fs`` (sampling rate in Hz, instead of ``dt``); array files: ``layout``
        (``"neurons_time"`` / ``"time_neurons"``), ``behaviour`` (names to keep), ``resample``
        (False: leave out variables at another stored rate); CSV: ``columns``, ``time_column``,
        ``layout`` (plain numeric tables); NWB :func:`~sparks_gui.data.nwb.read_nwb`
        (``behaviour``, ``movie``, ``time_range``, ``behaviour_nan``, ``empty_units``, ``trials``), suite2p
        :func:`~sparks_gui.data.suite2p.read_suite2p` (``signal``, ``cells_only``, ``plane``),
        phy :func:`~sparks_gui.data.phy.read_phy` (``groups``, ``sample_rate``), TIFF
        :func:`~sparks_gui.data.tiff.read_tiff` (``rois``).

    Choices made for the user (the array, the time axis, the bin width, variables left out)
    are reported as :class:`~sparks_gui.errors.SparksWarning` and in ``Recording.provenance``.
    Every failure is a :class:`~sparks_gui.errors.SparksError` saying what to do.
    """
    p = Path(path)
    if not p.exists():
        raise SparksError(f"File '{p}' does not exist.", "Check the path (and that the drive is mounted).")
    dt, dt_source = _dt_from_options(dt, options.pop("fs", None))
    try:
        rec = _load(p, activity_key, dt, dt_source, kind, options)
        if dt_source is not None:
            rec.provenance.setdefault("dt_source", dt_source)
        return rec
    except SparksError:
        raise
    except MemoryError as exc:
        raise SparksError(
            f"Not enough memory to load '{p.name}'.",
            "Load a part of it (time_range=..., another activity_key) or use a machine with more memory.",
        ) from exc
    except Exception as exc:  # never a raw traceback for a user's file
        raise SparksError(
            f"Could not read '{p.name}': {type(exc).__name__}: {exc}.",
            f"Run `sparks-gui inspect {p}` to see what the file holds and pass the options it suggests; "
            "if the file is fine, please report this with that output.",
        ) from exc


def _load(p: Path, activity_key, dt, dt_source, kind, options) -> Recording:
    fmt = detect_format(p)
    if fmt == "nwb":
        from .nwb import read_nwb

        return read_nwb(p, activity_key=activity_key, dt=dt, kind=kind, **options)
    if fmt == "suite2p":
        from .suite2p import read_suite2p

        return read_suite2p(p, dt=dt, **options)
    if fmt == "phy":
        from .phy import read_phy

        return read_phy(p, dt=dt, **options)
    if fmt == "tiff":
        from .tiff import read_tiff

        return read_tiff(p, dt=dt, **options)
    if fmt == "csv":
        return _read_csv(p, dt, kind, activity_key, {**options, "dt_source": dt_source})
    arrays = read_arrays(p, fmt)
    keys = [k for k in arrays if not k.startswith("__")]
    pair = _spike_list_keys(keys)
    if activity_key is None and pair and not any(c.fits for c in activity_candidates(arrays)):
        if dt is None:
            dt = _scalar(arrays.get("dt")) if "dt" in arrays else None
        return recording_from_spike_list(arrays[pair[0]], arrays[pair[1]], p, dt, **options)
    allowed = {"layout", "behaviour", "resample"}
    return recording_from_arrays(
        arrays,
        p,
        activity_key=activity_key,
        dt=dt,
        kind=kind,
        reader=fmt,
        dt_source=dt_source,
        **{k: v for k, v in options.items() if k in allowed},
    )
