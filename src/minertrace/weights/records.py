"""Per-miner records: the plan's per-UID view of a cycle, built from the trace's vectors.

The arithmetic is done on whole vectors by the stages; this module only materialises one
Python object per miner, so it is the one place that iterates over miners. The trace builds
the records on first access (see :attr:`CycleTrace.miners`), which keeps them out of the
weight computation and the submission path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minertrace.weights.config import TASKS
from minertrace.weights.jsonsafe import finite_or_null
from minertrace.weights.pathways import PATHWAY_LABELS, TaskStage

F64 = NDArray[np.float64]


@dataclass(slots=True)
class MinerRecord:
    """One miner's view of the cycle: the plan's fields plus ``final_weight`` and ``u16``.

    ``final_weight``, ``submitted_weight`` and ``u16`` are None when no weights were produced
    (D2); ``percentile_rank_*`` is None for an absent task.
    """

    raw_calculated_weight: float
    excellence_weight: float
    diversity_weight: float
    scoring_pathway: str
    pathway_details: dict[str, Any]
    weather_weight_contribution: float
    geomagnetic_weight_contribution: float
    soil_weight_contribution: float
    multi_task_bonus: float
    percentile_rank_weather: float | None
    percentile_rank_geomagnetic: float | None
    percentile_rank_soil: float | None
    excellence_qualified_tasks: list[str]
    submitted_weight: float | None
    final_weight: float | None
    u16: int | None

    def to_dict(self) -> dict[str, Any]:
        """Every field as a JSON-safe dict (non-finite floats as None)."""
        out: dict[str, Any] = finite_or_null({f.name: getattr(self, f.name) for f in fields(self)})
        return out

    def conformance_dict(self) -> dict[str, Any]:
        """Exactly the record keys of the conformance format (`minertrace-weights/1`)."""
        return {
            "raw_calculated_weight": self.raw_calculated_weight,
            "excellence_weight": self.excellence_weight,
            "diversity_weight": self.diversity_weight,
            "scoring_pathway": self.scoring_pathway,
            "pathway_details": self.pathway_details,
            "weather_weight_contribution": self.weather_weight_contribution,
            "geomagnetic_weight_contribution": self.geomagnetic_weight_contribution,
            "soil_weight_contribution": self.soil_weight_contribution,
            "multi_task_bonus": self.multi_task_bonus,
            "final_weight": self.final_weight,
            "submitted_weight": self.submitted_weight,
        }


@dataclass(frozen=True)
class RecordColumns:
    """The records' values as Python lists, one entry per miner (UIDs with a present task,
    ascending): everything the per-miner loops assemble, converted column by column."""

    uids: list[int]
    raw: list[float]
    excellence: list[float]
    diversity: list[float]
    labels: list[str]
    bonus: list[float]
    active: list[int]
    here: list[tuple[str, ...]]
    """The tasks each miner takes part in (tuples shared between miners)."""
    qualified: list[tuple[str, ...]]
    scores: list[list[float | None]]
    """Per task (TASKS order): the aggregated score, None where the task is absent."""
    ranks: list[list[float | None]]
    contribs: list[list[float]]
    final: list[float | None]
    submitted: list[float | None]
    u16: list[int | None]


def record_columns(
    tasks: Mapping[str, TaskStage],
    has_record: NDArray[np.bool_],
    raw: F64,
    excellence: F64,
    diversity: F64,
    multi_task_bonus: F64,
    num_active_tasks: NDArray[np.int64],
    pathway: NDArray[np.int8],
    final: F64 | None,
    submitted: F64 | None,
    u16: NDArray[np.int64] | None,
) -> RecordColumns:
    """The trace's vectors at the UIDs with a present task, as lists (see `RecordColumns`)."""
    uids = np.flatnonzero(has_record)
    count = int(uids.size)
    stages = [tasks[t] for t in TASKS]
    # Absent tasks become None column-wise, so the loops only assemble objects.
    present = [s.present[uids] for s in stages]
    here_code = _bits(present)
    qual_code = _bits([s.qualified[uids] & p for s, p in zip(stages, present, strict=True)])
    task_sets = [tuple(t for k, t in enumerate(TASKS) if code >> k & 1) for code in range(8)]
    none: list[Any] = [None] * count
    return RecordColumns(
        uids=uids.tolist(),
        raw=raw[uids].tolist(),
        excellence=excellence[uids].tolist(),
        diversity=diversity[uids].tolist(),
        labels=[PATHWAY_LABELS[c] for c in pathway[uids].tolist()],
        bonus=multi_task_bonus[uids].tolist(),
        active=num_active_tasks[uids].tolist(),
        here=[task_sets[c] for c in here_code.tolist()],
        qualified=[task_sets[c] for c in qual_code.tolist()],
        scores=[_where_present(s.score[uids], p) for s, p in zip(stages, present, strict=True)],
        ranks=[_where_present(s.rank[uids], p) for s, p in zip(stages, present, strict=True)],
        contribs=[s.contribution[uids].tolist() for s in stages],
        final=final[uids].tolist() if final is not None else none,
        submitted=submitted[uids].tolist() if submitted is not None else none,
        u16=u16[uids].tolist() if u16 is not None else none,
    )


def _rows(c: RecordColumns) -> Any:
    return zip(
        c.uids,
        c.raw,
        c.excellence,
        c.diversity,
        c.labels,
        c.bonus,
        c.active,
        c.here,
        c.qualified,
        *c.scores,
        *c.ranks,
        *c.contribs,
        c.final,
        c.submitted,
        c.u16,
        strict=True,
    )


def build_records(columns: RecordColumns) -> dict[int, MinerRecord]:
    """One record per UID with a present task, keyed by UID in ascending order."""
    out: dict[int, MinerRecord] = {}
    for row in _rows(columns):
        (uid, raw_w, exc, div, label, bonus, active, tasks_here, q_tasks) = row[:9]
        s_w, s_g, s_s, r_w, r_g, r_s, c_w, c_g, c_s, fin_w, sub_w, u16_v = row[9:]
        rank_of = {"weather": r_w, "geomagnetic": r_g, "soil": r_s}
        contrib_of = {"weather": c_w, "geomagnetic": c_g, "soil": c_s}
        q_list = list(q_tasks)
        details = {
            "weather_score": s_w,
            "geomagnetic_score": s_g,
            "soil_score": s_s,
            "percentile_ranks": {t: rank_of[t] for t in tasks_here},
            "excellence_qualified_tasks": q_list,
            "diversity_contributions": {t: contrib_of[t] for t in tasks_here},
            "multi_task_bonus": bonus,
            "num_active_tasks": active,
        }
        out[uid] = MinerRecord(
            raw_w,
            exc,
            div,
            label,
            details,
            c_w,
            c_g,
            c_s,
            bonus,
            r_w,
            r_g,
            r_s,
            list(q_list),
            sub_w,
            fin_w,
            u16_v,
        )
    return out


# Each set of tasks (a tuple of names in TASKS order) with the index of each name in TASKS.
_PICKS = {
    tuple(t for k, t in enumerate(TASKS) if code >> k & 1): tuple(
        (t, k) for k, t in enumerate(TASKS) if code >> k & 1
    )
    for code in range(8)
}


def conformance_records(columns: RecordColumns) -> dict[str, dict[str, Any]]:
    """`MinerRecord.conformance_dict()` of every record, keyed by UID as text, built straight
    from the columns (no record objects): what `CycleTrace.to_json_dict` writes."""
    out: dict[str, dict[str, Any]] = {}
    for row in _rows(columns):
        (uid, raw_w, exc, div, label, bonus, active, tasks_here, q_tasks) = row[:9]
        s_w, s_g, s_s, r_w, r_g, r_s, c_w, c_g, c_s, fin_w, sub_w, _ = row[9:]
        ranks, contribs = (r_w, r_g, r_s), (c_w, c_g, c_s)
        picks = _PICKS[tasks_here]
        out[str(uid)] = {
            "raw_calculated_weight": raw_w,
            "excellence_weight": exc,
            "diversity_weight": div,
            "scoring_pathway": label,
            "pathway_details": {
                "weather_score": s_w,
                "geomagnetic_score": s_g,
                "soil_score": s_s,
                "percentile_ranks": {t: ranks[k] for t, k in picks},
                "excellence_qualified_tasks": list(q_tasks),
                "diversity_contributions": {t: contribs[k] for t, k in picks},
                "multi_task_bonus": bonus,
                "num_active_tasks": active,
            },
            "weather_weight_contribution": c_w,
            "geomagnetic_weight_contribution": c_g,
            "soil_weight_contribution": c_s,
            "multi_task_bonus": bonus,
            "final_weight": fin_w,
            "submitted_weight": sub_w,
        }
    return out


def _where_present(values: F64, present: NDArray[np.bool_]) -> list[float | None]:
    column: list[float | None] = values.tolist()
    if not present.all():
        for i in np.flatnonzero(~present).tolist():
            column[i] = None
    return column


def _bits(masks: list[NDArray[np.bool_]]) -> NDArray[np.int64]:
    code = np.zeros(masks[0].shape[0], dtype=np.int64)
    for k, mask in enumerate(masks):
        code |= mask.astype(np.int64) << k
    return code
