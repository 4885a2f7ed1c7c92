"""Retention and stale-row cleanup for the trace tables.

"Older than `retention_days`" means strictly before the cutoff `now - retention_days`:
- a `weight_submissions` row goes when `computed_at < cutoff`;
- a `daily` / `weekly` / `monthly` stats row goes when its period ended before the cutoff
  (`period_end < cutoff`), so a period is kept for `retention_days` after its last instant;
- `all_time` rows are never deleted by retention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from minertrace.store import (
    delete_period_rows_before,
    delete_stale_rows,
    delete_submissions_before,
    transaction,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionCounts:
    """Rows deleted by one retention run."""

    cutoff: datetime
    weight_submissions: int
    stats_rows: int


def retention_cutoff(now: datetime, retention_days: float) -> datetime:
    """The instant before which rows are deleted: `now - retention_days`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if retention_days <= 0:
        raise ValueError(f"retention_days must be positive, got {retention_days}")
    return now - timedelta(days=retention_days)


def _cleanup(conn: Connection, cutoff: datetime) -> RetentionCounts:
    submissions = delete_submissions_before(conn, cutoff)
    stats_rows = delete_period_rows_before(conn, cutoff)
    return RetentionCounts(cutoff, submissions, stats_rows)


def cleanup(bind: Connection | Engine, now: datetime, retention_days: float) -> RetentionCounts:
    """Delete weight_submissions and non-all_time stats rows older than `retention_days`.

    Both deletes run in one transaction (the caller's, when given a Connection). The counts
    are logged and returned.
    """
    cutoff = retention_cutoff(now, retention_days)
    with transaction(bind) as conn:
        counts = _cleanup(conn, cutoff)
    logger.info(
        "retention (%s days, cutoff %s): deleted %d weight_submissions rows, %d stats rows",
        retention_days,
        cutoff.isoformat(),
        counts.weight_submissions,
        counts.stats_rows,
    )
    return counts


__all__ = [
    "RetentionCounts",
    "cleanup",
    "delete_stale_rows",
    "retention_cutoff",
]
