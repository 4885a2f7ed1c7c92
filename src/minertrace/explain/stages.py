"""The path score -> weight as named stages: their order, labels and values for one UID."""

from __future__ import annotations

import math
from collections.abc import Mapping

from minertrace.explain.parts import Stage, StageValue
from minertrace.explain.wording import TASK_LABELS
from minertrace.vocabulary import Task
from minertrace.weights.pathways import PATHWAY_LABELS
from minertrace.weights.rules import DEFAULT_RULES, RULES, stage_specs

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


_LAST = ("final", "submitted", "u16")


def _order(rules: str, values: StageValues) -> tuple[tuple[str, str], ...]:
    if rules == DEFAULT_RULES:
        return STAGE_ORDER
    if rules in RULES:
        return tuple((spec.name, spec.label) for spec in stage_specs(rules))
    # A validator's own rules (recorded): its stages by name, then what it set.
    own = sorted(name for name in values if name not in _LAST)
    return tuple((name, name.replace("_", " ")) for name in (*own, *_LAST))


def stages(values: StageValues, rules: str = DEFAULT_RULES) -> tuple[Stage, ...]:
    """The stages present in `values`, in the order of the path of the cycle's `rules`, with
    readable values."""
    flags = {s.name for s in stage_specs(rules) if s.kind == "flag"} if rules in RULES else set()
    out = []
    for name, label in _order(rules, values):
        if name not in values:
            continue
        value = values[name]
        if name == "pathway" and value is not None:
            value = PATHWAY_LABELS.get(int(value), "no record")
        elif name in flags and value is not None:
            value = bool(value)
        out.append(Stage(name, label, value))
    return tuple(out)


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
