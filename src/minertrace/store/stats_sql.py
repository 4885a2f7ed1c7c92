"""The period-statistics SQL: one statement rolls every requested period up into a temporary
table from the per-task rows, trend points and distributions computed in numpy
(`minertrace.stats.cells`), then one upsert per period writes them.

The rules are documented with `minertrace.stats.refresh`; this module only builds the text.
The statement's parameters (segment plan, trend thresholds) are bound, never formatted in.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from minertrace.vocabulary import SCORE_TASK_GEOMAGNETIC, SCORE_TASK_WEATHER

# The statistics columns name the soil task after its score rows' prefix (soil_moisture_*).
TASKS: Final = (SCORE_TASK_WEATHER, SCORE_TASK_GEOMAGNETIC, "soil_moisture")
# The compute statement materialises the runs and the rolled-up rows (~16 k per period and
# task at 4,096 miners) and sorts them for the ranks; the 4 MB default would spill them to
# disk. Transaction-local, restored after the refresh.
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
    return (
        f"LEFT JOIN ranked AS t_{task} ON t_{task}.pid = p.pid AND t_{task}.uid = m.uid"
        f" AND t_{task}.task = '{task}'"
    )


# The score rows a refresh reads, and their task as a code (0, 1, 2 = TASKS' order).
RUN_FILTER: Final = (
    "(s.task_name IN ('weather', 'geomagnetic')"
    " OR s.task_name LIKE 'soil\\_moisture\\_region\\_%%')"
)
TASK_CODE: Final = (
    "CASE WHEN s.task_name = 'weather' THEN 0 WHEN s.task_name = 'geomagnetic' THEN 1 ELSE 2 END"
)

STAGING_TABLE: Final = "minertrace_period_stats"
"""The temporary table (dropped at the end of the refresh) holding the computed rows."""

QUANTILES: Final = (0.1, 0.25, 0.5, 0.75, 0.9)
"""The score_distribution percentiles (keys p10 ... p90), interpolated as `percentile_cont`
(computed by `minertrace.stats.cells`)."""


@lru_cache(maxsize=1)
def compute_sql() -> str:
    """Every requested period at once, into a temporary table (one row per miner and period).

    `minertrace.store.period_upsert.UPSERT_SQL` then writes each period with one statement.
    The per-entry reductions (per-task rows, trend points, distributions, each miner's latest
    entry time and the periods' run counts: `minertrace.stats.cells` for the full refresh,
    `minertrace.stats.incremental` from the day cells) come in as binary array parameters;
    this statement ranks and combines them and reads neither score_table nor a score array.
    """
    distribution_keys = ", ".join(
        f"'p{round(q * 100)}', t.dist_p[{i}]" for i, q in enumerate(QUANTILES, start=1)
    )
    quantile_params = ", ".join(f"CAST(:dist_p{round(q * 100)} AS float8[])" for q in QUANTILES)
    quantile_columns = ", ".join(f"p{round(q * 100)}" for q in QUANTILES)
    return f"""
CREATE TEMPORARY TABLE {STAGING_TABLE} ON COMMIT DROP AS
WITH miners AS (
    SELECT uid, hotkey FROM node_table WHERE hotkey IS NOT NULL AND uid >= 0
),
periods AS (
    SELECT * FROM unnest(
        CAST(:pids AS int[]), CAST(:seg_lo AS int[]), CAST(:seg_hi AS int[]),
        CAST(:trend_lo AS int[]), CAST(:trend_hi AS int[]),
        CAST(:trend_starts AS timestamptz[]), CAST(:trend_ends AS timestamptz[])
    ) AS p(pid, lo, hi, trend_lo, trend_hi, trend_start, trend_end)
),
per_task AS (
    -- Per period, miner and task with entries (rolled up from the cells in numpy).
    SELECT t.pid, t.uid, (ARRAY['weather', 'geomagnetic', 'soil_moisture'])[t.task + 1] AS task,
           t.attempted, t.completed, t.scored, t.total / t.attempted AS avg_score, t.best,
           nullif(t.latest_seq, 0) AS latest_seq, t.latest
    FROM unnest(
        CAST(:task_pid AS int4[]), CAST(:task_uid AS int4[]), CAST(:task_task AS int4[]),
        CAST(:task_attempted AS int8[]), CAST(:task_completed AS int8[]),
        CAST(:task_scored AS int8[]), CAST(:task_total AS float8[]),
        CAST(:task_best AS float8[]), CAST(:task_latest_seq AS int8[]),
        CAST(:task_latest AS float8[])
    ) AS t(pid, uid, task, attempted, completed, scored, total, best, latest_seq, latest)
),
ranked AS (
    SELECT t.*,
           rank() OVER (PARTITION BY t.pid, t.task ORDER BY t.avg_score DESC) AS task_rank
    FROM per_task AS t
    JOIN miners AS m ON m.uid = t.uid
),
last_active AS (
    -- The time of each miner's latest entry in the period (microseconds since the epoch).
    SELECT a.pid, a.uid, TIMESTAMPTZ 'epoch' + a.at_us * INTERVAL '1 microsecond' AS created_at
    FROM unnest(CAST(:active_pid AS int4[]), CAST(:active_uid AS int4[]),
                CAST(:active_us AS int8[])) AS a(pid, uid, at_us)
),
distribution AS (
    -- Trailing failures: attempted entries after the miner's latest completed one.
    SELECT d.pid, d.uid, d.n, d.failures, ARRAY[{quantile_columns}] AS p
    FROM unnest(
        CAST(:dist_pid AS int4[]), CAST(:dist_uid AS int4[]), CAST(:dist_n AS int8[]),
        CAST(:dist_failures AS int8[]), {quantile_params}
    ) AS d(pid, uid, n, failures, {quantile_columns})
),
daily AS (
    -- One point per day of the trend window with entries: the mean of that day's entries.
    SELECT d.pid, d.uid, d.day::float8 AS x, d.total / d.attempted AS y
    FROM unnest(
        CAST(:point_pid AS int4[]), CAST(:point_uid AS int4[]), CAST(:point_day AS int4[]),
        CAST(:point_total AS float8[]), CAST(:point_attempted AS int8[])
    ) AS d(pid, uid, day, total, attempted)
),
trend AS (
    -- Identical daily averages leave rounding noise in corr(); no spread means no correlation.
    SELECT pid, uid, count(*) AS days, regr_slope(y, x) AS slope,
           CASE WHEN stddev_pop(y) > :trend_flat THEN corr(y, x) END AS r
    FROM daily
    GROUP BY pid, uid
),
period_runs AS (
    -- Runs of each period per task (with or without entries), counted in numpy.
    SELECT r.pid, r.weather + r.geomagnetic + r.soil_moisture AS n, r.weather, r.geomagnetic,
           r.soil_moisture
    FROM unnest(CAST(:pids AS int[]), CAST(:runs_weather AS int8[]),
                CAST(:runs_geomagnetic AS int8[]), CAST(:runs_soil_moisture AS int8[]))
         AS r(pid, weather, geomagnetic, soil_moisture)
),
per_miner AS (
    SELECT
        p.pid,
        p.trend_start,
        p.trend_end,
        m.uid,
        m.hotkey,
        {",".join(_task_select(task) for task in TASKS)},
        la.created_at AS last_active,
        coalesce(d.failures, 0) AS failures,
        d.n AS dist_n,
        d.p AS dist_p,
        tr.days AS trend_days,
        tr.slope AS trend_slope,
        tr.r AS trend_r
    FROM periods AS p
    CROSS JOIN miners AS m
    {" ".join(_task_join(task) for task in TASKS)}
    LEFT JOIN last_active AS la ON la.pid = p.pid AND la.uid = m.uid
    LEFT JOIN distribution AS d ON d.pid = p.pid AND d.uid = m.uid
    LEFT JOIN trend AS tr ON tr.pid = p.pid AND tr.uid = m.uid
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
SELECT
    t.pid,
    t.uid,
    t.hotkey,
    t.total_attempted AS total_tasks_attempted,
    t.total_completed AS total_tasks_completed,
    t.total_scored AS total_tasks_scored,
    t.total_completed::float8 / nullif(t.total_attempted, 0) AS overall_success_rate,
    t.overall_avg AS overall_avg_score,
    CASE WHEN t.overall_avg IS NOT NULL
         THEN rank() OVER (PARTITION BY t.pid ORDER BY t.overall_avg DESC NULLS LAST)
    END AS overall_rank,
    {", ".join(f"t.{task}_{suffix}" for task in TASKS for suffix in _TASK_SUFFIXES)},
    CASE
        WHEN coalesce(t.trend_days, 0) < :trend_min_days THEN 'insufficient_data'
        WHEN t.trend_r IS NULL OR abs(t.trend_r) < :trend_min_r
             OR abs(t.trend_slope) < :trend_min_slope THEN 'stable'
        WHEN t.trend_slope > 0 THEN 'improving'
        ELSE 'declining'
    END AS performance_trend,
    CASE WHEN coalesce(t.trend_days, 0) >= :trend_min_days
         THEN coalesce(abs(t.trend_r), 0.0) END AS trend_confidence,
    t.last_active AS last_active_time,
    t.failures AS consecutive_failures,
    100.0 * t.total_attempted / nullif(pr.n, 0) AS uptime_percentage,
    jsonb_build_object(
        'runs', jsonb_build_object(
            'total', pr.n, 'weather', pr.weather, 'geomagnetic', pr.geomagnetic,
            'soil_moisture', pr.soil_moisture),
        'trend', jsonb_build_object(
            'window_start', t.trend_start,
            'window_end', t.trend_end,
            'days', coalesce(t.trend_days, 0),
            'slope_per_day', t.trend_slope,
            'correlation', t.trend_r)
    ) AS detailed_metrics,
    jsonb_build_object(
        'count', coalesce(t.dist_n, 0),
        {distribution_keys}
    ) AS score_distribution
FROM totals AS t
JOIN period_runs AS pr ON pr.pid = t.pid
"""


__all__ = [
    "QUANTILES",
    "RUN_FILTER",
    "STAGING_TABLE",
    "STATS_COLUMNS",
    "TASKS",
    "TASK_CODE",
    "WORK_MEM",
    "compute_sql",
]
