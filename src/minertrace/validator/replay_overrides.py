"""`--set FIELD=VALUE` for replay: parse an override of a rules' config by the field's type. Pure.

The fields are those of the config dataclass of the rules that computed the cycle
(`WeightConfig` for Gaia's, `TemplateConfig` for the subnet template's). Values are parsed by
the declared type of the field: `float` (finite), `int`, `bool` (true/false, yes/no, on/off,
1/0), `int | None` ("none" for no limit) and `tuple[str, ...]` (comma-separated). The
overridden config is then validated by the config class itself, so a value its checks reject
is reported with their message.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, cast

from minertrace.weights import WeightConfig

C = TypeVar("C")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}

# Fields a live cycle uses to pick its score rows; replay keeps the stored rows, so these
# change nothing in a replay.
ROW_SELECTION_FIELDS = frozenset(
    {
        "weather_window_days",
        "weather_row_limit",
        "weather_task_id_prefixes",
        "geomagnetic_window_days",
        "geomagnetic_row_limit",
        "soil_window_days",
        "soil_row_limit",
    }
)


class OverrideError(ValueError):
    """An override that names no field or whose value does not parse; the message says which."""


def _fields(config_type: type[Any]) -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(config_type)}


def field_names(config_type: type[Any] = WeightConfig) -> list[str]:
    """Every field of `config_type` (a config dataclass; Gaia's by default), sorted."""
    return sorted(_fields(config_type))


def _parse(name: str, kind: str, raw: str) -> Any:
    value = raw.strip()
    try:
        if kind == "bool":
            low = value.lower()
            if low not in _TRUE | _FALSE:
                raise ValueError("expected true or false")
            return low in _TRUE
        if kind == "int":
            return int(value)
        if kind == "int | None":
            return None if value.lower() in ("none", "null", "") else int(value)
        if kind == "float":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError("expected a finite number")
            return number
        if kind.startswith("tuple"):
            return tuple(p.strip() for p in value.split(",") if p.strip())
    except ValueError as exc:
        reason = str(exc) if "expected" in str(exc) else f"expected {kind}"
        raise OverrideError(f"--set {name}={raw}: {reason}") from None
    raise OverrideError(f"--set {name}: unsupported field type {kind}")


def parse_assignments(
    pairs: Iterable[str], config_type: type[Any] = WeightConfig
) -> dict[str, Any]:
    """`["FIELD=VALUE", ...]` → {field: typed value} for `config_type`; raises `OverrideError`."""
    fields = _fields(config_type)
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise OverrideError(f"--set {pair!r}: expected FIELD=VALUE")
        if name not in fields:
            raise OverrideError(
                f"--set {name}: no such {config_type.__name__} field "
                f"(fields: {', '.join(sorted(fields))})"
            )
        out[name] = _parse(name, fields[name], raw)
    return out


def apply_overrides(config: C, overrides: Mapping[str, Any]) -> C:
    """`config` (a config dataclass) with `overrides` applied and validated; raises
    `OverrideError`."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise OverrideError(f"{type(config).__name__} has no fields to override")
    unknown = sorted(set(overrides) - set(_fields(type(config))))
    if unknown:
        raise OverrideError(f"no such {type(config).__name__} field(s): {', '.join(unknown)}")
    try:
        return cast(C, dataclasses.replace(config, **overrides))
    except (TypeError, ValueError) as exc:
        raise OverrideError(str(exc)) from None


__all__ = [
    "ROW_SELECTION_FIELDS",
    "OverrideError",
    "apply_overrides",
    "field_names",
    "parse_assignments",
]
