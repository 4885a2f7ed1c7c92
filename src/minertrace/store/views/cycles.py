"""Cycle views: lists, one cycle, its stage vectors, the timeline by status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

CYCLES_MAX = 500
TIMELINE_MAX_DAYS = 366


@dataclass(frozen=True)
class CycleSummary:
    """One weight_submissions row in a list."""

    id: int
    validator_hotkey: str
    netuid: int
    computed_at: datetime
    computed_block: int | None
    n_uids: int
    status: str
    weights_produced: bool
    attempts: int
    block_number: int | None
    verified: bool | None
    consensus_block: int | None
    replayable: bool


_SUMMARY_COLUMNS = """
    id, validator_hotkey, netuid, computed_at, computed_block, n_uids, status, weights_produced,
    jsonb_array_length(attempts) AS attempts, block_number,
    CAST(verification ->> 'match' AS boolean) AS verified, consensus_block,
    inputs IS NOT NULL AS replayable
"""

_CYCLES = text(
    f"""
    SELECT {_SUMMARY_COLUMNS}
      FROM weight_submissions
     WHERE (CAST(:validator AS text) IS NULL OR validator_hotkey = :validator)
       AND (CAST(:status AS text) IS NULL OR status = :status)
       AND (CAST(:before_id AS bigint) IS NULL OR id < :before_id)
       AND (CAST(:since AS timestamptz) IS NULL OR computed_at >= :since)
       AND (CAST(:until AS timestamptz) IS NULL OR computed_at < :until)
     ORDER BY id DESC
     LIMIT :limit
    """
)


def list_cycles(
    conn: Connection,
    *,
    validator: str | None = None,
    status: str | None = None,
    before_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> list[CycleSummary]:
    """Cycles newest first; page with `before_id` (the last id of the previous page)."""
    params = {
        "validator": validator,
        "status": status,
        "before_id": before_id,
        "since": since,
        "until": until,
        "limit": max(1, min(limit, CYCLES_MAX)),
    }
    return [CycleSummary(**r) for r in conn.execute(_CYCLES, params).mappings()]


@dataclass(frozen=True)
class CycleDetail:
    """One cycle without its stage vectors."""

    summary: CycleSummary
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


_CYCLE = text(
    f"""
    SELECT {_SUMMARY_COLUMNS}, error, block_hash, reveal_epoch, reveal_block, verified_at,
           verification, attempts AS attempt_log, no_weights_reason, rank_based_fallback,
           scalars, data_quality, config, score_rows,
           coalesce(submitted_uids, '{{}}') AS submitted_uids,
           coalesce(submitted_weights, '{{}}') AS submitted_weights,
           coalesce(submitted_u16, '{{}}') AS submitted_u16,
           stages IS NOT NULL AS has_stages, trace_overhead_s
      FROM weight_submissions
     WHERE id = coalesce(CAST(:id AS bigint), (SELECT max(id) FROM weight_submissions))
    """
)
_SUMMARY_FIELDS = tuple(CycleSummary.__dataclass_fields__)


def get_cycle(conn: Connection, cycle_id: int | None) -> CycleDetail | None:
    """Cycle `cycle_id` (None: the latest), or None when there is no such cycle."""
    row = conn.execute(_CYCLE, {"id": cycle_id}).mappings().first()
    if row is None:
        return None
    data = dict(row)
    summary = CycleSummary(**{k: data.pop(k) for k in _SUMMARY_FIELDS})
    return CycleDetail(summary=summary, **data)


_STAGES = text(
    """
    WITH w AS MATERIALIZED (SELECT n_uids, stages FROM weight_submissions WHERE id = :id)
    SELECT s.key AS name,
           CASE WHEN CAST(:uids AS integer[]) IS NULL THEN s.value
                ELSE (SELECT coalesce(jsonb_agg(s.value -> u.uid ORDER BY u.ord), '[]')
                        FROM unnest(CAST(:uids AS integer[])) WITH ORDINALITY AS u(uid, ord))
           END AS vector
      FROM w, jsonb_each(w.stages) AS s
     WHERE jsonb_typeof(s.value) = 'array'
    """
)


def cycle_stages(
    conn: Connection, cycle_id: int, uids: list[int] | None = None
) -> dict[str, list[Any]] | None:
    """{stage: vector} of a cycle (only `uids`' elements, in that order, when given).

    None when the cycle stored no stage vectors (or does not exist). The vector `hotkey` is
    the hotkey each UID had in the cycle's node list.
    """
    rows = conn.execute(_STAGES, {"id": cycle_id, "uids": uids}).all()
    return {r.name: r.vector for r in rows} or None


_STAGE_MAX = text(
    """
    WITH w AS MATERIALIZED (SELECT stages FROM weight_submissions WHERE id = :id)
    SELECT s.key AS name, max(CAST(e.value #>> '{}' AS double precision)) AS top
      FROM w, jsonb_each(w.stages) AS s, jsonb_array_elements(s.value) AS e
     WHERE s.key = ANY(CAST(:names AS text[])) AND jsonb_typeof(s.value) = 'array'
       AND jsonb_typeof(e.value) = 'number'
     GROUP BY s.key
    """
)


def stage_maxima(conn: Connection, cycle_id: int, names: list[str]) -> dict[str, float]:
    """The largest value of each named stage vector of a cycle (absent when all null)."""
    rows = conn.execute(_STAGE_MAX, {"id": cycle_id, "names": names}).all()
    return {r.name: float(r.top) for r in rows if r.top is not None}


@dataclass(frozen=True)
class TimelineBucket:
    """Cycles of one day by status."""

    day: datetime
    statuses: dict[str, int]


_TIMELINE = text(
    """
    SELECT day, jsonb_object_agg(status, n) AS statuses FROM (
        SELECT date_trunc('day', computed_at, 'UTC') AS day, status, count(*) AS n
          FROM weight_submissions
         WHERE computed_at >= (SELECT max(computed_at) FROM weight_submissions)
                              - make_interval(days => :days)
           AND (CAST(:validator AS text) IS NULL OR validator_hotkey = :validator)
         GROUP BY 1, 2) AS x
     GROUP BY day ORDER BY day
    """
)


def cycle_timeline(
    conn: Connection, *, days: int = 30, validator: str | None = None
) -> list[TimelineBucket]:
    """Cycles per UTC day and status over the `days` before the latest cycle."""
    params = {"days": max(1, min(days, TIMELINE_MAX_DAYS)), "validator": validator}
    return [TimelineBucket(**r) for r in conn.execute(_TIMELINE, params).mappings()]


_LATEST = text("SELECT max(id) AS id, max(computed_at) AS at FROM weight_submissions")


def latest_cycle(conn: Connection) -> tuple[int | None, datetime | None]:
    """The id and time of the latest cycle (None, None when there is none)."""
    row = conn.execute(_LATEST).one()
    return row.id, row.at


def has_tables(conn: Connection) -> bool:
    """Whether the connection's search path holds minertrace's tables (weight_submissions)."""
    return conn.execute(text("SELECT to_regclass('weight_submissions')")).scalar() is not None


__all__ = [
    "CYCLES_MAX",
    "CycleDetail",
    "CycleSummary",
    "TimelineBucket",
    "cycle_stages",
    "cycle_timeline",
    "get_cycle",
    "has_tables",
    "latest_cycle",
    "list_cycles",
    "stage_maxima",
]
