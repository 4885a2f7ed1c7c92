"""score_table: recording a task run's scores, and the reads a weight cycle needs.

`record_scores` validates a row (`minertrace.store.score_values`) and writes it, updating the
existing row of the same (task_name, task_id) instead of adding a second one. The cycle's
reads run one round trip per query. Their windows and limits are the production caller's
(spec/weights.md §1.4), held once, in `WeightConfig` (`ScoreWindows.from_config`):

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
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, text

from minertrace.store import gaia_scores
from minertrace.store._bind import transaction
from minertrace.store.nodes import (
    ACTIVE_VALIDATOR_WINDOW_BLOCKS,
    NodeRecord,
    read_active_validators,
    read_nodes,
    subnet_size,
)
from minertrace.store.score_values import (
    REASON_MISSING,
    REASON_NAN,
    STATUS_MAX,
    IngestReport,
    Scores,
    ScoreValidationError,
    score_array,
    text_problem,
    validate_task,
)
from minertrace.vocabulary import (
    FINAL_WEATHER_PREFIX,
    INITIAL_WEATHER_PREFIX,
    SCORE_TASK_GEOMAGNETIC,
    SCORE_TASK_WEATHER,
    SOIL_TASK_PREFIX,
)
from minertrace.weights import WeightConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreWindows:
    """How far back each task's rows are read, and how many at most (None = no limit)."""

    weather: timedelta
    weather_limit: int | None
    geomagnetic: timedelta
    geomagnetic_limit: int | None
    soil: timedelta
    soil_limit: int | None

    @classmethod
    def from_config(cls, config: WeightConfig) -> ScoreWindows:
        """The windows and limits of a weight configuration (its §1.4 fields)."""
        return cls(
            weather=timedelta(days=config.weather_window_days),
            weather_limit=config.weather_row_limit,
            geomagnetic=timedelta(days=config.geomagnetic_window_days),
            geomagnetic_limit=config.geomagnetic_row_limit,
            soil=timedelta(days=config.soil_window_days),
            soil_limit=config.soil_row_limit,
        )


DEFAULT_WINDOWS = ScoreWindows.from_config(WeightConfig())
"""The production caller's windows: weather 15 days / 100 rows, geomagnetic 24 h, soil 24 h /
200 rows."""


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
class CycleReads:
    """Everything a cycle reads, from one snapshot."""

    weather: list[ScoreRecord]
    geomagnetic: list[ScoreRecord]
    soil: list[ScoreRecord]
    nodes: list[NodeRecord]
    active_validator_uids: list[int]


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching `prefix` literally (backslash is LIKE's default escape)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_TASK_PARAMS = {
    "weather": SCORE_TASK_WEATHER,
    "geomagnetic": SCORE_TASK_GEOMAGNETIC,
    "final_like": _like_prefix(FINAL_WEATHER_PREFIX),
    "initial_like": _like_prefix(INITIAL_WEATHER_PREFIX),
    "soil_like": _like_prefix(SOIL_TASK_PREFIX),
}

_WEATHER = text(
    """
    SELECT task_name, task_id, score, created_at, status
      FROM score_table
     WHERE task_name = :weather
       AND (task_id LIKE :final_like OR task_id LIKE :initial_like)
       AND created_at >= :since
     ORDER BY (task_id LIKE :final_like) DESC, created_at DESC, task_id
     LIMIT :limit
    """
)

_GEOMAGNETIC = text(
    """
    SELECT task_name, task_id, score, created_at, status
      FROM score_table
     WHERE task_name = :geomagnetic AND created_at >= :since
     ORDER BY created_at DESC, task_id
     LIMIT :limit
    """
)

_SOIL = text(
    """
    SELECT task_name, task_id, score, created_at, status
      FROM score_table
     WHERE task_name LIKE :soil_like AND created_at >= :since
     ORDER BY created_at DESC, task_name, task_id
     LIMIT :limit
    """
)


def _records(conn: Connection, query: Any, since: datetime, limit: int | None) -> list[ScoreRecord]:
    query = gaia_scores.adapt(conn, query)
    rows = conn.execute(query, {**_TASK_PARAMS, "since": since, "limit": limit}).all()
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
    window: timedelta = DEFAULT_WINDOWS.weather,
    limit: int | None = DEFAULT_WINDOWS.weather_limit,
) -> list[ScoreRecord]:
    """Weather rows of the last `window`: final rows first, then initial, newest first."""
    with transaction(conn_or_engine) as conn:
        return _records(conn, _WEATHER, _aware(now) - window, limit)


def read_geomagnetic_rows(
    conn_or_engine: Engine | Connection,
    now: datetime,
    *,
    window: timedelta = DEFAULT_WINDOWS.geomagnetic,
    limit: int | None = DEFAULT_WINDOWS.geomagnetic_limit,
) -> list[ScoreRecord]:
    """Geomagnetic rows of the last `window`, newest first (no limit by default)."""
    with transaction(conn_or_engine) as conn:
        return _records(conn, _GEOMAGNETIC, _aware(now) - window, limit)


def read_soil_rows(
    conn_or_engine: Engine | Connection,
    now: datetime,
    *,
    window: timedelta = DEFAULT_WINDOWS.soil,
    limit: int | None = DEFAULT_WINDOWS.soil_limit,
) -> list[ScoreRecord]:
    """Soil-moisture rows (every region) of the last `window`, newest first."""
    with transaction(conn_or_engine) as conn:
        return _records(conn, _SOIL, _aware(now) - window, limit)


def read_cycle_inputs(
    engine: Engine,
    now: datetime,
    current_block: int,
    *,
    windows: ScoreWindows = DEFAULT_WINDOWS,
    validator_window_blocks: int = ACTIVE_VALIDATOR_WINDOW_BLOCKS,
) -> CycleReads:
    """All five reads of a cycle in one read-only snapshot (five queries, one connection)."""
    snapshot = engine.connect().execution_options(
        isolation_level="REPEATABLE READ", postgresql_readonly=True
    )
    with snapshot as conn, conn.begin():
        return CycleReads(
            weather=read_weather_rows(
                conn, now, window=windows.weather, limit=windows.weather_limit
            ),
            geomagnetic=read_geomagnetic_rows(
                conn, now, window=windows.geomagnetic, limit=windows.geomagnetic_limit
            ),
            soil=read_soil_rows(conn, now, window=windows.soil, limit=windows.soil_limit),
            nodes=read_nodes(conn),
            active_validator_uids=read_active_validators(
                conn, current_block, window_blocks=validator_window_blocks
            ),
        )


async def read_cycle_inputs_async(
    engine: Engine,
    now: datetime,
    current_block: int,
    *,
    windows: ScoreWindows = DEFAULT_WINDOWS,
    validator_window_blocks: int = ACTIVE_VALIDATOR_WINDOW_BLOCKS,
) -> CycleReads:
    """`read_cycle_inputs` for asyncio callers (sync Engine in a worker thread)."""
    return await asyncio.to_thread(
        read_cycle_inputs,
        engine,
        now,
        current_block,
        windows=windows,
        validator_window_blocks=validator_window_blocks,
    )


DEFAULT_STATUS = "pending"

_UPSERT = text(
    """
    INSERT INTO score_table (task_name, task_id, score, created_at, status)
    VALUES (:task_name, :task_id, CAST(:score AS double precision[]), :created_at, :status)
    ON CONFLICT (task_name, task_id) DO UPDATE
       SET score = EXCLUDED.score,
           created_at = EXCLUDED.created_at,
           status = EXCLUDED.status
    RETURNING (xmax = 0) AS inserted
    """
)


def record_scores(
    conn_or_engine: Engine | Connection,
    task_name: str,
    task_id: str,
    scores: Scores,
    created_at: datetime,
    status: str = DEFAULT_STATUS,
    *,
    n_uids: int | None = None,
) -> IngestReport:
    """Write (or update) the score_table row of one task run and report what was stored.

    `scores` is a per-UID sequence (list, tuple or 1-D numpy array) or a {uid: score} map.
    `n_uids` bounds the UIDs; when None it is taken from node_table (max uid + 1) in the same
    transaction, and left unbounded while node_table is empty. `created_at` must be
    timezone-aware. An existing (task_name, task_id) row gets the new scores, created_at and
    status (one `INSERT ... ON CONFLICT DO UPDATE`). With an Engine the write commits on
    return; with a Connection it joins the caller's transaction.

    Raises `ScoreValidationError` (a ValueError) for an invalid task name, task id, status,
    UID or timestamp; nothing is written then.
    """
    try:
        validate_task(task_name, task_id)
        if not isinstance(status, str) or not status or len(status) > STATUS_MAX:
            raise ScoreValidationError(
                f"invalid status {status!r}: expected a non-empty string of <= {STATUS_MAX} chars"
            )
        if (problem := text_problem(status)) is not None:
            raise ScoreValidationError(f"invalid status {status!r}: {problem}")
        if not isinstance(created_at, datetime) or created_at.tzinfo is None:
            raise ScoreValidationError(
                f"created_at must be a timezone-aware datetime, got {created_at!r}"
            )
    except ScoreValidationError as exc:
        raise ScoreValidationError(f"score row ({task_name!r}, {task_id!r}): {exc}") from None
    with transaction(conn_or_engine) as conn:
        bound = n_uids if n_uids is not None else subnet_size(conn)
        # Raises before the write, so a rejected row never touches score_table.
        try:
            array, bad = score_array(scores, bound)
        except ScoreValidationError as exc:
            raise ScoreValidationError(f"score row ({task_name!r}, {task_id!r}): {exc}") from None
        try:
            upsert = gaia_scores.adapt_upsert(conn, _UPSERT, int(array.size))
        except ValueError as exc:
            raise ScoreValidationError(f"score row ({task_name!r}, {task_id!r}): {exc}") from None
        inserted = bool(
            conn.execute(
                upsert,
                {
                    "task_name": task_name,
                    "task_id": task_id,
                    "score": array.tolist(),
                    "created_at": created_at,
                    "status": status,
                },
            ).scalar_one()
        )
    report = IngestReport(
        task_name=task_name,
        task_id=task_id,
        n_entries=int(array.size),
        n_valid=int(array.size - np.count_nonzero(np.isnan(array))),
        inserted=inserted,
        bad_entries=dict(sorted(bad.items())),
    )
    wrong = {
        uid: r for uid, r in report.bad_entries.items() if r not in (REASON_MISSING, REASON_NAN)
    }
    if wrong:
        logger.warning(
            "%s/%s: %d entries stored as NaN (not finite numbers): %s",
            task_name,
            task_id,
            len(wrong),
            dict(list(wrong.items())[:10]),
        )
    return report


async def record_scores_async(
    engine: Engine,
    task_name: str,
    task_id: str,
    scores: Scores,
    created_at: datetime,
    status: str = DEFAULT_STATUS,
    *,
    n_uids: int | None = None,
) -> IngestReport:
    """`record_scores` for asyncio callers: runs it on the sync Engine in a worker thread."""
    return await asyncio.to_thread(
        record_scores, engine, task_name, task_id, scores, created_at, status, n_uids=n_uids
    )
