"""score_table: several task runs' rows in one statement (the simulator's writes).

`record_score_rows` validates every row as `record_scores` does and then writes them all with
one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE`: the scores travel as one flat
FLOAT8[] and each row takes its slice. A batch that names the same (task_name, task_id) twice
keeps the last one, as one `record_scores` call per row would. In an adopted Gaia database
(per-UID score columns) the rows are written one statement each, through `record_scores`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, Engine, text

from minertrace.store import gaia_scores
from minertrace.store._bind import transaction
from minertrace.store.nodes import subnet_size
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
from minertrace.store.scores import record_scores

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreRow:
    """One task run's row for `record_score_rows` (the arguments of `record_scores`)."""

    task_name: str
    task_id: str
    scores: Scores
    created_at: datetime
    status: str


_UPSERT_MANY = text(
    """
    INSERT INTO score_table (task_name, task_id, score, created_at, status)
    SELECT r.task_name, r.task_id, (CAST(:flat AS double precision[]))[r.lo:r.hi],
           r.created_at, r.status
      FROM unnest(CAST(:task_names AS text[]), CAST(:task_ids AS text[]),
                  CAST(:los AS integer[]), CAST(:his AS integer[]),
                  CAST(:created AS timestamptz[]), CAST(:statuses AS text[]))
           AS r(task_name, task_id, lo, hi, created_at, status)
    ON CONFLICT (task_name, task_id) DO UPDATE
       SET score = EXCLUDED.score,
           created_at = EXCLUDED.created_at,
           status = EXCLUDED.status
    RETURNING task_name, task_id, (xmax = 0) AS inserted
    """
)


def _check(row: ScoreRow) -> None:
    try:
        validate_task(row.task_name, row.task_id)
        status = row.status
        if not isinstance(status, str) or not status or len(status) > STATUS_MAX:
            raise ScoreValidationError(
                f"invalid status {status!r}: expected a non-empty string of <= {STATUS_MAX} chars"
            )
        if (problem := text_problem(status)) is not None:
            raise ScoreValidationError(f"invalid status {status!r}: {problem}")
        if not isinstance(row.created_at, datetime) or row.created_at.tzinfo is None:
            raise ScoreValidationError(
                f"created_at must be a timezone-aware datetime, got {row.created_at!r}"
            )
    except ScoreValidationError as exc:
        raise ScoreValidationError(
            f"score row ({row.task_name!r}, {row.task_id!r}): {exc}"
        ) from None


def record_score_rows(
    conn_or_engine: Engine | Connection,
    rows: Sequence[ScoreRow],
    *,
    n_uids: int | None = None,
) -> list[IngestReport]:
    """Write (or update) the score_table rows of several task runs; one report per row.

    Same rules as `record_scores` (`n_uids` bounds the UIDs, else node_table's size; an
    existing (task_name, task_id) row gets the new scores, created_at and status), in one
    transaction (the caller's, given a Connection). Raises `ScoreValidationError` for any
    invalid row before anything is written.
    """
    for row in rows:
        _check(row)
    if not rows:
        return []
    with transaction(conn_or_engine) as conn:
        bound = n_uids if n_uids is not None else subnet_size(conn)
        arrays: list[tuple[np.ndarray, dict[int, str]]] = []
        for row in rows:
            try:
                arrays.append(score_array(row.scores, bound))
            except ScoreValidationError as exc:
                raise ScoreValidationError(
                    f"score row ({row.task_name!r}, {row.task_id!r}): {exc}"
                ) from None
        if gaia_scores.detect(conn).layout is gaia_scores.ScoreLayout.COLUMNS:
            return [
                record_scores(conn, r.task_name, r.task_id, a, r.created_at, r.status, n_uids=bound)
                for r, (a, _) in zip(rows, arrays, strict=True)
            ]
        inserted = _write(conn, rows, [a for a, _ in arrays])
    reports = [
        IngestReport(
            task_name=row.task_name,
            task_id=row.task_id,
            n_entries=int(array.size),
            n_valid=int(array.size - np.count_nonzero(np.isnan(array))),
            inserted=new,
            bad_entries=dict(sorted(bad.items())),
        )
        for row, (array, bad), new in zip(rows, arrays, inserted, strict=True)
    ]
    for report in reports:
        wrong = {
            u: r for u, r in report.bad_entries.items() if r not in (REASON_MISSING, REASON_NAN)
        }
        if wrong:
            logger.warning(
                "%s/%s: %d entries stored as NaN (not finite numbers): %s",
                report.task_name,
                report.task_id,
                len(wrong),
                dict(list(wrong.items())[:10]),
            )
    return reports


def _write(conn: Connection, rows: Sequence[ScoreRow], arrays: list[np.ndarray]) -> list[bool]:
    """Send the rows; for each, whether it inserted a new row (as one call per row would)."""
    # ON CONFLICT cannot touch one row twice in a statement: the last of duplicates is sent.
    last = {(r.task_name, r.task_id): i for i, r in enumerate(rows)}
    keep = sorted(last.values())
    sizes = np.array([arrays[i].size for i in keep], dtype=np.int64)
    his = np.cumsum(sizes)
    los = his - sizes + 1
    flat = np.concatenate([arrays[i] for i in keep]) if keep else np.empty(0)
    result = conn.execute(
        _UPSERT_MANY,
        {
            "flat": flat.tolist(),
            "task_names": [rows[i].task_name for i in keep],
            "task_ids": [rows[i].task_id for i in keep],
            "los": los.tolist(),
            "his": his.tolist(),
            "created": [rows[i].created_at for i in keep],
            "statuses": [rows[i].status for i in keep],
        },
    )
    written = {(r.task_name, r.task_id): bool(r.inserted) for r in result}
    # A duplicate sent once counts as inserted only at its first occurrence.
    seen: set[tuple[str, str]] = set()
    out: list[bool] = []
    for r in rows:
        key = (r.task_name, r.task_id)
        out.append(written[key] and key not in seen)
        seen.add(key)
    return out


__all__ = ["ScoreRow", "record_score_rows"]
