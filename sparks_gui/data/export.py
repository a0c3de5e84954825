"""Exports: embeddings, predictions, neuron orderings and attention summaries.

* :func:`export_arrays` - one ``.npy`` (and ``.csv`` for 1-D/2-D arrays) per result.
* :func:`export_to_nwb` - a *copy* of the source NWB (or a new NWB built from the
  Recording) with a processing module ``sparks``: latents / predictions as
  ``TimeSeries`` on the activity clock, the neuron ordering (and per-neuron attention
  summaries) as a ``DynamicTable``.  The input file is never opened for writing.
* :func:`read_sparks_module` - read that module back (:func:`read_sparks_config` for the run's config).

Every file is written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SparksError
from .atomic import atomic_path, atomic_save, atomic_write_text


def _csv_text(arr: np.ndarray, header: list[str] | None = None) -> str:
    import io

    buf = io.StringIO()
    a = arr[:, None] if arr.ndim == 1 else arr
    fmt = "%d" if a.dtype.kind in "biu" else "%.9g"
    np.savetxt(buf, a, delimiter=",", fmt=fmt, header=",".join(header) if header else "", comments="")
    return buf.getvalue()


def export_arrays(out_dir: str | Path, results: Mapping[str, Any], csv: bool = True) -> list[Path]:
    """Write each array of ``results`` to ``out_dir/<name>.npy`` (+ ``.csv`` when it is 1-D/2-D).

    Returns the paths written.  Names must be plain file names.
    """
    out = Path(out_dir)
    written: list[Path] = []
    for name, value in results.items():
        if not name or any(c in name for c in "/\\:") or name.startswith("."):
            raise SparksError(f"Export name '{name}' is not a plain file name.", "Use letters, digits, '_' and '-'.")
        arr = np.asarray(value)
        if arr.dtype == object:
            raise SparksError(f"Result '{name}' is not a numeric array.", "Export numeric arrays only.")
        written.append(atomic_save(out / f"{name}.npy", lambda tmp, a=arr: np.save(tmp, a, allow_pickle=False)))
        if csv and arr.ndim in (1, 2):
            written.append(atomic_write_text(out / f"{name}.csv", _csv_text(arr)))
    return written


def export_ordering_csv(
    path: str | Path,
    order: np.ndarray,
    neuron_ids: np.ndarray | None = None,
    extra: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """CSV of a neuron ordering: ``rank, neuron_index, neuron_id`` (+ extra per-neuron columns in rank order)."""
    order = np.asarray(order, dtype=np.int64)
    ids = np.arange(len(order)) if neuron_ids is None else np.asarray(neuron_ids)
    lines = ["rank,neuron_index,neuron_id" + "".join(f",{k}" for k in (extra or {}))]
    for r, i in enumerate(order):
        vals = "".join(f",{np.asarray(v)[i]}" for v in (extra or {}).values())
        lines.append(f"{r},{i},{ids[i]}{vals}")
    return atomic_write_text(path, "\n".join(lines) + "\n")


def export_to_nwb(
    out_path: str | Path,
    source: str | Path | None = None,
    recording=None,
    latents: np.ndarray | None = None,
    latent_dt: float | None = None,
    latent_start: float | None = None,
    predictions: Mapping[str, np.ndarray] | None = None,
    order: np.ndarray | None = None,
    neuron_summaries: Mapping[str, np.ndarray] | None = None,
    module_name: str = "sparks",
    description: str = "SPARKS results (sparks-gui)",
    overwrite: bool = False,
    neuron_index: np.ndarray | None = None,
    examples: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
) -> Path:
    """Write SPARKS results into a copy of ``source`` (or a new NWB from ``recording``).

    Parameters
    ----------
    latents
        ``[T, d]`` latent means on a clock of step ``latent_dt`` starting at ``latent_start``
        (defaults: the recording's ``dt`` and ``start_time``).
    predictions
        Named ``[T, k]`` predicted behaviour signals on the same clock.
    order
        Neuron ordering (indices into the recording's neurons).
    neuron_summaries
        Per-neuron arrays (e.g. attention in/out strength), stored as columns next to the order.
    neuron_index
        When the results cover a selection of the recording's neurons: row ``i`` of the ``neurons``
        table (and of ``order``) is recording neuron ``neuron_index[i]`` (column ``recording_index``).
    examples
        Per-example results (e.g. the held-out trials): ``latents`` ``[n, T, d]`` and optionally
        ``predictions`` / ``true`` ``[n, T, k]``, with ``dt`` (s per bin), ``start_time`` ``[n]`` (s,
        on the recording's clock) and ``example_idx`` ``[n]``.  Stored as ``example_latents`` /
        ``example_predictions`` / ``example_true`` TimeSeries ``[T, n, ...]`` (time from each
        example's start) and a table ``examples`` (``example_index``, ``start_time``).
    config
        The run's configuration (a JSON-able mapping), stored as a table ``config`` (``key``, ``value``
        as JSON text); read it back with :func:`read_sparks_config`.
    """
    from hdmf.common import DynamicTable, VectorData
    from pynwb import NWBHDF5IO, TimeSeries

    out_path = Path(out_path)
    if source is None and recording is None:
        raise SparksError("export_to_nwb needs a source NWB file or a Recording.", "Pass source= or recording=.")
    if source is not None:
        source = Path(source)
        if not source.exists():
            raise SparksError(
                f"Source NWB '{source}' does not exist.", "Pass the NWB file the recording was read from."
            )
        if source.resolve() == out_path.resolve():
            raise SparksError(
                f"Refusing to write results into the input file '{source.name}'.",
                "Choose a new output file name; sparks-gui writes into a copy.",
            )
    if out_path.exists() and not overwrite:
        raise SparksError(f"'{out_path}' already exists.", "Choose another file name or pass overwrite=True.")
    dt = latent_dt or (recording.dt if recording is not None else None)
    start = latent_start if latent_start is not None else (recording.start_time if recording is not None else 0.0)
    if (latents is not None or predictions) and dt is None:
        raise SparksError("The time step of the latents is unknown.", "Pass latent_dt= (seconds) or recording=.")
    n_neurons = recording.n_neurons if recording is not None else None
    if neuron_index is not None:
        neuron_index = np.asarray(neuron_index, dtype=np.int64)
        if n_neurons is not None and (neuron_index.min(initial=0) < 0 or neuron_index.max(initial=-1) >= n_neurons):
            raise SparksError(
                f"neuron_index points outside the recording's {n_neurons} neurons.",
                "Pass the indices of the selected neurons in the recording.",
            )
        n_neurons = len(neuron_index)
    with atomic_path(out_path) as tmp:
        if source is not None:
            shutil.copyfile(source, tmp)
        else:
            from .nwb import write_nwb

            tmp.unlink()
            write_nwb(recording, tmp)
        with NWBHDF5IO(str(tmp), "a") as io:
            nwb = io.read()
            if module_name in nwb.processing:
                raise SparksError(
                    f"'{(source or out_path).name}' already has a processing module '{module_name}'.",
                    "Pass module_name='sparks_run2' (or another new name).",
                )
            mod = nwb.create_processing_module(module_name, description)
            if latents is not None:
                lat = np.asarray(latents, dtype=np.float32)
                if lat.ndim != 2:
                    raise SparksError(
                        f"Latents have shape {lat.shape}; expected [time, latent_dim].",
                        "Pass continuous latents (transpose / concatenate trials first).",
                    )
                mod.add(
                    TimeSeries(
                        name="latents",
                        data=lat,
                        unit="a.u.",
                        rate=1.0 / dt,
                        starting_time=float(start),
                        description="SPARKS latent means",
                    )
                )
            for name, values in (predictions or {}).items():
                mod.add(
                    TimeSeries(
                        name=f"prediction_{name}",
                        data=np.asarray(values, dtype=np.float32),
                        unit="a.u.",
                        rate=1.0 / dt,
                        starting_time=float(start),
                        description=f"SPARKS prediction of '{name}'",
                    )
                )
            if order is not None or neuron_summaries:
                n = len(order) if order is not None else len(next(iter(neuron_summaries.values())))
                if n_neurons is not None and n != n_neurons:
                    raise SparksError(
                        f"The ordering has {n} neurons but the recording has {n_neurons}.",
                        "Export the ordering computed on this recording.",
                    )
                cols = []
                if order is not None:
                    order = np.asarray(order, dtype=np.int64)
                    rank = np.empty(n, np.int64)
                    rank[order] = np.arange(n)
                    cols.append(
                        VectorData(name="rank", data=rank, description="position of each neuron in the SPARKS ordering")
                    )
                    cols.append(VectorData(name="order", data=order, description="neuron indices in SPARKS order"))
                for k, v in (neuron_summaries or {}).items():
                    cols.append(VectorData(name=k, data=np.asarray(v), description=f"per-neuron {k}"))
                if neuron_index is not None:
                    cols.append(
                        VectorData(
                            name="recording_index",
                            data=neuron_index,
                            description="index of this row's neuron in the recording",
                        )
                    )
                mod.add(
                    DynamicTable(
                        name="neurons",
                        description="SPARKS per-neuron results (row i = neuron i"
                        + (" of the selection, see recording_index)" if neuron_index is not None else ")"),
                        columns=cols,
                        id=np.arange(n),
                    )
                )
            if examples:
                _add_examples(mod, examples)
            if config is not None:
                items = sorted(config.items())
                mod.add(
                    DynamicTable(
                        name="config",
                        description="SPARKS run configuration (value = JSON text)",
                        columns=[
                            VectorData(name="key", data=[k for k, _ in items], description="field"),
                            VectorData(
                                name="value",
                                description="value as JSON",
                                data=[json.dumps(v, default=str) for _, v in items],
                            ),
                        ],
                        id=np.arange(len(items)),
                    )
                )
            io.write(nwb)
    return out_path


def free_module_name(source, base: str = "sparks") -> str:
    """``base``, or ``base_2``, ``base_3`` … when the NWB file ``source`` already has a processing module of
    that name (an NWB file that was itself exported with results)."""
    if source is None:
        return base
    import h5py

    with h5py.File(source, "r") as f:
        taken = set(f["processing"].keys()) if "processing" in f else set()
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def _add_examples(mod, examples: Mapping[str, Any]) -> None:
    from hdmf.common import DynamicTable, VectorData
    from pynwb import TimeSeries

    lat = np.asarray(examples["latents"], dtype=np.float32)
    if lat.ndim != 3:
        raise SparksError(
            f"Example latents have shape {lat.shape}; expected [examples, time, latent_dim].",
            "Pass the latents of a LatentSnapshot.",
        )
    n, T = lat.shape[:2]
    dt = float(examples["dt"])
    rate = 1.0 / dt
    where = "axis 0: time from each example's start; axis 1: example (row of table 'examples')"
    mod.add(
        TimeSeries(
            name="example_latents",
            data=np.ascontiguousarray(lat.transpose(1, 0, 2)),
            unit="a.u.",
            rate=rate,
            starting_time=0.0,
            description=f"SPARKS latent means of examples ({where})",
        )
    )
    for key, label in (("predictions", "predicted"), ("true", "true")):
        v = examples.get(key)
        if v is None:
            continue
        v = np.asarray(v, dtype=np.float32)
        if v.ndim != 3 or v.shape[0] != n:
            raise SparksError(
                f"Example {key} have shape {v.shape}; expected [{n}, time, k].",
                "Pass the arrays of one Predictions event.",
            )
        target = examples.get("target") or "target"
        mod.add(
            TimeSeries(
                name=f"example_{key}",
                data=np.ascontiguousarray(v.transpose(1, 0, 2)),
                unit="a.u.",
                rate=rate,
                starting_time=0.0,
                description=f"{label} '{target}' of examples ({where})",
            )
        )
    idx = np.asarray(examples.get("example_idx", np.arange(n)), dtype=np.int64)
    cols = [VectorData(name="example_index", data=idx, description="example number in the training data")]
    if examples.get("start_time") is not None:
        cols.append(
            VectorData(
                name="start_time",
                data=np.asarray(examples["start_time"], dtype=np.float64),
                description="start of the example on the recording's clock (s)",
            )
        )
    mod.add(
        DynamicTable(
            name="examples",
            description="examples of example_latents / example_predictions",
            columns=cols,
            id=np.arange(n),
        )
    )


def read_sparks_config(path: str | Path, module_name: str = "sparks") -> dict[str, Any]:
    """The run configuration stored by :func:`export_to_nwb` (``config=``)."""
    arrays = read_sparks_module(path, module_name)
    if "config.key" not in arrays:
        raise SparksError(
            f"'{Path(path).name}' has no SPARKS config in '{module_name}'.",
            "Export with the config (Export dock: NWB with results…).",
        )

    def text(v):
        return v.decode() if isinstance(v, bytes) else str(v)

    return {text(k): json.loads(text(v)) for k, v in zip(arrays["config.key"], arrays["config.value"], strict=False)}


def read_sparks_module(path: str | Path, module_name: str = "sparks") -> dict[str, Any]:
    """The arrays of the ``sparks`` processing module of an NWB file (for checks and re-use)."""
    from pynwb import NWBHDF5IO

    out: dict[str, Any] = {}
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        if module_name not in nwb.processing:
            raise SparksError(f"'{Path(path).name}' has no '{module_name}' processing module.", "Export results first.")
        for name, obj in nwb.processing[module_name].data_interfaces.items():
            if hasattr(obj, "colnames"):
                for c in obj.colnames:
                    out[f"{name}.{c}"] = np.asarray(obj[c].data[:])
            else:
                out[name] = np.asarray(obj.data[:])
                out[f"{name}.rate"] = obj.rate
                out[f"{name}.starting_time"] = obj.starting_time
    return out
