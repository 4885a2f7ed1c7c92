"""Trend over the last 14 days of daily averages, and statistics spanning several days."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy import Engine

from minertrace.stats.periods import period_for
from minertrace.stats.refresh import (
    TREND_MIN_CORRELATION,
    TREND_MIN_SLOPE,
    refresh_period_stats,
    trend_window,
)
from tests.helpers.stats import insert_nodes, insert_runs, rows

UTC = timezone.utc
NAN = math.nan
NOW = datetime(2024, 5, 15, 12, tzinfo=UTC)
FIRST_DAY = datetime(2024, 5, 2, tzinfo=UTC)  # 14 days: May 2 .. May 15

IMPROVING = [0.2 + 0.01 * i for i in range(14)]
DECLINING = [0.8 - 0.02 * i for i in range(14)]
ZIGZAG = [0.5 + 0.1 * (i % 2) for i in range(14)]
FLAT = [0.3] * 14


@pytest.fixture
def fourteen_days(engine: Engine) -> Engine:
    insert_nodes(engine, {0: "up", 1: "down", 2: "zigzag", 3: "flat", 4: "two-days"})
    runs = []
    for i in range(14):
        day = FIRST_DAY + timedelta(days=i)
        two_days = 0.5 if i >= 12 else NAN
        values = [IMPROVING[i], DECLINING[i], ZIGZAG[i], FLAT[i], two_days]
        runs.append(("geomagnetic", f"g{i}", "completed", day + timedelta(hours=10), values))
        # A second task on the same day: the day's average is over all entries of the day.
        values = [IMPROVING[i], DECLINING[i], ZIGZAG[i], FLAT[i], NAN]
        runs.append(
            ("soil_moisture_region_1", f"s{i}", "completed", day + timedelta(hours=11), values)
        )
    # The day before the window: outliers that would flip the trends if they were counted.
    runs.append(
        ("geomagnetic", "before", "completed", FIRST_DAY - timedelta(hours=1), [5, -5, 5, 5, 5])
    )
    insert_runs(engine, runs)
    return engine


def fitted(ys: list[float]) -> tuple[float, float]:
    x = np.arange(len(ys), dtype=float)
    slope = float(np.polyfit(x, ys, 1)[0])
    r = float(np.corrcoef(x, ys)[0, 1])
    return slope, r


def test_trend_window_is_fourteen_utc_days_ending_today() -> None:
    start, end = trend_window(period_for("daily", NOW), NOW)
    assert (start, end) == (FIRST_DAY, NOW)
    # For a past period the window ends with the period.
    past = period_for("monthly", datetime(2024, 4, 10, tzinfo=UTC))
    start, end = trend_window(past, NOW)
    assert (start, end) == (datetime(2024, 4, 17, tzinfo=UTC), datetime(2024, 5, 1, tzinfo=UTC))


@pytest.mark.parametrize("period_type", ["daily", "monthly"])
def test_trend_classification(fourteen_days: Engine, period_type: str) -> None:
    refresh_period_stats(fourteen_days, period_type, NOW)
    got = rows(fourteen_days, period_type)

    slope, r = fitted(IMPROVING)
    assert got[0]["performance_trend"] == "improving"
    assert got[0]["trend_confidence"] == pytest.approx(abs(r)) and abs(r) > 0.999
    assert got[0]["detailed_metrics"]["trend"]["slope_per_day"] == pytest.approx(slope)
    assert got[0]["detailed_metrics"]["trend"]["days"] == 14

    slope, r = fitted(DECLINING)
    assert got[1]["performance_trend"] == "declining"
    assert got[1]["detailed_metrics"]["trend"]["slope_per_day"] == pytest.approx(slope)
    assert got[1]["trend_confidence"] == pytest.approx(abs(r))

    # Slope above the minimum but the correlation is weak: stable.
    slope, r = fitted(ZIGZAG)
    assert slope > TREND_MIN_SLOPE and abs(r) < TREND_MIN_CORRELATION
    assert got[2]["performance_trend"] == "stable"
    assert got[2]["trend_confidence"] == pytest.approx(abs(r))

    assert got[3]["performance_trend"] == "stable"
    assert got[3]["trend_confidence"] == 0.0

    assert got[4]["performance_trend"] == "insufficient_data"
    assert got[4]["trend_confidence"] is None


def test_monthly_counts_the_day_before_the_window_but_the_trend_does_not(
    fourteen_days: Engine,
) -> None:
    refresh_period_stats(fourteen_days, "monthly", NOW)
    row = rows(fourteen_days, "monthly")[1]
    assert row["geomagnetic_tasks_attempted"] == 15
    assert row["geomagnetic_best_score"] == pytest.approx(0.8)
    assert row["geomagnetic_latest_score"] == pytest.approx(DECLINING[-1])
    assert row["geomagnetic_avg_score"] == pytest.approx((sum(DECLINING) - 5) / 15)
    # The -5 on May 1 is a failure, but every later entry is completed.
    assert row["consecutive_failures"] == 0


def test_consecutive_failures_span_days(engine: Engine) -> None:
    insert_nodes(engine, {0: "a"})
    day = datetime(2024, 5, 13, tzinfo=UTC)
    insert_runs(
        engine,
        [
            ("geomagnetic", "g1", "completed", day + timedelta(hours=20), [0.4]),
            ("geomagnetic", "g2", "completed", day + timedelta(hours=21), [0.0]),
            ("weather", "final_weather_scores_1", "completed", day + timedelta(days=1), [-0.2]),
            ("geomagnetic", "g3", "completed", day + timedelta(days=1, hours=1), [NAN]),
            ("geomagnetic", "g4", "completed", day + timedelta(days=2, hours=1), [0.0]),
        ],
    )
    refresh_period_stats(engine, "weekly", NOW)
    row = rows(engine, "weekly")[0]
    assert row["consecutive_failures"] == 3
    assert row["uptime_percentage"] == pytest.approx(80.0)
    assert row["last_active_time"] == day + timedelta(days=2, hours=1)
