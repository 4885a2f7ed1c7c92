"""Health readings of the minertrace tables, for the metrics exporter and `minertrace status`.

Every function is one set-based statement (two for `read_health`) returning typed rows:
table sizes and estimated row counts from the catalogue, per-task data gaps from score_table,
the latest cycle and submission of a validator, the oldest rows retention should remove, and
who holds a validator's advisory lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, TextClause, text

from minertrace.vocabulary import (
    FINAL_WEATHER_PREFIX,
    INITIAL_WEATHER_PREFIX,
    ON_CHAIN_STATUSES,
    SCORE_TASK_GEOMAGNETIC,
    SCORE_TASK_WEATHER,
    SOIL_TASK_PREFIX,
    PeriodType,
    Task,
)

PROJECT_TABLES: tuple[str, ...] = (
    "miner_performance_stats",
    "miner_performance_stats_legacy_uid",
    "miner_performance_stats_quarantine",
    "node_table",
    "score_table",
    "weight_submissions",
)
"""The tables minertrace creates or shares (score_table and node_table with Gaia)."""


@dataclass(frozen=True)
class TableSize:
    """One table: bytes on disk (with indexes and TOAST) and its estimated rows.

    `estimated_rows` is None until the table was first analysed (reltuples = -1).
    """

    table: str
    total_bytes: int
    estimated_rows: int | None


@dataclass(frozen=True)
class TaskGap:
    """One task's freshness: the newest score row and the rows inside its read window."""

    task: str
    window_seconds: float
    newest: datetime | None
    rows_in_window: int


@dataclass(frozen=True)
class CycleRow:
    """A weight_submissions row as status reports it."""

    id: int
    validator_hotkey: str
    computed_at: datetime
    computed_block: int | None
    status: str
    error: str | None
    block_number: int | None


@dataclass(frozen=True)
class LastActivity:
    """A validator's latest cycle, latest on-chain submission, and latest node sync."""

    last_cycle: CycleRow | None
    last_submission: CycleRow | None
    node_sync_at: datetime | None
    own_last_update_block: int | None
    """node_table.last_update_block of the validator's hotkey (None: not in node_table)."""


@dataclass(frozen=True)
class LockHolder:
    """The session holding an advisory lock."""

    pid: int
    application_name: str | None
    client_addr: str | None
    backend_start: datetime | None
    user: str | None


_TABLE_SIZES = text(
    """
    SELECT c.relname AS table_name,
           pg_total_relation_size(c.oid) AS total_bytes,
           CASE WHEN c.reltuples < 0 THEN NULL ELSE CAST(c.reltuples AS bigint) END AS est_rows
      FROM pg_class AS c
      JOIN pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p')
       AND n.nspname = current_schema()
       AND c.relname = ANY(CAST(:tables AS text[]))
     ORDER BY c.relname
    """
)

# One pass over score_table: each row is classified into the weight engine's task, then
# grouped. The LIKE patterns escape '_' (LIKE's single-character wildcard).
_TASK_GAPS = text(
    """
    WITH t(task, window_seconds) AS (
        SELECT * FROM unnest(CAST(:tasks AS text[]), CAST(:windows AS double precision[]))
    ), s AS (
        SELECT CASE
                 WHEN task_name = :weather
                      AND (task_id LIKE :final_pattern OR task_id LIKE :initial_pattern)
                   THEN :weather_task
                 WHEN task_name = :geomagnetic THEN :geomagnetic_task
                 WHEN task_name LIKE :soil_pattern THEN :soil_task
               END AS task,
               created_at
          FROM score_table
    )
    SELECT t.task, t.window_seconds, max(s.created_at) AS newest,
           count(s.created_at) FILTER (
             WHERE s.created_at >= CAST(:now AS timestamptz)
                                   - t.window_seconds * INTERVAL '1 second'
               AND s.created_at <= CAST(:now AS timestamptz)) AS rows_in_window
      FROM t
      LEFT JOIN s ON s.task = t.task
     GROUP BY t.task, t.window_seconds
     ORDER BY t.task
    """
)

_LAST_ACTIVITY = text(
    """
    SELECT lc.id AS c_id, lc.validator_hotkey AS c_hotkey, lc.computed_at AS c_at,
           lc.computed_block AS c_block, lc.status AS c_status, lc.error AS c_error,
           lc.block_number AS c_included,
           ls.id AS s_id, ls.validator_hotkey AS s_hotkey, ls.computed_at AS s_at,
           ls.computed_block AS s_block, ls.status AS s_status, ls.error AS s_error,
           ls.block_number AS s_included,
           (SELECT max(last_updated) FROM node_table) AS node_sync_at,
           (SELECT max(last_update_block) FROM node_table
             WHERE hotkey = :hotkey) AS own_last_update
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL (
            SELECT id, validator_hotkey, computed_at, computed_block, status, error, block_number
              FROM weight_submissions
             WHERE (CAST(:hotkey AS text) IS NULL OR validator_hotkey = :hotkey)
             ORDER BY computed_at DESC, id DESC
             LIMIT 1) AS lc ON true
      LEFT JOIN LATERAL (
            SELECT id, validator_hotkey, computed_at, computed_block, status, error, block_number
              FROM weight_submissions
             WHERE (CAST(:hotkey AS text) IS NULL OR validator_hotkey = :hotkey)
               AND status = ANY(CAST(:on_chain AS text[]))
               AND block_number IS NOT NULL
             ORDER BY block_number DESC, id DESC
             LIMIT 1) AS ls ON true
    """
)

_OLDEST_RETAINED = text(
    """
    SELECT (SELECT min(computed_at) FROM weight_submissions) AS submissions,
           (SELECT min(period_end) FROM miner_performance_stats
             WHERE period_type <> :all_time) AS stats
    """
)

_LOCK_HOLDER = text(
    """
    SELECT l.pid, a.application_name, CAST(a.client_addr AS text) AS client_addr,
           a.backend_start, a.usename
      FROM pg_locks AS l
      LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.classid = CAST(:hi AS oid) AND l.objid = CAST(:lo AS oid)
     ORDER BY l.pid
     LIMIT 1
    """
)


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


def _run(
    bind: Connection | Engine, stmt: TextClause, params: Mapping[str, object]
) -> list[Row[Any]]:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return list(conn.execute(stmt, dict(params)).all())
    return list(bind.execute(stmt, dict(params)).all())


def table_sizes(
    bind: Connection | Engine, tables: Sequence[str] = PROJECT_TABLES
) -> list[TableSize]:
    """Size and estimated rows of each of `tables` present in the current schema."""
    rows = _run(bind, _TABLE_SIZES, {"tables": list(tables)})
    return [
        TableSize(
            r.table_name,
            int(r.total_bytes),
            None if r.est_rows is None else int(r.est_rows),
        )
        for r in rows
    ]


def task_gaps(
    bind: Connection | Engine, now: datetime, windows: Mapping[str, float]
) -> list[TaskGap]:
    """Per task of `windows` ({task: window seconds}, tasks from `Task`): the newest score
    row and how many rows lie in (now - window, now]. A task without rows has newest None."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    params = {
        "tasks": list(windows),
        "windows": [float(w) for w in windows.values()],
        "now": now,
        "weather": SCORE_TASK_WEATHER,
        "geomagnetic": SCORE_TASK_GEOMAGNETIC,
        "final_pattern": _like_prefix(FINAL_WEATHER_PREFIX),
        "initial_pattern": _like_prefix(INITIAL_WEATHER_PREFIX),
        "soil_pattern": _like_prefix(SOIL_TASK_PREFIX),
        "weather_task": Task.WEATHER.value,
        "geomagnetic_task": Task.GEOMAGNETIC.value,
        "soil_task": Task.SOIL.value,
    }
    return [
        TaskGap(r.task, float(r.window_seconds), r.newest, int(r.rows_in_window))
        for r in _run(bind, _TASK_GAPS, params)
    ]


def _cycle(r: Row[Any], p: str) -> CycleRow | None:
    get = r._mapping
    if get[f"{p}_id"] is None:
        return None
    return CycleRow(
        int(get[f"{p}_id"]),
        str(get[f"{p}_hotkey"]),
        get[f"{p}_at"],
        get[f"{p}_block"],
        str(get[f"{p}_status"]),
        get[f"{p}_error"],
        get[f"{p}_included"],
    )


def last_activity(bind: Connection | Engine, validator_hotkey: str | None) -> LastActivity:
    """The validator's latest cycle and on-chain submission (any validator's when None), the
    latest node sync (node_table.last_updated) and the hotkey's last_update_block."""
    statuses = sorted(s.value for s in ON_CHAIN_STATUSES)
    [r] = _run(bind, _LAST_ACTIVITY, {"hotkey": validator_hotkey, "on_chain": statuses})
    return LastActivity(
        _cycle(r, "c"),
        _cycle(r, "s"),
        r.node_sync_at,
        r.own_last_update,
    )


def oldest_retained(bind: Connection | Engine) -> dict[str, datetime | None]:
    """The instant retention compares with, of the oldest row of each retained table:
    weight_submissions.computed_at, and the period_end of non-all_time stats rows."""
    [r] = _run(bind, _OLDEST_RETAINED, {"all_time": PeriodType.ALL_TIME.value})
    return {"weight_submissions": r.submissions, "miner_performance_stats": r.stats}


def lock_holder(bind: Connection | Engine, key: int) -> LockHolder | None:
    """The session holding the session-level advisory lock `key` (a signed bigint) in this
    database, or None. PostgreSQL shows a bigint key as classid (high 32 bits) and objid."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    rows = _run(bind, _LOCK_HOLDER, {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF})
    if not rows:
        return None
    r = rows[0]
    return LockHolder(
        int(r.pid),
        r.application_name,
        r.client_addr,
        r.backend_start,
        r.usename,
    )


def ping(bind: Connection | Engine) -> None:
    """Raise when the database does not answer `SELECT 1`."""
    _run(bind, text("SELECT 1"), {})


__all__ = [
    "PROJECT_TABLES",
    "CycleRow",
    "LastActivity",
    "LockHolder",
    "TableSize",
    "TaskGap",
    "last_activity",
    "lock_holder",
    "oldest_retained",
    "ping",
    "table_sizes",
    "task_gaps",
]
