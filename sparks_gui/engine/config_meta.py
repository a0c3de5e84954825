"""What each :class:`~sparks_gui.engine.config.SparksConfig` field is, as data: one source for
the CLI options, the GUI form, the validation and the docs.

Every field is declared with :func:`setting`, which keeps its section, help text, choices,
range, form label and whether the form and the command line show it in the dataclass field's
``metadata``.  :func:`describe` turns a dataclass into :class:`Setting` descriptors (name,
resolved type, default and that metadata); :func:`check_settings` refuses a value outside its
choices or range with a :class:`~sparks_gui.errors.SparksError` naming the field.

No Qt, no torch: the GUI form (``gui/_config_form.py``) and the CLI (``cli.py``) read these.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import MISSING
from typing import Any

from ..errors import SparksError

META_KEY = "sparks"
"""Key of the :class:`Setting` metadata in each dataclass field's ``metadata``."""

SECTIONS = ("Data", "Model", "Training", "Reporting")
"""Sections of the config, in the order the form and ``--help`` show them."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One config field: its name, type and default, and what the CLI, form and checks need to know."""

    name: str
    section: str
    help: str
    type: Any = None
    """The resolved annotation (``int``, ``float``, ``str | None``, ``list[str]`` ...)."""
    default: Any = None
    """The default value (the result of the default factory for list/dict fields)."""
    choices: tuple[str, ...] | None = None
    """Allowed values (for a list field: allowed items)."""
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    """True: the value must be greater than ``min`` (not equal)."""
    max_open: bool = False
    """True: the value must be less than ``max`` (not equal)."""
    auto: bool = False
    """0 means "auto": chosen from the recording by ``SparksConfig.for_recording``."""
    label: str | None = None
    """Label in the GUI form (default: the name with spaces)."""
    form: bool = True
    """Shown in the Training dock's form (data/target fields live in the Data dock)."""
    cli: bool = True
    """Given a ``--<name>`` option on ``train`` and ``demo`` (all fields can be set with ``--set``)."""

    # ------------------------------------------------------------------ derived
    @property
    def flag(self) -> str:
        """The command-line option: ``--batch-size`` for ``batch_size``."""
        return "--" + self.name.replace("_", "-")

    @property
    def kind(self) -> str:
        """``bool``, ``int``, ``float``, ``choice``, ``list``, ``str``, ``dict`` or ``other`` (widget/option type)."""
        base = self.base_type
        if self.choices is not None:
            return "list" if _is_list(base) else "choice"
        if base is bool:
            return "bool"
        if base is int:
            return "int"
        if base is float:
            return "float"
        if _is_list(base):
            return "list"
        if base is str:
            return "str"
        if base is dict or typing.get_origin(base) is dict:
            return "dict"
        return "other"

    @property
    def base_type(self) -> Any:
        """The annotation without ``| None``."""
        origin, args = typing.get_origin(self.type), typing.get_args(self.type)
        if origin in (typing.Union, types.UnionType):
            rest = [a for a in args if a is not type(None)]
            return rest[0] if len(rest) == 1 else self.type
        return self.type

    @property
    def optional(self) -> bool:
        """None is a valid value."""
        return type(None) in typing.get_args(self.type)

    @property
    def display_label(self) -> str:
        return self.label or self.name.replace("_", " ")

    def range_text(self) -> str:
        """The allowed range in words ("at least 1", "in (0, 1)", "> 0"), or "" when there is none."""
        if self.min is not None and self.max is not None:
            return (
                f"in {'(' if self.min_open else '['}{_num(self.min)}, {_num(self.max)}{')' if self.max_open else ']'}"
            )
        if self.min is not None:
            return f"{'>' if self.min_open else '>='} {_num(self.min)}"
        if self.max is not None:
            return f"{'<' if self.max_open else '<='} {_num(self.max)}"
        return ""

    def in_range(self, value: float) -> bool:
        if self.auto and value == 0:
            return True
        if self.min is not None and (value <= self.min if self.min_open else value < self.min):
            return False
        return not (self.max is not None and (value >= self.max if self.max_open else value > self.max))


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (list, tuple) or annotation in (list, tuple)


def setting(
    default: Any = MISSING,
    *,
    section: str,
    help: str,
    default_factory: Any = MISSING,
    choices: tuple[str, ...] | None = None,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    auto: bool = False,
    label: str | None = None,
    form: bool = True,
    cli: bool = True,
) -> Any:
    """A dataclass field carrying its :class:`Setting` metadata (everything but name, type and default)."""
    if auto and min is None:
        min = 0  # 0 = auto, else positive
    if section not in SECTIONS:
        raise ValueError(f"section {section!r} is not one of {SECTIONS}")
    meta = {
        "section": section,
        "help": " ".join(help.split()),
        "choices": tuple(choices) if choices is not None else None,
        "min": min,
        "max": max,
        "min_open": min_open,
        "max_open": max_open,
        "auto": auto,
        "label": label,
        "form": form,
        "cli": cli,
    }
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata={META_KEY: meta})
    return dataclasses.field(default=default, metadata={META_KEY: meta})


def describe(cls: type) -> tuple[Setting, ...]:
    """The :class:`Setting` of every field of the dataclass ``cls``, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(META_KEY)
        if meta is None:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with setting(): it has no section or help")
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        out.append(Setting(name=f.name, type=hints[f.name], default=default, **meta))
    return tuple(out)


def check_settings(config: Any, settings: tuple[Setting, ...]) -> None:
    """Refuse a value outside its field's choices or range (SparksError naming the field, the value and the fix).

    Run after the type check, so numbers are numbers and lists are lists."""
    for s in settings:
        value = getattr(config, s.name)
        if value is None:
            continue
        if s.choices is not None:
            if s.kind == "list":
                bad = [v for v in value if v not in s.choices]
                if bad or not value:
                    raise SparksError(
                        f"{s.name} {list(value)} holds unknown or no values ({', '.join(map(str, bad)) or 'none'}).",
                        f"Use some of {list(s.choices)}.",
                    )
            elif value not in s.choices:
                raise SparksError(f"{s.name} '{value}' is unknown.", f"Use one of {s.choices}.")
        if s.kind in ("int", "float") and not s.in_range(value):
            if s.auto:
                raise SparksError(
                    f"{s.name}={value} must be positive (or 0 = auto).",
                    f"Set {s.name} to a positive value, or 0 to choose it from the recording.",
                )
            if s.min is not None and s.max is None and not s.min_open:
                problem = f"{s.name}={value} must be at least {_num(s.min)}."
            else:
                problem = f"{s.name}={value} must be {s.range_text()}."
            example = "" if s.default is None or not s.in_range(s.default) else f" (default {s.default})"
            raise SparksError(problem, f"Set {s.name} to a value {s.range_text()}{example}.")
