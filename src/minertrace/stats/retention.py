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

from sqlalchemy import Connection, Engine, text

logger = logging.getLogger(__name__)

_DELETE_SUBMISSIONS = text("DELETE FROM weight_submissions WHERE computed_at < :cutoff")
_DELETE_PERIOD_ROWS = text(
    "DELETE FROM miner_performance_stats WHERE period_type <> 'all_time' AND period_end < :cutoff"
)
_DELETE_STALE = text(
    """
    DELETE FROM miner_performance_stats AS s
    WHERE NOT EXISTS (
        SELECT 1 FROM node_table AS n
        WHERE n.uid = s.miner_uid AND n.hotkey = s.miner_hotkey
    )
    """
)


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
    submissions = conn.execute(_DELETE_SUBMISSIONS, {"cutoff": cutoff}).rowcount
    stats_rows = conn.execute(_DELETE_PERIOD_ROWS, {"cutoff": cutoff}).rowcount
    return RetentionCounts(cutoff, submissions, stats_rows)


def cleanup(bind: Connection | Engine, now: datetime, retention_days: float) -> RetentionCounts:
    """Delete weight_submissions and non-all_time stats rows older than `retention_days`.

    Both deletes run in one transaction (the caller's, when given a Connection). The counts
    are logged and returned.
    """
    cutoff = retention_cutoff(now, retention_days)
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            counts = _cleanup(conn, cutoff)
    else:
        counts = _cleanup(bind, cutoff)
    logger.info(
        "retention (%s days, cutoff %s): deleted %d weight_submissions rows, %d stats rows",
        retention_days,
        cutoff.isoformat(),
        counts.weight_submissions,
        counts.stats_rows,
    )
    return counts


def delete_stale_rows(bind: Connection | Engine) -> int:
    """Delete stats rows whose (miner_uid, miner_hotkey) no longer matches node_table.

    This covers UIDs whose hotkey changed and UIDs no longer in node_table (or without a
    hotkey). One statement; returns the number of rows deleted.
    """
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            count = conn.execute(_DELETE_STALE).rowcount
    else:
        count = bind.execute(_DELETE_STALE).rowcount
    if count:
        logger.info("deleted %d stale stats rows (hotkey no longer on the UID)", count)
    return count
