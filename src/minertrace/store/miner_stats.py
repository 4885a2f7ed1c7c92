"""miner_performance_stats: period rows, the chain columns, and the deletes that keep it clean.

The pipeline columns a cycle writes are in `minertrace.store.pipeline`; the statistics
columns' SQL is built by `minertrace.store.stats_sql`. Every statement here is set-based: one
per call whatever the number of miners or periods.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, exists, text

from minertrace.chain.types import NeuronInfo
from minertrace.db.tables import miner_performance_stats, node_table
from minertrace.store import gaia_scores
from minertrace.store._bind import transaction
from minertrace.store._periods import PeriodWindow, period_params
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

# consensus_rank: RANK() by incentive among the UIDs without a validator permit.
_EPOCH_STATS = text(
    """
    WITH n AS (
        SELECT *
          FROM unnest(CAST(:uids AS integer[]), CAST(:hotkeys AS text[]),
                      CAST(:incentives AS double precision[]), CAST(:permits AS boolean[]))
               AS n(uid, hotkey, incentive, permit)
    ), ranked AS (
        SELECT uid, hotkey, incentive,
               CASE WHEN NOT permit
                    THEN rank() OVER (PARTITION BY permit ORDER BY incentive DESC) END AS crank
          FROM n
    ), periods AS (
        SELECT *
          FROM unnest(CAST(:period_types AS text[]), CAST(:period_starts AS timestamptz[]),
                      CAST(:period_ends AS timestamptz[]))
               AS p(period_type, period_start, period_end)
    )
    UPDATE miner_performance_stats AS m
       SET incentive = r.incentive,
           consensus_rank = r.crank,
           consensus_block = :epoch_block,
           updated_at = :now
      FROM ranked AS r, periods AS p
     WHERE m.miner_uid = r.uid
       AND m.miner_hotkey = r.hotkey
       AND m.period_type = p.period_type
       AND m.period_start = p.period_start
       AND m.period_end = p.period_end
    """
)

_GET_WORK_MEM = text("SELECT current_setting('work_mem')")
_SET_WORK_MEM = text("SELECT set_config('work_mem', :value, true)")
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


def write_epoch_stats(
    conn: Connection,
    neurons: Sequence[NeuronInfo],
    periods: Sequence[PeriodWindow],
    *,
    epoch_block: int,
    now: datetime,
) -> int:
    """Set incentive, consensus_rank and consensus_block on the miners' existing rows of
    `periods` (rows of a replaced hotkey are left alone); returns the rows updated."""
    params = {
        "uids": [n.uid for n in neurons],
        "hotkeys": [n.hotkey for n in neurons],
        "incentives": [n.incentive for n in neurons],
        "permits": [n.validator_permit for n in neurons],
        **period_params(periods),
        "epoch_block": epoch_block,
        "now": now,
    }
    return int(conn.execute(_EPOCH_STATS, params).rowcount)


def write_period_stats(
    conn: Connection,
    periods: Sequence[PeriodWindow],
    plan: dict[str, Any],
    now: datetime,
) -> list[int]:
    """Compute every period in one statement, then write each with one upsert.

    `plan` holds the compute statement's segment parameters (`minertrace.stats.refresh`
    builds it). Returns the rows written per period, in the order of `periods`.
    """
    previous = conn.execute(_GET_WORK_MEM).scalar_one()
    conn.execute(_SET_WORK_MEM, {"value": WORK_MEM})
    first, last = min(plan["seg_lo"]), max(plan["seg_hi"])
    spans_all = tuple(
        lo == first and hi == last for lo, hi in zip(plan["seg_lo"], plan["seg_hi"], strict=True)
    )
    conn.execute(gaia_scores.adapt(conn, text(compute_sql(spans_all))), plan)
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
