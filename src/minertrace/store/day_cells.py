"""`stats_day_cells`: the period statistics' cells per UTC day, and what they are checked against.

The incremental refresh (`minertrace.stats.incremental`) asks one cheap question per refresh:
which UTC days of the window have score rows, how many, and a fingerprint of their row
versions (`day_fingerprints`: a hash over each row's `ctid` and `xmin`, never the score
arrays). An UPDATE gives a row a new version (new `xmin` and `ctid`), an INSERT or DELETE
changes the count and the hash, so a day whose stored fingerprint still matches holds exactly
the rows its cells were computed from. Only the other days are read (`read_day_runs`), reduced
in numpy and written back (`write_cells`).

Days are numbered from 2000-01-01 (day 0), as the statistics' trend points are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection

from minertrace.store import gaia_scores
from minertrace.store.score_matrix import decode_matrix, driver, register_array_loader
from minertrace.store.stats_sql import RUN_FILTER, TASK_CODE

_DAY: Final = "((s.created_at AT TIME ZONE 'UTC')::date - DATE '2000-01-01')"
_FINAL: Final = (
    "coalesce(s.status = 'completed' OR (s.task_name = 'weather'"
    " AND s.task_id LIKE 'final\\_weather\\_scores%%'), false)"
)

# Row versions only: the heap tuples' headers and small columns, never the TOASTed arrays.
# hashtextextended is PostgreSQL 11+; the sum of 64-bit hashes is reduced to a bigint.
_FINGERPRINT_SQL: Final = f"""
SELECT {_DAY} AS day, count(*) AS runs,
       (sum(hashtextextended(concat_ws(':', s.ctid, s.xmin), 0)) %% 9223372036854775807)::int8,
       count(*) FILTER (WHERE s.created_at >= %(split)s) AS after_split,
       max(s.created_at) AS last_created
  FROM score_table AS s
 WHERE s.created_at >= %(start)s AND s.created_at < %(end)s AND {RUN_FILTER}
 GROUP BY 1
"""

# The database's identity comes along: a process cache of unstored cells must not mistake
# another database's (or cluster's) rows for these.
_STORED_SQL: Final = """
SELECT day - DATE '2000-01-01', runs, fingerprint, width, token,
       current_database() || '@' || pg_postmaster_start_time()::text
  FROM (SELECT 1) AS one
  LEFT JOIN stats_day_cells
    ON day >= DATE '2000-01-01' + %(first)s AND day < DATE '2000-01-01' + %(stop)s
"""

# The rows of a day created after an instant: how many, and their versions' hash (as above).
_TAIL_PRINT_SQL: Final = f"""
SELECT count(*),
       coalesce(sum(hashtextextended(concat_ws(':', s.ctid, s.xmin), 0)), 0)
           %% 9223372036854775807
  FROM score_table AS s
 WHERE s.created_at > %(after)s AND s.created_at < %(end)s AND {RUN_FILTER}
"""

_TAIL_RUNS_SQL: Final = f"""
SELECT r.task, r.final, r.seq, r.at_us, r.score[1:%(last)s]
  FROM (
    SELECT {TASK_CODE} AS task,
           {_FINAL} AS final,
           %(before)s + row_number() OVER (ORDER BY s.created_at, s.task_name, s.task_id) AS seq,
           (extract(epoch FROM s.created_at) * 1000000)::int8 AS at_us,
           s.score
      FROM score_table AS s
     WHERE s.created_at > %(after)s AND s.created_at < %(end)s AND {RUN_FILTER}
     ORDER BY task, final, seq
  ) AS r
"""

FINGERPRINT_MODULUS: Final = 9223372036854775807
"""Fingerprints are sums of 64-bit hashes modulo this (they add up modulo it)."""

_PAYLOAD_SQL: Final = """
SELECT day - DATE '2000-01-01', token, width, task_runs, slot_cells, miner_cells, sorted_values
  FROM stats_day_cells
 WHERE day - DATE '2000-01-01' = ANY(%(days)s)
"""

_WRITE_SQL: Final = """
INSERT INTO stats_day_cells AS c (day, runs, fingerprint, width, token, task_runs, slot_cells,
                                  miner_cells, sorted_values, computed_at)
VALUES (DATE '2000-01-01' + %(day)s, %(runs)s, %(fingerprint)s, %(width)s, %(token)s,
        %(task_runs)s, %(slot_cells)s, %(miner_cells)s, %(sorted_values)s, now())
ON CONFLICT (day) DO UPDATE SET
    runs = EXCLUDED.runs, fingerprint = EXCLUDED.fingerprint, width = EXCLUDED.width,
    token = EXCLUDED.token, task_runs = EXCLUDED.task_runs, slot_cells = EXCLUDED.slot_cells,
    miner_cells = EXCLUDED.miner_cells, sorted_values = EXCLUDED.sorted_values,
    computed_at = EXCLUDED.computed_at
"""

_DELETE_SQL: Final = "DELETE FROM stats_day_cells WHERE day - DATE '2000-01-01' = ANY(%(days)s)"

# The runs of the given days, each day's runs numbered in the refresh's run order (created_at,
# task_name, task_id); a day split at `split` gives two units (half 0 and 1). The sort carries
# the TOAST pointers; the outer query slices (and so reads) each array only after it.
_DAY_RUNS_SQL: Final = f"""
SELECT r.day, r.half, r.task, r.final, r.seq, r.at_us, r.score[%(first)s:%(last)s]
  FROM (
    SELECT {_DAY} AS day,
           (%(split)s::timestamptz IS NOT NULL AND s.created_at >= %(split)s) AS half,
           {TASK_CODE} AS task,
           {_FINAL} AS final,
           row_number() OVER (PARTITION BY {_DAY}
                              ORDER BY s.created_at, s.task_name, s.task_id) AS seq,
           (extract(epoch FROM s.created_at) * 1000000)::int8 AS at_us,
           s.score
      FROM score_table AS s
     WHERE s.created_at >= %(start)s AND s.created_at < %(end)s AND {RUN_FILTER}
       AND {_DAY} = ANY(%(days)s)
     ORDER BY day, half, task, final, seq
  ) AS r
"""


@dataclass(frozen=True)
class DayFingerprint:
    """What `score_table` holds for one UTC day of the window, without reading a score array."""

    runs: int
    fingerprint: int
    after_split: int
    """Rows of the day created at or after the split instant (the refresh's `now`)."""
    last_created: datetime
    """The latest created_at of the day's rows."""


@dataclass(frozen=True)
class StoredDay:
    """The key columns of a `stats_day_cells` row."""

    runs: int
    fingerprint: int
    width: int
    token: int


@dataclass(frozen=True)
class DayPayload:
    """A `stats_day_cells` row's cells (layouts in `minertrace.db.tables.stats_day_cells`)."""

    day: int
    token: int
    width: int
    task_runs: list[int]
    slot_cells: bytes
    miner_cells: bytes
    sorted_values: bytes


@dataclass(frozen=True)
class DayRuns:
    """Runs of some days, ordered by (day, half, task, final, seq), and their entries.

    `matrix` has one row per miner and one column per run.
    """

    day: NDArray[np.int64]
    half: NDArray[np.int64]
    task: NDArray[np.int64]
    final: NDArray[np.bool_]
    seq: NDArray[np.int64]
    at_us: NDArray[np.int64]
    matrix: NDArray[np.float64]


def day_fingerprints(
    conn: Connection, start: datetime, end: datetime, split: datetime | None
) -> dict[int, DayFingerprint]:
    """Per UTC day with score rows (the three tasks) in [start, end): count and fingerprint."""
    params = {"start": start, "end": end, "split": split}
    with driver(conn).cursor() as cur:
        cur.execute(_FINGERPRINT_SQL, params)
        rows = cur.fetchall()
    return {int(d): DayFingerprint(int(n), int(f), int(a), t) for d, n, f, a, t in rows}


def stored_days(
    conn: Connection, first_day: int, stop_day: int
) -> tuple[str, dict[int, StoredDay]]:
    """The database's identity, and its stored days first_day .. stop_day - 1 (key columns)."""
    with driver(conn).cursor() as cur:
        cur.execute(_STORED_SQL, {"first": first_day, "stop": stop_day})
        rows = cur.fetchall()
    days = {
        int(d): StoredDay(int(n), int(f), int(w), int(t))
        for d, n, f, w, t, _ in rows
        if d is not None
    }
    return str(rows[0][5]), days


def read_payloads(conn: Connection, days: list[int]) -> list[DayPayload]:
    """The stored cells of `days`."""
    if not days:
        return []
    with driver(conn).cursor(binary=True) as cur:
        cur.execute(_PAYLOAD_SQL, {"days": days})
        rows = cur.fetchall()
    return [
        DayPayload(int(d), int(t), int(w), [int(x) for x in r], bytes(s), bytes(m), bytes(v))
        for d, t, w, r, s, m, v in rows
    ]


def write_cells(conn: Connection, rows: list[tuple[DayPayload, DayFingerprint]]) -> None:
    """Insert or replace the cells of each day with the fingerprint they were computed from."""
    if not rows:
        return
    params: list[dict[str, Any]] = [
        {
            "day": p.day,
            "runs": f.runs,
            "fingerprint": f.fingerprint,
            "width": p.width,
            "token": p.token,
            "task_runs": p.task_runs,
            "slot_cells": p.slot_cells,
            "miner_cells": p.miner_cells,
            "sorted_values": p.sorted_values,
        }
        for p, f in rows
    ]
    with driver(conn).cursor() as cur:
        cur.executemany(_WRITE_SQL, params)


def delete_cells(conn: Connection, days: list[int]) -> None:
    """Drop the cells of days that no longer have score rows."""
    if days:
        with driver(conn).cursor() as cur:
            cur.execute(_DELETE_SQL, {"days": days})


def tail_fingerprint(conn: Connection, after: datetime, end: datetime) -> tuple[int, int]:
    """Count and hash (as in `day_fingerprints`) of the rows created in (after, end)."""
    with driver(conn).cursor() as cur:
        cur.execute(_TAIL_PRINT_SQL, {"after": after, "end": end})
        row = cur.fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def read_tail_runs(
    conn: Connection, after: datetime, end: datetime, before: int, width: int
) -> DayRuns:
    """The runs created in (after, end), one day's, numbered from `before` + 1 in run order."""
    params = {"after": after, "end": end, "before": before, "last": width}
    sql = gaia_scores.adapt_sql(_TAIL_RUNS_SQL, gaia_scores.detect(conn))
    with driver(conn).cursor(binary=True) as cur:
        register_array_loader(cur)
        cur.execute(sql, params)
        rows = cur.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * 5
    n = len(rows)
    return DayRuns(
        day=np.zeros(n, dtype=np.int64),
        half=np.zeros(n, dtype=np.int64),
        task=np.array(columns[0], dtype=np.int64),
        final=np.array(columns[1], dtype=bool),
        seq=np.array(columns[2], dtype=np.int64),
        at_us=np.array(columns[3], dtype=np.int64),
        matrix=decode_matrix(list(columns[4]), width),
    )


def read_day_runs(
    conn: Connection,
    days: list[int],
    start: datetime,
    end: datetime,
    split: datetime | None,
    width: int,
) -> DayRuns:
    """The runs of `days` (within [start, end)) and the entries of UIDs 0 .. width - 1."""
    params = {
        "days": days,
        "start": start,
        "end": end,
        "split": split,
        "first": 1,
        "last": width,
    }
    sql = gaia_scores.adapt_sql(_DAY_RUNS_SQL, gaia_scores.detect(conn))
    with driver(conn).cursor(binary=True) as cur:
        register_array_loader(cur)
        cur.execute(sql, params)
        rows = cur.fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * 7
    return DayRuns(
        day=np.array(columns[0], dtype=np.int64),
        half=np.array(columns[1], dtype=np.int64),
        task=np.array(columns[2], dtype=np.int64),
        final=np.array(columns[3], dtype=bool),
        seq=np.array(columns[4], dtype=np.int64),
        at_us=np.array(columns[5], dtype=np.int64),
        matrix=decode_matrix(list(columns[6]), width),
    )


__all__ = [
    "FINGERPRINT_MODULUS",
    "DayFingerprint",
    "DayPayload",
    "DayRuns",
    "StoredDay",
    "day_fingerprints",
    "delete_cells",
    "read_day_runs",
    "read_payloads",
    "read_tail_runs",
    "stored_days",
    "tail_fingerprint",
    "write_cells",
]
