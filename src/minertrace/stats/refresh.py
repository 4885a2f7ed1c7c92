"""Period statistics from `score_table` into `miner_performance_stats`: one statement computes
every requested period into a temporary table (one read of the score rows), then one set-based
upsert per period writes them (the SQL: `minertrace.store.stats_sql`).

The rules (documented for users in the README, "Period statistics and retention"):

- The miners are the `node_table` rows with a hotkey; UID u's entry in a score row is
  `score[u + 1]` (PostgreSQL arrays are 1-based).
- Tasks: `weather`, `geomagnetic`, and `soil_moisture` (every `soil_moisture_region_*` row).
  Other task names are ignored.
- An entry is *attempted* when it is a finite number (NULL, NaN and +/-Infinity are "no entry");
  *completed* when it is > 0; *scored* when it is completed in a final row. A row is final when
  its status is 'completed', or when it is a weather row whose task_id starts with
  `final_weather_scores`.
- Averages, best and latest are over attempted entries (zeros and negatives included).
- The trend looks at the 14 UTC calendar days ending with the day of min(now, period end).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from sqlalchemy import Connection, Engine

from minertrace.stats.periods import Period, current_periods, period_for
from minertrace.store import delete_stale_rows, transaction, write_period_stats
from minertrace.store.stats_sql import STATS_COLUMNS

logger = logging.getLogger(__name__)

TREND_DAYS: Final = 14
# Fewer distinct days with entries than this and a fitted line means nothing.
TREND_MIN_DAYS: Final = 3
# |Pearson r| of daily average vs day needed to call a direction; below it the line is noise.
TREND_MIN_CORRELATION: Final = 0.5
# Score units per day; scores live roughly in [0, 1], so 0.001/day is 1.4 % over the window.
TREND_MIN_SLOPE: Final = 0.001
# Daily averages whose standard deviation is below this are flat (stable, confidence 0).
TREND_FLAT_SPREAD: Final = 1e-9


def trend_window(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the trend: the 14 UTC days ending with the day of min(now, period end).

    The last day is cut at min(now, period end), so a refresh never looks past the period.
    """
    end = min(now, period.end)
    last_day = (end - timedelta(microseconds=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return last_day - timedelta(days=TREND_DAYS - 1), end


def _segment_plan(periods: list[Period], now: datetime) -> dict[str, Any]:
    """The statement's parameters: segment boundaries and each period's segment ranges.

    Segment j (1-based, as `width_bucket` numbers it) is [bounds[j-1], bounds[j]); a window
    [start, end) whose ends are both boundaries is the segments index(start)+1 .. index(end).
    """
    windows = [(p.start, p.end, *trend_window(p, now)) for p in periods]
    bounds = sorted({t.astimezone(timezone.utc) for w in windows for t in w})
    index = {t: i for i, t in enumerate(bounds)}

    def segments(start: datetime, end: datetime) -> tuple[int, int]:
        return index[start.astimezone(timezone.utc)] + 1, index[end.astimezone(timezone.utc)]

    spans = [(segments(s, e), segments(ts, te)) for s, e, ts, te in windows]
    return {
        "bounds": bounds,
        "scan_start": bounds[0],
        "scan_end": bounds[-1],
        "pids": list(range(len(periods))),
        "seg_lo": [span[0] for span, _ in spans],
        "seg_hi": [span[1] for span, _ in spans],
        "trend_lo": [trend[0] for _, trend in spans],
        "trend_hi": [trend[1] for _, trend in spans],
        "trend_starts": [w[2] for w in windows],
        "trend_ends": [w[3] for w in windows],
        "trend_min_days": TREND_MIN_DAYS,
        "trend_min_r": TREND_MIN_CORRELATION,
        "trend_min_slope": TREND_MIN_SLOPE,
        "trend_flat": TREND_FLAT_SPREAD,
    }


def _refresh(conn: Connection, periods: list[Period], now: datetime) -> dict[Period, int]:
    """Compute every period in one statement, then write each with one upsert."""
    counts = dict(
        zip(
            periods,
            write_period_stats(conn, periods, _segment_plan(periods, now), now),
            strict=True,
        )
    )
    for period, count in counts.items():
        logger.info(
            "refreshed %s statistics for %d miners (%s to %s)",
            period.period_type,
            count,
            period.start.isoformat(),
            period.end.isoformat(),
        )
    return counts


def refresh_period_stats(bind: Connection | Engine, period: Period | str, now: datetime) -> int:
    """Recompute the statistics columns of every miner's row for one period; return the row count.

    `period` is a `Period` or a period type (then the period containing `now`). The rows are
    computed into a temporary table and written with one upsert statement; the pipeline and
    chain columns of existing rows are not touched, and rows whose hotkey no longer matches
    node_table are left for `delete_stale_rows`. With an Engine the refresh runs in its own
    transaction; with a Connection in the caller's.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    target = period if isinstance(period, Period) else period_for(period, now)
    with transaction(bind) as conn:
        return _refresh(conn, [target], now)[target]


def refresh_all(
    bind: Connection | Engine,
    now: datetime,
    periods: list[Period] | list[str] | None = None,
) -> dict[Period, int]:
    """Refresh the given periods (default: the current daily, weekly, monthly and all_time).

    Stale rows (hotkey no longer on the UID) are deleted first, in the same transaction, so
    every registered miner ends up with a fresh row. All periods are computed by one statement
    that reads every score entry once; each period is then written by one upsert. Returns the
    rows written per period.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    targets = list(
        dict.fromkeys(
            p if isinstance(p, Period) else period_for(p, now)
            for p in (periods if periods is not None else current_periods(now))
        )
    )
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            return refresh_all(conn, now, targets)
    delete_stale_rows(bind)
    if not targets:
        return {}
    return _refresh(bind, targets, now)


__all__ = [
    "STATS_COLUMNS",
    "TREND_DAYS",
    "TREND_FLAT_SPREAD",
    "TREND_MIN_CORRELATION",
    "TREND_MIN_DAYS",
    "TREND_MIN_SLOPE",
    "refresh_all",
    "refresh_period_stats",
    "trend_window",
]
