"""A GUI session's run and its folder: Save run…, Load run… (no Qt; the folder format is
:mod:`sparks_gui.engine.runs`'s, and the session is anything with ``trainer``, ``running``,
``training_recording()``, ``set_config`` and ``set_results``)."""

from __future__ import annotations

from pathlib import Path

from ..engine import runs as run_folders
from ..errors import SparksError
from ._state import RunResults


def save_run(session, folder) -> Path:
    """Write the current run (config.json, model.pt, history.json) into ``folder`` (:func:`engine.runs.save_run`)."""
    tr = session.trainer
    if tr is None:
        raise SparksError("There is no trained model to save yet.", "Train (or load a run) first.")
    if session.running:
        raise SparksError("Training is still running.", "Stop or wait for the run to finish before saving it.")
    return run_folders.save_run(folder, tr)


def load_run(session, path) -> Path:
    """Load a saved run: its config goes into the form; with a recording loaded, its results are shown."""
    from ..engine.config import SparksConfig

    p = Path(path)
    if run_folders.find_model_file(p) is None and p.suffix.lower() in (".json", ".yaml", ".yml"):
        session.set_config(SparksConfig.load(p))
        return p
    # everything is read and computed first: a load that fails changes nothing (config, views, run)
    run = run_folders.load_run(p)
    try:
        loaded = evaluate_loaded(session, run) if session.training_recording() is not None else None
    except SparksError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign run: say so, change nothing
        raise SparksError(
            f"'{run.path}' could not be loaded as a run ({type(exc).__name__}: {exc}).",
            "Pick a folder written by 'Save run' or by sparks-gui train/demo, from this recording.",
        ) from exc
    if loaded is not None and run.interrupted:  # an interrupted run: Resume can continue it
        loaded[0].checkpoint, loaded[0].checkpoint_epoch = str(run.path), run.epoch
    session.set_config(run.config)
    if loaded is not None:
        session.set_results(*loaded)
    return run.path


def evaluate_loaded(session, run):
    """``(RunResults, Trainer)`` of a loaded run (:func:`engine.runs.load_run`) on the session's recording:
    the trainer rebuilt around the loaded weights, and its held-out latents/predictions/attention
    (:func:`engine.runs.evaluate_run`; the session is not changed)."""
    ev = run_folders.evaluate_run(run, session.training_recording())
    res = RunResults(
        history=[dict(h) for h in ev.trainer.history],
        config=run.config,
        metrics=dict(ev.metrics),
        latents=ev.snapshots["LatentSnapshot"],
        predictions=ev.snapshots["Predictions"],
        attention=ev.snapshots.get("AttentionSnapshot"),
    )
    return res, ev.trainer
