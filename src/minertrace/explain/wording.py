"""The words of an explanation: task labels, query windows, and numbers written for people.

Every number comes from the cycle's `WeightConfig`, so a validator running other constants
reads its own.
"""

from __future__ import annotations

from minertrace.vocabulary import Task
from minertrace.weights.config import WeightConfig

TASK_LABELS: dict[Task, str] = {
    Task.WEATHER: "weather",
    Task.GEOMAGNETIC: "geomagnetic",
    Task.SOIL: "soil moisture",
}

NO_WEIGHTS_REASONS: dict[str, str] = {
    "all_zero": "every miner's weight was 0 after coldkey smoothing (no usable scores in the "
    "task windows)",
    "zero_max": "the largest weight was 0",
    "no_positive": "no miner had a positive weight",
    "zero_sum": "the transformed weights summed to 0",
}


def span(days: float) -> str:
    """A window length: hours below two days (`24 h`), days from there (`15 days`)."""
    hours = days * 24
    if hours < 48:
        return f"{hours:g} h"
    return f"{days:g} days"


def ordinal(value: float) -> str:
    """`80` -> `80th`, `1` -> `1st`, `82.5` -> `82.5th`."""
    if value != int(value):
        return f"{value:g}th"
    n = int(value)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def task_window(task: Task, cfg: WeightConfig) -> str:
    """The rows of `task` a cycle reads, as `cfg` sets them."""
    if task is Task.WEATHER:
        return (
            f"the newest weather row of the last {span(cfg.weather_window_days)} (final rows first)"
        )
    if task is Task.GEOMAGNETIC:
        return f"the geomagnetic rows of the last {span(cfg.geomagnetic_window_days)}"
    return f"the soil moisture rows of the last {span(cfg.soil_window_days)}"


def no_task_message(cfg: WeightConfig) -> str:
    """Why a miner with no present task has no weight, window by window."""
    parts = [f"{TASK_LABELS[task]} in {task_window(task, cfg)}" for task in Task]
    return "it has no present task: no non-zero score in " + ", nor ".join(parts)


def named(key: str | None) -> str:
    """` KEY` when there is a key, else nothing (to follow a noun)."""
    return f" {key}" if key else ""
