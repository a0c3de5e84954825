"""SparksConfig's field metadata is the one source of the CLI options, the GUI form, the validation
and the presets (issue 13, items 6 and 7)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import subprocess
from pathlib import Path

import pytest

from sparks_gui.cli import _config_from_args, build_parser, main
from sparks_gui.engine.config import (
    AUTO_FIELDS,
    GRAD_MODES,
    SparksConfig,
    available_presets,
    config_fields,
    preset_description,
    preset_values,
)
from sparks_gui.engine.config_meta import SECTIONS
from sparks_gui.errors import SparksError

FIELDS = {s.name: s for s in config_fields()}


# ------------------------------------------------------------------ metadata
def test_every_field_has_a_section_help_and_a_type():
    names = [f.name for f in dataclasses.fields(SparksConfig)]
    assert list(FIELDS) == names and len(names) >= 45
    for s in FIELDS.values():
        assert s.section in SECTIONS, s.name
        assert len(s.help.split()) >= 5, s.name
        assert s.kind != "other", s.name
        assert s.default == getattr(SparksConfig(), s.name), s.name
        if s.kind in ("int", "float") and s.default is not None:
            assert s.in_range(s.default), s.name  # every default passes its own range
    assert set(AUTO_FIELDS) == {n for n, s in FIELDS.items() if s.auto} and len(AUTO_FIELDS) == 5
    assert FIELDS["grad_mode"].choices == GRAD_MODES and FIELDS["mtm_schemes"].kind == "list"
    # only the fields set by other means have no option: the data file, the run folder, free-form notes
    assert {n for n, s in FIELDS.items() if not s.cli} == {"data_path", "sample", "out_dir", "extra"}


def _bad_value(s):
    if s.kind == "choice":
        return "bogus"
    if s.kind == "list" and s.choices:
        return ["bogus"]
    if s.min is not None:
        return s.min - 1 if s.kind == "int" or not s.min_open else s.min
    return s.max + 1


RANGED = [s.name for s in config_fields() if s.choices or (s.kind in ("int", "float") and s.range_text())]


@pytest.mark.parametrize("name", RANGED)
def test_a_bad_choice_or_out_of_range_value_is_refused_naming_the_field(name):
    s = FIELDS[name]
    bad = _bad_value(s)
    with pytest.raises(SparksError, match=name) as e:
        SparksConfig(**{name: bad})
    assert e.value.fix  # with a fix
    assert len(RANGED) >= 30


def test_range_bounds_are_exact():
    SparksConfig(mask_ratio=0.99, test_fraction=0.0, lr=1e-9, w_start=1e-9, target_offset=-1)
    for values in (
        {"mask_ratio": 1.0},
        {"mask_ratio": 0.0},
        {"test_fraction": 1.0},
        {"lr": 0.0},
        {"target_offset": -2},
    ):
        with pytest.raises(SparksError, match=next(iter(values))):
            SparksConfig(**values)
    with pytest.raises(SparksError, match="0 = auto"):
        SparksConfig(tau_s=-0.5)


# ------------------------------------------------------------------ CLI
def _option_value(s):
    """A valid, non-default command-line value for the field and what it must parse to."""
    if s.kind == "bool":
        return (["--no-" + s.flag[2:]] if s.default else [s.flag]), (not s.default)
    if s.kind == "choice":
        value = next(c for c in s.choices if c != s.default)
        return [s.flag, value], value
    if s.kind == "list":
        if s.choices:
            return [s.flag, f"{s.choices[0]},{s.choices[-1]}"], [s.choices[0], s.choices[-1]]
        return [s.flag, "3,1,2"], [3, 1, 2]
    if s.kind == "int":
        value = max(int(s.min or 0), 0) + 3
        return [s.flag, str(value)], value
    if s.kind == "float":
        low, high = s.min if s.min is not None else 0.0, s.max if s.max is not None else 1.0
        value = (low + high) / 4 if s.max is not None else 0.375
        return [s.flag, repr(value)], value
    return [s.flag, "cpu" if s.name == "device" else "somename"], ("cpu" if s.name == "device" else "somename")


@pytest.mark.parametrize("command", ["train", "demo"])
def test_every_cli_field_has_an_option_parsed_with_its_type(command):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    flags = set(sub._option_string_actions)
    cli = [s for s in config_fields() if s.cli]
    assert [s.flag for s in cli if s.flag not in flags] == []
    if command == "train":  # the hand-written option keeps its own help; the rest are generated
        assert "target" not in sub.get_default("config_options")
    seen = 0
    for s in cli:
        if s.name in ("target", "objective", "mtm_schemes", "mask_ratio"):
            continue  # checked together below (mtm needs target unsupervised)
        argv, want = _option_value(s)
        extra = ["x.npy"] if command == "train" else ["--headless"]
        cfg = _config_from_args(parser.parse_args([command, *extra, *argv]))
        got = getattr(cfg, s.name)
        assert got == want or (isinstance(want, float) and math.isclose(got, want)), (s.name, got, want)
        assert type(got) is type(want), s.name
        seen += 1
    args = parser.parse_args(
        [command, *(["x.npy"] if command == "train" else ["--headless", "--target", "unsupervised"])]
        + ["--objective", "mtm", "--mtm-schemes", "neuron,causal", "--mask-ratio", "0.25"]
    )
    cfg = _config_from_args(args)
    assert (cfg.objective, cfg.mtm_schemes, cfg.mask_ratio) == ("mtm", ["neuron", "causal"], 0.25)
    assert seen >= 38
    # no option that would be ignored: train reads its FILE, demo the reach sample
    with pytest.raises(SystemExit) as err:
        parser.parse_args([command, *(["x.npy"] if command == "train" else ["--headless"]), "--sample", "sequence"])
    assert err.value.code == 2


def test_old_flags_keep_working_and_auto_is_zero():
    args = build_parser().parse_args(
        [
            "train",
            "x.npy",
            "--epochs",
            "4",
            "--batch-size",
            "8",
            "--lr",
            "0.01",
            "--latent-dim",
            "auto",
            "--grad-mode",
            "truncated",
            "--device",
            "cpu",
            "--seed",
            "3",
            "--encoder",
            "gru",
            "--target",
            "hand",
        ]
    )
    cfg = _config_from_args(args)
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.latent_dim, cfg.grad_mode, cfg.device, cfg.seed, cfg.encoder) == (
        4,
        8,
        0.01,
        0,
        "truncated",
        "cpu",
        3,
        "gru",
    )
    assert args.target == "hand"


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--epochs", "ten"], "--epochs"),
        (["--grad-mode", "sideways"], "--grad-mode"),
        (["--lr", "fast"], "--lr"),
        (["--neurons", "a,b"], "--neurons"),
    ],
)
def test_bad_option_values_are_usage_errors(argv, needle, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["train", "x.npy", *argv])
    assert e.value.code == 2 and needle in capsys.readouterr().err


def test_out_of_range_option_is_refused_by_the_config():
    with pytest.raises(SparksError, match="mask_ratio"):
        _config_from_args(build_parser().parse_args(["train", "x.npy", "--mask-ratio", "1.5"]))


# ------------------------------------------------------------------ presets
def test_presets_are_bundled_documented_and_valid():
    names = available_presets()
    assert {"sequence_discovery", "behaviour_decoding", "calcium_imaging"} <= set(names)
    fields = {f.name for f in dataclasses.fields(SparksConfig)}
    for name in names:
        values = preset_values(name)
        assert values and set(values) <= fields, name
        cfg = SparksConfig.from_preset(name)
        assert all(getattr(cfg, k) == v for k, v in values.items()), name
        assert len(preset_description(name).split()) >= 15, name  # a comment saying when to use it
    assert SparksConfig.from_preset("Sequence discovery") == SparksConfig.from_preset("sequence_discovery")
    assert SparksConfig.from_preset("sequence_discovery").target == "unsupervised"
    with pytest.raises(SparksError, match="calcium_imaging"):
        SparksConfig.from_preset("calcium")


def test_preset_files_are_package_data():
    root = Path(__file__).resolve().parents[1]
    pyproject = (root / "pyproject.toml").read_text()
    assert '"resources/presets/*.yaml"' in pyproject
    tracked = subprocess.run(
        ["git", "ls-files", "sparks_gui/resources/presets"], cwd=root, capture_output=True, text=True
    ).stdout.split()
    if tracked:  # in a git checkout: every preset is committed
        assert sorted(Path(p).stem for p in tracked if p.endswith(".yaml")) == available_presets()


def test_preset_option_is_overridden_by_config_options_and_set(tmp_path):
    parse = build_parser().parse_args
    cfg = _config_from_args(parse(["train", "x.npy", "--preset", "calcium_imaging"]))
    assert (cfg.loss, cfg.tau_s, cfg.tau_p) == ("mse", 1.0, 15)
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"tau_p": 12, "lr": 0.01}))
    cfg = _config_from_args(
        parse(["train", "x.npy", "--preset", "calcium_imaging", "--config", str(config), "--tau-s", "0.7"])
    )
    assert (cfg.loss, cfg.tau_p, cfg.lr, cfg.tau_s) == ("mse", 12, 0.01, 0.7)  # preset < config < options
    cfg = _config_from_args(
        parse(["train", "x.npy", "--preset", "calcium_imaging", "--tau-p", "5", "--set", "tau_p=7"])
    )
    assert cfg.tau_p == 7  # --set last
    demo = _config_from_args(parse(["demo", "--headless", "--preset", "sequence discovery"]))
    assert demo.target == "unsupervised" and demo.latent_dim == 3


def test_preset_reaches_the_saved_config_of_a_run(tmp_path):
    """``sparks-gui train FILE --preset ...`` trains with the preset: its saved config.json says so."""
    import numpy as np

    rng = np.random.default_rng(0)
    data = tmp_path / "rec.npz"
    np.savez(data, spikes=(rng.random((12, 600)) < 0.1).astype(np.uint8), dt=0.01)
    out = tmp_path / "run"
    argv = ["train", str(data), "--preset", "sequence_discovery", "--out", str(out), "--epochs", "1"]
    argv += ["--embed-dim", "4", "--segment-length", "50", "--quiet", "--device", "cpu"]
    assert main(argv) == 0
    saved = json.loads((out / "config.json").read_text())
    for key, value in preset_values("sequence_discovery").items():
        assert saved[key] == value, key
    assert saved["epochs"] == 1 and saved["embed_dim"] == 4


def test_argparse_types_name_the_field_kind():
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices["train"]
    action = sub._option_string_actions["--epochs"]
    assert action.type.__name__ == "int" and action.default is None
    assert isinstance(sub._option_string_actions["--token-ff"], argparse.BooleanOptionalAction)
