"""Exports: ordering, latents, predictions, attention, the run, view images and a report folder.

Every file is written through a temporary file and renamed (``data.atomic``), so an
interrupted export never leaves a half-written file in place of a good one.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..data.atomic import atomic_save, atomic_write_text
from ..errors import SparksError
from ._runs import save_run


def _need(value, what: str):
    if value is None:
        raise SparksError(f"There are no {what} to export yet.", "Train for at least one epoch (or load a run) first.")
    return value


ORDERING_COLUMNS = ("rank", "neuron_index", "recording_index", "neuron_id")
"""Columns of ``ordering.csv``: rank (0 = top row), row in the training selection, row in the whole
recording, and the recording's neuron id."""


def export_ordering(session, folder) -> list[Path]:
    """``ordering.csv`` (a plain CSV: one header line, then one row per neuron, see
    :data:`ORDERING_COLUMNS`), ``ordering.npy`` (indices, top row first) and ``ordering.json``
    (which ordering it is, the recording and the columns: metadata kept out of the CSV so that
    every CSV reader takes it as it is)."""
    rec = _need(session.training_recording(), "neurons")
    order = np.asarray(session.order if session.order is not None else np.arange(rec.n_neurons), dtype=np.int64)
    folder = Path(folder)
    ids = np.asarray(rec.neuron_ids)[order]
    orig = np.array([session.original_neuron_index(int(i)) for i in order])
    lines = [",".join(ORDERING_COLUMNS)]
    lines += [f"{r},{int(i)},{int(o)},{nid}" for r, (i, o, nid) in enumerate(zip(order, orig, ids, strict=False))]
    csv = atomic_write_text(folder / "ordering.csv", "\n".join(lines) + "\n")
    npy = atomic_save(folder / "ordering.npy", lambda p: np.save(p, order))
    meta = {
        "ordering": session.ordering_name,
        "recording": getattr(rec, "name", None),
        "n_neurons": int(len(order)),
        "columns": list(ORDERING_COLUMNS),
        "files": ["ordering.csv", "ordering.npy"],
    }
    sidecar = atomic_write_text(folder / "ordering.json", json.dumps(meta, indent=2, default=_jsonable) + "\n")
    return [Path(csv), Path(npy), Path(sidecar)]


def whole_recording_results(session) -> dict[str, Any] | None:
    """Latents and predictions of the whole (continuous) training recording from the current model,
    by windows of the training length (``engine.inference``); None while training runs, without a
    model, or for a recording with trials.  Cached per run, recording and epoch."""
    tr, rec = session.trainer, session.training_recording()
    if tr is None or rec is None or session.running or getattr(tr, "model", None) is None:
        return None
    neurons = getattr(session, "neuron_idx", None)
    key = (
        id(tr),
        len(getattr(tr, "history", []) or []),
        id(getattr(session, "recording", rec)),
        None if neurons is None else np.asarray(neurons).tobytes(),
        getattr(session, "time_range", None),
    )
    cached = getattr(session, "_whole_recording_cache", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    from ..engine.inference import whole_recording
    from ..engine.runs import data_meta

    try:
        result = whole_recording(tr.model, rec, tr.config, data_meta(tr.data))
    except SparksError:  # the selection no longer matches the model's neurons
        result = None
    session._whole_recording_cache = (key, result)
    return result


def export_latents(session, folder) -> Path:
    """``latents.npz``: the held-out examples' latents and, for a continuous recording, the whole
    recording's (``recording_latents`` [T, d] from windows of the training length, on a clock of
    ``recording_dt`` s starting at ``recording_start``)."""
    snap = _need(session.results.latents, "latents")
    arrays = {"latents": snap.latents, "example_idx": snap.example_idx, "epoch": np.array(snap.epoch)}
    arrays.update({f"condition_{k}": np.asarray(v) for k, v in snap.conditions.items()})
    whole = whole_recording_results(session)
    if whole is not None:
        arrays.update(
            recording_latents=whole["latents"],
            recording_dt=np.array(whole["dt"]),
            recording_start=np.array(whole["start_time"]),
        )
    return Path(atomic_save(Path(folder) / "latents.npz", lambda p: np.savez(p, **arrays)))


def export_predictions(session, folder) -> Path:
    """``predictions.npz``: held-out examples and, for a continuous recording, ``recording_predicted``
    [T, k] for the whole recording (entry t predicts the reference at t + target_offset)."""
    snap = _need(session.results.predictions, "predictions")
    arrays = {
        "predicted": snap.predicted,
        "true": snap.true,
        "example_idx": snap.example_idx,
        "target": np.array(snap.target),
        "epoch": np.array(snap.epoch),
    }
    whole = whole_recording_results(session)
    if whole is not None:
        arrays.update(
            recording_predicted=whole["predictions"],
            recording_dt=np.array(whole["dt"]),
            recording_start=np.array(whole["start_time"]),
        )
    return Path(atomic_save(Path(folder) / "predictions.npz", lambda p: np.savez(p, **arrays)))


def export_attention(session, folder) -> Path:
    snap = _need(session.results.attention, "attention matrices")
    order = session.order if session.order is not None else np.arange(snap.mean.shape[-1])
    return Path(
        atomic_save(
            Path(folder) / "attention.npz",
            lambda p: np.savez(
                p,
                mean=snap.mean,
                last=snap.last,
                example=np.array(snap.example),
                order=np.asarray(order),
                epoch=np.array(snap.epoch),
            ),
        )
    )


def export_run(session, folder) -> Path:
    """The run (config.json, model.pt, history.json) into ``folder`` (:func:`sparks_gui.gui._runs.save_run`)."""
    return save_run(session, folder)


def nwb_results(session) -> dict[str, Any] | None:
    """The session's results as keyword arguments of :func:`sparks_gui.data.export.export_to_nwb`, or
    None when there are none (nothing trained or loaded, or a run in progress):

    * ``latents`` / ``predictions`` of the whole recording (continuous recordings; windows of the
      training length) on their clock (``latent_dt``, ``latent_start``);
    * ``examples``: the held-out examples' latents, predictions and true values (every recording);
    * ``order`` (the neuron ordering on screen) with ``neuron_index`` (selection -> recording rows);
    * ``config``: the run's configuration ("auto" fields as the trainer chose them).
    """
    r, tr = session.results, session.trainer
    if session.running or (r.latents is None and r.predictions is None and tr is None):
        return None
    out: dict[str, Any] = {}
    whole = whole_recording_results(session)
    if whole is not None:
        out.update(latents=whole["latents"], latent_dt=whole["dt"], latent_start=whole["start_time"])
        if whole.get("predictions") is not None and r.predictions is not None:
            out["predictions"] = {r.predictions.target or "target": whole["predictions"]}
    snap, pred = r.latents, r.predictions
    if snap is not None:
        rec = session.training_recording()
        t0 = float(getattr(rec, "start_time", 0.0) or 0.0)
        starts = None if snap.starts is None else t0 + np.asarray(snap.starts, dtype=np.float64) * float(rec.dt)
        ex: dict[str, Any] = {
            "latents": snap.latents,
            "dt": snap.dt or float(rec.dt),
            "example_idx": snap.example_idx,
            "start_time": starts,
        }
        if (
            pred is not None
            and np.array_equal(np.asarray(pred.example_idx), np.asarray(snap.example_idx))
            and pred.predicted.shape[1] == snap.latents.shape[1]
        ):
            ex.update(predictions=pred.predicted, true=pred.true, target=pred.target)
        out["examples"] = ex
    rec = session.training_recording()
    if rec is not None and session.order is not None and len(session.order) == rec.n_neurons:
        out["order"] = np.asarray(session.order, dtype=np.int64)
        idx = getattr(session, "neuron_idx", None)
        out["neuron_index"] = np.arange(rec.n_neurons) if idx is None else np.asarray(idx, dtype=np.int64)
    cfg = getattr(tr, "config", None) or r.config or session.config
    out["config"] = json.loads(json.dumps(cfg.to_dict(), default=_jsonable))
    return out


def export_nwb(session, path) -> Path:
    """A copy of the recording as NWB with the results in a processing module ``sparks`` (latents,
    orderings, predictions, the config; see :func:`nwb_results`).  The copy is of the source NWB file
    when the recording came from one (that file is never opened for writing), else a new NWB file
    built from the recording.  Written to a temporary name and renamed (``data.atomic``)."""
    from ..data.export import export_to_nwb, free_module_name

    rec = session.recording
    if rec is None:
        raise SparksError(
            "No recording is loaded.", "Open a recording in the Data dock, train (or load a run), then export."
        )
    if session.running:
        raise SparksError("Training is still running.", "Stop or wait for the run to finish, then export.")
    results = nwb_results(session)
    if results is None:
        raise SparksError(
            "There are no results to save with the recording yet.",
            "Train for at least one epoch (or load a run) first.",
        )
    path = Path(path)
    if path.suffix.lower() != ".nwb":
        path = path.with_name(path.name + ".nwb")
    src = (getattr(rec, "provenance", None) or {}).get("source")
    source = Path(src) if src and str(src).lower().endswith(".nwb") and Path(src).is_file() else None
    if source is not None and source.resolve() == path.resolve():
        raise SparksError(
            f"Refusing to write results into the input file '{source.name}'.",
            "Choose a new file name: the results go into a copy.",
        )
    return export_to_nwb(
        path, source=source, recording=rec, module_name=free_module_name(source), overwrite=True, **results
    )


def export_views(session, folder, formats=("png", "svg"), size=None) -> list[Path]:
    """Every open view as an image per format (``latents.png``, ``raster.svg`` …).

    ``size``: an :class:`~sparks_gui.figures.size.ImageSize` (width, height or 0 = the on-screen aspect,
    in inches or pixels, and DPI); the views are laid out and rendered at that size.  None: as on screen."""
    out = []
    for name, view in session.views.items():
        if getattr(view, "empty", False):  # e.g. the masked-neurons view of a PCC run: only a note
            continue
        for fmt in formats:
            out.append(view.export_image(Path(folder) / f"{name.lower().replace(' ', '_')}.{fmt}", size=size))
    return out


def export_figures(session, folder, fmt: str | tuple[str, ...] = "pdf", size=None) -> list[Path]:
    """Publication figures from the figures module (matplotlib): loss, latents, decoding, in each format
    of ``fmt``.  ``size`` (an ``ImageSize``): every figure at that size and DPI (height 0: the figure's
    own aspect); None: each figure's own size at 150 DPI, cropped to its contents."""
    from ..figures import training as figs

    folder = Path(folder)
    r = session.results
    out = []
    for f in (fmt,) if isinstance(fmt, str) else tuple(fmt):
        if r.history:
            out.append(figs.loss_curve(r.history, folder / f"fig_loss.{f}", size=size))
        if r.latents is not None:
            snap = r.latents
            cond_name = next(iter(snap.conditions), None)
            out.append(
                figs.latent_trajectories(
                    np.transpose(snap.latents, (0, 2, 1)),
                    folder / f"fig_latents.{f}",
                    None if cond_name is None else np.asarray(snap.conditions[cond_name]),
                    title="SPARKS latents" + (f" (coloured by {cond_name})" if cond_name else ""),
                    size=size,
                )
            )
        p = r.predictions
        if p is not None and p.loss == "mse":
            off = p.offset
            T = p.predicted.shape[1] - off
            out.append(
                figs.decoding(
                    p.true[:, off:],
                    p.predicted[:, :T],
                    folder / f"fig_decoding.{f}",
                    names=[f"{p.target}[{j}]" for j in range(p.true.shape[-1])],
                    r2=(r.history[-1].get("r2") if r.history else None),
                    dt=p.dt,
                    size=size,
                )
            )
    return out


SCORES: dict[str, tuple[str, str]] = {
    "r2": ("R²", ""),
    "accuracy": ("accuracy", ""),
    "cosmooth_bps": ("co-smoothing", "bits/spike"),
    "forward_bps": ("forward prediction", "bits/spike"),
    "inter_region_bps": ("inter-region", "bits/spike"),
    "cosmooth_r2": ("co-smoothing R²", ""),
    "forward_r2": ("forward prediction R²", ""),
    "inter_region_r2": ("inter-region R²", ""),
}
"""The held-out scores a run reports, in the order shown: name in ``metrics`` -> (label, unit).
MtM runs give co-smoothing (held-out neurons predicted from the others), forward prediction (the
last steps predicted from the earlier ones) and inter-region (each area predicted from the others)
as bits per spike for spikes (R² for calcium); PCC runs give R² or accuracy of their target."""


def scores(metrics: dict[str, Any] | None) -> dict[str, float]:
    """The finite :data:`SCORES` present in ``metrics`` (plus ``region_bps`` / ``region_r2`` per area)."""
    out: dict[str, Any] = {}
    for key in SCORES:
        v = (metrics or {}).get(key)
        if isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) and np.isfinite(v):
            out[key] = float(v)
    for key in ("region_bps", "region_r2"):
        v = (metrics or {}).get(key)
        if isinstance(v, dict) and v:
            out[key] = {str(k): float(x) for k, x in v.items()}
    return out


def score_text(metrics: dict[str, Any] | None) -> str:
    """The run's scores in words, e.g. ``co-smoothing +0.183 · forward prediction -0.020 · inter-region
    +0.051 bits/spike`` (empty when there are none)."""
    found = [(k, v) for k, v in scores(metrics).items() if k in SCORES]
    parts = []
    for i, (key, value) in enumerate(found):
        label, unit = SCORES[key]
        text = f"{label} {value:+.3f}" if unit else f"{label} {value:.3f}"
        if unit and (i + 1 == len(found) or SCORES[found[i + 1][0]][1] != unit):
            text += f" {unit}"  # the unit once, after the last score that has it
        parts.append(text)
    return " · ".join(parts)


def metrics_summary(session) -> dict[str, Any]:
    """What ``metrics.json`` holds: the recording, the config, the history, the final metrics and, in
    ``scores``, the run's held-out scores (:data:`SCORES`) with ``scores_text`` saying them in words."""
    r = session.results
    rec = session.training_recording()
    cfg = r.config or session.config
    final = final_metrics(r)
    out: dict[str, Any] = {
        "recording": None if rec is None else rec.summary(),
        "config": cfg.to_dict(),
        "objective": getattr(cfg, "objective", "pcc"),
        "ordering": session.ordering_name,
        "history": r.history,
        "final": final,
        "scores": scores(final),
        "scores_text": score_text(final),
    }
    return out


def final_metrics(results) -> dict[str, Any]:
    """The run's final metrics; a stopped (or failed) run keeps the held-out metrics (R2, test loss, ...)
    of its last evaluated epoch, with ``evaluated_epoch`` saying which."""
    final = dict(results.metrics or (results.history[-1] if results.history else {}))
    evaluated = next((h for h in reversed(results.history) if h.get("test_loss") is not None), None)
    if evaluated is not None:
        if "test_loss" not in final:
            final.update({k: v for k, v in evaluated.items() if k not in final})
        final.setdefault("evaluated_epoch", evaluated.get("epoch"))
    return final


def write_report(session, folder, size=None) -> Path:
    """A folder with every export, every view (PNG + SVG), PDF figures and ``metrics.json``; ``size``
    (an ``ImageSize``) for the views and figures."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    export_ordering(session, folder)
    for fn in (export_latents, export_predictions, export_attention):
        with contextlib.suppress(SparksError):
            fn(session, folder)
    if session.trainer is not None and not session.running:
        export_run(session, folder / "run")
    export_views(session, folder / "views", size=size)
    export_figures(session, folder / "figures", size=size)
    write_metrics(session, folder)
    return folder


def write_metrics(session, folder) -> Path:
    """``folder/metrics.json``: the session's history and final metrics (:func:`metrics_summary`), atomically."""
    return atomic_write_text(
        Path(folder) / "metrics.json", json.dumps(metrics_summary(session), indent=2, default=_jsonable)
    )


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
