"""`CycleTrace`: every stage vector and scalar of one cycle, and its per-miner view."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minertrace.weights.config import TASKS, WeightConfig
from minertrace.weights.inputs import ScoreRow
from minertrace.weights.jsonsafe import finite_or_null
from minertrace.weights.pathways import PATHWAY_LABELS, TaskStage
from minertrace.weights.records import (
    MinerRecord,
    RecordColumns,
    build_records,
    conformance_records,
    record_columns,
)

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class CycleTrace:
    """Result of :func:`compute_cycle`.

    Per-UID vectors have length ``n_uids``. ``final``, ``submitted`` and ``u16`` are None when
    no weights were produced (``no_weights_reason`` says why); the pathway values and records
    are kept (D2). ``submitted_uids`` / ``submitted_weights`` / ``chain_weights`` /
    ``submitted_u16`` are aligned (registered UIDs, ascending); ``emit_uids`` / ``emit_u16`` are
    what goes on chain (zeros dropped). ``miners`` is built from these vectors on first access.
    """

    config: WeightConfig
    n_uids: int
    tasks: dict[str, TaskStage]
    geo_k: float
    geo_x0: float
    geo_sd: float | None
    excellence: F64
    diversity: F64
    num_active_tasks: I64
    multi_task_bonus: F64
    raw_weight: F64
    pathway: NDArray[np.int8]
    has_record: NDArray[np.bool_]
    coldkey_group_size: I64
    coldkey_multiplier: F64
    after_coldkey: F64
    normalized: F64
    logistic: F64
    transformed: F64
    final: F64 | None
    submitted: F64 | None
    u16: I64 | None
    weights_produced: bool
    no_weights_reason: str | None
    rank_based_fallback: bool
    max_weight: float | None
    curve_midpoint: float | None
    positive_count: int
    transformed_std: float | None
    final_sum: float | None
    soil_row_count: int
    soil_completeness: F64
    submitted_uids: I64
    submitted_weights: F64
    chain_weights: F64
    submitted_u16: I64
    emit_uids: I64
    emit_u16: I64
    zeroed_validators: I64
    dropped_unregistered: I64
    submission_total: float | None
    encoding_ok: bool
    encoding_error: str | None
    max_weight_limit: float
    min_allowed_weights: int
    quality: dict[str, int]
    rows_used: list[ScoreRow]

    @cached_property
    def miners(self) -> dict[int, MinerRecord] | None:
        """Per-miner records keyed by UID (every UID with a present task), or None when
        ``config.enable_detailed_pathways`` is off.

        Built from the trace's vectors on first access and then kept: the weights and the
        submission never wait for them.
        """
        if not self.config.enable_detailed_pathways:
            return None
        return build_records(self._record_columns())

    def _record_columns(self) -> RecordColumns:
        return record_columns(
            self.tasks,
            self.has_record,
            self.raw_weight,
            self.excellence,
            self.diversity,
            self.multi_task_bonus,
            self.num_active_tasks,
            self.pathway,
            self.final,
            self.submitted,
            self.u16,
        )

    @property
    def weather(self) -> TaskStage:
        """The weather task stage."""
        return self.tasks["weather"]

    @property
    def geomagnetic(self) -> TaskStage:
        """The geomagnetic task stage."""
        return self.tasks["geomagnetic"]

    @property
    def soil(self) -> TaskStage:
        """The soil task stage."""
        return self.tasks["soil"]

    def stage_vectors(self) -> dict[str, np.ndarray]:
        """Every per-UID stage vector by name (NaN where undefined; all keys always present)."""
        nan = np.full(self.n_uids, np.nan)
        out: dict[str, np.ndarray] = {}
        for task in TASKS:
            stage = self.tasks[task]
            out[f"score_{task}"] = stage.score
            out[f"present_{task}"] = stage.present
            out[f"rank_{task}"] = stage.rank
            out[f"qualified_{task}"] = stage.qualified
            out[f"factor_{task}"] = stage.factor
            out[f"contribution_{task}"] = stage.contribution
        out["soil_completeness"] = self.soil_completeness
        out["excellence"] = self.excellence
        out["diversity"] = self.diversity
        out["num_active_tasks"] = self.num_active_tasks
        out["multi_task_bonus"] = self.multi_task_bonus
        out["pathway"] = self.pathway
        out["raw_weight"] = self.raw_weight
        out["coldkey_group_size"] = self.coldkey_group_size
        out["coldkey_multiplier"] = self.coldkey_multiplier
        out["after_coldkey"] = self.after_coldkey
        out["normalized"] = self.normalized
        out["logistic"] = self.logistic
        out["transformed"] = self.transformed
        out["final"] = self.final if self.final is not None else nan
        out["submitted"] = self.submitted if self.submitted is not None else nan
        out["u16"] = self.u16 if self.u16 is not None else np.zeros(self.n_uids, dtype=np.int64)
        return out

    def scalars(self) -> dict[str, Any]:
        """Every scalar the stages used, JSON-safe (None for undefined)."""
        out: dict[str, Any] = {"n_uids": self.n_uids}
        for task in TASKS:
            stage = self.tasks[task]
            out[f"valid_count_{task}"] = stage.valid_count
            out[f"sample_size_{task}"] = stage.sample_size
            out[f"p85_{task}"] = _num(stage.p85)
        out.update(
            geo_sigmoid_k=_num(self.geo_k),
            geo_sigmoid_x0=_num(self.geo_x0),
            geo_sd=_num(self.geo_sd),
            soil_row_count=self.soil_row_count,
            max_weight=_num(self.max_weight),
            curve_midpoint=_num(self.curve_midpoint),
            positive_count=self.positive_count,
            transformed_std=_num(self.transformed_std),
            rank_based_fallback=self.rank_based_fallback,
            final_sum=_num(self.final_sum),
            weights_produced=self.weights_produced,
            no_weights_reason=self.no_weights_reason,
            submission_total=_num(self.submission_total),
            zeroed_validators=self.zeroed_validators.tolist(),
            dropped_unregistered=self.dropped_unregistered.tolist(),
            max_weight_limit=self.max_weight_limit,
            min_allowed_weights=self.min_allowed_weights,
            encoding_ok=self.encoding_ok,
            encoding_error=self.encoding_error,
        )
        return out

    def data_quality(self) -> dict[str, int]:
        """Counters of missing entries by reason and of suspicious rows and values."""
        return dict(self.quality)

    def input_rows(self) -> list[dict[str, Any]]:
        """The score rows the cycle used (task_name, task_id, created_at ISO), in query order."""
        return [
            {"task_name": r.task_name, "task_id": r.task_id, "created_at": r.created_at.isoformat()}
            for r in self.rows_used
        ]

    def to_json_dict(self) -> dict[str, Any]:
        """The conformance ``expected`` object, plus extra keys (scalars, quality, chain).

        Strict JSON: a float that is not finite (e.g. the diversity weight of a miner whose
        absurd scores overflow it) is written as null, so ``json.dumps(..., allow_nan=False)``
        always succeeds.
        """
        produced = self.weights_produced
        # The per-miner records are most of the document: built straight from the vectors
        # (not through `miners`), and walked value by value only when a float is not finite.
        miners: dict[str, Any] = {}
        if self.config.enable_detailed_pathways:
            miners = conformance_records(self._record_columns())
            if not self._records_finite():
                miners = finite_or_null(miners)
        out: dict[str, Any] = {
            "weights_produced": produced,
            "rank_based_fallback": self.rank_based_fallback,
            "raw_weights": self.raw_weight,
            "after_coldkey_adjustment": self.after_coldkey,
            "final_weights": self.final,
            "submitted_weights": self.submitted,
            "submitted_uids": self.submitted_uids if produced else [],
            "no_weights_reason": self.no_weights_reason,
            "n_uids": self.n_uids,
            "scalars": self.scalars(),
            "data_quality": self.data_quality(),
            "chain": {
                "uids": self.emit_uids,
                "u16": self.emit_u16,
                "encoding_ok": self.encoding_ok,
                "encoding_error": self.encoding_error,
            },
        }
        safe: dict[str, Any] = finite_or_null(out)
        # Text and None only (a row per score row: hundreds), so not walked value by value.
        safe["input_rows"] = self.input_rows()
        safe["config"] = finite_or_null(self.config.to_dict())
        safe["miners"] = miners
        return safe

    def _records_finite(self) -> bool:
        """Whether every float of the per-miner records is finite (see `build_records`)."""
        has = self.has_record
        vectors = [self.raw_weight, self.excellence, self.diversity, self.multi_task_bonus]
        vectors += [v for v in (self.final, self.submitted) if v is not None]
        vectors += [stage.contribution for stage in self.tasks.values()]
        if not all(bool(np.isfinite(v[has]).all()) for v in vectors):
            return False
        return all(
            bool(np.isfinite(stage.score[has & stage.present]).all())
            and bool(np.isfinite(stage.rank[has & stage.present]).all())
            for stage in self.tasks.values()
        )


def _num(x: float | None) -> float | None:
    return None if x is None else finite_or_null(float(x))


__all__ = ["PATHWAY_LABELS", "CycleTrace", "MinerRecord"]
