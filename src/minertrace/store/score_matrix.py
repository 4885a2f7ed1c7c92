"""The score rows of a statistics window as numpy: one row per run, one column per miner.

The period refresh reduces the score entries in numpy (`minertrace.stats.cells`) instead of
unnesting them in SQL: the arrays come over in PostgreSQL's binary format and become the
matrix with one `frombuffer`. Rows are grouped as the cells are (segment, task, UTC day,
finality); each carries its run number `seq` in the refresh's run order (created_at,
task_name, task_id), the compute statement's `row_number()`.
Miners are read in column blocks (`score[a:b]`), so memory is bounded by the block, not by the
number of miners.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import psycopg
from numpy.typing import NDArray
from psycopg.adapt import Loader
from psycopg.pq import Format
from sqlalchemy import Connection, text

from minertrace.store import gaia_scores
from minertrace.store.stats_sql import RUN_FILTER, TASK_CODE

_FLOAT8_ARRAY_OID: Final = 1022
_ELEMENT = np.dtype([("len", ">i4"), ("val", ">f8")])

_REGISTERED = text("SELECT uid FROM node_table WHERE hotkey IS NOT NULL AND uid >= 0 ORDER BY uid")
_WIDTH = text(
    "SELECT coalesce(max(uid) + 1, 0) FROM node_table WHERE hotkey IS NOT NULL AND uid >= 0"
)


def _decode(data: bytes) -> NDArray[np.float64]:
    """A binary float8[] as a float64 vector, NULL elements as NaN."""
    ndim = struct.unpack_from(">i", data, 0)[0]
    if ndim == 0:
        return np.empty(0)
    if ndim != 1:
        raise ValueError("score arrays must be one-dimensional")
    n = struct.unpack_from(">i", data, 12)[0]
    if len(data) == 20 + 12 * n:
        return np.frombuffer(data, dtype=_ELEMENT, offset=20, count=n)["val"].astype(np.float64)
    # NULL elements (length -1, no value bytes): walk the elements.
    out = np.full(n, np.nan)
    pos = 20
    for i in range(n):
        (size,) = struct.unpack_from(">i", data, pos)
        pos += 4
        if size >= 0:
            out[i] = struct.unpack_from(">d", data, pos)[0]
            pos += size
    return out


class _Float8ArrayLoader(Loader):
    format = Format.BINARY

    def load(self, data: Any) -> bytes:
        return bytes(data)


@dataclass(frozen=True)
class ScoreRuns:
    """The runs of a window, grouped: per row its run number, segment, task, UTC day, finality
    and time."""

    seq: NDArray[np.int64]
    seg: NDArray[np.int64]
    task: NDArray[np.int64]
    day: NDArray[np.int64]
    final: NDArray[np.bool_]
    at_us: NDArray[np.int64]
    """created_at, microseconds since the Unix epoch."""

    def __len__(self) -> int:
        return int(self.seg.size)


# The sorts carry the score arrays' TOAST pointers; the outer query slices (and so reads) each
# array only after them (a subquery with ORDER BY is not flattened into its parent).
_RUNS_SQL: Final = f"""
SELECT r.seq, r.seg, r.task, r.day, r.final, r.at_us, r.score[%(first)s:%(last)s]
  FROM (
    SELECT row_number() OVER (ORDER BY s.created_at, s.task_name, s.task_id) AS seq,
           width_bucket(s.created_at, CAST(%(bounds)s AS timestamptz[])) AS seg,
           {TASK_CODE} AS task,
           (s.created_at AT TIME ZONE 'UTC')::date - DATE '2000-01-01' AS day,
           coalesce(s.status = 'completed'
                    OR (s.task_name = 'weather'
                        AND s.task_id LIKE 'final\\_weather\\_scores%%'),
                    false) AS final,
           (extract(epoch FROM s.created_at) * 1000000)::int8 AS at_us,
           s.score
      FROM score_table AS s
     WHERE s.created_at >= %(scan_start)s AND s.created_at < %(scan_end)s AND {RUN_FILTER}
     ORDER BY seg, task, day, final, seq
  ) AS r
"""

_COUNT_SQL: Final = f"""
SELECT count(*) FROM score_table AS s
 WHERE s.created_at >= %(scan_start)s AND s.created_at < %(scan_end)s AND {RUN_FILTER}
"""


def driver(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under `conn` (binary results need psycopg's own cursor)."""
    raw = conn.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError("the period refresh needs the psycopg driver")
    return raw


def register_array_loader(cur: psycopg.Cursor[Any]) -> None:
    """Make `cur` return float8[] columns as their binary bytes (for `decode_matrix`)."""
    cur.adapters.register_loader(_FLOAT8_ARRAY_OID, _Float8ArrayLoader)


def count_runs(conn: Connection, plan: dict[str, Any]) -> int:
    """The number of runs `read_score_block` returns for `plan`'s window."""
    sql = gaia_scores.adapt_sql(_COUNT_SQL, gaia_scores.detect(conn))
    with driver(conn).cursor() as cur:
        cur.execute(sql, {k: plan[k] for k in ("scan_start", "scan_end")})
        row = cur.fetchone()
    return int(row[0]) if row else 0


def miner_width(conn: Connection) -> int:
    """1 + the highest UID with a hotkey (0 without miners): the score columns that count."""
    return int(conn.execute(_WIDTH).scalar_one())


def registered_uids(conn: Connection) -> NDArray[np.int64]:
    """The UIDs with a hotkey (the miners the statistics rank), ascending."""
    uids = conn.execute(_REGISTERED).scalars().all()
    return np.array(uids, dtype=np.int64)


def decode_matrix(blobs: list[bytes | None], width: int) -> NDArray[np.float64]:
    """Binary float8[] slices as a matrix with one row per miner and one column per blob.

    A NULL array, a NULL element or a short array is NaN (no entry). Miners are rows so that
    each miner's entries are contiguous, as the reductions and sorts want them.
    """
    # Arrays of the full block width without NULLs (the usual case) decode in one go.
    full = 20 + 12 * width
    if width and all(b is not None and len(b) == full for b in blobs):
        layout = np.dtype([("head", "V20"), ("entries", _ELEMENT, (width,))])
        data = b"".join(b for b in blobs if b is not None)
        matrix = np.frombuffer(data, dtype=layout)["entries"]["val"].astype(np.float64)
    else:
        matrix = np.full((len(blobs), width), np.nan)
        for i, blob in enumerate(blobs):
            if blob is not None:
                scores = _decode(blob)[:width]
                matrix[i, : scores.size] = scores
    return np.ascontiguousarray(matrix.T)


def read_score_block(
    conn: Connection, plan: dict[str, Any], first_uid: int, stop_uid: int
) -> tuple[ScoreRuns, NDArray[np.float64]]:
    """The window's runs and their entries of UIDs first_uid .. stop_uid - 1 (NaN = none).

    The matrix has one row per miner and one column per run (in `runs` order).

    `plan` holds `bounds`, `scan_start` and `scan_end` (see `minertrace.stats.refresh`).
    """
    params = {
        "bounds": plan["bounds"],
        "scan_start": plan["scan_start"],
        "scan_end": plan["scan_end"],
        "first": first_uid + 1,
        "last": stop_uid,
    }
    sql = gaia_scores.adapt_sql(_RUNS_SQL, gaia_scores.detect(conn))
    with driver(conn).cursor(binary=True) as cur:
        register_array_loader(cur)
        cur.execute(sql, params)
        rows = cur.fetchall()
    matrix = decode_matrix([r[6] for r in rows], stop_uid - first_uid)
    columns = list(zip(*rows, strict=True))[:6] if rows else [()] * 6
    runs = ScoreRuns(
        seq=np.array(columns[0], dtype=np.int64),
        seg=np.array(columns[1], dtype=np.int64),
        task=np.array(columns[2], dtype=np.int64),
        day=np.array(columns[3], dtype=np.int64),
        final=np.array(columns[4], dtype=bool),
        at_us=np.array(columns[5], dtype=np.int64),
    )
    return runs, matrix


__all__ = [
    "ScoreRuns",
    "count_runs",
    "decode_matrix",
    "driver",
    "miner_width",
    "read_score_block",
    "register_array_loader",
    "registered_uids",
]
