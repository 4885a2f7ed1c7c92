"""Response models of the JSON API (they are the OpenAPI page's schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Row(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorOut(BaseModel):
    """Every error response: what went wrong, in one sentence."""

    detail: str


class HealthOut(BaseModel):
    """Liveness and the latest recorded cycle."""

    status: str
    database: str
    version: str
    latest_cycle_id: int | None
    latest_cycle_at: datetime | None


class CycleSummaryOut(_Row):
    """One cycle in a list."""

    id: int
    validator_hotkey: str
    netuid: int
    computed_at: datetime
    computed_block: int | None
    n_uids: int
    status: str
    weights_produced: bool
    attempts: int = Field(description="Number of submission attempts.")
    block_number: int | None = Field(description="Block that included the weights.")
    verified: bool | None = Field(description="Read-back matched what was sent (null: unchecked).")
    consensus_block: int | None
    replayable: bool = Field(description="The cycle stored its replay inputs.")


class CyclePageOut(BaseModel):
    """A page of cycles, newest first; pass `next_before_id` as `before_id` for the next."""

    items: list[CycleSummaryOut]
    next_before_id: int | None


class CycleOut(CycleSummaryOut):
    """One cycle: status, attempts, verification, chain outcome, scalars, data quality, config."""

    error: str | None
    block_hash: str | None
    reveal_epoch: int | None
    reveal_block: int | None
    verified_at: datetime | None
    verification: dict[str, Any] | None
    attempt_log: list[dict[str, Any]]
    no_weights_reason: str | None
    rank_based_fallback: bool
    scalars: dict[str, Any]
    data_quality: dict[str, Any]
    config: dict[str, Any]
    score_rows: list[dict[str, Any]]
    submitted_uids: list[int]
    submitted_weights: list[float]
    submitted_u16: list[int]
    has_stages: bool
    trace_overhead_s: float | None


class StagesOut(BaseModel):
    """Stage vectors of a cycle: every vector indexed by UID, or by position in `uids`."""

    cycle_id: int
    uids: list[int] | None
    stages: dict[str, list[Any]]


class MinerOut(_Row):
    """A registered UID in the latest cycle."""

    uid: int
    hotkey: str | None
    coldkey: str | None
    validator_permit: bool | None
    pathway: str | None
    submitted_weight: float | None
    u16: int | None
    incentive: float | None
    consensus_rank: int | None
    coldkey_group_size: int | None
    coldkey_multiplier: float | None


class MinerPageOut(BaseModel):
    """A page of miners by UID."""

    items: list[MinerOut]
    offset: int
    limit: int


class PeriodRowOut(_Row):
    """One period row (miner_performance_stats) of a miner."""

    period_type: str
    period_start: datetime
    period_end: datetime
    miner_hotkey: str
    submitted_weight: float | None
    raw_calculated_weight: float | None
    scoring_pathway: str | None
    incentive: float | None
    consensus_rank: int | None
    percentile_rank_weather: float | None
    percentile_rank_geomagnetic: float | None
    percentile_rank_soil: float | None
    overall_avg_score: float | None
    total_tasks_attempted: int
    total_tasks_completed: int
    validator_hotkey: str | None


class HistoryOut(BaseModel):
    """A miner's period rows, oldest first per period type."""

    uid: int
    items: list[PeriodRowOut]


class HotkeyMatchOut(_Row):
    """A UID carrying (current) or having carried a hotkey."""

    uid: int
    hotkey: str
    current: bool
    last_seen: datetime | None


class HotkeyOut(BaseModel):
    """Where a hotkey is, or was."""

    hotkey: str
    matches: list[HotkeyMatchOut]


class ValidatorOut(_Row):
    """A validator hotkey seen in the record: its cycles and its agreement with consensus."""

    validator_hotkey: str
    cycles: int
    statuses: dict[str, int]
    first_cycle_at: datetime
    last_cycle_at: datetime
    last_submission_id: int | None
    last_submission_at: datetime | None
    last_submission_block: int | None
    consensus_cosine: float | None = Field(
        description="Cosine similarity of the latest on-chain weights with the incentive of "
        "the chain's last synced epoch (node_table)."
    )


class ValidatorsOut(BaseModel):
    """Every validator hotkey in the database."""

    items: list[ValidatorOut]


__all__ = [
    "CycleOut",
    "CyclePageOut",
    "CycleSummaryOut",
    "ErrorOut",
    "HealthOut",
    "HistoryOut",
    "HotkeyMatchOut",
    "HotkeyOut",
    "MinerOut",
    "MinerPageOut",
    "PeriodRowOut",
    "StagesOut",
    "ValidatorOut",
    "ValidatorsOut",
]
