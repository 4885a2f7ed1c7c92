"""The path score -> weight as named stages: their order, labels and values for one UID."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from minertrace.explain.parts import Stage, StageValue
from minertrace.explain.wording import TASK_LABELS
from minertrace.store.explain import StatsRow
from minertrace.vocabulary import Pathway, Task
from minertrace.weights.pathways import PATHWAY_LABELS

StageValues = Mapping[str, StageValue]

_TASK_STAGES = (
    ("score", "score (aggregated)"),
    ("present", "present"),
    ("rank", "percentile rank"),
    ("qualified", "excellence-qualified"),
    ("contribution", "diversity contribution"),
)

STAGE_ORDER: tuple[tuple[str, str], ...] = (
    *(
        (f"{kind}_{task.value}", f"{TASK_LABELS[task]} {label}")
        for task in Task
        for kind, label in _TASK_STAGES
    ),
    ("soil_completeness", "soil completeness factor"),
    ("num_active_tasks", "tasks present"),
    ("excellence", "E (excellence pathway)"),
    ("diversity", "D (diversity pathway, with bonus)"),
    ("multi_task_bonus", "multi-task bonus"),
    ("pathway", "pathway"),
    ("raw_weight", "raw weight max(E, D)"),
    ("coldkey_group_size", "coldkey group size"),
    ("coldkey_multiplier", "coldkey multiplier"),
    ("after_coldkey", "after coldkey smoothing"),
    ("normalized", "normalised (by the max)"),
    ("logistic", "logistic curve"),
    ("transformed", "transformed"),
    ("final", "final weight"),
    ("submitted", "submitted weight"),
    ("u16", "u16 sent to the chain"),
)
_CODE_OF_PATHWAY = {Pathway(label): code for code, label in PATHWAY_LABELS.items()}


def stages(values: StageValues) -> tuple[Stage, ...]:
    """The stages present in `values`, in the order of the path, with readable values."""
    out = []
    for name, label in STAGE_ORDER:
        if name not in values:
            continue
        value = values[name]
        if name == "pathway" and value is not None:
            value = PATHWAY_LABELS.get(int(value), "no record")
        elif name.startswith(("present_", "qualified_")) and value is not None:
            value = bool(value)
        out.append(Stage(name, label, value))
    return tuple(out)


def from_stats(stats: StatsRow) -> dict[str, StageValue]:
    """Stage values recoverable from the stats row when the trace has no stage vectors."""
    details: Mapping[str, Any] = stats.pathway_details or {}
    out: dict[str, StageValue] = {
        "excellence": stats.excellence_weight,
        "diversity": stats.diversity_weight,
        "multi_task_bonus": stats.multi_task_bonus,
        "raw_weight": stats.raw_calculated_weight,
        "pathway": _pathway_code(stats.scoring_pathway),
        "rank_weather": stats.percentile_rank_weather,
        "rank_geomagnetic": stats.percentile_rank_geomagnetic,
        "rank_soil": stats.percentile_rank_soil,
        "contribution_weather": stats.weather_weight_contribution,
        "contribution_geomagnetic": stats.geomagnetic_weight_contribution,
        "contribution_soil": stats.soil_weight_contribution,
        "num_active_tasks": details.get("num_active_tasks"),
    }
    qualified = set(stats.excellence_qualified_tasks or [])
    for task in Task:
        score = details.get(f"{task.value}_score")
        out[f"score_{task.value}"] = score
        out[f"present_{task.value}"] = score is not None
        out[f"qualified_{task.value}"] = task.value in qualified
    return {k: v for k, v in out.items() if v is not None}


def _pathway_code(label: str | None) -> int | None:
    try:
        return _CODE_OF_PATHWAY[Pathway(label)]
    except (ValueError, KeyError):
        return None


def number(value: object) -> float | None:
    """A finite float, or None (booleans count as 0/1, anything else unreadable is None)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, (int, float, str)):
        return None
    try:
        out = float(value)
    except ValueError:
        return None
    return out if math.isfinite(out) else None


def integer(value: object) -> int | None:
    """`number(value)` truncated to an int, or None."""
    out = number(value)
    return None if out is None else int(out)
