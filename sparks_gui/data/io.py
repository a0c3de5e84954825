"""``load_recording``: open a user's file as a :class:`Recording`, picking the reader by content.

Array formats (``.npy``, ``.npz``, ``.mat``, ``.csv``) are handled here.  Array
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
                f"'{path.name}' has no array named '{requested}'.",
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

    try:
        return scipy.io.loadmat(path, squeeze_me=True)
    except NotImplementedError:  # MATLAB v7.3 files are HDF5
        import h5py

        with h5py.File(path, "r") as f:
            return {k: np.asarray(f[k]).T for k in f.keys() if isinstance(f[k], h5py.Dataset)}


def load_recording(path: str | Path, activity_key: str | None = None, dt: float | None = None,
                   kind: str | None = None, **options) -> Recording:
    """Open ``path`` as a Recording.

    Parameters
    ----------
    path
        ``.npy`` / ``.npz`` / ``.mat`` / ``.csv`` file.
    activity_key
        Which array holds the activity (default: the first of ``ACTIVITY_KEYS``).
    dt
        Bin width in seconds when the file does not store it.
    kind
        ``"spikes"`` or ``"calcium"`` (guessed from integer-valued data otherwise).
    """
    p = Path(path)
    if not p.exists():
        raise SparksError(f"File '{p}' does not exist.", "Check the path (and that the drive is mounted).")
    if p.is_dir():
        raise SparksError(f"'{p}' is a folder; this version reads array files.", "Pass a .npy/.npz/.mat/.csv file.")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            arrays = {"activity": np.load(p, allow_pickle=False)}
        elif suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        elif suffix == ".mat":
            arrays = _read_mat(p)
        elif suffix == ".csv":
            arrays = {"activity": np.loadtxt(p, delimiter=",", dtype=np.float32, ndmin=2)}
        else:
            raise SparksError(f"'{p.name}' has an unsupported extension '{suffix}'.", "Use .npy, .npz, .mat or .csv.")
    except SparksError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt file becomes a clear message
        raise SparksError(f"Could not read '{p}': {exc}.", "Check that the file is complete and in the format its extension says.") from exc
    return recording_from_arrays(arrays, p, activity_key=activity_key, dt=dt, kind=kind, reader=suffix.lstrip("."))
