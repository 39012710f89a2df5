"""Settings: each threshold declared once, on its dataclass field, with its bounds and help.

``MatchOptions``, ``DedupOptions`` and ``Policy`` declare their fields with ``setting(...)``;
the command line builds its options from them (``click_option``), the TOML policy is read
into them (``from_table``), and both are checked by the same ``validate``: one default and
one set of bounds, wherever a value comes from. A setting may say which value switches a
detection off (``off=``), so a policy that does so can be reported (``disabled``).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .errors import PolicyError

T = TypeVar("T")


def setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] | None = None,
    off: Any = dataclasses.MISSING,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    """A dataclass field with its documentation and bounds. ``off`` says when the setting switches a
    detection off: the value that does, or a predicate of the value."""
    metadata = {"help": help, "min": minimum, "max": maximum, "choices": choices}
    if off is not dataclasses.MISSING:
        metadata["off"] = off
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _fields(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if "help" in f.metadata}


def _type_of(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def _describe(kind: Any) -> str:
    return {int: "a whole number", float: "a number", bool: "true or false", str: "a string"}.get(
        kind, "a list of strings" if typing.get_origin(kind) is list else str(kind)
    )


def check_value(cls: type, name: str, value: Any, where: str = "") -> Any:
    """``value`` for setting ``name`` of ``cls`` if it has the right type and lies within the bounds;
    ``PolicyError`` naming ``where`` and the setting otherwise."""
    field = _fields(cls)[name]
    kind = _type_of(cls, name)
    label = f"{where}: {name}" if where else name
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind is str:
        ok = isinstance(value, str)
    elif typing.get_origin(kind) is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    else:  # pragma: no cover - a setting of a type this module does not know
        raise TypeError(f"setting {name} has an unsupported type {kind}")
    if not ok:
        raise PolicyError(f"{label} must be {_describe(kind)}, not {value!r}")
    low, high, choices = field.metadata["min"], field.metadata["max"], field.metadata["choices"]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if (low is not None and value < low) or (high is not None and value > high):
            raise PolicyError(f"{label} must be between {_number(low)} and {_number(high)}, not {value!r}")
    if choices is not None:
        values = value if isinstance(value, list) else [value]
        unknown = [v for v in values if v not in choices]
        if unknown:
            raise PolicyError(f"{label}: unknown value {', '.join(map(str, unknown))} (known: {', '.join(choices)})")
    return value


def _number(value: float | None) -> str:
    if value is None:
        return "no limit"
    return str(int(value)) if float(value).is_integer() else str(value)


def validate(obj: T, where: str = "") -> T:
    """Check every setting of ``obj`` (a settings dataclass) and of the settings dataclasses it holds."""
    settings = _fields(type(obj))
    for field in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, field.name)
        if dataclasses.is_dataclass(value):
            validate(value, f"{where} [{field.name}]" if where else f"[{field.name}]")
        elif field.name in settings:
            check_value(type(obj), field.name, value, where)
    return obj


def from_table(
    cls: type[T],
    table: Mapping[str, Any],
    where: str,
    *,
    nested: Mapping[str, type] | None = None,
    moved: Mapping[str, str] | None = None,
) -> T:
    """An instance of ``cls`` from a TOML table: unknown keys refused (a typo cannot weaken a policy),
    ``nested`` names the sub-tables holding other settings dataclasses, ``moved`` maps old keys to
    where they live now (refused with that message)."""
    known = _fields(cls)
    values: dict[str, Any] = {}
    for key, value in table.items():
        if moved and key in moved:
            raise PolicyError(f"{where}: {key!r} has moved: {moved[key]}")
        if nested and key in nested:
            if not isinstance(value, dict):
                raise PolicyError(f"{where}: [{key}] must be a table")
            values[key] = from_table(nested[key], value, f"{where} [{key}]")
            continue
        if key not in known:
            names = [*known, *(f"[{n}]" for n in nested or {})]
            raise PolicyError(f"{where}: unknown setting {key!r}; known: {', '.join(names)}")
        values[key] = check_value(cls, key, value, where)
    return cls(**values)


def disabled(obj: Any, prefix: str = "") -> list[str]:
    """The settings of ``obj`` (and those it holds) set to the value that switches a detection off."""
    found = []
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if dataclasses.is_dataclass(value):
            found.extend(disabled(value, f"{prefix}[{field.name}] "))
        elif "off" in field.metadata and _is_off(field.metadata["off"], value):
            found.append(f"{prefix}{field.name} = {_toml(value)}: {field.metadata['help']}")
    return found


def _is_off(off: Any, value: Any) -> bool:
    return bool(off(value)) if callable(off) else bool(value == off)


def _toml(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else repr(value)


def default_of(cls: type, name: str) -> Any:
    """The default of setting ``name`` of ``cls``."""
    field = _fields(cls)[name]
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default


def click_option(cls: type, name: str, *flags: str, **overrides: Any) -> Callable[[Callable], Callable]:
    """A click option for setting ``name`` of ``cls``: its default, bounds and help from the field."""
    import click

    field = _fields(cls)[name]
    kind = _type_of(cls, name)
    low, high = field.metadata["min"], field.metadata["max"]
    options: dict[str, Any] = {"default": default_of(cls, name), "show_default": True, "help": field.metadata["help"]}
    if kind is int:
        options["type"] = click.IntRange(None if low is None else int(low), None if high is None else int(high))
    elif kind is float:
        options["type"] = click.FloatRange(low, high)
    options.update(overrides)
    return click.option(*flags, name, **options)
