"""Period statistics from `score_table` into `miner_performance_stats`.

Two paths compute the same values, bit for bit. The incremental one (the default,
`minertrace.stats.incremental`) rolls the periods up from per-day cells, reading from
score_table only the days whose rows changed. The full one reads every score entry of the
periods once, in blocks of miners, and reduces them in numpy to cells and exact percentiles
(`minertrace.stats.cells`). Either way the per (period, UID) columns and ranks are computed in
numpy (`minertrace.stats.columns`), one statement joins them with the miners, fits the trends
and builds the JSON into a temporary table, and one set-based upsert per period writes them
(the SQL: `minertrace.store.stats_sql`).

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

import numpy as np
from sqlalchemy import Connection, Engine

from minertrace.stats.cells import (
    Distribution,
    TaskRows,
    TrendPoints,
    compute_cells,
    compute_distribution,
    roll_up_tasks,
    trend_points,
)
from minertrace.stats.columns import miner_columns
from minertrace.stats.incremental import incremental_params
from minertrace.stats.periods import Period, current_periods, period_for
from minertrace.stats.rollup import activity_params
from minertrace.store import (
    commit_asynchronously,
    delete_stale_rows,
    transaction,
    write_period_stats,
)
from minertrace.store.arrays import PgArray, float8_array, int_array
from minertrace.store.score_matrix import (
    count_runs,
    miner_width,
    read_score_block,
    registered_uids,
)
from minertrace.store.stats_sql import QUANTILES, STATS_COLUMNS

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
# Score entries held in memory at once (runs x miners of a block, 8 bytes each): the refresh
# reads the miners in blocks of columns so that memory does not grow with miners x history.
BLOCK_ENTRIES: Final = 4_000_000


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


def _cat(parts: list[Any], kind: Any) -> Any:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=kind)


def _entry_params(conn: Connection, plan: dict[str, Any], block_entries: int) -> dict[str, PgArray]:
    """The per-task rows, trend points and distributions of every miner and period, as the
    compute statement's array parameters.

    Miners are read in blocks of columns, as many as fit `block_entries` with the window's
    runs.
    """
    width = miner_width(conn)
    step = max(1, block_entries // max(1, count_runs(conn, plan)))
    tasks: list[TaskRows] = []
    points: list[TrendPoints] = []
    dists: list[Distribution] = []
    task_runs = np.zeros((len(plan["pids"]), 3), dtype=np.int64)
    for first in range(0, width, step):
        runs, matrix = read_score_block(conn, plan, first, min(width, first + step))
        if not first:
            for pid, (lo, hi) in enumerate(zip(plan["seg_lo"], plan["seg_hi"], strict=True)):
                inside = (runs.seg >= lo) & (runs.seg <= hi)
                task_runs[pid] = np.bincount(runs.task[inside], minlength=3)
        cells = compute_cells(runs, matrix)
        tasks.append(roll_up_tasks(cells, first, plan["seg_lo"], plan["seg_hi"]))
        points.append(trend_points(cells, first, plan["trend_lo"], plan["trend_hi"]))
        dists.append(compute_distribution(runs, matrix, first, plan["seg_lo"], plan["seg_hi"]))
        del matrix, cells

    def field(parts: list[Any], name: str, kind: Any) -> Any:
        return _cat([getattr(part, name) for part in parts], kind)

    percentiles = (
        np.concatenate([d.percentiles for d in dists]) if dists else np.zeros((0, len(QUANTILES)))
    )
    active = field(dists, "last_at", np.int64) >= 0
    return {
        **activity_params(
            field(dists, "pid", np.int64)[active],
            field(dists, "uid", np.int64)[active],
            field(dists, "last_at", np.int64)[active],
            task_runs,
        ),
        **{
            f"task_{name}": int_array(field(tasks, name, np.int64), kind)
            for name, kind in (
                ("pid", "int4"),
                ("uid", "int4"),
                ("task", "int4"),
                ("attempted", "int8"),
                ("completed", "int8"),
                ("scored", "int8"),
                ("latest_seq", "int8"),
            )
        },
        "task_total": float8_array(field(tasks, "total", np.float64)),
        "task_best": float8_array(field(tasks, "best", np.float64)),
        "task_latest": float8_array(field(tasks, "latest", np.float64)),
        "point_pid": int_array(field(points, "pid", np.int64)),
        "point_uid": int_array(field(points, "uid", np.int64)),
        "point_day": int_array(field(points, "day", np.int64)),
        "point_total": float8_array(field(points, "total", np.float64)),
        "point_attempted": int_array(field(points, "attempted", np.int64), "int8"),
        "dist_pid": int_array(field(dists, "pid", np.int64)),
        "dist_uid": int_array(field(dists, "uid", np.int64)),
        "dist_n": int_array(field(dists, "count", np.int64), "int8"),
        "dist_failures": int_array(field(dists, "failures", np.int64), "int8"),
        **{
            f"dist_p{round(q * 100)}": float8_array(percentiles[:, i], nulls=True)
            for i, q in enumerate(QUANTILES)
        },
    }


def _shared_trends(plan: dict[str, Any], params: dict[str, PgArray]) -> dict[str, Any]:
    """The trend points of one period per distinct trend window (the current daily, weekly,
    monthly and all_time rows share theirs), and each period's representative (`trend_wid`)."""
    windows = list(zip(plan["trend_starts"], plan["trend_ends"], strict=True))
    wid = [windows.index(w) for w in windows]
    keep = np.isin(params["point_pid"].values, np.unique(wid))
    out: dict[str, Any] = {"trend_wid": wid}
    for name in ("point_pid", "point_uid", "point_day", "point_total", "point_attempted"):
        array = params[name]
        out[name] = PgArray(array.values[keep], array.kind)
    return out


def _refresh(
    conn: Connection, periods: list[Period], now: datetime, *, incremental: bool
) -> dict[Period, int]:
    """Reduce the entries in numpy, roll every period up in one statement, write each.

    With `incremental`, from the day cells when they apply (`minertrace.stats.incremental`);
    otherwise, or when they do not, from every score entry of the periods.
    """
    plan = _segment_plan(periods, now)
    registered = registered_uids(conn)
    width = int(registered.max(initial=-1)) + 1
    params = (
        incremental_params(conn, periods, plan, now, width, BLOCK_ENTRIES) if incremental else None
    )
    if params is None:
        params = _entry_params(conn, plan, BLOCK_ENTRIES)
    plan.update(miner_columns(params, len(periods), width, registered))
    plan.update({k: v for k, v in params.items() if k.startswith("runs_")})
    plan.update(_shared_trends(plan, params))
    counts = dict(zip(periods, write_period_stats(conn, periods, plan, now), strict=True))
    for period, count in counts.items():
        logger.info(
            "refreshed %s statistics for %d miners (%s to %s)",
            period.period_type,
            count,
            period.start.isoformat(),
            period.end.isoformat(),
        )
    return counts


def refresh_period_stats(
    bind: Connection | Engine, period: Period | str, now: datetime, *, incremental: bool = True
) -> int:
    """Recompute the statistics columns of every miner's row for one period; return the row count.

    `period` is a `Period` or a period type (then the period containing `now`). The rows are
    computed into a temporary table and written with one upsert statement; the pipeline and
    chain columns of existing rows are not touched, and rows whose hotkey no longer matches
    node_table are left for `delete_stale_rows`. With an Engine the refresh runs in its own
    transaction; with a Connection in the caller's. `incremental=False` recomputes from every
    score entry without the day cells (the same values).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    target = period if isinstance(period, Period) else period_for(period, now)
    with transaction(bind) as conn:
        return _refresh(conn, [target], now, incremental=incremental)[target]


def refresh_all(
    bind: Connection | Engine,
    now: datetime,
    periods: list[Period] | list[str] | None = None,
    *,
    incremental: bool = True,
) -> dict[Period, int]:
    """Refresh the given periods (default: the current daily, weekly, monthly and all_time).

    Stale rows (hotkey no longer on the UID) are deleted first, in the same transaction, so
    every registered miner ends up with a fresh row. All periods are computed by one statement
    that reads every score entry once; each period is then written by one upsert. Returns the
    rows written per period.

    The refresh reads only the UTC days whose score rows changed since the day cells were
    computed (`minertrace.stats.incremental`), and rolls the periods up from the cells; the
    values are those of a full recompute, bit for bit. `incremental=False` is that full
    recompute: every score entry of the periods, without the cells.

    With an Engine the refresh runs in its own transaction and commits asynchronously
    (`synchronous_commit` off for that transaction only): all it writes is derived from the
    score rows, so a crash can lose the latest refresh's writes (the next one rewrites them)
    and never corrupts them. With a Connection the caller's transaction is left as it is.
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
            # Its own transaction writes only derived rows, which the next refresh rewrites.
            commit_asynchronously(conn)
            return refresh_all(conn, now, targets, incremental=incremental)
    delete_stale_rows(bind)
    if not targets:
        return {}
    return _refresh(bind, targets, now, incremental=incremental)


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
