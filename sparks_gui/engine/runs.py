"""Run folders: where GUI training runs live, how they are named, listed and cleaned up (no Qt).

Every GUI run gets its own folder ``run-YYYYmmdd-HHMMSS`` (``-2``, ``-3`` … when two start in the
same second) under the *runs folder*:

1. ``$SPARKS_RUNS_DIR`` when set (tests set it to a temporary folder);
2. else the folder the user chose last (``choose_runs_dir``; remembered in ``settings.json`` of
   ``platformdirs.user_config_dir("sparks-gui")``);
3. else ``platformdirs.user_data_dir("sparks-gui")/runs`` (e.g. ``~/.local/share/sparks-gui/runs``).

A run folder holds ``run.json`` (``{"created": ..., "saved": false, "status": ...}``), the trainer's
``checkpoint.pt`` and, once the run ends, ``config.json`` and ``metrics.json``.  A run is
*temporary* until the user keeps it (Keep, or Save run…): ``cleanup_runs`` deletes only folders that
carry a ``run.json`` saying ``"saved": false`` — never a folder this module did not create, never a
kept run.  Folders from older versions (``/tmp/sparks-run-*``) are not migrated.
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

from ..errors import SparksError

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
