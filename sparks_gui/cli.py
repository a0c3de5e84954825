"""The ``sparks-gui`` command: gui (default), demo, train, inspect, bench, validate.

Every user error ends with a one-line message on stderr that says what to do, and exit
status 2: :class:`~sparks_gui.errors.SparksError`, and the errors of the machine a user
can fix (a folder that cannot be written, a full disk, memory).  Unexpected failures exit
with status 1 and a one-line message too.  No traceback is printed unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import re
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SparksError

COMMANDS = ("gui", "demo", "train", "inspect", "bench", "validate")


def _add_debug_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="on an error, print the full traceback as well as the message",
    )


def check_output_folder(out: str | Path, flag: str = "--out", create: bool = True) -> Path:
    """``out`` as a folder results can be written to, or :class:`SparksError` saying why not.

    With ``create`` False nothing is made yet: the nearest existing folder above ``out`` must
    accept new entries (checked before a long load, so that a bad ``--out`` fails at once).
    """
    out = Path(out).expanduser()
    fix = f"Give {flag} a folder you can write to (new or existing), e.g. {flag} ./sparks-runs/run1."
    if out.exists() and not out.is_dir():
        raise SparksError(f"{flag} '{out}' is an existing file, not a folder.", fix)
    parent = out
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise SparksError(f"{flag} '{out}' is inside '{parent}', which is a file, not a folder.", fix)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SparksError(f"{flag} '{out}' cannot be written: '{parent}' is read-only for you.", fix)
    if not create:
        return out
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".sparks-write-test-", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise SparksError(f"{flag} '{out}' cannot be written ({exc.strerror or exc}).", fix) from exc
    return out


def _add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=None, help="output folder (default: ./sparks-run-<time>)")
    p.add_argument(
        "--preset",
        default=None,
        metavar="NAME",
        help="start from a bundled preset (" + ", ".join(_preset_names()) + "); --config, the options below "
        "and --set override it",
    )
    p.add_argument(
        "--config", default=None, help="SparksConfig as JSON or YAML (over --preset); the options below override it"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--resume",
        default=None,
        metavar="RUN_DIR",
        help="continue an interrupted run from the checkpoint.pt in its folder, with its saved config "
        "(only --epochs and --device may change); results go to RUN_DIR unless --out is given",
    )
    _add_set_option(p)
    _add_config_options(p)


def _preset_names() -> list[str]:
    from .engine.config import available_presets

    return available_presets()


# ------------------------------------------------------------------ --<field> options from the config metadata
def _add_config_options(p: argparse.ArgumentParser) -> None:
    """One ``--<field>`` option per SparksConfig field marked ``cli`` in its metadata, grouped by section,
    with the field's type, choices and help (an option the command already defines, e.g. train's
    ``--target``, is left as it is).  The names of the options made are kept in ``args.config_options``."""
    from .engine.config import config_fields

    made: list[str] = []
    groups: dict[str, Any] = {}
    for s in config_fields():
        if not s.cli or s.flag in p._option_string_actions:
            continue
        group = groups.get(s.section)
        if group is None:
            group = groups[s.section] = p.add_argument_group(
                f"{s.section.lower()} settings (SparksConfig fields; see also --set)"
            )
        kwargs: dict[str, Any] = {"default": None, "dest": s.name, "help": _option_help(s)}
        if s.kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif s.kind == "choice":
            kwargs["choices"] = s.choices
        else:
            kwargs["type"] = _option_type(s)
            kwargs["metavar"] = {"int": "N", "float": "X", "list": "A,B,..."}.get(s.kind, "VALUE")
        group.add_argument(s.flag, **kwargs)
        made.append(s.name)
    p.set_defaults(config_options=tuple(made))


def _option_help(s) -> str:
    extra = []
    if s.kind == "list" and s.choices:
        extra.append("comma-separated, some of " + ", ".join(s.choices))
    if s.range_text():
        extra.append(s.range_text())
    if s.auto:
        extra.append("auto or 0 = chosen from the recording")
    text = s.help + (f" [{'; '.join(extra)}]" if extra else "")
    return text.replace("%", "%%")


def _option_type(s):
    """argparse ``type=`` for the field ``s``: its text parsed with the field's type ("auto" = 0 for auto fields)."""

    def convert(text: str) -> Any:
        if s.auto and text.strip().lower() == "auto":
            return 0.0 if s.base_type is float else 0
        try:
            return _parse_value(text, s.type, s.name)
        except SparksError as exc:
            reason = exc.problem.split(": ", 1)[-1]
            raise argparse.ArgumentTypeError(f"'{text}': {reason.rstrip('.')}. {exc.fix or ''}".strip()) from None

    convert.__name__ = s.kind
    return convert


# ------------------------------------------------------------------ --set key=value (any SparksConfig field)
def _add_set_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        dest="set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set any SparksConfig field, parsed with its type (repeatable): --set tau_s=0.3 "
        "--set neurons=0,1,2 --set learn_traces=false --set out_dir=none",
    )


def _parse_value(text: str, annotation: Any, key: str) -> Any:
    """``text`` as a value of type ``annotation`` (int, float, bool, str, list[...], dict, unions, None)."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    low = text.strip().lower()
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and low in ("none", "null", ""):
            return None
        options = [a for a in args if a is not type(None)]
        options.sort(key=lambda a: a is str)  # str last: it accepts anything
        errors = []
        for a in options:
            try:
                return _parse_value(text, a, key)
            except SparksError as exc:
                errors.append(exc.problem)
        raise SparksError(
            f"--set {key}={text}: not a valid value ({'; '.join(errors)}).", f"Give a value of type {annotation}."
        )
    if annotation is type(None):
        if low in ("none", "null", ""):
            return None
        raise SparksError(f"--set {key}={text}: expected none.", "Write none.")
    if annotation is bool:
        if low in ("1", "true", "yes", "on", "y", "t"):
            return True
        if low in ("0", "false", "no", "off", "n", "f"):
            return False
        raise SparksError(f"--set {key}={text}: not a boolean.", "Write true or false.")
    if annotation is int:
        try:
            return int(text.strip())
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                f = math.nan
            if math.isfinite(f) and f == int(f):
                return int(f)
            raise SparksError(f"--set {key}={text}: not an integer.", f"Write a whole number, e.g. {key}=10.") from None
    if annotation is float:
        try:
            return float(text.strip())
        except ValueError:
            raise SparksError(f"--set {key}={text}: not a number.", f"Write a number, e.g. {key}=0.5.") from None
    if annotation is str or annotation is Any:
        return text
    if origin in (list, tuple) or annotation in (list, tuple):
        item = args[0] if args else str
        body = text.strip()
        if body.startswith("["):
            try:
                values = json.loads(body)
            except json.JSONDecodeError as exc:
                raise SparksError(
                    f"--set {key}={text}: not a JSON list ({exc}).", f"Write {key}=1,2,3 or {key}=[1,2,3]."
                ) from None
            return [_parse_value(str(v), item, key) for v in values]
        parts = [t for t in body.replace(";", ",").split(",") if t.strip()]
        return [_parse_value(t, item, key) for t in parts]
    if origin is dict or annotation is dict:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SparksError(
                f"--set {key}={text}: not a JSON object ({exc}).", f"Write {key}='{{\"a\": 1}}'."
            ) from None
        if not isinstance(value, dict):
            raise SparksError(f"--set {key}={text}: not a JSON object.", f"Write {key}='{{\"a\": 1}}'.")
        return value
    return text


def parse_set_options(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=5", "neurons=0,1"]`` -> ``{"epochs": 5, "neurons": [0, 1]}``, typed by the SparksConfig fields.

    Unknown keys raise :class:`SparksError` listing the closest field names."""
    import dataclasses
    import difflib
    import typing

    from .engine.config import SparksConfig

    hints = typing.get_type_hints(SparksConfig)
    names = [f.name for f in dataclasses.fields(SparksConfig)]
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise SparksError(f"--set '{pair}' has no '='.", "Write --set key=value, e.g. --set epochs=50.")
        key, value = pair.split("=", 1)
        key = key.strip().replace("-", "_")
        if key not in hints or key not in names:
            close = difflib.get_close_matches(key, names, n=4, cutoff=0.5)
            raise SparksError(
                f"--set: '{key}' is not a SparksConfig field"
                + (f" (did you mean {', '.join(close)}?)" if close else "."),
                "Valid keys: " + ", ".join(names) + ".",
            )
        from .engine import config as config_module

        if value.strip().lower() == "auto" and key in getattr(config_module, "AUTO_FIELDS", ()):
            out[key] = 0.0 if hints[key] is float else 0  # 0 means "chosen from the recording" for these fields
            continue
        out[key] = _parse_value(value, hints[key], key)
    return out


# ------------------------------------------------------------------ loader options (train, inspect)
def _add_loader_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("reading the file (all optional: the loader guesses and warns)")
    g.add_argument(
        "--activity-key",
        default=None,
        help="array / NWB source holding the activity (CSV: column-name prefix); see `sparks-gui inspect`",
    )
    g.add_argument(
        "--layout",
        choices=("auto", "neurons_time", "time_neurons"),
        default=None,
        help="axes of the activity array (default auto: the axis other variables share is time)",
    )
    g.add_argument("--dt", type=float, default=None, help="bin width in seconds, if the file does not store it")
    g.add_argument("--fs", type=float, default=None, help="sampling / frame rate in Hz (instead of --dt)")
    g.add_argument("--kind", choices=("spikes", "calcium"), default=None)
    g.add_argument(
        "--signal",
        choices=("F_corrected", "F", "spks", "Fneu"),
        default=None,
        help="suite2p trace (default F_corrected, F when Fneu.npy is missing)",
    )
    g.add_argument("--plane", default=None, help="suite2p plane (0, 1, ... or combined)")
    g.add_argument("--all-rois", action="store_true", help="suite2p: keep ROIs not classified as cells")
    g.add_argument(
        "--behaviour",
        "--behavior",
        dest="behaviour",
        action="append",
        default=None,
        metavar="NAMES",
        help="behaviour signals to load (comma-separated or repeated; default all that fit)",
    )
    g.add_argument("--columns", default=None, help="CSV: comma-separated activity columns")
    g.add_argument("--time-range", default=None, metavar="START,STOP", help="NWB/phy: seconds of the recording to load")
    g.add_argument("--movie", default=None, help="NWB: imaging series to attach")
    g.add_argument(
        "--trials",
        default=None,
        metavar="TABLE",
        help="NWB: intervals table that defines the trials (default: 'trials', else the only other one)",
    )
    g.add_argument(
        "--no-resample",
        action="store_true",
        help="arrays: leave out variables stored at another rate instead of averaging them onto the bins",
    )


def _loader_options(args) -> dict[str, Any]:
    """The keyword arguments of load_recording given by the loader options."""

    def split(values):
        if values is None:
            return None
        values = values if isinstance(values, list) else [values]
        return [v.strip() for item in values for v in item.split(",") if v.strip()]

    opts: dict[str, Any] = {
        "activity_key": args.activity_key,
        "dt": args.dt,
        "fs": args.fs,
        "kind": args.kind,
        "layout": None if args.layout in (None, "auto") else args.layout,
        "signal": args.signal,
        "behaviour": split(args.behaviour),
        "columns": split(args.columns),
        "movie": args.movie,
        "trials": args.trials,
    }
    if args.plane is not None:
        opts["plane"] = int(args.plane) if str(args.plane).isdigit() else args.plane
    if args.all_rois:
        opts["cells_only"] = False
    if args.no_resample:
        opts["resample"] = False
    if args.time_range:
        try:
            a, b = (float(x) for x in args.time_range.split(","))
        except ValueError:
            raise SparksError(
                f"--time-range '{args.time_range}' is not START,STOP in seconds.", "Write e.g. --time-range 0,600."
            ) from None
        opts["time_range"] = (a, b)
    return {k: v for k, v in opts.items() if v is not None}


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line each on stderr (no source line, no traceback)."""
    from .errors import SparksWarning

    text = str(message)
    label = "warning" if issubclass(category, SparksWarning) else f"warning ({category.__name__})"
    print(f"sparks-gui: {label}: {text}", file=file or sys.stderr)


def _cmd_inspect(args) -> int:
    """Exit 0: loads with these options; 1: the file is readable but needs more options; 2: cannot be read."""
    from .data.inspect import format_report, inspect_file, report_json

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the report lists them
        report = inspect_file(args.file, **_loader_options(args))
    print(report_json(report) if args.json else format_report(report))
    return 0 if report.would_load else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparks-gui",
        description="Train SPARKS on neural recordings and look inside it while it learns.",
        epilog="With no command, opens the napari app (optionally with FILE).",
    )
    _add_debug_option(parser)
    sub = parser.add_subparsers(dest="command")
    g = sub.add_parser("gui", help="open napari with the SPARKS docks (default)")
    g.add_argument("file", nargs="?", default=None)

    d = sub.add_parser("demo", help="train on built-in synthetic reach data")
    d.add_argument("--headless", action="store_true", help="train in the terminal and write results (no window)")
    _add_training_options(d)

    t = sub.add_parser("train", help="train on a recording file")
    t.add_argument(
        "data",
        nargs="?",
        default=None,
        help="recording: .nwb, suite2p or Kilosort/phy folder, .npy/.npz/.mat/.h5/.csv, TIFF movie "
        "(with --resume: the run's own recording unless given)",
    )
    t.add_argument("--target", default=None, help="behaviour signal to predict, or 'unsupervised'")
    _add_loader_options(t)
    t.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel training across the processes started by torchrun (gloo on CPU, NCCL on GPU)",
    )
    _add_training_options(t)

    i = sub.add_parser(
        "inspect",
        help="show what a file holds and what would be loaded (exit 0: loads; 1: needs options; 2: unreadable)",
    )
    i.add_argument("file", help="recording: .nwb, suite2p or Kilosort/phy folder, .npy/.npz/.mat/.h5/.csv(.gz), TIFF")
    i.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_loader_options(i)

    b = sub.add_parser("bench", help="print speed/memory benchmarks as JSON lines")
    b.add_argument("--quick", action="store_true", help="smaller problem sizes (smoke run)")
    b.add_argument("--only", default=None, help="run only benchmarks whose name contains this")

    v = sub.add_parser("validate", help="run SPARKS and baselines on every synthetic ground-truth set, write a report")
    v.add_argument("--out", required=True, help="folder for report.json, report.md and figures/")
    v.add_argument("--quick", action="store_true", help="small sizes, few epochs (a few CPU minutes; CI)")
    v.add_argument(
        "--real",
        action="store_true",
        help="real recordings instead: SPARKS with its defaults vs Wiener filters and PCA (docs/validation.md)",
    )
    v.add_argument(
        "--data-dir",
        default=None,
        help="folder with real recordings that are not shipped (chewie_demo.mat, "
        "calcium_activity_matrix_60584_session17.mat)",
    )
    v.add_argument(
        "--only",
        default=None,
        metavar="NAMES",
        help="comma-separated datasets to run (e.g. real_chewie,real_mec; default: all of the mode)",
    )
    for p in sub.choices.values():
        _add_debug_option(p)
    return parser


def _config_from_args(args, base=None):
    """The run's config: ``base`` (or the defaults), then ``--preset``, ``--config``, the ``--<field>``
    options and ``--set``, each over the one before (``--config`` starts from the defaults, not ``base``)."""
    from .engine.config import SparksConfig, preset_values, read_values

    cfg = SparksConfig() if getattr(args, "config", None) else (base or SparksConfig())
    changes: dict[str, Any] = {}
    if getattr(args, "preset", None):
        changes.update(preset_values(args.preset))
    if getattr(args, "config", None):
        values = read_values(args.config)
        SparksConfig.from_dict(values)  # the file is checked on its own: a bad value there is named as such
        changes.update(values)
    for name in getattr(args, "config_options", ()):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    changes.update(parse_set_options(getattr(args, "set", None) or []))
    return cfg.replace(**changes) if changes else cfg


def train_and_export(
    config, recording, out_dir: Path, task: str, progress: bool = True, dist=None, resume: str | Path | None = None
) -> dict[str, Any]:
    """Train with a progress bar, then write config, model, latents, predictions, metrics and figures.

    With ``resume`` (a ``checkpoint.pt``) training continues from that checkpoint exactly (model,
    optimiser, random state, history): the result equals an uninterrupted run.

    ``latents.npy`` / ``predictions.npy`` hold the training examples; for a continuous recording
    ``recording_latents.npy`` [T, d] and ``recording_predictions.npy`` [T, k] cover the whole
    recording (model bins), computed by windows of the training length (``engine.inference``).
    """
    from tqdm import tqdm

    from .engine import runs
    from .engine.events import EpochEnd, Failed, Finished, Started, StepProgress
    from .engine.inference import whole_recording
    from .engine.trainer import Trainer
    from .figures import training as figs

    main_process = dist is None or dist.is_main
    progress = progress and main_process
    config = config.replace(out_dir=str(out_dir))
    if main_process:
        check_output_folder(out_dir)
    trainer = Trainer(config, recording, dist=dist, resume=resume)
    resumed_from = _check_resumable(trainer, resume) if resume is not None else None
    if main_process:
        trainer.config.to_json(out_dir / "config.json")  # "auto" fields as chosen for this recording
        for name, why in trainer.config_notes.items():
            print(f"sparks-gui: auto {name} = {getattr(trainer.config, name)} ({why})", file=sys.stderr)
    bar = None
    finished = None
    for ev in trainer.run():
        if isinstance(ev, Started) and main_process:
            print(
                f"training on {ev.n_train} examples ({ev.n_test} held out), target={ev.target}, loss={ev.loss}, "
                f"device={ev.device}",
                file=sys.stderr,
            )
            bar = tqdm(
                total=ev.total_steps,
                initial=ev.epoch * ev.steps_per_epoch,
                unit="batch",
                disable=not progress,
                file=sys.stderr,
                dynamic_ncols=True,
            )
        elif isinstance(ev, StepProgress) and bar is not None:
            bar.update(1)
            bar.set_postfix(epoch=ev.epoch + 1, loss=f"{ev.loss:.4f}", refresh=False)
        elif isinstance(ev, EpochEnd) and bar is not None and ev.metrics:
            key = next(iter(ev.metrics))
            bar.set_postfix(epoch=ev.epoch + 1, test_loss=f"{ev.test_loss:.4f}", **{key: f"{ev.metrics[key]:.3f}"})
        elif isinstance(ev, Failed):
            if bar is not None:
                bar.close()
            message = ev.message
            if ev.traceback:  # not a user error: a bug somewhere
                message += " (unexpected: run again with --debug for the traceback, and please report it)"
            err = SparksError(message, _failure_fix(ev.message, trainer.config))
            err.detail = ev.traceback  # printed by --debug: where the training process failed
            raise err
        elif isinstance(ev, Finished):
            finished = ev
    if bar is not None:
        bar.close()
    if main_process and finished is not None and not finished.cancelled:
        from .analysis.verdict import held_out_verdicts

        for message in held_out_verdicts(finished.metrics, str(trainer.config.target)):
            print(f"sparks-gui: warning: {message}", file=sys.stderr)
    if not main_process:  # only the first process writes results
        return {}
    data = trainer.data
    runs.save_run(out_dir, trainer)  # config.json, model.pt, history.json
    meta = runs.data_meta(data)
    all_idx = np.arange(len(data.x))
    ev_all = trainer.evaluate(all_idx)
    latents = np.transpose(ev_all["latents"], (0, 2, 1))  # [examples, d, T]
    from .data.atomic import atomic_save

    atomic_save(out_dir / "latents.npy", lambda p: np.save(p, latents.astype(np.float32)))
    atomic_save(out_dir / "predictions.npy", lambda p: np.save(p, np.asarray(ev_all["pred"], dtype=np.float32)))
    atomic_save(
        out_dir / "split.npz",
        lambda p: np.savez(p, train_idx=data.train_idx, test_idx=data.test_idx, starts=data.starts),
    )
    whole = whole_recording(trainer.model, recording, trainer.config, meta)  # continuous: by windows
    if whole is not None:
        atomic_save(out_dir / "recording_latents.npy", lambda p: np.save(p, whole["latents"]))
        atomic_save(out_dir / "recording_predictions.npy", lambda p: np.save(p, whole["predictions"]))
    test = trainer.evaluate(data.test_idx) if len(data.test_idx) else None
    metrics: dict[str, Any] = {
        "task": task,
        "target": data.target_name,
        "loss": data.loss,
        "n_examples": int(len(data.x)),
        "n_train": int(len(data.train_idx)),
        "n_test": int(len(data.test_idx)),
        "n_neurons": int(data.n_neurons),
        "dt_s": float(data.dt),
        "epochs": int(trainer.config.epochs),
        "seed": int(config.seed),
        "device": str(trainer.device),
        "train_seconds": float(finished.metrics.get("train_seconds", float("nan"))) if finished else None,
        "trial_steps_per_s": float(finished.metrics.get("trial_steps_per_s", float("nan"))) if finished else None,
        "final_train_loss": float(trainer.history[-1]["train_loss"]) if trainer.history else None,
    }
    if resume is not None:
        metrics["resumed_from_epoch"] = resumed_from
    if test is not None:
        metrics["test_loss"] = float(test["loss"])
        for k, v in test["metrics"].items():
            metrics[f"test_{k}"] = v
    from .data.atomic import atomic_write_text

    atomic_write_text(out_dir / "metrics.json", json.dumps(metrics, indent=2))
    fig_dir = out_dir / "figures"
    figs.loss_curve(trainer.history, fig_dir / "loss.png")
    cond_name = next(iter(data.conditions), None)
    cond = data.conditions[cond_name] if cond_name else None
    show = data.test_idx if len(data.test_idx) else all_idx
    figs.latent_trajectories(
        latents[show][:48],
        fig_dir / "latents.png",
        None if cond is None else cond[show][:48],
        title=f"latents (held-out, coloured by {cond_name})" if cond_name else "latents (held-out)",
    )
    if data.loss == "mse" and test is not None:
        true = data.denormalise(data.r[data.test_idx])
        off = data.target_offset
        L = true.shape[1]
        figs.decoding(
            true[:, off:],
            test["pred"][:, : L - off],
            fig_dir / "decoding.png",
            names=[f"{data.target_name}[{i}]" for i in range(true.shape[-1])],
            r2=metrics.get("test_r2"),
            dt=data.dt,
        )
    return metrics


def _check_resumable(trainer, checkpoint) -> int:
    """The epoch ``checkpoint`` reached, after checking that ``trainer`` (its config and the recording
    it prepared) can continue it: the same model, the same data, and epochs left to train."""
    from .engine.checkpoint import load_checkpoint
    from .engine.runs import data_meta

    ck = load_checkpoint(checkpoint)
    epoch = int(ck.get("epoch", 0))
    fix = "Resume with the recording (and reading options) the run was trained on, or start a new run."
    if ck.get("model_spec") != trainer.model.spec():
        was, now = (ck.get("model_spec") or {}).get("sessions"), trainer.model.spec()["sessions"]
        raise SparksError(
            f"The checkpoint '{checkpoint}' holds a different model than this recording and config "
            f"build (sessions {was} vs {now}).",
            fix,
        )
    saved, now = ck.get("data_meta") or {}, data_meta(trainer.data)
    differ = [k for k in ("target", "loss", "dt", "kind", "example_length") if k in saved and saved[k] != now[k]]
    if differ:
        raise SparksError(
            f"The recording does not match the run in '{Path(checkpoint).parent}': "
            + ", ".join(f"{k} {saved[k]} (run) vs {now[k]} (now)" for k in differ)
            + ".",
            fix,
        )
    if trainer.config.epochs <= epoch:
        raise SparksError(
            f"The run in '{Path(checkpoint).parent}' already reached epoch {epoch} of {trainer.config.epochs}.",
            f"Give --epochs above {epoch} to train it further.",
        )
    return epoch


RESUME_CHANGEABLE = ("epochs", "device", "out_dir", "data_path")
"""Config fields ``--resume`` lets change: the rest must stay as saved for the run to continue exactly."""


def _resume_setup(args) -> tuple[Any, Path, dict[str, Any]]:
    """``(config, checkpoint, recording.json contents)`` for ``--resume RUN_DIR``: the saved config with
    the few changes ``RESUME_CHANGEABLE`` allows (``--epochs``, ``--device``)."""
    import dataclasses

    from .engine.config import SparksConfig

    run = Path(args.resume).expanduser()
    fix = "Give --resume the folder of the interrupted run (its --out), which holds checkpoint.pt and config.json."
    if not run.is_dir():
        raise SparksError(f"--resume '{run}' is not a folder.", fix)
    ckpt = run / "checkpoint.pt"
    if not ckpt.exists():
        raise SparksError(
            f"--resume '{run}' holds no checkpoint.pt (a checkpoint is written after each epoch).",
            "The run stopped before its first epoch ended: start it again without --resume.",
        )
    if args.config:
        raise SparksError(
            "--resume continues a run with its saved config; --config cannot be combined with it.",
            "Drop --config, or start a new run with it.",
        )
    saved = SparksConfig.load(run / "config.json") if (run / "config.json").exists() else None
    if saved is None:
        from .engine.checkpoint import load_checkpoint

        saved = SparksConfig.from_dict(load_checkpoint(ckpt)["config"])
    cfg = _config_from_args(args, saved)
    changed = [
        f.name
        for f in dataclasses.fields(SparksConfig)
        if f.name not in RESUME_CHANGEABLE and getattr(cfg, f.name) != getattr(saved, f.name)
    ]
    if getattr(args, "target", None) is not None and args.target != saved.target:
        changed.append("target")
    if changed:
        raise SparksError(
            f"--resume continues the run with its saved config; {', '.join(changed)} cannot change.",
            "Drop those options (only --epochs and --device may change), or start a new run.",
        )
    source = {}
    if (run / RECORDING_FILE).exists():
        try:
            source = json.loads((run / RECORDING_FILE).read_text())
        except (OSError, ValueError):
            source = {}
    return cfg, ckpt, source


RECORDING_FILE = "recording.json"
"""Written into a ``train`` run's folder: the recording's path and the reading options, for ``--resume``."""


_MEMORY_WORDS = re.compile(r"out of memory|can't allocate|cannot allocate|not enough memory", re.IGNORECASE)


def _failure_fix(message: str, config) -> str | None:
    """The fix for a training failure whose message does not carry one (memory)."""
    if "Fix:" in message:
        return None
    if _MEMORY_WORDS.search(message):
        return (
            f"Lower batch_size (now {config.batch_size}), segment_length (now {config.segment_length}) or "
            f"latent_dim (now {config.latent_dim}), or train on fewer neurons; on a GPU, --device cpu uses "
            "the main memory."
        )
    return None


def _cmd_demo(args) -> int:
    from .data.synthetic import make_reach

    if not args.headless:
        return _cmd_gui(argparse.Namespace(file=None, sample="reach"))
    from .engine.config import SparksConfig

    resume = None
    if args.resume:
        cfg, resume, _ = _resume_setup(args)
        out = check_output_folder(args.out or args.resume, create=False)
    else:
        base = SparksConfig(target="hand_pos", epochs=30, bin_factor=1, latent_dim=3)  # 3-D trajectories to look at
        cfg = _config_from_args(args, base)
        out = check_output_folder(args.out or f"sparks-demo-{time.strftime('%Y%m%d-%H%M%S')}", create=False)
    rec = make_reach(seed=cfg.seed)
    with _resume_hint(out, "sparks-gui demo --headless"):
        metrics = train_and_export(
            cfg, rec, out, task="synthetic_reach/hand_pos", progress=not args.quiet, resume=resume
        )
    print(json.dumps({k: metrics[k] for k in ("task", "test_r2", "train_seconds") if k in metrics}))
    print(f"results written to {out}", file=sys.stderr)
    return 0


def _cmd_train(args) -> int:
    from .data.io import load_recording

    resume, options = None, _loader_options(args)
    if args.resume:
        cfg, resume, source = _resume_setup(args)
        out = check_output_folder(args.out or args.resume, create=False)
        data = args.data or source.get("data_path") or cfg.data_path
        if not data:
            raise SparksError(
                f"The run in '{args.resume}' does not name its recording.",
                f"Give it: sparks-gui train FILE --resume {args.resume}",
            )
        if not options and (not args.data or str(Path(args.data).resolve()) == source.get("data_path")):
            # the run's own reading options
            options = dict(source.get("loader_options") or {})
            if "time_range" in options:
                options["time_range"] = tuple(options["time_range"])
    else:
        if not args.data:
            raise SparksError("No recording given.", "Write sparks-gui train FILE (or --resume RUN_DIR).")
        data = args.data
        out = check_output_folder(args.out or f"sparks-run-{time.strftime('%Y%m%d-%H%M%S')}", create=False)
        cfg = _config_from_args(args)  # a bad config fails before the (possibly long) load
    rec = load_recording(data, **options)
    changes = {"data_path": str(Path(data).resolve())}
    if args.target is not None:
        changes["target"] = args.target
    cfg = cfg.replace(**changes)
    dist = None
    if args.distributed:
        from .engine.distributed import init_from_env
        from .model.sparks import pick_device

        dist = init_from_env(pick_device(cfg.device))
    if dist is None or dist.is_main:
        from .data.atomic import atomic_write_text

        check_output_folder(out)
        source = {"data_path": changes["data_path"], "loader_options": options}
        atomic_write_text(out / RECORDING_FILE, json.dumps(source, indent=2))
    with _resume_hint(out, "sparks-gui train"):
        metrics = train_and_export(
            cfg, rec, out, task=f"{rec.name}/{cfg.target}", progress=not args.quiet, dist=dist, resume=resume
        )
    if dist is not None and not dist.is_main:
        return 0
    summary = {
        k: v
        for k, v in metrics.items()
        if k in ("task", "test_r2", "test_bce", "baseline_bce", "test_accuracy", "train_seconds")
    }
    print(json.dumps(summary))
    print(f"results written to {out}", file=sys.stderr)
    return 0


class _resume_hint:  # noqa: N801 - used as a context manager
    """On Ctrl-C, say how to continue from the checkpoint left in ``out`` (the interrupt goes on)."""

    def __init__(self, out: Path, command: str):
        self.out, self.command = Path(out), command

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is KeyboardInterrupt and (self.out / "checkpoint.pt").exists():
            print(
                f"sparks-gui: the last checkpoint is kept in {self.out / 'checkpoint.pt'}; continue with: "
                f"{self.command} --resume {self.out}",
                file=sys.stderr,
            )
        return False


def _cmd_bench(args) -> int:
    from .tools.bench import run_benchmarks

    for row in run_benchmarks(quick=args.quick, only=args.only):
        print(json.dumps(row), flush=True)
    return 0


def _cmd_validate(args) -> int:
    from dataclasses import replace

    from .tools.validate import run_validation, settings_for

    settings = settings_for("real" if args.real else "quick" if args.quick else "full")
    settings = replace(settings, data_dir=args.data_dir)
    if args.only:
        settings = replace(settings, datasets=tuple(n.strip() for n in args.only.split(",") if n.strip()))
    check_output_folder(args.out)
    report = run_validation(args.out, quick=args.quick, settings=settings)
    missed = [t["target"] for t in report["targets"] if t["passed"] is False]
    print(
        json.dumps({"report": str(Path(args.out) / "report.md"), "targets_missed": missed, "errors": report["errors"]})
    )
    return 1 if report["errors"] else 0


def _cmd_gui(args) -> int:
    try:
        from .gui.app import launch
    except ImportError as exc:
        raise SparksError(
            f"The GUI needs napari and Qt, which are not installed ({exc}).",
            "pip install 'sparks-gui[all]', or use 'sparks-gui demo --headless'.",
        ) from exc
    return launch(getattr(args, "file", None), sample=getattr(args, "sample", None))


def _os_error_message(exc: OSError) -> tuple[str, str]:
    """(problem, fix) for an error of the file system."""
    where = f" '{exc.filename}'" if exc.filename else ""
    problem = f"{exc.strerror or exc}{where}."
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return problem, "Free disk space, or write elsewhere with --out."
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return problem, "Choose a place you may write to (e.g. --out ./sparks-runs/run1) and files you may read."
    if exc.errno == errno.ENOENT:
        return problem, "Check the path."
    return problem, "Check the path, its permissions and the free disk space."


def _error(message: str, exc: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        if getattr(exc, "detail", None):
            print(f"The training failed here:\n{exc.detail}", file=sys.stderr, end="")
    print(f"sparks-gui: error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    from ._threads import use_passive_openmp

    use_passive_openmp()  # before anything imports torch (see sparks_gui/_threads.py)
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    lead = 0
    while lead < len(argv) and argv[lead] == "--debug":  # global options before the command
        lead += 1
    if lead == len(argv) or (argv[lead] not in COMMANDS and not argv[lead].startswith("-")):
        argv = [*argv[:lead], "gui", *argv[lead:]]
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    handlers = {
        "gui": _cmd_gui,
        "demo": _cmd_demo,
        "train": _cmd_train,
        "inspect": _cmd_inspect,
        "bench": _cmd_bench,
        "validate": _cmd_validate,
    }
    try:
        with warnings.catch_warnings():
            from .errors import SparksWarning

            warnings.simplefilter("always", SparksWarning)
            warnings.showwarning = _print_warning
            return handlers[args.command](args)
    except SparksError as exc:
        _error(str(exc), exc, debug)
        return 2
    except KeyboardInterrupt:
        print("sparks-gui: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # the machine's, not ours: a folder, a disk, a permission
        problem, fix = _os_error_message(exc)
        _error(f"{problem} Fix: {fix}", exc, debug)
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback only on request
        if isinstance(exc, MemoryError) or _MEMORY_WORDS.search(str(exc)):  # incl. torch's OutOfMemoryError
            _error(
                f"out of memory ({type(exc).__name__}: {str(exc)[:300]}). Fix: lower batch_size, segment_length "
                "or latent_dim, or train on fewer neurons; on a GPU, --device cpu uses the main memory.",
                exc,
                debug,
            )
            return 2
        hint = "" if debug else " Run again with --debug for the traceback, and please report it."
        _error(f"unexpected {type(exc).__name__}: {exc}.{hint}", exc, debug)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
