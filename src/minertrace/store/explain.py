"""The reads behind `minertrace explain`: one UID's node, cycle, stats row and last score entry.

Each read is one statement on the caller's connection. Of a cycle's stage vectors only the
UID's element leaves the server (extracted in SQL), so a 4,096-UID trace is not shipped whole
to explain one miner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from minertrace.store import gaia_scores
from minertrace.vocabulary import PeriodType

# node_table.uid is an INTEGER and the array subscripts below add 1 to it.
MAX_UID = 2**31 - 2
# weight_submissions.id is a BIGINT.
MAX_CYCLE_ID = 2**63 - 1


@dataclass(frozen=True)
class NodeRow:
    """The UID's node_table row."""

    uid: int
    hotkey: str | None
    coldkey: str | None
    validator_permit: bool | None
    incentive: float | None


@dataclass(frozen=True)
class CycleRow:
    """One weight_submissions row, with only this UID's element of every per-UID vector."""

    id: int
    validator_hotkey: str
    netuid: int
    computed_at: datetime
    computed_block: int | None
    n_uids: int
    config: dict[str, Any]
    scalars: dict[str, Any]
    weights_produced: bool
    no_weights_reason: str | None
    rank_based_fallback: bool
    status: str
    error: str | None
    block_number: int | None
    block_hash: str | None
    reveal_epoch: int | None
    reveal_block: int | None
    verified_at: datetime | None
    verification: dict[str, Any] | None
    consensus_block: int | None
    n_attempts: int
    has_stages: bool
    stage_values: dict[str, Any]
    """Stage name -> this UID's element (JSON scalar) of that stage vector."""
    final_weight: float | None
    submitted_weight: float | None
    submitted_u16: int | None
    in_submission: bool


@dataclass(frozen=True)
class StatsRow:
    """The UID's latest miner_performance_stats row (daily rows first)."""

    miner_hotkey: str | None
    period_type: str
    period_start: datetime
    submitted_weight: float | None
    raw_calculated_weight: float | None
    excellence_weight: float | None
    diversity_weight: float | None
    scoring_pathway: str | None
    pathway_details: dict[str, Any] | None
    multi_task_bonus: float | None
    percentile_rank_weather: float | None
    percentile_rank_geomagnetic: float | None
    percentile_rank_soil: float | None
    excellence_qualified_tasks: list[str] | None
    weather_weight_contribution: float | None
    geomagnetic_weight_contribution: float | None
    soil_weight_contribution: float | None
    incentive: float | None
    consensus_rank: int | None
    consensus_block: int | None
    weight_submission_block: int | None
    last_active_time: datetime | None


_NODE = text(
    """
    SELECT uid, hotkey, coldkey, validator_permit, incentive
      FROM node_table WHERE uid = :uid
    """
)

_CYCLE = text(
    """
    SELECT w.id, w.validator_hotkey, w.netuid, w.computed_at, w.computed_block, w.n_uids,
           coalesce(w.config, '{}'::jsonb) AS config,
           coalesce(w.scalars, '{}'::jsonb) AS scalars,
           w.weights_produced, w.no_weights_reason, w.rank_based_fallback, w.status, w.error,
           w.block_number, w.block_hash, w.reveal_epoch, w.reveal_block, w.verified_at,
           w.verification, w.consensus_block,
           jsonb_array_length(w.attempts) AS n_attempts,
           w.stages IS NOT NULL AS has_stages,
           coalesce(
             (SELECT jsonb_object_agg(s.key, s.value -> CAST(:uid AS integer))
                FROM jsonb_each(w.stages) AS s
               WHERE jsonb_typeof(s.value) = 'array'),
             '{}'::jsonb) AS stage_values,
           w.final_weights[:uid + 1] AS final_weight,
           w.submitted_weights[array_position(w.submitted_uids, :uid)] AS submitted_weight,
           w.submitted_u16[array_position(w.submitted_uids, :uid)] AS submitted_u16,
           array_position(w.submitted_uids, :uid) IS NOT NULL AS in_submission
      FROM weight_submissions AS w
     WHERE (CAST(:hotkey AS text) IS NULL OR w.validator_hotkey = :hotkey)
       AND (CAST(:cycle_id AS bigint) IS NULL OR w.id = :cycle_id)
     ORDER BY w.computed_at DESC, w.id DESC
     LIMIT 1
    """
)

_CYCLE_OWNER = text("SELECT validator_hotkey FROM weight_submissions WHERE id = :cycle_id")

_STATS = text(
    """
    SELECT miner_hotkey, period_type, period_start, submitted_weight,
           raw_calculated_weight, excellence_weight, diversity_weight, scoring_pathway,
           pathway_details, multi_task_bonus, percentile_rank_weather,
           percentile_rank_geomagnetic, percentile_rank_soil, excellence_qualified_tasks,
           weather_weight_contribution, geomagnetic_weight_contribution,
           soil_weight_contribution, incentive, consensus_rank, consensus_block,
           weight_submission_block, last_active_time
      FROM miner_performance_stats
     WHERE miner_uid = :uid
     ORDER BY (period_type = :daily) DESC, period_start DESC
     LIMIT 1
    """
)

_LAST_ENTRY = text(
    """
    SELECT max(created_at)
      FROM score_table
     WHERE score[:uid + 1] IS NOT NULL AND score[:uid + 1] <> CAST('NaN' AS double precision)
    """
)

_NODE_COUNT = text("SELECT count(*) FROM node_table")


def read_node(conn: Connection, uid: int) -> NodeRow | None:
    """The UID's node_table row, or None."""
    row = conn.execute(_NODE, {"uid": uid}).mappings().first()
    return None if row is None else NodeRow(**row)


def read_cycle(
    conn: Connection,
    uid: int,
    *,
    validator_hotkey: str | None = None,
    cycle_id: int | None = None,
) -> CycleRow | None:
    """The latest cycle (of `validator_hotkey`, or cycle `cycle_id`) seen from UID `uid`."""
    row = (
        conn.execute(_CYCLE, {"uid": uid, "hotkey": validator_hotkey, "cycle_id": cycle_id})
        .mappings()
        .first()
    )
    return None if row is None else CycleRow(**row)


def cycle_owner(conn: Connection, cycle_id: int) -> str | None:
    """The validator hotkey of cycle `cycle_id`, or None when there is no such cycle."""
    owner: str | None = conn.execute(_CYCLE_OWNER, {"cycle_id": cycle_id}).scalar()
    return owner


def read_stats(conn: Connection, uid: int) -> StatsRow | None:
    """The UID's latest miner_performance_stats row, a daily one when there is any."""
    row = conn.execute(_STATS, {"uid": uid, "daily": PeriodType.DAILY.value}).mappings().first()
    return None if row is None else StatsRow(**row)


def last_score_entry(conn: Connection, uid: int) -> datetime | None:
    """When score_table last held an entry (not NULL, not NaN) for UID `uid`."""
    last: datetime | None = conn.execute(
        gaia_scores.adapt(conn, _LAST_ENTRY), {"uid": uid}
    ).scalar()
    return last


def node_count(conn: Connection) -> int:
    """How many UIDs node_table holds."""
    return int(conn.execute(_NODE_COUNT).scalar_one())
