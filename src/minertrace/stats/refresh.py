"""Period statistics: one set-based upsert per period from `score_table` into
`miner_performance_stats`.

The rules (documented for users in docs/sections/stats.md):

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
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Connection, Engine, text

from minertrace.stats.periods import Period, current_periods, period_for

logger = logging.getLogger(__name__)

TASKS: Final = ("weather", "geomagnetic", "soil_moisture")
TREND_DAYS: Final = 14
# Fewer distinct days with entries than this and a fitted line means nothing.
TREND_MIN_DAYS: Final = 3
# |Pearson r| of daily average vs day needed to call a direction; below it the line is noise.
TREND_MIN_CORRELATION: Final = 0.5
# Score units per day; scores live roughly in [0, 1], so 0.001/day is 1.4 % over the window.
TREND_MIN_SLOPE: Final = 0.001
# Daily averages whose standard deviation is below this are flat (stable, confidence 0).
TREND_FLAT_SPREAD: Final = 1e-9
# The percentile sort holds every entry of the period (~1.7 M for 256 miners over 30 days);
# the 4 MB default would spill it to disk and triple the time. Scoped to the statement.
WORK_MEM: Final = "128MB"

_TASK_SUFFIXES = (
    "tasks_attempted",
    "tasks_completed",
    "tasks_scored",
    "avg_score",
    "success_rate",
    "rank",
    "best_score",
    "latest_score",
)

STATS_COLUMNS: Final[tuple[str, ...]] = (
    "total_tasks_attempted",
    "total_tasks_completed",
    "total_tasks_scored",
    "overall_success_rate",
    "overall_avg_score",
    "overall_rank",
    *(f"{task}_{suffix}" for task in TASKS for suffix in _TASK_SUFFIXES),
    "performance_trend",
    "trend_confidence",
    "last_active_time",
    "consecutive_failures",
    "uptime_percentage",
    "detailed_metrics",
    "score_distribution",
    "calculated_at",
    "updated_at",
)
"""The columns the period job writes; every other column (pipeline, chain) is left alone."""


def _task_select(task: str) -> str:
    t = f"t_{task}"
    return f"""
        coalesce({t}.attempted, 0) AS {task}_tasks_attempted,
        coalesce({t}.completed, 0) AS {task}_tasks_completed,
        coalesce({t}.scored, 0) AS {task}_tasks_scored,
        {t}.avg_score AS {task}_avg_score,
        {t}.completed::float8 / nullif({t}.attempted, 0) AS {task}_success_rate,
        {t}.task_rank AS {task}_rank,
        {t}.best AS {task}_best_score,
        {t}.latest AS {task}_latest_score"""


def _task_join(task: str) -> str:
    return f"LEFT JOIN ranked AS t_{task} ON t_{task}.uid = m.uid AND t_{task}.task = '{task}'"


_UPSERT_SQL: Final = f"""
WITH miners AS (
    SELECT uid, hotkey FROM node_table WHERE hotkey IS NOT NULL AND uid >= 0
),
runs AS MATERIALIZED (
    SELECT
        s.score,
        s.created_at,
        CASE
            WHEN s.task_name = 'weather' THEN 'weather'
            WHEN s.task_name = 'geomagnetic' THEN 'geomagnetic'
            ELSE 'soil_moisture'
        END AS task,
        coalesce(s.status = 'completed'
                 OR (s.task_name = 'weather' AND s.task_id LIKE 'final\\_weather\\_scores%'),
                 false) AS final,
        s.created_at >= :period_start AS in_period,
        s.created_at >= :trend_start AND s.created_at < :trend_end AS in_trend,
        (s.created_at AT TIME ZONE 'UTC')::date - DATE '2000-01-01' AS day,
        -- One total order over the runs, so "latest" and "trailing" are well defined on ties.
        row_number() OVER (ORDER BY s.created_at, s.task_name, s.task_id) AS seq
    FROM score_table AS s
    WHERE s.created_at >= :scan_start AND s.created_at < :period_end
      AND (s.task_name IN ('weather', 'geomagnetic')
           OR s.task_name LIKE 'soil\\_moisture\\_region\\_%')
),
partials AS (
    -- The single pass over every entry, reduced to one row per miner, task and UTC day;
    -- everything but the percentiles rolls up from here.
    SELECT (e.ord - 1)::int AS uid, r.task, r.day, r.in_period, r.in_trend,
           count(*) AS attempted,
           count(*) FILTER (WHERE e.v > 0) AS completed,
           count(*) FILTER (WHERE e.v > 0 AND r.final) AS scored,
           sum(e.v) AS total,
           max(e.v) AS best,
           max(r.seq) AS latest_seq,
           max(r.seq) FILTER (WHERE e.v > 0) AS last_completed_seq,
           max(r.created_at) AS last_active
    FROM runs AS r
    CROSS JOIN LATERAL unnest(r.score[1:(SELECT max(uid) + 1 FROM miners)])
        WITH ORDINALITY AS e(v, ord)
    -- Attempted = finite. NaN sorts above +Infinity in PostgreSQL, so this drops NULL, NaN
    -- and both infinities in one range test.
    WHERE e.v > '-Infinity'::float8 AND e.v < 'Infinity'::float8
    GROUP BY 1, 2, 3, 4, 5
),
per_task AS (
    SELECT uid, task,
           sum(attempted) AS attempted,
           sum(completed) AS completed,
           sum(scored) AS scored,
           sum(total) / sum(attempted) AS avg_score,
           max(best) AS best,
           max(latest_seq) AS latest_seq,
           max(last_completed_seq) AS last_completed_seq,
           max(last_active) AS last_active
    FROM partials
    WHERE in_period
    GROUP BY uid, task
),
ranked AS (
    SELECT p.*,
           lr.score[p.uid + 1] AS latest,
           rank() OVER (PARTITION BY p.task ORDER BY p.avg_score DESC) AS task_rank
    FROM per_task AS p
    JOIN miners AS m ON m.uid = p.uid
    JOIN runs AS lr ON lr.seq = p.latest_seq
),
per_uid AS (
    SELECT uid, max(last_completed_seq) AS last_completed_seq, max(last_active) AS last_active
    FROM per_task
    GROUP BY uid
),
last_ok AS (
    SELECT u.uid, u.last_completed_seq AS seq, r.day
    FROM per_uid AS u
    LEFT JOIN runs AS r ON r.seq = u.last_completed_seq
),
failures_after AS (
    -- Trailing failures, part 1: every attempted entry on the days after the day of the
    -- miner's last completed entry (all of them when it never completed one).
    SELECT p.uid, sum(p.attempted) AS n
    FROM partials AS p
    JOIN last_ok AS k ON k.uid = p.uid
    WHERE p.in_period AND (k.day IS NULL OR p.day > k.day)
    GROUP BY p.uid
),
failures_same_day AS (
    -- Part 2: attempted entries later on that same day.
    SELECT k.uid, count(*) AS n
    FROM last_ok AS k
    JOIN runs AS r ON r.day = k.day AND r.seq > k.seq
    WHERE r.score[k.uid + 1] > '-Infinity'::float8 AND r.score[k.uid + 1] < 'Infinity'::float8
    GROUP BY k.uid
),
distribution AS (
    SELECT (e.ord - 1)::int AS uid,
           count(*) AS n,
           percentile_cont(ARRAY[0.1, 0.25, 0.5, 0.75, 0.9]) WITHIN GROUP (ORDER BY e.v) AS p
    FROM runs AS r
    CROSS JOIN LATERAL unnest(r.score[1:(SELECT max(uid) + 1 FROM miners)])
        WITH ORDINALITY AS e(v, ord)
    WHERE r.in_period AND e.v > '-Infinity'::float8 AND e.v < 'Infinity'::float8
    GROUP BY 1
),
daily AS (
    SELECT uid, day::float8 AS x, sum(total) / sum(attempted) AS y
    FROM partials
    WHERE in_trend
    GROUP BY uid, day
),
trend AS (
    -- Identical daily averages leave rounding noise in corr(); no spread means no correlation.
    SELECT uid, count(*) AS days, regr_slope(y, x) AS slope,
           CASE WHEN stddev_pop(y) > :trend_flat THEN corr(y, x) END AS r
    FROM daily
    GROUP BY uid
),
period_runs AS (
    SELECT
        count(*) AS n,
        count(*) FILTER (WHERE task = 'weather') AS weather,
        count(*) FILTER (WHERE task = 'geomagnetic') AS geomagnetic,
        count(*) FILTER (WHERE task = 'soil_moisture') AS soil_moisture
    FROM runs
    WHERE in_period
),
per_miner AS (
    SELECT
        m.uid,
        m.hotkey,
        {",".join(_task_select(task) for task in TASKS)},
        u.last_active,
        coalesce(fa.n, 0) + coalesce(fs.n, 0) AS failures,
        d.n AS dist_n,
        d.p AS dist_p,
        tr.days AS trend_days,
        tr.slope AS trend_slope,
        tr.r AS trend_r
    FROM miners AS m
    {" ".join(_task_join(task) for task in TASKS)}
    LEFT JOIN per_uid AS u ON u.uid = m.uid
    LEFT JOIN failures_after AS fa ON fa.uid = m.uid
    LEFT JOIN failures_same_day AS fs ON fs.uid = m.uid
    LEFT JOIN distribution AS d ON d.uid = m.uid
    LEFT JOIN trend AS tr ON tr.uid = m.uid
),
totals AS (
    SELECT
        pm.*,
        pm.weather_tasks_attempted + pm.geomagnetic_tasks_attempted
            + pm.soil_moisture_tasks_attempted AS total_attempted,
        pm.weather_tasks_completed + pm.geomagnetic_tasks_completed
            + pm.soil_moisture_tasks_completed AS total_completed,
        pm.weather_tasks_scored + pm.geomagnetic_tasks_scored
            + pm.soil_moisture_tasks_scored AS total_scored,
        (coalesce(pm.weather_avg_score * pm.weather_tasks_scored, 0)
         + coalesce(pm.geomagnetic_avg_score * pm.geomagnetic_tasks_scored, 0)
         + coalesce(pm.soil_moisture_avg_score * pm.soil_moisture_tasks_scored, 0))
        / nullif(pm.weather_tasks_scored + pm.geomagnetic_tasks_scored
                 + pm.soil_moisture_tasks_scored, 0) AS overall_avg
    FROM per_miner AS pm
)
INSERT INTO miner_performance_stats (
    miner_uid, miner_hotkey, period_start, period_end, period_type,
    {", ".join(STATS_COLUMNS)}
)
SELECT
    t.uid, t.hotkey, :period_start, :period_end, :period_type,
    t.total_attempted,
    t.total_completed,
    t.total_scored,
    t.total_completed::float8 / nullif(t.total_attempted, 0),
    t.overall_avg,
    CASE WHEN t.overall_avg IS NOT NULL
         THEN rank() OVER (ORDER BY t.overall_avg DESC NULLS LAST) END,
    {", ".join(f"t.{task}_{suffix}" for task in TASKS for suffix in _TASK_SUFFIXES)},
    CASE
        WHEN coalesce(t.trend_days, 0) < :trend_min_days THEN 'insufficient_data'
        WHEN t.trend_r IS NULL OR abs(t.trend_r) < :trend_min_r
             OR abs(t.trend_slope) < :trend_min_slope THEN 'stable'
        WHEN t.trend_slope > 0 THEN 'improving'
        ELSE 'declining'
    END,
    CASE WHEN coalesce(t.trend_days, 0) >= :trend_min_days
         THEN coalesce(abs(t.trend_r), 0.0) END,
    t.last_active,
    t.failures,
    100.0 * t.total_attempted / nullif(pr.n, 0),
    jsonb_build_object(
        'runs', jsonb_build_object(
            'total', pr.n, 'weather', pr.weather, 'geomagnetic', pr.geomagnetic,
            'soil_moisture', pr.soil_moisture),
        'trend', jsonb_build_object(
            'window_start', CAST(:trend_start AS timestamptz),
            'window_end', CAST(:trend_end AS timestamptz),
            'days', coalesce(t.trend_days, 0),
            'slope_per_day', t.trend_slope,
            'correlation', t.trend_r)
    ),
    jsonb_build_object(
        'count', coalesce(t.dist_n, 0),
        'p10', t.dist_p[1], 'p25', t.dist_p[2], 'p50', t.dist_p[3],
        'p75', t.dist_p[4], 'p90', t.dist_p[5]
    ),
    :now,
    :now
FROM totals AS t
CROSS JOIN period_runs AS pr
ON CONFLICT (miner_uid, period_start, period_end, period_type) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in STATS_COLUMNS)}
-- A row still carrying a UID's previous hotkey is stale: never relabel another miner's
-- pipeline values; delete_stale_rows removes it.
WHERE miner_performance_stats.miner_hotkey = EXCLUDED.miner_hotkey
"""


def trend_window(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the trend: the 14 UTC days ending with the day of min(now, period end).

    The last day is cut at min(now, period end), so a refresh never looks past the period.
    """
    end = min(now, period.end)
    last_day = (end - timedelta(microseconds=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return last_day - timedelta(days=TREND_DAYS - 1), end


def _execute_upsert(conn: Connection, period: Period, now: datetime) -> int:
    trend_start, trend_end = trend_window(period, now)
    params = {
        "period_type": period.period_type,
        "period_start": period.start,
        "period_end": period.end,
        "scan_start": min(period.start, trend_start),
        "trend_start": trend_start,
        "trend_end": trend_end,
        "now": now,
        "trend_min_days": TREND_MIN_DAYS,
        "trend_min_r": TREND_MIN_CORRELATION,
        "trend_min_slope": TREND_MIN_SLOPE,
        "trend_flat": TREND_FLAT_SPREAD,
    }
    set_local = text("SELECT set_config('work_mem', :value, true)")
    previous = conn.execute(text("SELECT current_setting('work_mem')")).scalar_one()
    conn.execute(set_local, {"value": WORK_MEM})
    count = conn.execute(text(_UPSERT_SQL), params).rowcount
    # On failure the transaction is aborted and the rollback undoes the setting anyway.
    conn.execute(set_local, {"value": previous})
    return count


def refresh_period_stats(bind: Connection | Engine, period: Period | str, now: datetime) -> int:
    """Recompute the statistics columns of every miner's row for one period; return the row count.

    `period` is a `Period` or a period type (then the period containing `now`). One
    INSERT ... SELECT ... ON CONFLICT statement; the pipeline and chain columns of existing rows
    are not touched, and rows whose hotkey no longer matches node_table are left for
    `delete_stale_rows`. With an Engine the statement runs in its own transaction; with a
    Connection (also the one `AsyncConnection.run_sync` passes) in the caller's.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    target = period if isinstance(period, Period) else period_for(period, now)
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            count = _execute_upsert(conn, target, now)
    else:
        count = _execute_upsert(bind, target, now)
    logger.info(
        "refreshed %s statistics for %d miners (%s to %s)",
        target.period_type,
        count,
        target.start.isoformat(),
        target.end.isoformat(),
    )
    return count


def refresh_all(
    bind: Connection | Engine,
    now: datetime,
    periods: list[Period] | list[str] | None = None,
) -> dict[Period, int]:
    """Refresh the given periods (default: the current daily, weekly, monthly and all_time).

    Stale rows (hotkey no longer on the UID) are deleted first, in the same transaction, so
    every registered miner ends up with a fresh row. Returns the rows written per period.
    """
    from minertrace.stats.retention import delete_stale_rows

    targets = [
        p if isinstance(p, Period) else period_for(p, now)
        for p in (periods if periods is not None else current_periods(now))
    ]
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            return refresh_all(conn, now, targets)
    delete_stale_rows(bind)
    return {p: refresh_period_stats(bind, p, now) for p in targets}
