"""Kilosort / phy output folders: ``spike_times.npy`` (samples), ``spike_clusters.npy``,
``cluster_group.tsv`` / ``cluster_KSLabel.tsv`` / ``cluster_info.tsv``, ``params.py``."""

from __future__ import annotations

import ast
import contextlib
import csv
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SparksError
from .recording import Recording
from .spikes import bin_spike_times, split_by_unit


def read_params(path: Path) -> dict[str, Any]:
    """Parse phy's ``params.py`` without executing it (literal assignments only)."""
    out: dict[str, Any] = {}
    try:
        tree = ast.parse(path.read_text())
    except SyntaxError as exc:
        raise SparksError(
            f"'{path}' is not valid Python ({exc}).", "Fix or regenerate params.py (Kilosort writes it)."
        ) from exc
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            with contextlib.suppress(ValueError):
                out[node.targets[0].id] = ast.literal_eval(node.value)
    return out


def read_cluster_table(path: Path) -> dict[str, np.ndarray]:
    """A phy ``cluster_*.tsv`` as columns (``cluster_id`` as int)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        return {}
    cols = {k: [r.get(k, "") for r in rows] for k in rows[0]}
    out: dict[str, np.ndarray] = {}
    for k, v in cols.items():
        try:
            arr = np.asarray(v, dtype=np.float64)
            out[k] = arr.astype(np.int64) if np.all(np.mod(arr, 1) == 0) else arr
        except ValueError:
            out[k] = np.asarray(v)
    if "id" in out and "cluster_id" not in out:
        out["cluster_id"] = out.pop("id")
    return out


def read_phy(
    folder: str | Path,
    dt: float | None = None,
    groups: Sequence[str] | None = ("good",),
    sample_rate: float | None = None,
    time_range: tuple[float, float] | None = None,
    empty_units: str = "drop",
    **_ignored,
) -> Recording:
    """Read a Kilosort/phy folder as a spikes :class:`Recording`.

    Parameters
    ----------
    dt
        Bin width in seconds (default 0.01 with a warning).
    groups
        Cluster labels to keep (phy ``group``, else Kilosort ``KSLabel``); None keeps every
        cluster.  When no label file exists every cluster is kept.
    sample_rate
        Override ``params.py``'s ``sample_rate`` (Hz).
    """
    folder = Path(folder)
    st_path = folder / "spike_times.npy"
    if not st_path.exists():
        raise SparksError(
            f"'{folder}' has no spike_times.npy, so it is not a Kilosort/phy folder.",
            "Point at the Kilosort output folder (the one with spike_times.npy and params.py).",
        )
    params = read_params(folder / "params.py") if (folder / "params.py").exists() else {}
    fs = sample_rate if sample_rate is not None else params.get("sample_rate")
    if fs is None:
        raise SparksError(
            f"'{folder}' has no params.py with 'sample_rate' (needed to turn samples into seconds).",
            "Pass sample_rate= (Hz), or restore params.py from the Kilosort run.",
        )
    samples = np.load(st_path).ravel()
    clu_path = folder / "spike_clusters.npy"
    if not clu_path.exists():
        clu_path = folder / "spike_templates.npy"
    if not clu_path.exists():
        raise SparksError(
            f"'{folder}' has spike_times.npy but no spike_clusters.npy or spike_templates.npy.",
            "Copy the whole Kilosort output folder.",
        )
    clusters = np.load(clu_path).ravel()
    if len(clusters) != len(samples):
        raise SparksError(
            f"'{clu_path.name}' has {len(clusters)} entries but 'spike_times.npy' has {len(samples)}.",
            "Both files must come from the same sort; re-export from phy/Kilosort.",
        )
    times = samples.astype(np.float64) / float(fs)
    ids, per_unit = split_by_unit(times, clusters, f"'{folder.name}'")
    labels: dict[int, str] = {}
    meta_cols: dict[str, dict[int, Any]] = {}
    # lowest priority first: Kilosort's automatic label, then phy's cluster_info, then phy's curated group
    for name, col in (
        ("cluster_KSLabel.tsv", "KSLabel"),
        ("cluster_info.tsv", "group"),
        ("cluster_group.tsv", "group"),
    ):
        p = folder / name
        if not p.exists():
            continue
        table = read_cluster_table(p)
        if "cluster_id" not in table:
            raise SparksError(f"'{p}' has no cluster_id column.", "Regenerate it from phy.")
        cid = table["cluster_id"]
        for k, v in table.items():
            if k != "cluster_id":
                meta_cols.setdefault(k, {}).update({int(c): x for c, x in zip(cid, v, strict=False)})
        if col in table:
            labels.update({int(c): str(g) for c, g in zip(cid, table[col], strict=False) if str(g)})
    keep = np.ones(len(ids), bool)
    if groups is not None and labels:
        keep = np.array([labels.get(int(c), "unsorted") in set(groups) for c in ids])
        if not keep.any():
            found = sorted(set(labels.values()))
            raise SparksError(
                f"No cluster in '{folder.name}' is labelled {list(groups)} (labels found: {found}).",
                "Label clusters in phy, or pass groups=None to keep all (or e.g. groups=('good', 'mua')).",
            )
    ids = ids[keep]
    per_unit = [t for t, k in zip(per_unit, keep, strict=False) if k]
    if dt is None:
        dt = 0.01
        warnings.warn(
            f"'{folder.name}': no bin width given; binning spikes at {dt} s (pass dt= to change).", stacklevel=2
        )
    t0, t1 = (0.0, None) if time_range is None else (float(time_range[0]), float(time_range[1]))
    act, kept = bin_spike_times(
        per_unit, dt, t0, t1, source=f"'{folder.name}/spike_times.npy'", unit_ids=ids, empty_units=empty_units
    )
    ids = ids[kept]
    meta = {}
    if labels:
        meta["quality"] = np.array([labels.get(int(c), "unsorted") for c in ids])
    for k, d in meta_cols.items():
        if k in ("group", "KSLabel") or not d:
            continue
        vals = [d.get(int(c)) for c in ids]
        if all(v is not None for v in vals):
            meta[k] = np.asarray(vals)
    return Recording(
        activity=act,
        dt=dt,
        kind="spikes",
        neuron_ids=ids,
        neuron_meta=meta,
        name=folder.name,
        provenance={
            "source": str(folder),
            "reader": "phy",
            "sample_rate": float(fs),
            "groups": None if groups is None else list(groups),
        },
    )
