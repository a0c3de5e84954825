"""What is in a file, and what :func:`~sparks_gui.data.io.load_recording` would make of it.

``sparks-gui inspect FILE`` prints :func:`format_report` of :func:`inspect_file`: every
variable (name, shape, dtype, min/max, sparse or not) and the load plan (activity array,
layout, bin width and where it came from, behaviour kept, variables skipped and why, the
warnings a load gives, and what is missing when it would not load).  No Qt, no torch.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SparksError
from .io import (
    NEURON_COLUMN_RE,
    NEURON_PREFIX_RE,
    VariableInfo,
    _dt_from_options,
    _fmt_shape,
    _spike_list_keys,
    activity_candidates,
    csv_columns,
    describe_variables,
    detect_format,
    load_recording,
    plan_arrays,
    read_arrays,
)

FORMAT_NAMES = {
    "mat": "MATLAB .mat",
    "npz": "NumPy .npz",
    "npy": "NumPy .npy",
    "hdf5": "HDF5",
    "csv": "CSV table",
    "nwb": "NWB",
    "suite2p": "suite2p folder",
    "phy": "Kilosort/phy folder",
    "tiff": "TIFF movie",
}
ARRAY_FORMATS = ("mat", "npz", "npy", "hdf5")


@dataclass
class FileReport:
    """The result of :func:`inspect_file`."""

    path: str
    format: str
    variables: list[VariableInfo] = field(default_factory=list)
    contents: dict[str, Any] = field(default_factory=dict)
    """Format-specific listing (NWB: activity sources, behaviour, movies, stimuli, trial columns)."""
    loaded: dict[str, Any] = field(default_factory=dict)
    """What would be loaded: activity, layout, n_neurons, n_time, dt, dt_source, kind, behaviour, skipped ..."""
    candidates: list[str] = field(default_factory=list)
    """Arrays that could hold the activity, best first (array files)."""
    warnings: list[str] = field(default_factory=list)
    problem: str | None = None
    fix: str | None = None

    @property
    def would_load(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "variables": [vars(v) | {"shape": list(v.shape)} for v in self.variables],
            "contents": self.contents,
            "loaded": self.loaded,
            "candidates": self.candidates,
            "warnings": self.warnings,
            "would_load": self.would_load,
            "problem": self.problem,
            "fix": self.fix,
        }


def _npy_info(path: Path) -> VariableInfo:
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
        info = VariableInfo(path.name, tuple(arr.shape), str(arr.dtype))
        if arr.dtype.kind in "biuf" and arr.size and arr.nbytes < 2e9:
            info.minimum, info.maximum = float(np.min(arr)), float(np.max(arr))
        return info
    except ValueError:
        return VariableInfo(path.name, (), "object", note="pickled (suite2p settings / ROI stats)")
    except Exception as exc:  # noqa: BLE001 - an odd file is listed, not fatal
        return VariableInfo(path.name, (), "?", note=f"unreadable: {exc}")


def _folder_listing(path: Path, fmt: str) -> list[VariableInfo]:
    if fmt == "suite2p":
        from .suite2p import find_plane_folder

        try:
            folder = find_plane_folder(path)
        except SparksError:
            folder = path
    else:
        folder = path
    out = []
    for f in sorted(folder.iterdir()):
        if f.suffix == ".npy":
            out.append(_npy_info(f))
        elif f.is_file():
            out.append(VariableInfo(f.name, (), "file", note=f"{f.stat().st_size:,} bytes"))
    return out


def _csv_listing(path: Path) -> list[VariableInfo]:
    names, data = csv_columns(path)
    if not names:
        return [
            VariableInfo(
                "(table without header)",
                tuple(data.shape),
                str(data.dtype),
                minimum=float(np.nanmin(data)) if data.size else None,
                maximum=float(np.nanmax(data)) if data.size else None,
            )
        ]
    out = []
    neuron_like = [i for i, n in enumerate(names) if NEURON_COLUMN_RE.match(n) or NEURON_PREFIX_RE.match(n)]
    if len(neuron_like) > 8:  # one row for the neuron columns
        block = data[:, neuron_like]
        ok = np.isfinite(block)
        out.append(
            VariableInfo(
                f"{names[neuron_like[0]]} ... {names[neuron_like[-1]]}",
                (len(block), len(neuron_like)),
                "integer-valued" if np.all(np.mod(block[ok], 1) == 0) else "float64",
                minimum=float(block[ok].min()) if ok.any() else None,
                maximum=float(block[ok].max()) if ok.any() else None,
                note=f"{len(neuron_like)} columns named like neurons"
                + (f"; {int((~ok).sum())} empty/NaN" if not ok.all() else ""),
            )
        )
    skip = set(neuron_like) if len(neuron_like) > 8 else set()
    for i, (name, col) in enumerate(zip(names, data.T, strict=False)):
        if i in skip:
            continue
        ok = np.isfinite(col)
        info = VariableInfo(name, (len(col),), "float64" if not np.all(np.mod(col[ok], 1) == 0) else "integer-valued")
        if ok.any():
            info.minimum, info.maximum = float(col[ok].min()), float(col[ok].max())
        if not ok.all():
            info.note = f"{int((~ok).sum())} empty/text/NaN"
        out.append(info)
    return out


def _nwb_listing(path: Path) -> dict[str, Any]:
    from .nwb import nwb_contents

    return nwb_contents(path)


def _summarise_recording(rec) -> dict[str, Any]:
    prov = rec.provenance
    out: dict[str, Any] = {
        "activity": prov.get("activity_key", prov.get("signal", prov.get("reader"))),
        "n_neurons": rec.n_neurons,
        "n_time": rec.n_time,
        "kind": rec.kind,
        "dt": rec.dt,
        "dt_source": prov.get("dt_source", "the file's own clock"),
        "duration_s": rec.duration,
        "start_time": rec.start_time,
        "behaviour": {k: f"{v.shape[1]} column(s)" for k, v in rec.behaviour.items()},
        "trials": rec.n_trials,
        "neuron_meta": list(rec.neuron_meta),
    }
    for k in (
        "layout",
        "layout_reason",
        "skipped",
        "skipped_behaviour",
        "resampled",
        "stimulus",
        "movie",
        "notes",
        "activity_columns",
        "time_column",
    ):
        if k in prov:
            out[k] = prov[k]
    if "activity_columns" in out:
        cols = out.pop("activity_columns")
        out["activity"] = f"{len(cols)} columns ({cols[0]} ... {cols[-1]})"
    return out


def inspect_file(
    path: str | Path, activity_key: str | None = None, dt: float | None = None, kind: str | None = None, **options
) -> FileReport:
    """List ``path``'s variables and what :func:`load_recording` would load with these options.

    Raises :class:`SparksError` only when the file itself cannot be read; when it can but would
    not load with these options, ``report.problem`` / ``report.fix`` say why and what to pass.
    """
    p = Path(path)
    if not p.exists():
        raise SparksError(f"File '{p}' does not exist.", "Check the path (and that the drive is mounted).")
    fmt = detect_format(p)
    report = FileReport(path=str(p), format=fmt)
    try:
        if fmt in ARRAY_FORMATS:
            arrays = read_arrays(p, fmt)
            report.variables = describe_variables(arrays)
            report.candidates = [c.label() for c in activity_candidates(arrays)]
            keys = [k for k in arrays if not k.startswith("__")]
            spike_list = (
                activity_key is None and _spike_list_keys(keys) and not any(c.fits for c in activity_candidates(arrays))
            )
            if not spike_list:
                dt_v, dt_source = _dt_from_options(dt, options.get("fs"))
                try:
                    plan = plan_arrays(
                        arrays,
                        p,
                        activity_key=activity_key,
                        dt=dt_v,
                        kind=kind,
                        dt_source=dt_source,
                        **{k: v for k, v in options.items() if k in ("layout", "behaviour", "resample")},
                    )
                except SparksError as exc:
                    report.problem, report.fix = exc.problem, exc.fix
                    return report
                n_neurons, n_time = plan.n_neurons, plan.n_time
                report.loaded = {
                    "activity": f"{plan.key} [{_fmt_shape(plan.shape)}]" + (" sparse" if plan.sparse else ""),
                    "n_neurons": n_neurons,
                    "n_time": n_time,
                    "kind": plan.kind,
                    "dt": plan.dt,
                    "dt_source": plan.dt_source,
                    "layout": plan.layout,
                    "layout_reason": plan.layout_reason,
                    "duration_s": None if plan.dt is None else n_time * plan.dt,
                    "behaviour": dict(plan.behaviour),
                    "neuron_meta": list(plan.neuron_meta),
                    "trials": 0 if plan.trials is None else len(plan.trials),
                }
                if plan.skipped:
                    report.loaded["skipped"] = dict(plan.skipped)
                if plan.ignored:
                    report.loaded["ignored"] = dict(plan.ignored)
                report.warnings = list(plan.warnings)
                if plan.problem is not None:
                    report.problem, report.fix = plan.problem.problem, plan.problem.fix
                return report
        elif fmt == "csv":
            report.variables = _csv_listing(p)
        elif fmt in ("suite2p", "phy"):
            report.variables = _folder_listing(p, fmt)
        elif fmt == "nwb":
            report.contents = _nwb_listing(p)
    except SparksError:
        raise
    except Exception as exc:  # listing a user's file never gives a traceback
        raise SparksError(
            f"Could not read '{p.name}': {type(exc).__name__}: {exc}.",
            "Check that the file is complete and in the format its extension says.",
        ) from exc
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rec = load_recording(p, activity_key=activity_key, dt=dt, kind=kind, **options)
        except SparksError as exc:
            report.problem, report.fix = exc.problem, exc.fix
            rec = None
    report.warnings = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if rec is not None:
        report.loaded = _summarise_recording(rec)
    return report


def _num(v: float | None) -> str:
    if v is None:
        return ""
    return f"{v:.6g}"


def format_report(report: FileReport) -> str:
    """The report as text for a terminal."""
    lines = [f"{report.path}  ({FORMAT_NAMES.get(report.format, report.format)})", ""]
    if report.variables:
        rows = [("name", "shape", "dtype", "min", "max", "sparse", "note")]
        for v in report.variables:
            rows.append(
                (
                    v.name,
                    _fmt_shape(v.shape),
                    v.dtype,
                    _num(v.minimum),
                    _num(v.maximum),
                    "sparse" if v.sparse else "",
                    v.note,
                )
            )
        widths = [min(max(len(r[i]) for r in rows), 40) for i in range(len(rows[0]))]
        lines.append(f"Variables ({len(report.variables)}):")
        for r in rows:
            lines.append("  " + "  ".join(c[:40].ljust(w) for c, w in zip(r, widths, strict=False)).rstrip())
        lines.append("")
    if report.contents:
        lines.append("Contents:")
        for k, v in report.contents.items():
            if k == "trials" and v:  # one intervals table per line, with its columns
                lines.append(f"  {k}: " + "\n          ".join(map(str, v)))
            else:
                lines.append(f"  {k}: {', '.join(map(str, v)) if v else '(none)'}")
        lines.append("")
    if report.candidates:
        lines.append("Arrays that could hold the activity (best first): " + ", ".join(report.candidates))
        lines.append("")
    ld = report.loaded
    if ld:
        lines.append("Would load:")
        shape = f"{ld.get('n_neurons')} neurons x {ld.get('n_time')} time bins"
        lines.append(f"  activity   {ld.get('activity')} -> {shape} ({ld.get('kind')})")
        if ld.get("layout"):
            lines.append(
                f"  layout     {ld['layout']}" + (f": {ld['layout_reason']}" if ld.get("layout_reason") else "")
            )
        dt = ld.get("dt")
        lines.append(f"  dt         {'not found' if dt is None else f'{dt:.6g} s'}  (from: {ld.get('dt_source')})")
        if ld.get("duration_s"):
            lines.append(f"  duration   {ld['duration_s']:.4g} s")
        beh = ld.get("behaviour") or {}
        lines.append("  behaviour  " + ("; ".join(f"{k} ({how})" for k, how in beh.items()) if beh else "none"))
        if ld.get("trials"):
            lines.append(f"  trials     {ld['trials']}")
        if ld.get("neuron_meta"):
            lines.append(f"  per-neuron {', '.join(ld['neuron_meta'])}")
        for key, label in (("skipped", "skipped"), ("skipped_behaviour", "skipped")):
            val = ld.get(key)
            if val:
                items = val.items() if isinstance(val, dict) else ((v, "") for v in val)
                lines.append(f"  {label.ljust(10)} " + "; ".join(f"{k} {why}".strip() for k, why in items))
        if ld.get("ignored"):
            lines.append("  not data   " + "; ".join(f"{k} ({why})" for k, why in ld["ignored"].items()))
        for key in ("stimulus", "movie", "time_column"):
            if ld.get(key):
                lines.append(f"  {key.ljust(10)} {ld[key]}")
        lines.append("")
    if report.warnings:
        lines.append("Warnings:")
        lines.extend(f"  - {w}" for w in report.warnings)
        lines.append("")
    if report.problem:
        lines.append(f"Would NOT load: {report.problem}")
        if report.fix:
            lines.append(f"Fix: {report.fix}")
    else:
        lines.append("Loads with these options.")
    return "\n".join(lines)


def report_json(report: FileReport) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str)
