"""Type checks of :class:`~sparks_gui.engine.config.SparksConfig` values.

A config read from YAML/JSON, built by a script or filled by the GUI may hold a value of the
wrong type (``epochs: ten``, ``lr: [1]``, ``neurons: 3``).  :func:`check_field_types` turns
that into a :class:`~sparks_gui.errors.SparksError` naming the field, the value and the type
expected, before any range check compares a string with a number.  Lossless conversions are
made instead of refused: ``10.0`` for an integer field, ``1e-3`` for a float field (YAML 1.1
reads ``1e-3`` without a dot as a string), an integer for a float, a tuple or array for a list.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from typing import Any

from ..errors import SparksError
from .config_meta import META_KEY

_HINTS: dict[type, dict[str, Any]] = {}


class _Mismatch(Exception):
    pass


def _type_name(annotation: Any) -> str:
    """``int`` -> "a whole number (int)"; unions and lists spelled out."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        text = " or ".join(names)
        return text + (" or null/none" if type(None) in args else "")
    if annotation is bool:
        return "true or false (bool)"
    if annotation is int:
        return "a whole number (int)"
    if annotation is float:
        return "a number (float)"
    if annotation is str:
        return "text (str)"
    if origin in (list, tuple) or annotation in (list, tuple):
        plural = {int: "whole numbers", float: "numbers", str: "texts", bool: "booleans"}
        return f"a list of {plural.get(args[0], 'values') if args else 'values'} ([0, 1, 2])"
    if origin is dict or annotation is dict:
        return "a mapping (dict)"
    return getattr(annotation, "__name__", str(annotation))


def _example(name: str, annotation: Any, default: Any, auto: bool = False) -> str:
    if auto:  # default 0 = auto: show a real value
        return f"{name}: {10 if annotation is int else 0.5}"
    if default is not dataclasses.MISSING and default is not None and not isinstance(default, (dict, list)):
        return f"{name}: {str(default).lower() if isinstance(default, bool) else default}"
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = options[0] if options else str
        origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return f"{name}: [0, 1, 2]"
    if annotation is dict or origin is dict:
        return f"{name}: {{}}"
    if annotation is str:
        return f'{name}: "some text"'
    return f"{name}: ..."


def _conform(value: Any, annotation: Any) -> Any:
    """``value`` as a value of ``annotation`` (converted when that loses nothing); raises _Mismatch."""
    if annotation is Any:
        return value
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for option in sorted((a for a in args if a is not type(None)), key=lambda a: a is str):
            try:
                return _conform(value, option)
            except _Mismatch:
                continue
        raise _Mismatch
    if annotation is type(None):
        if value is None:
            return None
        raise _Mismatch
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if type(value).__name__ == "bool_":  # numpy bool
            return bool(value)
        if isinstance(value, numbers.Integral) and int(value) in (0, 1):
            return bool(value)
        raise _Mismatch
    if annotation is int:
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            raise _Mismatch
        if isinstance(value, numbers.Integral):
            return int(value)
        number = _number(value)
        if number is not None and math.isfinite(number) and number == int(number):
            return int(number)
        raise _Mismatch
    if annotation is float:
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            raise _Mismatch
        number = _number(value)
        if number is None:
            raise _Mismatch
        return number
    if annotation is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if origin in (list, tuple) or annotation in (list, tuple):
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
            raise _Mismatch
        item = args[0] if args else Any
        return [_conform(v, item) for v in list(value)]
    if origin is dict or annotation is dict:
        if isinstance(value, dict):
            return value
        raise _Mismatch
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    if hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0 and value.dtype.kind in "iuf":
        return float(value)
    return None


def check_field_types(config) -> None:
    """Make every field of the dataclass ``config`` a value of its annotated type, in place.

    Raises :class:`SparksError` naming the field, the value and the expected type for a value
    that cannot be converted without loss (``epochs="ten"``, ``neurons=3``, ``learn_traces="maybe"``).
    """
    cls = type(config)
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    for f in dataclasses.fields(config):
        annotation = hints.get(f.name, Any)
        value = getattr(config, f.name)
        try:
            converted = _conform(value, annotation)
        except _Mismatch:
            default = f.default if f.default is not dataclasses.MISSING else None
            shown = repr(value) if not isinstance(value, str) else f"'{value}'"
            if len(shown) > 60:
                shown = shown[:57] + "..."
            raise SparksError(
                f"Config value {f.name}={shown} has the wrong type: {f.name} takes {_type_name(annotation)}, "
                f"not {type(value).__name__}.",
                f"Write e.g. '{_example(f.name, annotation, default, _is_auto(cls, f.name))}'"
                + (" (or 0 = auto)" if _is_auto(cls, f.name) else "")
                + (" - in YAML, quote text that looks like a number or a boolean" if annotation is str else "")
                + ".",
            ) from None
        if converted is not value:
            setattr(config, f.name, converted)


def _is_auto(cls: type, name: str) -> bool:
    """Whether field ``name`` of ``cls`` takes 0 for "auto" (its :func:`~sparks_gui.engine.config_meta.setting`
    metadata says so)."""
    f = {f.name: f for f in dataclasses.fields(cls)}.get(name)
    return bool(f is not None and f.metadata.get(META_KEY, {}).get("auto"))
