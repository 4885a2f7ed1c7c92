"""`--set FIELD=VALUE` for replay: parse a WeightConfig override by the field's type. Pure.

Values are parsed by the declared type of the field: `float` (finite), `int`, `bool`
(true/false, yes/no, on/off, 1/0), `int | None` ("none" for no limit) and `tuple[str, ...]`
(comma-separated). The overridden config is then validated by `WeightConfig` itself, so a
value its checks reject is reported with their message.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

from minertrace.weights import WeightConfig

_FIELDS = {f.name: str(f.type) for f in dataclasses.fields(WeightConfig)}
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


def field_names() -> list[str]:
    """Every WeightConfig field, sorted."""
    return sorted(_FIELDS)


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


def parse_assignments(pairs: Iterable[str]) -> dict[str, Any]:
    """`["FIELD=VALUE", ...]` → {field: typed value}; raises `OverrideError`."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise OverrideError(f"--set {pair!r}: expected FIELD=VALUE")
        if name not in _FIELDS:
            raise OverrideError(
                f"--set {name}: no such WeightConfig field (fields: {', '.join(field_names())})"
            )
        out[name] = _parse(name, _FIELDS[name], raw)
    return out


def apply_overrides(config: WeightConfig, overrides: Mapping[str, Any]) -> WeightConfig:
    """`config` with `overrides` applied and validated; raises `OverrideError`."""
    unknown = sorted(set(overrides) - set(_FIELDS))
    if unknown:
        raise OverrideError(f"no such WeightConfig field(s): {', '.join(unknown)}")
    try:
        return dataclasses.replace(config, **overrides)
    except (TypeError, ValueError) as exc:
        raise OverrideError(str(exc)) from None


__all__ = [
    "ROW_SELECTION_FIELDS",
    "OverrideError",
    "apply_overrides",
    "field_names",
    "parse_assignments",
]
