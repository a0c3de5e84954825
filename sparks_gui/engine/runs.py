"""Run folders: where runs live, how they are named, listed and cleaned up, and how a run is saved,
loaded and evaluated — the one place for CLI (``sparks-gui train/demo``), GUI (Training dock) and
the :class:`~sparks_gui.engine.facade.Sparks` facade (no Qt; torch is imported only by the
functions that need it).

Where runs live
---------------
Every GUI run gets its own folder ``run-YYYYmmdd-HHMMSS`` (``-2``, ``-3`` … when two start in the
same second) under the *runs folder*:

1. ``$SPARKS_RUNS_DIR`` when set (tests set it to a temporary folder);
2. else the folder the user chose last (``choose_runs_dir``; remembered in ``settings.json`` of
   ``platformdirs.user_config_dir("sparks-gui")``);
3. else ``platformdirs.user_data_dir("sparks-gui")/runs`` (e.g. ``~/.local/share/sparks-gui/runs``).

A run is *temporary* until the user keeps it (Keep, or Save run…): ``cleanup_runs`` deletes only
folders that carry a ``run.json`` saying ``"saved": false`` — never a folder this module did not
create, never a kept run.  Folders from older versions (``/tmp/sparks-run-*``) are not migrated.
CLI runs go to ``--out`` and have no ``run.json`` (they are never cleaned up).

The run folder
--------------
``run.json``
    GUI runs only: ``{"created": unix time, "saved": bool, "status": "created" | "running" |
    "finished" | "stopped" | "failed", "epochs": int}``.
``config.json``
    The :class:`~sparks_gui.engine.config.SparksConfig` of the run, "auto" fields resolved.
``checkpoint.pt``
    Written by the trainer after every ``checkpoint_every`` epochs (:func:`~sparks_gui.engine.checkpoint.save_training_checkpoint`)
    when ``config.out_dir`` is set: model + optimiser + random state, enough to resume exactly.
``model.pt``
    The trained model (:func:`save_run`; ``Sparks.save`` writes the same file to any path).
``history.json``
    One record per epoch: ``epoch``, ``train_loss`` and, on evaluated epochs, ``test_loss`` and the
    held-out metrics (``r2``, ``accuracy``, ``poisson_nll``, ``cosmooth_bps`` …).
``metrics.json``
    Summary when the run ends: the CLI's (task, sizes, ``test_*`` metrics, speed) or the GUI's
    (``history`` + ``final``); :func:`summarize_metrics` reads both.
CLI only
    ``latents.npy`` [examples, d, T], ``predictions.npy``, ``split.npz`` (train_idx, test_idx,
    starts), ``recording_latents.npy`` / ``recording_predictions.npy`` (continuous recordings,
    whole recording by windows), ``recording.json`` (how to read the recording again, for
    ``--resume``) and ``figures/*.png``.

``model.pt`` and ``checkpoint.pt`` are torch pickles of one dict (``engine/checkpoint.py``, format
``sparks-gui-checkpoint-1``): ``model`` (state dict), ``model_spec``, ``optimizer`` (None in
model.pt), ``config``, ``epoch``, ``generator``, ``torch_rng``, ``history`` and ``data_meta``
(:func:`~sparks_gui.engine.checkpoint.data_meta`, re-exported here: how the training data was prepared — target normalisation ``r_mean`` /
``r_std``, ``loss``, ``target``, ``target_offset``, ``dt``, ``kind``, ``example_length`` — plus
the model ``session`` and, for MtM, ``heldout_neurons``, ``mtm_schemes`` and ``regions``).
:func:`load_run` accepts a run folder (``model.pt`` preferred over ``checkpoint.pt``) or either
file; keys missing from runs of older versions are tolerated.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SparksError
from .checkpoint import CHECKPOINT_FILE, data_meta, load_checkpoint, save_checkpoint  # the .pt files' contents

ENV_VAR = "SPARKS_RUNS_DIR"
MARKER = "run.json"
NAME_RE = re.compile(r"^run-(\d{8})-(\d{6})(?:-(\d+))?$")
METRIC_KEYS = (
    "r2",
    "test_r2",
    "cosmooth_bps",
    "test_cosmooth_bps",
    "accuracy",
    "test_accuracy",
    "test_loss",
    "train_loss",
    "final_train_loss",
)
"""The "main metric" of a run: the first of these its metrics.json holds (NaN skipped)."""
_METRIC_NAMES = {
    "test_r2": "r2",
    "test_cosmooth_bps": "cosmooth_bps",
    "test_accuracy": "accuracy",
    "final_train_loss": "train_loss",
}

_chosen: Path | None = None  # this process's choice when $SPARKS_RUNS_DIR is set (never persisted then)


def _settings_file() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("sparks-gui")) / "settings.json"


def default_runs_dir() -> Path:
    """The per-user data folder for runs (``platformdirs.user_data_dir("sparks-gui")/runs``)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("sparks-gui")) / "runs"


def runs_dir() -> Path:
    """The runs folder now in use: ``$SPARKS_RUNS_DIR``, else the user's last choice, else the default."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(_chosen or Path(env).expanduser())
    if _chosen is not None:
        return _chosen
    try:
        saved = json.loads(_settings_file().read_text()).get("runs_dir")
    except (OSError, ValueError, AttributeError):
        saved = None
    return Path(saved).expanduser() if saved else default_runs_dir()


def choose_runs_dir(path: str | Path) -> Path:
    """Make ``path`` the runs folder (created if needed).  Remembered for later sessions unless
    ``$SPARKS_RUNS_DIR`` is set (then only for this process)."""
    global _chosen

    folder = Path(path).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SparksError(
            f"Cannot use '{folder}' as the runs folder ({exc.strerror or exc}).", "Choose a folder you can write to."
        ) from exc
    if not os.access(folder, os.W_OK):
        raise SparksError(f"The runs folder '{folder}' is not writable.", "Choose a folder you can write to.")
    _chosen = folder.resolve()
    if not os.environ.get(ENV_VAR):
        from ..data.atomic import atomic_write_text

        settings = _settings_file()
        try:
            data = json.loads(settings.read_text()) if settings.exists() else {}
        except (OSError, ValueError):
            data = {}
        data["runs_dir"] = str(_chosen)
        with contextlib.suppress(OSError):  # remembering is a convenience; the folder is used either way
            atomic_write_text(settings, json.dumps(data, indent=2) + "\n")
    return _chosen


def reset_choice() -> None:
    """Forget this process's choice (tests)."""
    global _chosen
    _chosen = None


def run_name(when: float | None = None) -> str:
    """``run-YYYYmmdd-HHMMSS`` for the local time ``when`` (default: now)."""
    return "run-" + datetime.fromtimestamp(time.time() if when is None else when).strftime("%Y%m%d-%H%M%S")


def new_run_dir(root: str | Path | None = None, when: float | None = None) -> Path:
    """Create a new, empty run folder under ``root`` (default :func:`runs_dir`), marked temporary.

    Named ``run-YYYYmmdd-HHMMSS``; ``-2``, ``-3`` … are appended when that name is taken.
    """
    root = Path(root) if root is not None else runs_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SparksError(
            f"Cannot create the runs folder '{root}' ({exc.strerror or exc}).",
            "Choose another runs folder in the Training dock (Browse…) or set SPARKS_RUNS_DIR.",
        ) from exc
    base = run_name(when)
    for n in range(1, 10_000):
        folder = root / (base if n == 1 else f"{base}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise SparksError(
                f"Cannot create a run folder in '{root}' ({exc.strerror or exc}).",
                "Choose a writable runs folder in the Training dock (Browse…).",
            ) from exc
        created = time.time() if when is None else float(when)
        write_marker(folder, {"created": created, "saved": False, "status": "created"})
        return folder
    raise SparksError(f"Too many runs named '{base}-*' in '{root}'.", "Clean up the runs folder.")


def read_marker(folder: str | Path) -> dict[str, Any] | None:
    """``run.json`` of a run folder, or None when it has none (not a folder made by :func:`new_run_dir`)."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_marker(folder: str | Path, data: dict[str, Any]) -> Path:
    from ..data.atomic import atomic_write_text

    return atomic_write_text(Path(folder) / MARKER, json.dumps(data, indent=2, default=str) + "\n")


def update_marker(folder: str | Path, **changes) -> dict[str, Any] | None:
    """Change fields of ``run.json`` (e.g. ``saved=True``, ``status="finished"``); None for a folder
    without one (a folder not made by :func:`new_run_dir` is left alone)."""
    data = read_marker(folder)
    if data is None:
        return None
    data.update(changes)
    write_marker(folder, data)
    return data


def mark_saved(folder: str | Path, saved: bool = True) -> dict[str, Any] | None:
    """Keep a run: :func:`cleanup_runs` never deletes it."""
    return update_marker(folder, saved=bool(saved))


def is_in(folder: str | Path, root: str | Path) -> bool:
    """Whether ``folder`` lies directly in ``root``."""
    try:
        return Path(folder).resolve().parent == Path(root).resolve()
    except OSError:
        return False


@dataclass
class RunInfo:
    """One run folder as listed in the Training dock."""

    name: str
    path: Path
    created: float
    saved: bool
    status: str = ""
    epochs: int | None = None
    metric: str | None = None
    value: float | None = None
    has_model: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def metric_text(self) -> str:
        if self.metric is None or self.value is None:
            return ""
        return f"{self.metric} {self.value:.3g}"


def _created(folder: Path, marker: dict[str, Any] | None) -> float:
    if marker and isinstance(marker.get("created"), (int, float)):
        return float(marker["created"])
    m = NAME_RE.match(folder.name)
    if m:
        try:
            return datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S").timestamp()
        except ValueError:
            pass
    return folder.stat().st_mtime


def summarize_metrics(metrics: dict[str, Any]) -> tuple[int | None, str | None, float | None]:
    """``(epochs, main metric name, value)`` from a metrics.json: the GUI's (history + final) or the CLI's."""
    epochs = None
    hist = metrics.get("history")
    final = metrics.get("final") if isinstance(metrics.get("final"), dict) else {}
    if isinstance(hist, list) and hist:
        last = hist[-1] if isinstance(hist[-1], dict) else {}
        epochs = int(last.get("epoch", len(hist)))
        final = {**last, **final}
    elif "epochs" in metrics:
        try:
            epochs = int(metrics["epochs"])
        except (TypeError, ValueError):
            epochs = None
    flat = {**metrics, **final}
    for key in METRIC_KEYS:
        v = flat.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
            return epochs, _METRIC_NAMES.get(key, key), float(v)
    return epochs, None, None


def run_info(folder: str | Path) -> RunInfo | None:
    """What the runs list shows for ``folder``; None when it is not a run folder (no run.json, no
    checkpoint or model)."""
    folder = Path(folder)
    marker = read_marker(folder)
    has_model = (folder / "model.pt").exists() or (folder / "checkpoint.pt").exists()
    if marker is None and not has_model:
        return None
    info = RunInfo(
        name=folder.name,
        path=folder,
        created=_created(folder, marker),
        saved=True if marker is None else bool(marker.get("saved")),
        status=str((marker or {}).get("status", "")),
        has_model=has_model,
    )
    try:
        metrics = json.loads((folder / "metrics.json").read_text())
    except (OSError, ValueError):
        metrics = None
    if isinstance(metrics, dict):
        info.epochs, info.metric, info.value = summarize_metrics(metrics)
    if info.epochs is None and marker and isinstance(marker.get("epochs"), int):
        info.epochs = marker["epochs"]
    return info


def list_runs(root: str | Path | None = None) -> list[RunInfo]:
    """The runs in ``root`` (default :func:`runs_dir`), newest first.  A missing folder lists nothing."""
    root = Path(root) if root is not None else runs_dir()
    if not root.is_dir():
        return []
    out = []
    for child in root.iterdir():
        if child.is_dir() and not child.name.startswith("."):
            info = run_info(child)
            if info is not None:
                out.append(info)
    return sorted(out, key=lambda r: (r.created, r.name), reverse=True)


def cleanup_candidates(
    root: str | Path | None = None, older_than_days: float | None = None, exclude=(), now: float | None = None
) -> list[RunInfo]:
    """The runs :func:`cleanup_runs` would delete: temporary (``"saved": false`` in run.json), older
    than ``older_than_days`` when given (else all of them), not in ``exclude``."""
    now = time.time() if now is None else now
    skip = {Path(p).resolve() for p in exclude if p}
    out = []
    for info in list_runs(root):
        marker = read_marker(info.path)
        if marker is None or marker.get("saved") is not False or info.path.resolve() in skip:
            continue
        if older_than_days is not None and now - info.created < older_than_days * 86400:
            continue
        out.append(info)
    return out


def cleanup_runs(
    root: str | Path | None = None, older_than_days: float | None = None, exclude=(), now: float | None = None
) -> list[Path]:
    """Delete temporary runs (see :func:`cleanup_candidates`); returns the folders deleted.

    ``exclude``: folders never to delete (the run in progress, the one on screen).
    """
    deleted = []
    for info in cleanup_candidates(root, older_than_days, exclude, now):
        shutil.rmtree(info.path)
        deleted.append(info.path)
    return deleted


# ---------------------------------------------------------------------------- run contents
MODEL_FILE = "model.pt"


def save_model(path: str | Path, model, config, history, meta: dict[str, Any]) -> Path:
    """Write a trained model (``model.pt`` format) to ``path`` (atomic); ``meta`` from :func:`data_meta`."""
    history = list(history or [])
    return save_checkpoint(path, model, None, config, len(history), history=history, data_meta=meta)


def save_run(folder: str | Path, trainer) -> Path:
    """Write a trained run into ``folder`` (created if needed): ``config.json``, ``model.pt`` and
    ``history.json`` of ``trainer`` (a :class:`Trainer` or anything with its ``config``, ``model``,
    ``data``, ``history`` and ``session``)."""
    from ..data.atomic import atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    trainer.config.to_json(folder / "config.json")
    save_model(folder / MODEL_FILE, trainer.model, trainer.config, trainer.history, data_meta(trainer.data, trainer))
    atomic_write_text(folder / "history.json", json.dumps(trainer.history, indent=2, default=float))
    return folder


@dataclass
class LoadedRun:
    """A run read back by :func:`load_run`: the model with its weights, config, history and data metadata."""

    path: Path
    """The file read (``model.pt`` or ``checkpoint.pt``)."""
    config: Any
    model: Any
    history: list[dict[str, Any]]
    meta: dict[str, Any]
    epoch: int
    checkpoint: dict[str, Any] = field(repr=False, default_factory=dict)
    """The raw payload (see :mod:`sparks_gui.engine.checkpoint`)."""

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def interrupted(self) -> bool:
        """Only a ``checkpoint.pt`` (a run that stopped before writing ``model.pt``): it can be resumed."""
        return self.path.name == CHECKPOINT_FILE


def find_model_file(path: str | Path) -> Path | None:
    """The model file of a run: ``path`` itself when it is a ``.pt`` file, else ``model.pt`` or
    ``checkpoint.pt`` of the folder (of ``path``'s folder when ``path`` is another file); None if none."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    candidates = (p if p.suffix == ".pt" else None, folder / MODEL_FILE, folder / CHECKPOINT_FILE)
    return next((c for c in candidates if c is not None and c.exists()), None)


def load_run(path: str | Path) -> LoadedRun:
    """Read a run (folder, ``model.pt`` or ``checkpoint.pt``): config, model with its weights (on the
    CPU), history and data metadata.  Raises :class:`SparksError` when there is none or it is damaged."""
    from ..model.sparks import SparksModel
    from .config import SparksConfig

    p = Path(path)
    ckpt = find_model_file(p)
    if ckpt is None:
        folder = p if p.is_dir() else p.parent
        raise SparksError(
            f"No model.pt or checkpoint.pt found in '{folder}'.",
            "Pick a folder written by 'Save run' or by sparks-gui train/demo.",
        )
    ck = load_checkpoint(ckpt)
    try:
        config = SparksConfig.from_dict(ck["config"])
        model = SparksModel.from_spec(ck["model_spec"])
        model.load_state_dict(ck["model"])
    except SparksError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign run: say so
        raise SparksError(
            f"'{ckpt}' could not be loaded as a run ({type(exc).__name__}: {exc}).",
            "Pick a folder written by 'Save run' or by sparks-gui train/demo.",
        ) from exc
    return LoadedRun(
        path=ckpt,
        config=config,
        model=model,
        history=[dict(h) for h in ck.get("history") or []],
        meta=dict(ck.get("data_meta") or {}),
        epoch=int(ck.get("epoch", 0)),
        checkpoint=ck,
    )


@dataclass
class RunEvaluation:
    """A loaded run evaluated on a recording (:func:`evaluate_run`)."""

    trainer: Any
    """A :class:`Trainer` rebuilt around the loaded weights (CPU), its ``history`` the run's."""
    idx: np.ndarray
    """The examples evaluated: the held-out ones (all when none are held out), at most ``snapshot_trials``."""
    metrics: dict[str, Any]
    """Loss and metrics of those examples, as the trainer reports them (``r2``, ``accuracy`` …)."""
    snapshots: dict[str, Any]
    """``LatentSnapshot``, ``Predictions`` and (attention encoders) ``AttentionSnapshot`` events."""


def evaluate_run(run: LoadedRun, recording, limit: int | None = None) -> RunEvaluation:
    """Rebuild the run's trainer on ``recording`` around its weights and evaluate the held-out examples.

    ``limit``: evaluate at most this many examples (default the run's ``snapshot_trials``).  Raises
    :class:`SparksError` when the recording does not fit the model (other neurons).
    """
    from .trainer import Trainer

    cfg = run.config
    n_model = run.model.sessions[0].n_neurons
    tr = Trainer(cfg.replace(out_dir=None, device="cpu"), recording, model=run.model)
    if tr.data.n_neurons != n_model:
        raise SparksError(
            f"The run was trained on {n_model} neurons; the selection has {tr.data.n_neurons}.",
            "Select the same recording and neurons as the saved run.",
        )
    tr.history = [dict(h) for h in run.history]
    d = tr.data
    idx = d.test_idx if len(d.test_idx) else np.arange(len(d.x))
    idx = idx[: cfg.snapshot_trials if limit is None else limit]
    ev = tr.evaluate(idx)
    epoch = max(len(tr.history) - 1, 0)
    snaps = {type(e).__name__: e for e in tr.snapshot_events(epoch, idx, ev)}
    return RunEvaluation(tr, idx, dict(ev["metrics"]), snaps)
