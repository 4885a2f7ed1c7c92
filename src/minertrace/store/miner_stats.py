"""miner_performance_stats: the period job's write, and the deletes that keep the table clean.

The pipeline and chain columns a cycle writes are in `minertrace.store.pipeline`; the
statistics columns' SQL is built by `minertrace.store.stats_sql`, their upsert by
`minertrace.store.period_upsert`. Every statement here is set-based: one
per call whatever the number of miners or periods.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, exists, text

from minertrace.db.tables import miner_performance_stats, node_table
from minertrace.store._bind import transaction
from minertrace.store._periods import PeriodWindow
from minertrace.store.period_upsert import UPSERT_SQL, carries_from_daily
from minertrace.store.stats_sql import STAGING_TABLE, WORK_MEM, compute_sql
from minertrace.vocabulary import PeriodType

logger = logging.getLogger(__name__)

_M = miner_performance_stats.c
_DELETE_PERIOD_ROWS = delete(miner_performance_stats).where(
    _M.period_type != bindparam("all_time"), _M.period_end < bindparam("cutoff")
)
_DELETE_STALE = delete(miner_performance_stats).where(
    ~exists().where(node_table.c.uid == _M.miner_uid, node_table.c.hotkey == _M.miner_hotkey)
)

_SWAP_WORK_MEM = text("SELECT current_setting('work_mem'), set_config('work_mem', :value, true)")
_SET_WORK_MEM = text("SELECT set_config('work_mem', :value, true)")
_ASYNC_COMMIT = text("SELECT set_config('synchronous_commit', 'off', true)")
_DROP_STAGING = text(f"DROP TABLE {STAGING_TABLE}")
_UPSERT = text(UPSERT_SQL)


def delete_period_rows_before(conn: Connection, cutoff: datetime) -> int:
    """Delete daily, weekly and monthly rows whose period ended before `cutoff` (never
    all_time); returns the rows deleted."""
    params = {"all_time": PeriodType.ALL_TIME.value, "cutoff": cutoff}
    return int(conn.execute(_DELETE_PERIOD_ROWS, params).rowcount)


def delete_stale_rows(bind: Connection | Engine) -> int:
    """Delete stats rows whose (miner_uid, miner_hotkey) no longer matches node_table.

    This covers UIDs whose hotkey changed and UIDs no longer in node_table (or without a
    hotkey). One statement; returns the number of rows deleted.
    """
    with transaction(bind) as conn:
        count = int(conn.execute(_DELETE_STALE).rowcount)
    if count:
        logger.info("deleted %d stale stats rows (hotkey no longer on the UID)", count)
    return count


def commit_asynchronously(conn: Connection) -> None:
    """Let the current transaction's commit return before its WAL reaches the disk.

    For transactions that write only derived data (the period refresh): a crash right after
    the commit can lose that transaction (the next refresh writes it again), never corrupt
    anything, and the commit does not wait for a disk flush.
    """
    conn.execute(_ASYNC_COMMIT)


def write_period_stats(
    conn: Connection,
    periods: Sequence[PeriodWindow],
    plan: dict[str, Any],
    now: datetime,
) -> list[int]:
    """Compute every period in one statement, then write each with one upsert.

    `plan` holds the compute statement's segment parameters, cells and percentiles
    (`minertrace.stats.refresh` builds it).
    Returns the rows written per period, in the order of `periods`.
    """
    previous = conn.execute(_SWAP_WORK_MEM, {"value": WORK_MEM}).scalar_one()
    conn.execute(text(compute_sql()), plan)
    counts = []
    for pid, period in enumerate(periods):
        params = {
            "pid": pid,
            "period_type": str(period.period_type),
            "period_start": period.start,
            "period_end": period.end,
            "carry": carries_from_daily(str(period.period_type)),
            "now": now,
        }
        counts.append(int(conn.execute(_UPSERT, params).rowcount))
    # ON COMMIT DROP covers the end of the transaction; a caller's transaction may refresh
    # again before that. On failure the rollback drops the table and restores work_mem.
    conn.execute(_DROP_STAGING)
    conn.execute(_SET_WORK_MEM, {"value": previous})
    return counts
