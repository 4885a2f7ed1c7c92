"""Step 1 of a cycle: the reads the weight engine needs, one round trip per query.

The windows, orders and limits are the production caller's (spec/weights.md §1.4):

- weather: task_name 'weather', task_id starting 'final_weather_scores' or
  'initial_weather_scores', created_at >= now - 15 days; all final rows first, then the
  initial rows, newest first within each group; at most 100 rows;
- geomagnetic: created_at >= now - 24 h, newest first, no limit;
- soil: task_name 'soil_moisture_region_*', created_at >= now - 24 h, newest first, at most 200;
- nodes: (uid, hotkey, coldkey) of node_table in UID order;
- active validators: UIDs holding a validator permit whose last_update_block is within the last
  500 blocks.

Ties in created_at are broken by task_id (then task_name) so the order is deterministic.
`read_cycle_inputs` runs them all on one connection in a REPEATABLE READ, READ ONLY transaction
so the five results are one consistent snapshot.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, text

from minertrace.validator._bind import transaction

WEATHER_WINDOW = timedelta(days=15)
WEATHER_LIMIT = 100
GEOMAGNETIC_WINDOW = timedelta(hours=24)
SOIL_WINDOW = timedelta(hours=24)
SOIL_LIMIT = 200
ACTIVE_VALIDATOR_WINDOW_BLOCKS = 500


@dataclass(frozen=True)
class ScoreRecord:
    """One score_table row as read for a cycle; `score` has NaN where the row has no entry."""

    task_name: str
    task_id: str | None
    score: npt.NDArray[np.float64]
    """Empty when the row's array is NULL. An array, not a list: the weight engine takes
    numpy rows on its fast path."""
    created_at: datetime
    status: str | None


@dataclass(frozen=True)
class NodeRecord:
    """One node_table row as the weight engine needs it."""

    uid: int
    hotkey: str | None
    coldkey: str | None


@dataclass(frozen=True)
class CycleReads:
    """Everything a cycle reads, from one snapshot."""

    weather: list[ScoreRecord]
    geomagnetic: list[ScoreRecord]
    soil: list[ScoreRecord]
    nodes: list[NodeRecord]
    active_validator_uids: list[int]


# `\_` makes LIKE match a literal underscore (backslash is LIKE's default escape).
_WEATHER = text(
    r"""
    SELECT task_name, task_id, score, created_at, status
      FROM score_table
     WHERE task_name = 'weather'
       AND (task_id LIKE 'final\_weather\_scores%' OR task_id LIKE 'initial\_weather\_scores%')
       AND created_at >= :since
     ORDER BY (task_id LIKE 'final\_weather\_scores%') DESC, created_at DESC, task_id
     LIMIT :limit
    """
)

_GEOMAGNETIC = text(
    """
    SELECT task_name, task_id, score, created_at, status
      FROM score_table
     WHERE task_name = 'geomagnetic' AND created_at >= :since
     ORDER BY created_at DESC, task_id
     LIMIT :limit
    """
)

_SOIL = text(
    r"""
    SELECT task_name, task_id, score, created_at, status
      FROM score_table
     WHERE task_name LIKE 'soil\_moisture\_region\_%' AND created_at >= :since
     ORDER BY created_at DESC, task_name, task_id
     LIMIT :limit
    """
)

_NODES = text("SELECT uid, hotkey, coldkey FROM node_table ORDER BY uid")

_ACTIVE_VALIDATORS = text(
    """
    SELECT uid FROM node_table
     WHERE validator_permit AND last_update_block >= :since_block
     ORDER BY uid
    """
)


def _records(conn: Connection, query: Any, since: datetime, limit: int | None) -> list[ScoreRecord]:
    rows = conn.execute(query, {"since": since, "limit": limit}).all()
    # NULL array elements become NaN: both mean "no entry" to the weight engine.
    return [
        ScoreRecord(
            task_name=r.task_name,
            task_id=r.task_id,
            score=np.asarray([] if r.score is None else r.score, dtype=np.float64),
            created_at=r.created_at,
            status=r.status,
        )
        for r in rows
    ]


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now.isoformat()}: pass a timezone-aware time")
    return now


def read_weather_rows(
    conn_or_engine: Engine | Connection,
    now: datetime,
    *,
    window: timedelta = WEATHER_WINDOW,
    limit: int | None = WEATHER_LIMIT,
) -> list[ScoreRecord]:
    """Weather rows of the last `window`: final rows first, then initial, newest first."""
    with transaction(conn_or_engine) as conn:
        return _records(conn, _WEATHER, _aware(now) - window, limit)


def read_geomagnetic_rows(
    conn_or_engine: Engine | Connection,
    now: datetime,
    *,
    window: timedelta = GEOMAGNETIC_WINDOW,
    limit: int | None = None,
) -> list[ScoreRecord]:
    """Geomagnetic rows of the last `window`, newest first (no limit by default)."""
    with transaction(conn_or_engine) as conn:
        return _records(conn, _GEOMAGNETIC, _aware(now) - window, limit)


def read_soil_rows(
    conn_or_engine: Engine | Connection,
    now: datetime,
    *,
    window: timedelta = SOIL_WINDOW,
    limit: int | None = SOIL_LIMIT,
) -> list[ScoreRecord]:
    """Soil-moisture rows (every region) of the last `window`, newest first."""
    with transaction(conn_or_engine) as conn:
        return _records(conn, _SOIL, _aware(now) - window, limit)


def read_nodes(conn_or_engine: Engine | Connection) -> list[NodeRecord]:
    """(uid, hotkey, coldkey) of every node_table row, in UID order."""
    with transaction(conn_or_engine) as conn:
        return [NodeRecord(r.uid, r.hotkey, r.coldkey) for r in conn.execute(_NODES)]


def read_active_validators(
    conn_or_engine: Engine | Connection,
    current_block: int,
    *,
    window_blocks: int = ACTIVE_VALIDATOR_WINDOW_BLOCKS,
) -> list[int]:
    """UIDs with a validator permit whose last weight update is >= current_block - window."""
    with transaction(conn_or_engine) as conn:
        rows = conn.execute(_ACTIVE_VALIDATORS, {"since_block": current_block - window_blocks})
        return [int(uid) for (uid,) in rows]


def read_cycle_inputs(
    engine: Engine,
    now: datetime,
    current_block: int,
    *,
    weather_window: timedelta = WEATHER_WINDOW,
    weather_limit: int | None = WEATHER_LIMIT,
    geomagnetic_window: timedelta = GEOMAGNETIC_WINDOW,
    geomagnetic_limit: int | None = None,
    soil_window: timedelta = SOIL_WINDOW,
    soil_limit: int | None = SOIL_LIMIT,
    validator_window_blocks: int = ACTIVE_VALIDATOR_WINDOW_BLOCKS,
) -> CycleReads:
    """All five reads of a cycle in one read-only snapshot (five queries, one connection)."""
    snapshot = engine.connect().execution_options(
        isolation_level="REPEATABLE READ", postgresql_readonly=True
    )
    with snapshot as conn, conn.begin():
        return CycleReads(
            weather=read_weather_rows(conn, now, window=weather_window, limit=weather_limit),
            geomagnetic=read_geomagnetic_rows(
                conn, now, window=geomagnetic_window, limit=geomagnetic_limit
            ),
            soil=read_soil_rows(conn, now, window=soil_window, limit=soil_limit),
            nodes=read_nodes(conn),
            active_validator_uids=read_active_validators(
                conn, current_block, window_blocks=validator_window_blocks
            ),
        )


async def read_cycle_inputs_async(
    engine: Engine, now: datetime, current_block: int, **kwargs: Any
) -> CycleReads:
    """`read_cycle_inputs` for asyncio callers (sync Engine in a worker thread)."""
    return await asyncio.to_thread(read_cycle_inputs, engine, now, current_block, **kwargs)
