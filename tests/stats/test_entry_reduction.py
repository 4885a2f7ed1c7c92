"""The numpy reduction of the score entries against PostgreSQL's own aggregates.

Random score rows over six weeks (every period type has several segments; the month starts
inside the trend window), with NaN, NULL, +/-Infinity, short arrays, zeros and negatives.
The percentiles must equal `percentile_cont` bit for bit; counts, best and averages must
equal aggregates over `unnest(score)`; reading the miners in blocks of any size must change
nothing.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, delete, text

from minertrace.db.tables import miner_performance_stats as mps
from minertrace.stats import refresh as refresh_module
from minertrace.stats.periods import current_periods
from minertrace.stats.refresh import STATS_COLUMNS, refresh_all
from tests.helpers.stats import insert_nodes, insert_runs, rows

UTC = timezone.utc
NOW = datetime(2024, 5, 15, 12, tzinfo=UTC)
MINERS = 8
TASKS = [
    ("weather", "initial_weather_scores_{}"),
    ("weather", "final_weather_scores_{}"),
    ("geomagnetic", "geo_{}"),
    ("soil_moisture_region_3", "soil_{}"),
    ("soil_moisture_region_5", "soil_{}"),
]


def _runs() -> list[tuple[str, str, str, datetime, list[Any]]]:
    rng = np.random.default_rng(12)
    start = NOW - timedelta(days=44)
    out = []
    for k in range(44 * 8 + 6):
        at = start + timedelta(hours=3 * k, minutes=int(rng.integers(0, 60)))
        name, task_id = TASKS[int(rng.integers(0, len(TASKS)))]
        width = int(rng.integers(MINERS - 3, MINERS + 2))
        # Few distinct values: ties inside a miner's entries, as real scores have.
        values: list[Any] = list(np.round(rng.uniform(-0.3, 1.0, width), 2))
        for i in range(width):
            r = rng.random()
            if r < 0.12:
                values[i] = math.nan
            elif r < 0.16:
                values[i] = None
            elif r < 0.18:
                values[i] = math.inf if r < 0.17 else -math.inf
            elif r < 0.25:
                values[i] = float(rng.random())  # full-precision doubles
        status = "completed" if rng.random() < 0.7 else "pending"
        out.append((name, task_id.format(k), status, at, values))
    return out


@pytest.fixture
def random_scores(engine: Engine) -> Engine:
    insert_nodes(engine, {**{u: f"hk{u}" for u in range(MINERS)}, MINERS: None})
    insert_runs(engine, _runs())
    return engine


_FINITE = "e.v > '-Infinity'::float8 AND e.v < 'Infinity'::float8"
_ENTRIES = f"""
    FROM score_table AS s
    CROSS JOIN LATERAL unnest(s.score) WITH ORDINALITY AS e(v, i)
    WHERE s.created_at >= :start AND s.created_at < :end AND {_FINITE}
      AND (s.task_name IN ('weather', 'geomagnetic') OR s.task_name LIKE 'soil_moisture_region_%')
      AND e.i <= :miners
"""


def test_percentiles_equal_percentile_cont_bit_for_bit(random_scores: Engine) -> None:
    refresh_all(random_scores, NOW)
    checked = 0
    for period in current_periods(NOW):
        stored = rows(random_scores, period.period_type)
        with random_scores.connect() as conn:
            reference = {
                int(r.uid): (int(r.n), list(r.p))
                for r in conn.execute(
                    text(
                        "SELECT e.i - 1 AS uid, count(*) AS n, percentile_cont("
                        "ARRAY[0.1, 0.25, 0.5, 0.75, 0.9]::float8[]) WITHIN GROUP (ORDER BY e.v)"
                        f" AS p {_ENTRIES} GROUP BY e.i"
                    ),
                    {"start": period.start, "end": period.end, "miners": MINERS},
                )
            }
        for uid in range(MINERS):
            dist = stored[uid]["score_distribution"]
            n, expected = reference.get(uid, (0, [None] * 5))
            assert dist["count"] == n
            # ==, not approx: the same float8 operations in the same order.
            assert [dist[f"p{q}"] for q in (10, 25, 50, 75, 90)] == expected
            checked += n > 0
    assert checked >= 3 * MINERS  # the data exercise every period


def test_task_counts_best_and_average_equal_sql_aggregates(random_scores: Engine) -> None:
    refresh_all(random_scores, NOW)
    task_of = (
        "CASE WHEN s.task_name IN ('weather', 'geomagnetic') THEN s.task_name"
        " ELSE 'soil_moisture' END"
    )
    for period in current_periods(NOW):
        stored = rows(random_scores, period.period_type)
        with random_scores.connect() as conn:
            reference = conn.execute(
                text(
                    f"SELECT e.i - 1 AS uid, {task_of} AS task, count(*) AS attempted,"
                    " count(*) FILTER (WHERE e.v > 0) AS completed, max(e.v) AS best,"
                    f" avg(e.v) AS average {_ENTRIES} GROUP BY 1, 2"
                ),
                {"start": period.start, "end": period.end, "miners": MINERS},
            ).all()
        assert reference
        for r in reference:
            row = stored[r.uid]
            assert row[f"{r.task}_tasks_attempted"] == r.attempted
            assert row[f"{r.task}_tasks_completed"] == r.completed
            assert row[f"{r.task}_best_score"] == r.best
            assert row[f"{r.task}_avg_score"] == pytest.approx(r.average, rel=1e-12, abs=1e-15)


def _snapshot(engine: Engine) -> dict[tuple[Any, ...], dict[str, Any]]:
    out = {}
    for period in ("daily", "weekly", "monthly", "all_time"):
        for uid, row in rows(engine, period).items():
            out[(period, uid)] = {c: row[c] for c in STATS_COLUMNS}
    return out


@pytest.mark.parametrize("block_entries", [1, 700])
def test_blocks_of_miners_change_nothing(
    random_scores: Engine, monkeypatch: pytest.MonkeyPatch, block_entries: int
) -> None:
    refresh_all(random_scores, NOW)
    whole = _snapshot(random_scores)
    with random_scores.begin() as conn:
        conn.execute(delete(mps))
    # 1 entry: one miner per block; 700: a few miners per block, the last one shorter.
    monkeypatch.setattr(refresh_module, "BLOCK_ENTRIES", block_entries)
    refresh_all(random_scores, NOW)
    after = _snapshot(random_scores)
    for key, row in whole.items():
        assert {c: v for c, v in after[key].items() if v != row[c]} == {}, key
    assert after == whole


def test_latest_entries_and_trailing_failures_equal_sql(random_scores: Engine) -> None:
    refresh_all(random_scores, NOW)
    task_of = (
        "CASE WHEN s.task_name IN ('weather', 'geomagnetic') THEN s.task_name"
        " ELSE 'soil_moisture' END"
    )
    entries = (
        f"SELECT e.i - 1 AS uid, {task_of} AS task, e.v, dense_rank() OVER"
        f" (ORDER BY s.created_at, s.task_name, s.task_id) AS run {_ENTRIES}"
    )
    for period in current_periods(NOW):
        stored = rows(random_scores, period.period_type)
        params = {"start": period.start, "end": period.end, "miners": MINERS}
        with random_scores.connect() as conn:
            latest = conn.execute(
                text(
                    f"SELECT DISTINCT ON (uid, task) uid, task, v FROM ({entries}) AS x"
                    " ORDER BY uid, task, run DESC"
                ),
                params,
            ).all()
            failures: dict[int, int] = {
                int(uid): int(n)
                for uid, n in conn.execute(
                    text(
                        "SELECT uid, count(*) FILTER (WHERE run > coalesce(last_ok, 0))"
                        " FROM (SELECT uid, run, max(run) FILTER (WHERE v > 0)"
                        f" OVER (PARTITION BY uid) AS last_ok FROM ({entries}) AS e) AS x"
                        " GROUP BY uid"
                    ),
                    params,
                )
            }
        assert latest and any(failures.values())
        for r in latest:
            assert stored[r.uid][f"{r.task}_latest_score"] == r.v
        for uid in range(MINERS):
            assert stored[uid]["consecutive_failures"] == failures.get(uid, 0)
