"""`WeightConfig`: every constant of the weight rules (spec weights.md), with its default."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from minertrace.vocabulary import Task

# The engine's per-task arrays are in this order.
TASKS: tuple[str, str, str] = (Task.WEATHER.value, Task.GEOMAGNETIC.value, Task.SOIL.value)


@dataclass(frozen=True)
class WeightConfig:
    """Constants of one weight calculation. Defaults are the Gaia validator's values.

    Field names follow the spec's sections; ``to_dict``/``from_dict`` round-trip through JSON.
    """

    # §5.2 task weights, visited in the order weather, geomagnetic, soil.
    weather_weight: float = 0.70
    geomagnetic_weight: float = 0.15
    soil_weight: float = 0.15
    # §4.2 a task needs this many valid scores for real percentile ranks (else every rank is 50).
    min_valid_for_ranks: int = 5
    # §5.3 a task needs this many valid scores before anyone can qualify for excellence.
    min_valid_for_excellence: int = 10
    # §5.3 excellence threshold: the linear percentile of the valid scores (inclusive).
    excellence_percentile: float = 85.0
    # §4.5 diversity multiplier low + (high - low) * sigmoid(steepness * (rank - center)).
    diversity_low: float = 0.3
    diversity_high: float = 1.2
    diversity_steepness: float = 0.08
    diversity_center: float = 35.0
    # §5.4 multi-task bonus: base + n_present_tasks * step.
    multi_task_base: float = 0.7
    multi_task_step: float = 0.15
    # §4.3 geomagnetic sigmoid: k = clamp(numerator / max(sd, sd_floor), k_min, k_max).
    geo_k_numerator: float = 20.0
    geo_sd_floor: float = 0.01
    geo_k_min: float = 10.0
    geo_k_max: float = 30.0
    geo_default_x0: float = 0.90
    geo_default_k: float = 15.0
    # §3.3 soil decay half-life and the completeness factor (ratio / threshold) ** exponent.
    soil_half_life_days: float = 1.0
    soil_completeness_threshold: float = 0.30
    soil_completeness_exponent: float = 0.5
    # §7 coldkey smoothing: groups of size >= lower are scaled down linearly, >= upper zeroed.
    coldkey_smoothing: bool = True
    coldkey_lower: int = 3
    coldkey_upper: int = 10
    coldkey_slope: float = 0.8
    # §8.6 generalised logistic a + (k - a) / (1 + Q e^{-b (x - M)})^{1/v} + slope x.
    curve_b: float = 70.0
    curve_q: float = 8.0
    curve_v: float = 0.3
    curve_k: float = 0.98
    curve_a: float = 0.0
    curve_slope: float = 0.01
    curve_midpoint_percentile: float = 80.0
    # §8.7 uniformity check (population std below this) and the 1/rank^exponent fallback.
    uniformity_threshold: float = 0.01
    fallback_exponent: float = 1.2
    # §1.4 the caller's query windows and row limits (the engine itself filters nothing).
    weather_window_days: float = 15.0
    weather_row_limit: int | None = 100
    weather_task_id_prefixes: tuple[str, ...] = ("final_weather_scores", "initial_weather_scores")
    geomagnetic_window_days: float = 1.0
    geomagnetic_row_limit: int | None = None
    soil_window_days: float = 1.0
    soil_row_limit: int | None = 200
    # Build the per-miner records (plan fields). Off: same weights, no records.
    enable_detailed_pathways: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("bool",):
                _check(isinstance(value, bool), f.name, "must be a bool")
            elif f.type == "int":
                _check(_is_int(value), f.name, "must be an integer")
            elif f.type == "int | None":
                _check(value is None or _is_int(value), f.name, "must be an integer or None")
                _check(value is None or value > 0, f.name, "must be > 0 or None")
            elif f.type == "float":
                _check(_is_number(value), f.name, "must be a finite number")
        for name in ("weather_weight", "geomagnetic_weight", "soil_weight"):
            _check(getattr(self, name) >= 0, name, "must be >= 0")
        _check(
            self.weather_weight + self.geomagnetic_weight + self.soil_weight > 0,
            "weather_weight",
            "the three task weights must not all be 0",
        )
        _check(self.min_valid_for_ranks >= 1, "min_valid_for_ranks", "must be >= 1")
        _check(self.min_valid_for_excellence >= 1, "min_valid_for_excellence", "must be >= 1")
        for name in ("excellence_percentile", "curve_midpoint_percentile"):
            _check(0 <= getattr(self, name) <= 100, name, "must lie in [0, 100]")
        _check(self.diversity_high >= self.diversity_low, "diversity_high", "must be >= low")
        _check(self.geo_sd_floor > 0, "geo_sd_floor", "must be > 0")
        _check(self.geo_k_max >= self.geo_k_min, "geo_k_max", "must be >= geo_k_min")
        _check(self.soil_half_life_days > 0, "soil_half_life_days", "must be > 0")
        _check(
            0 < self.soil_completeness_threshold <= 1,
            "soil_completeness_threshold",
            "must lie in (0, 1]",
        )
        _check(self.coldkey_lower >= 1, "coldkey_lower", "must be >= 1")
        _check(self.coldkey_upper > self.coldkey_lower, "coldkey_upper", "must be > lower")
        _check(self.curve_v > 0, "curve_v", "must be > 0")
        _check(self.curve_q >= 0, "curve_q", "must be >= 0")
        _check(self.uniformity_threshold >= 0, "uniformity_threshold", "must be >= 0")
        _check(self.fallback_exponent >= 0, "fallback_exponent", "must be >= 0")
        for name in ("weather_window_days", "geomagnetic_window_days", "soil_window_days"):
            _check(getattr(self, name) > 0, name, "must be > 0")
        prefixes = self.weather_task_id_prefixes
        _check(
            isinstance(prefixes, tuple)
            and len(prefixes) > 0
            and all(isinstance(p, str) and p for p in prefixes),
            "weather_task_id_prefixes",
            "must be a non-empty tuple of non-empty strings",
        )

    def task_weights(self) -> tuple[float, float, float]:
        """The task weights in task order (weather, geomagnetic, soil)."""
        return (self.weather_weight, self.geomagnetic_weight, self.soil_weight)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of every field."""
        # Every field is a scalar but the prefixes, so no deep copy (asdict) is needed.
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["weather_task_id_prefixes"] = list(self.weather_task_id_prefixes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WeightConfig:
        """Rebuild a config from :meth:`to_dict` output; unknown keys are rejected."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"WeightConfig: unknown field(s) {', '.join(unknown)}")
        values = dict(data)
        if "weather_task_id_prefixes" in values and isinstance(
            values["weather_task_id_prefixes"], list
        ):
            values["weather_task_id_prefixes"] = tuple(values["weather_task_id_prefixes"])
        return cls(**values)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _check(ok: bool, name: str, message: str) -> None:
    if not ok:
        raise ValueError(f"WeightConfig.{name} {message}")
