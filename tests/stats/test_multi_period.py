"""All periods computed together equal each period computed alone, and numpy's percentiles.

`refresh_all` cuts time into segments at every period and trend-window boundary and reads
every entry once; these tests check that slicing against independent computations, with
overlapping, past and non-midnight periods.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, delete

from minertrace.db.tables import miner_performance_stats as mps
from minertrace.stats.periods import Period, current_periods, previous_period
from minertrace.stats.refresh import STATS_COLUMNS, refresh_all, refresh_period_stats
from tests.helpers.stats import insert_nodes, insert_runs

UTC = timezone.utc
NOW = datetime(2024, 6, 3, 15, 30, tzinfo=UTC)  # a Monday: the week starts today
MINERS = 5
TASKS = ("weather", "geomagnetic", "soil_moisture_region_3")


def _runs() -> list[tuple[str, str, str, datetime, list[float]]]:
    rng = np.random.default_rng(7)
    runs = []
    start = NOW - timedelta(days=40)
    for i in range(400):
        at = start + timedelta(minutes=int(rng.integers(0, 40 * 24 * 60 + 600)))
        task = TASKS[i % 3]
        values = np.round(rng.normal(0.3, 0.3, MINERS), 2)  # rounding makes ties
        values[rng.random(MINERS) < 0.2] = math.nan
        values[rng.random(MINERS) < 0.03] = math.inf
        task_id = f"final_weather_scores_{i}" if task == "weather" else f"r{i}"
        status = "completed" if i % 4 else "pending"
        runs.append((task, task_id, status, at, values.tolist()))
    return runs


RUNS = _runs()


def _periods() -> list[Period]:
    current = current_periods(NOW)
    odd = Period("daily", NOW - timedelta(days=9, hours=5), NOW - timedelta(days=2, hours=7))
    return [*current, previous_period(current[0]), previous_period(current[2]), odd]


@pytest.fixture
def scored(engine: Engine) -> Engine:
    insert_nodes(engine, {u: f"hk{u}" for u in range(MINERS)})
    insert_runs(engine, RUNS)
    return engine


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["miner_uid"], row["period_type"], row["period_start"], row["period_end"])


def _all_rows(engine: Engine) -> dict[tuple[Any, ...], dict[str, Any]]:
    from sqlalchemy import select

    with engine.connect() as conn:
        return {_key(dict(r)): dict(r) for r in conn.execute(select(mps)).mappings()}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, abs=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def test_refresh_all_equals_each_period_alone(scored: Engine) -> None:
    periods = _periods()
    for period in periods:
        refresh_period_stats(scored, period, NOW)
    alone = _all_rows(scored)
    with scored.begin() as conn:
        conn.execute(delete(mps))
    refresh_all(scored, NOW, periods)
    together = _all_rows(scored)
    assert alone.keys() == together.keys()
    assert len(together) == MINERS * len(periods)
    for key, row in alone.items():
        for column in STATS_COLUMNS:
            assert _same(row[column], together[key][column]), (key, column)


def test_distribution_of_every_period_matches_numpy(scored: Engine) -> None:
    periods = _periods()
    refresh_all(scored, NOW, periods)
    stored = _all_rows(scored)
    for period in periods:
        for uid in range(MINERS):
            values = [
                v[uid] for _, _, _, at, v in RUNS if period.contains(at) and math.isfinite(v[uid])
            ]
            row = stored[(uid, period.period_type, period.start, period.end)]
            dist = row["score_distribution"]
            assert dist["count"] == len(values) == row["total_tasks_attempted"]
            assert values, "the data should give every miner entries in every period"
            for q in (10, 25, 50, 75, 90):
                expected = float(np.percentile(values, q))
                assert dist[f"p{q}"] == pytest.approx(expected, abs=1e-12), (period, uid, q)


def test_period_without_runs_next_to_one_with_runs(scored: Engine) -> None:
    # The percentiles of all periods come from one sort per miner; a period none of whose
    # runs fall in it must come out empty, not borrow the other period's entries.
    busy = current_periods(NOW)[3]
    empty = Period("daily", NOW + timedelta(days=400), NOW + timedelta(days=401))
    refresh_all(scored, NOW, [busy, empty])
    stored = _all_rows(scored)
    for uid in range(MINERS):
        dist = stored[(uid, empty.period_type, empty.start, empty.end)]["score_distribution"]
        assert dist["count"] == 0
        assert all(dist[f"p{q}"] is None for q in (10, 25, 50, 75, 90))
        values = [v[uid] for _, _, _, at, v in RUNS if busy.contains(at) and math.isfinite(v[uid])]
        dist = stored[(uid, busy.period_type, busy.start, busy.end)]["score_distribution"]
        assert dist["count"] == len(values) > 0
        assert dist["p50"] == pytest.approx(float(np.median(values)), abs=1e-12)
