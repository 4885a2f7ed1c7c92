"""The period-statistics SQL: one statement puts every requested period's rows into a temporary
table from the per (period, UID) columns, trend points and run counts computed in numpy
(`minertrace.stats.columns`), then one upsert per period writes them.

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


def _task_output(task: str) -> str:
    return ", ".join(
        f"t.{task}_{suffix}::int8 AS {task}_{suffix}" if suffix == "rank" else f"t.{task}_{suffix}"
        for suffix in _TASK_SUFFIXES
    )


# The score rows a refresh reads, and their task as a code (0, 1, 2 = TASKS' order).
RUN_FILTER: Final = (
    "(s.task_name IN ('weather', 'geomagnetic')"
    " OR s.task_name LIKE 'soil\\_moisture\\_region\\_%%')"
)
TASK_CODE: Final = (
    "CASE WHEN s.task_name = 'weather' THEN 0 WHEN s.task_name = 'geomagnetic' THEN 1 ELSE 2 END"
)

QUANTILES: Final = (0.1, 0.25, 0.5, 0.75, 0.9)
"""The score_distribution percentiles (keys p10 ... p90), interpolated as `percentile_cont`
(computed by `minertrace.stats.cells`)."""

_COUNTS = ("tasks_attempted", "tasks_completed", "tasks_scored")
MINER_COLUMNS: Final[tuple[tuple[str, str], ...]] = (
    *(
        (f"{task}_{suffix}", "int8" if suffix in _COUNTS else "float8")
        for task in TASKS
        for suffix in _TASK_SUFFIXES
    ),
    ("failures", "int8"),
    ("dist_n", "int8"),
    *((f"dist_p{round(q * 100)}", "float8") for q in QUANTILES),
    ("last_active_us", "float8"),
    ("overall_avg", "float8"),
    ("overall_rank", "float8"),
)
"""The per (period, UID) columns the compute statement takes as `col_<name>` arrays, with their
element type (ranks and times travel as float8 so that they can be NULL; both are exact)."""

STAGING_TABLE: Final = "minertrace_period_stats"
"""The temporary table (dropped at the end of the refresh) holding the computed rows."""


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
        f"'p{round(q * 100)}', t.dist_p{round(q * 100)}" for q in QUANTILES
    )
    return f"""
CREATE TEMPORARY TABLE {STAGING_TABLE} ON COMMIT DROP AS
WITH miners AS (
    SELECT uid, hotkey FROM node_table WHERE hotkey IS NOT NULL AND uid >= 0
),
periods AS (
    SELECT * FROM unnest(
        CAST(:pids AS int[]), CAST(:seg_lo AS int[]), CAST(:seg_hi AS int[]),
        CAST(:trend_lo AS int[]), CAST(:trend_hi AS int[]),
        CAST(:trend_starts AS timestamptz[]), CAST(:trend_ends AS timestamptz[]),
        CAST(:trend_wid AS int[])
    ) AS p(pid, lo, hi, trend_lo, trend_hi, trend_start, trend_end, wid)
),
columns AS (
    -- Per period and UID (0 .. width - 1): the columns computed in numpy
    -- (`minertrace.stats.columns`), NULL where there is nothing to say.
    SELECT * FROM unnest(
        CAST(:col_pid AS int4[]), CAST(:col_uid AS int4[]),
        {", ".join(f"CAST(:col_{name} AS {kind}[])" for name, kind in MINER_COLUMNS)}
    ) AS c(pid, uid, {", ".join(name for name, _ in MINER_COLUMNS)})
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
    -- Runs of each period per task (with or without entries), counted in numpy; the parts of
    -- detailed_metrics that are the same for every miner of the period, built once.
    SELECT r.pid, r.weather + r.geomagnetic + r.soil_moisture AS n,
           jsonb_build_object(
               'total', r.weather + r.geomagnetic + r.soil_moisture, 'weather', r.weather,
               'geomagnetic', r.geomagnetic, 'soil_moisture', r.soil_moisture) AS runs,
           to_jsonb(p.trend_start) AS window_start,
           to_jsonb(p.trend_end) AS window_end
    FROM unnest(CAST(:pids AS int[]), CAST(:runs_weather AS int8[]),
                CAST(:runs_geomagnetic AS int8[]), CAST(:runs_soil_moisture AS int8[]))
         AS r(pid, weather, geomagnetic, soil_moisture)
    JOIN periods AS p ON p.pid = r.pid
),
totals AS (
    SELECT
        p.pid,
        m.uid,
        m.hotkey,
        {", ".join(f"c.{name}" for name, _ in MINER_COLUMNS)},
        c.weather_tasks_attempted + c.geomagnetic_tasks_attempted
            + c.soil_moisture_tasks_attempted AS total_attempted,
        c.weather_tasks_completed + c.geomagnetic_tasks_completed
            + c.soil_moisture_tasks_completed AS total_completed,
        c.weather_tasks_scored + c.geomagnetic_tasks_scored
            + c.soil_moisture_tasks_scored AS total_scored,
        tr.days AS trend_days,
        tr.slope AS trend_slope,
        tr.r AS trend_r
    FROM periods AS p
    CROSS JOIN miners AS m
    JOIN columns AS c ON c.pid = p.pid AND c.uid = m.uid
    -- Periods with the same trend window share one fit (the points come for the first).
    LEFT JOIN trend AS tr ON tr.pid = p.wid AND tr.uid = m.uid
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
    t.overall_rank::int8 AS overall_rank,
    {", ".join(_task_output(task) for task in TASKS)},
    CASE
        WHEN coalesce(t.trend_days, 0) < :trend_min_days THEN 'insufficient_data'
        WHEN t.trend_r IS NULL OR abs(t.trend_r) < :trend_min_r
             OR abs(t.trend_slope) < :trend_min_slope THEN 'stable'
        WHEN t.trend_slope > 0 THEN 'improving'
        ELSE 'declining'
    END AS performance_trend,
    CASE WHEN coalesce(t.trend_days, 0) >= :trend_min_days
         THEN coalesce(abs(t.trend_r), 0.0) END AS trend_confidence,
    TIMESTAMPTZ 'epoch' + t.last_active_us::int8 * INTERVAL '1 microsecond' AS last_active_time,
    t.failures AS consecutive_failures,
    100.0 * t.total_attempted / nullif(pr.n, 0) AS uptime_percentage,
    jsonb_build_object(
        'runs', pr.runs,
        'trend', jsonb_build_object(
            'window_start', pr.window_start,
            'window_end', pr.window_end,
            'days', coalesce(t.trend_days, 0),
            'slope_per_day', t.trend_slope,
            'correlation', t.trend_r)
    ) AS detailed_metrics,
    jsonb_build_object(
        'count', t.dist_n,
        {distribution_keys}
    ) AS score_distribution
FROM totals AS t
JOIN period_runs AS pr ON pr.pid = t.pid
"""


__all__ = [
    "MINER_COLUMNS",
    "QUANTILES",
    "RUN_FILTER",
    "STAGING_TABLE",
    "STATS_COLUMNS",
    "TASKS",
    "TASK_CODE",
    "WORK_MEM",
    "compute_sql",
]
