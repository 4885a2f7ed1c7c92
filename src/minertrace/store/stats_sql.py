"""The period-statistics SQL: one statement computes every requested period into a temporary
table (one read of the score rows), then one set-based upsert per period writes them.

The rules are documented with `minertrace.stats.refresh`; this module only builds the text.
The statement's parameters (segment plan, trend thresholds) are bound, never formatted in.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from minertrace.vocabulary import SCORE_TASK_GEOMAGNETIC, SCORE_TASK_WEATHER

# The statistics columns name the soil task after its score rows' prefix (soil_moisture_*).
TASKS: Final = (SCORE_TASK_WEATHER, SCORE_TASK_GEOMAGNETIC, "soil_moisture")
# The compute statement keeps the score rows twice in memory (the runs and the score matrix,
# ~14 MB each for 256 miners over 30 days) and hashes ~23 k cells; the 4 MB default would
# spill them to disk. Transaction-local, restored after the refresh.
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


STAGING_TABLE: Final = "minertrace_period_stats"
"""The temporary table (dropped at the end of the refresh) holding the computed rows."""

# Attempted = finite. NaN sorts above +Infinity in PostgreSQL, so the two strict bounds drop
# NULL, NaN and both infinities in one range test.
_IS_FINITE = "{0} > '-Infinity'::float8 AND {0} < 'Infinity'::float8"

QUANTILES: Final = (0.1, 0.25, 0.5, 0.75, 0.9)
"""The score_distribution percentiles (keys p10 ... p90), interpolated as `percentile_cont`."""


def _percentile(q: float, values: str) -> str:
    """`percentile_cont(q)` of the sorted float8 array `values` (NULL when it is NULL).

    PostgreSQL's formula: x = q * (n - 1); the values at 1-based positions floor(x) + 1 and
    ceil(x) + 1, then lo + (x - floor(x)) * (hi - lo), in the same float8 operations.
    """
    x = f"(CAST({q!r} AS float8) * (cardinality({values}) - 1))"
    lo = f"{values}[floor({x})::int + 1]"
    hi = f"{values}[ceil({x})::int + 1]"
    return f"{lo} + (({x} - floor({x})) * ({hi} - {lo}))"


@lru_cache(maxsize=16)
def compute_sql(spans_all: tuple[bool, ...]) -> str:
    """Every requested period at once, into a temporary table (one row per miner and period).

    `minertrace.store.period_upsert.UPSERT_SQL` then writes each period with one statement.
    Time is cut into segments at every period and trend-window boundary, so each period and
    each trend window is a contiguous range of segments and every entry is read once, whatever
    the number of periods. The percentiles need one column per period; `spans_all[k]` tells
    that period k covers every other one (then its entries need no filter; all_time, or a
    single period).
    """
    pids = range(len(spans_all))
    span_columns = ", ".join(
        f"max(first_row) FILTER (WHERE pid = {k}) - min(first_row) + 1 AS lo{k}, "
        f"max(last_row) FILTER (WHERE pid = {k}) - min(first_row) + 1 AS hi{k}"
        for k in pids
    )
    sorted_columns = ", ".join(
        f"array_agg(z.v ORDER BY z.v) AS v{k}"
        if spans_all[k]
        else f"array_agg(z.v ORDER BY z.v) FILTER (WHERE z.pos BETWEEN sp.lo{k} AND sp.hi{k})"
        f" AS v{k}"
        for k in pids
    )
    # Without a position to carry, the sort is of bare float8 values (cheaper).
    position = (
        "" if all(spans_all) else ", generate_series(1, sp.last_row - sp.first_row + 1) AS pos"
    )
    percentile_columns = ", ".join(
        f"cardinality(s.v{k}) AS n{k}, "
        f"ARRAY[{', '.join(_percentile(q, f's.v{k}') for q in QUANTILES)}] AS p{k}"
        for k in pids
    )
    unpivot = ", ".join(f"({k}, pc.n{k}, pc.p{k})" for k in pids)
    distribution_keys = ", ".join(
        f"'p{round(q * 100)}', t.dist_p[{i}]" for i, q in enumerate(QUANTILES, start=1)
    )
    return f"""
CREATE TEMPORARY TABLE {STAGING_TABLE} ON COMMIT DROP AS
WITH miners AS (
    SELECT uid, hotkey FROM node_table WHERE hotkey IS NOT NULL AND uid >= 0
),
dims AS (
    SELECT coalesce(max(uid) + 1, 0) AS width FROM miners
),
periods AS (
    SELECT * FROM unnest(
        CAST(:pids AS int[]), CAST(:seg_lo AS int[]), CAST(:seg_hi AS int[]),
        CAST(:trend_lo AS int[]), CAST(:trend_hi AS int[]),
        CAST(:trend_starts AS timestamptz[]), CAST(:trend_ends AS timestamptz[])
    ) AS p(pid, lo, hi, trend_lo, trend_hi, trend_start, trend_end)
),
runs AS MATERIALIZED (
    SELECT
        r.*,
        -- One total order over the runs, so "latest" and "trailing" are well defined on ties.
        row_number() OVER (ORDER BY r.created_at, r.task_name, r.task_id) AS seq,
        dense_rank() OVER (ORDER BY r.seg, r.task, r.day, r.final) AS grp
    FROM (
        SELECT
            -- Exactly one entry per miner column, NULL elements as NaN: the score matrix
            -- below needs equal row lengths, and an array without NULLs keeps slicing O(1).
            array_replace(coalesce(s.score[1:d.width], '{{}}'), NULL, 'NaN')
                || array_fill('NaN'::float8,
                              ARRAY[d.width - coalesce(cardinality(s.score[1:d.width]), 0)])
                AS score,
            s.created_at,
            s.task_name,
            s.task_id,
            CASE
                WHEN s.task_name = 'weather' THEN 'weather'
                WHEN s.task_name = 'geomagnetic' THEN 'geomagnetic'
                ELSE 'soil_moisture'
            END AS task,
            coalesce(s.status = 'completed'
                     OR (s.task_name = 'weather'
                         AND s.task_id LIKE 'final\\_weather\\_scores%'),
                     false) AS final,
            (s.created_at AT TIME ZONE 'UTC')::date - DATE '2000-01-01' AS day,
            width_bucket(s.created_at, CAST(:bounds AS timestamptz[])) AS seg
        FROM score_table AS s
        CROSS JOIN dims AS d
        WHERE s.created_at >= :scan_start AND s.created_at < :scan_end
          AND d.width > 0
          AND (s.task_name IN ('weather', 'geomagnetic')
               OR s.task_name LIKE 'soil\\_moisture\\_region\\_%')
    ) AS r
),
cell_keys AS (
    -- The single pass over every entry, reduced to one cell per miner, task, UTC day,
    -- segment and finality; everything but the percentiles rolls up from the cells.
    -- key = grp * width + uid, generated alongside the entries: one int8 to hash per entry
    -- (not grp * 2^32 + uid: PostgreSQL hashes an int8 as its two halves XORed together).
    SELECT e.key,
           count(*) AS attempted,
           count(*) FILTER (WHERE e.v > 0) AS completed,
           sum(e.v) AS total,
           max(e.v) AS best,
           max(e.seq) AS latest_seq,
           max(e.seq) FILTER (WHERE e.v > 0) AS last_completed_seq
    FROM (
        SELECT unnest(r.score) AS v,
               generate_series(r.grp * d.width, r.grp * d.width + d.width - 1) AS key,
               r.seq
        FROM runs AS r
        CROSS JOIN dims AS d
    ) AS e
    WHERE {_IS_FINITE.format("e.v")}
    GROUP BY e.key
),
groups AS (
    SELECT DISTINCT grp, seg, task, day, final FROM runs
),
cells AS (
    SELECT (c.key % d.width)::int AS uid, g.seg, g.task, g.day, g.final,
           c.attempted, c.completed, c.total, c.best, c.latest_seq, c.last_completed_seq
    FROM cell_keys AS c
    CROSS JOIN dims AS d
    JOIN groups AS g ON g.grp = c.key / d.width
),
per_task AS (
    SELECT p.pid, c.uid, c.task,
           sum(c.attempted) AS attempted,
           sum(c.completed) AS completed,
           coalesce(sum(c.completed) FILTER (WHERE c.final), 0) AS scored,
           sum(c.total) / sum(c.attempted) AS avg_score,
           max(c.best) AS best,
           max(c.latest_seq) AS latest_seq,
           max(c.last_completed_seq) AS last_completed_seq
    FROM cells AS c
    JOIN periods AS p ON c.seg BETWEEN p.lo AND p.hi
    GROUP BY p.pid, c.uid, c.task
),
ranked AS (
    SELECT t.*,
           lr.score[t.uid + 1] AS latest,
           rank() OVER (PARTITION BY t.pid, t.task ORDER BY t.avg_score DESC) AS task_rank
    FROM per_task AS t
    JOIN miners AS m ON m.uid = t.uid
    JOIN runs AS lr ON lr.seq = t.latest_seq
),
per_uid AS (
    SELECT pid, uid, max(last_completed_seq) AS last_completed_seq, max(latest_seq) AS latest_seq
    FROM per_task
    GROUP BY pid, uid
),
last_ok AS (
    SELECT u.pid, u.uid, u.last_completed_seq AS seq, r.day
    FROM per_uid AS u
    LEFT JOIN runs AS r ON r.seq = u.last_completed_seq
),
failures_after AS (
    -- Trailing failures, part 1: every attempted entry of the period on the days after the
    -- day of the miner's last completed entry (all of them when it never completed one).
    SELECT k.pid, k.uid, sum(c.attempted) AS n
    FROM last_ok AS k
    JOIN periods AS p ON p.pid = k.pid
    JOIN cells AS c ON c.uid = k.uid AND c.seg BETWEEN p.lo AND p.hi
    WHERE k.day IS NULL OR c.day > k.day
    GROUP BY k.pid, k.uid
),
failures_same_day AS (
    -- Part 2: attempted entries of the period later on that same day.
    SELECT k.pid, k.uid, count(*) AS n
    FROM last_ok AS k
    JOIN periods AS p ON p.pid = k.pid
    JOIN runs AS r ON r.day = k.day AND r.seq > k.seq AND r.seg BETWEEN p.lo AND p.hi
    WHERE {_IS_FINITE.format("r.score[k.uid + 1]")}
    GROUP BY k.pid, k.uid
),
matrix AS MATERIALIZED (
    -- Every run's scores as one row of a 2-D array, rows in segment order: a miner's entries
    -- in the periods are then one column slice, cut without touching the other miners, and
    -- each period is a range of positions in it.
    SELECT array_agg(score ORDER BY seg, seq) AS m FROM runs
),
slices AS (
    SELECT p.pid,
           count(*) FILTER (WHERE r.seg < p.lo) + 1 AS first_row,
           count(*) FILTER (WHERE r.seg <= p.hi) AS last_row
    FROM periods AS p
    CROSS JOIN runs AS r
    GROUP BY p.pid
),
span AS (
    -- The rows of every period together, and each period's rows as positions in that span.
    SELECT min(first_row) AS first_row, max(last_row) AS last_row,
           {span_columns}
    FROM slices
),
percentiles AS MATERIALIZED (
    -- Exact percentiles from one sort per miner over the span, not one per miner and period
    -- (the periods overlap): a period's entries, filtered out of that order, are still sorted.
    -- The aggregates share one ORDER BY, so PostgreSQL (16+) sorts their input once.
    SELECT m.uid, {percentile_columns}
    FROM span AS sp
    CROSS JOIN matrix AS mx
    CROSS JOIN miners AS m
    CROSS JOIN LATERAL (
        SELECT {sorted_columns}
        FROM (
            SELECT unnest(mx.m[sp.first_row:sp.last_row][m.uid + 1:m.uid + 1]) AS v{position}
        ) AS z
        WHERE {_IS_FINITE.format("z.v")}
    ) AS s
),
distribution AS (
    SELECT x.pid, pc.uid, x.n, x.p
    FROM percentiles AS pc
    CROSS JOIN LATERAL (VALUES {unpivot}) AS x(pid, n, p)
),
daily AS (
    SELECT p.pid, c.uid, c.day::float8 AS x, sum(c.total) / sum(c.attempted) AS y
    FROM cells AS c
    JOIN periods AS p ON c.seg BETWEEN p.trend_lo AND p.trend_hi
    GROUP BY p.pid, c.uid, c.day
),
trend AS (
    -- Identical daily averages leave rounding noise in corr(); no spread means no correlation.
    SELECT pid, uid, count(*) AS days, regr_slope(y, x) AS slope,
           CASE WHEN stddev_pop(y) > :trend_flat THEN corr(y, x) END AS r
    FROM daily
    GROUP BY pid, uid
),
period_runs AS (
    SELECT
        p.pid,
        count(r.seq) AS n,
        count(r.seq) FILTER (WHERE r.task = 'weather') AS weather,
        count(r.seq) FILTER (WHERE r.task = 'geomagnetic') AS geomagnetic,
        count(r.seq) FILTER (WHERE r.task = 'soil_moisture') AS soil_moisture
    FROM periods AS p
    LEFT JOIN runs AS r ON r.seg BETWEEN p.lo AND p.hi
    GROUP BY p.pid
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
        coalesce(fa.n, 0) + coalesce(fs.n, 0) AS failures,
        d.n AS dist_n,
        d.p AS dist_p,
        tr.days AS trend_days,
        tr.slope AS trend_slope,
        tr.r AS trend_r
    FROM periods AS p
    CROSS JOIN miners AS m
    {" ".join(_task_join(task) for task in TASKS)}
    LEFT JOIN per_uid AS u ON u.pid = p.pid AND u.uid = m.uid
    LEFT JOIN runs AS la ON la.seq = u.latest_seq
    LEFT JOIN failures_after AS fa ON fa.pid = p.pid AND fa.uid = m.uid
    LEFT JOIN failures_same_day AS fs ON fs.pid = p.pid AND fs.uid = m.uid
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
    "STAGING_TABLE",
    "STATS_COLUMNS",
    "TASKS",
    "WORK_MEM",
    "compute_sql",
]
