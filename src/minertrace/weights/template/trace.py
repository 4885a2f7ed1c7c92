"""`TemplateTrace`: every stage of one cycle of the template's rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minertrace.weights.inputs import ScoreRow
from minertrace.weights.jsonsafe import finite_or_null
from minertrace.weights.template.config import TemplateConfig

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

RULES_NAME = "template"


@dataclass(frozen=True)
class TemplateTrace:
    """Result of :meth:`TemplateRules.compute`; member names follow ``CycleTrace``.

    Stage vectors (length ``n_uids``): ``ema_before`` (the carried moving average),
    ``hotkey_reset`` (1 where the UID's hotkey changed, so its average restarted at 0),
    ``reward_count`` and ``reward_mean`` (the rows folded this cycle), ``moving_average``,
    ``normalized`` (divided by its L1 norm), ``final`` (after the SDK's limits), ``submitted``
    and ``u16``. ``state`` and ``state_before`` are the carried state after and before this
    cycle (stored in the scalars, so the next cycle and a replay can read them).
    """

    config: TemplateConfig
    n_uids: int
    ema_before: F64
    hotkey_reset: NDArray[np.bool_]
    reward_count: I64
    reward_mean: F64
    moving_average: F64
    normalized: F64
    l1_norm: float
    process_branch: str
    quantile: float | None
    lowest_quantile: float | None
    final: F64 | None
    submitted: F64 | None
    u16: I64 | None
    weights_produced: bool
    no_weights_reason: str | None
    submitted_uids: I64
    submitted_weights: F64
    submitted_u16: I64
    emit_uids: I64
    emit_u16: I64
    encoding_ok: bool
    encoding_error: str | None
    max_weight_limit: float
    min_allowed_weights: int
    quality: dict[str, int]
    rows_used: list[ScoreRow]
    state_before: dict[str, Any]
    state: dict[str, Any]
    rank_based_fallback: bool = False

    def stage_vectors(self) -> dict[str, np.ndarray]:
        """Every per-UID stage vector by name (NaN where undefined; all keys always present)."""
        nan = np.full(self.n_uids, np.nan)
        return {
            "ema_before": self.ema_before,
            "hotkey_reset": self.hotkey_reset,
            "reward_count": self.reward_count,
            "reward_mean": self.reward_mean,
            "moving_average": self.moving_average,
            "normalized": self.normalized,
            "final": self.final if self.final is not None else nan,
            "submitted": self.submitted if self.submitted is not None else nan,
            "u16": self.u16 if self.u16 is not None else np.zeros(self.n_uids, dtype=np.int64),
        }

    def scalars(self) -> dict[str, Any]:
        """Every scalar the stages used and the carried state, JSON-safe."""
        out: dict[str, Any] = {
            "rules": RULES_NAME,
            "n_uids": self.n_uids,
            "moving_average_alpha": self.config.moving_average_alpha,
            "exclude_quantile": self.config.exclude_quantile,
            "rows_folded": len(self.rows_used),
            "l1_norm": self.l1_norm,
            "process_branch": self.process_branch,
            "quantile": self.quantile,
            "lowest_quantile": self.lowest_quantile,
            "weights_produced": self.weights_produced,
            "no_weights_reason": self.no_weights_reason,
            "max_weight_limit": self.max_weight_limit,
            "min_allowed_weights": self.min_allowed_weights,
            "encoding_ok": self.encoding_ok,
            "encoding_error": self.encoding_error,
            "state_before": self.state_before,
            "state": self.state,
        }
        safe: dict[str, Any] = finite_or_null(out)
        return safe

    def data_quality(self) -> dict[str, int]:
        """Counters of missing entries by reason and of rows not folded."""
        return dict(self.quality)

    def input_rows(self) -> list[dict[str, Any]]:
        """The score rows folded this cycle (task_name, task_id, created_at ISO), in order."""
        return [
            {"task_name": r.task_name, "task_id": r.task_id, "created_at": r.created_at.isoformat()}
            for r in self.rows_used
        ]

    def to_json_dict(self) -> dict[str, Any]:
        """The whole trace as strict JSON (non-finite floats as null)."""
        produced = self.weights_produced
        out: dict[str, Any] = {
            "rules": RULES_NAME,
            "n_uids": self.n_uids,
            "weights_produced": produced,
            "no_weights_reason": self.no_weights_reason,
            "final_weights": self.final.tolist() if self.final is not None else None,
            "submitted_uids": self.submitted_uids.tolist(),
            "submitted_weights": self.submitted_weights.tolist(),
            "stages": {k: np.asarray(v).tolist() for k, v in self.stage_vectors().items()},
            "scalars": self.scalars(),
            "data_quality": self.data_quality(),
            "chain": {
                "uids": self.emit_uids.tolist(),
                "u16": self.emit_u16.tolist(),
                "encoding_ok": self.encoding_ok,
                "encoding_error": self.encoding_error,
            },
            "input_rows": self.input_rows(),
            "config": self.config.to_dict(),
        }
        safe: dict[str, Any] = finite_or_null(out)
        return safe
