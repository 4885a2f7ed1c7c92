"""Period statistics against hand-computed values on a small crafted score_table.

The day (2024-05-15, a Wednesday) has these runs, in time order (NaN = no entry):

    run  time   task                    task_id                 status     uid0  uid1  uid2
    R0   00:00  geomagnetic             g0                      completed  0.1   0.1   0.1
    R1   01:00  weather                 initial_weather_scores  pending    0.4   0.0   +inf
    R2   02:00  weather                 final_weather_scores    pending    0.6  -0.2   0.5
    R3   03:00  geomagnetic             g1                      completed  0.8   NaN   0.0
    R4   04:00  soil_moisture_region_1  s1                      completed  0.3   0.9   (short)
    R5   05:00  soil_moisture_region_2  s2                      pending    NaN   0.7   0.2
    R6   06:00  geomagnetic             g2                      completed  0.0   0.7  -0.1
    --   07:00  other_task              x                       completed  1.0   1.0   1.0  ignored

plus one geomagnetic run at 2024-05-14 23:59:59.999999 (in the week, not in the day). uid 3
has a hotkey and no entries; uid 4 has no hotkey.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select, text, update

from minertrace.db.tables import miner_performance_stats as mps
from minertrace.stats.periods import period_for
from minertrace.stats.refresh import STATS_COLUMNS, refresh_all, refresh_period_stats
from tests.helpers.stats import insert_nodes, insert_runs, rows

UTC = timezone.utc
NAN = math.nan
DAY = datetime(2024, 5, 15, tzinfo=UTC)
NOW = DAY + timedelta(hours=12)
KEY = ("miner_uid", "period_start", "period_end", "period_type")


def h(hours: float) -> datetime:
    return DAY + timedelta(hours=hours)


RUNS = [
    ("geomagnetic", "g0", "completed", h(0), [0.1, 0.1, 0.1]),
    ("weather", "initial_weather_scores_1", "pending", h(1), [0.4, 0.0, math.inf]),
    ("weather", "final_weather_scores_1", "pending", h(2), [0.6, -0.2, 0.5]),
    ("geomagnetic", "g1", "completed", h(3), [0.8, NAN, 0.0]),
    ("soil_moisture_region_1", "s1", "completed", h(4), [0.3, 0.9]),
    ("soil_moisture_region_2", "s2", "pending", h(5), [NAN, 0.7, 0.2]),
    ("geomagnetic", "g2", "completed", h(6), [0.0, 0.7, -0.1]),
    ("other_task", "x", "completed", h(7), [1.0, 1.0, 1.0]),
    ("geomagnetic", "g-prev", "completed", DAY - timedelta(microseconds=1), [0.9, 0.9, 0.9]),
]


@pytest.fixture
def crafted(engine: Engine) -> Engine:
    insert_nodes(engine, {0: "hk0", 1: "hk1", 2: "hk2", 3: "hk3", 4: None})
    insert_runs(engine, RUNS)
    return engine


EXPECTED_DAILY: dict[int, dict[str, Any]] = {
    0: {
        "weather_tasks_attempted": 2,
        "weather_tasks_completed": 2,
        "weather_tasks_scored": 1,  # only R2 is final (task_id), R1 is initial and pending
        "weather_avg_score": 0.5,
        "weather_success_rate": 1.0,
        "weather_rank": 1,  # tied with uid 2
        "weather_best_score": 0.6,
        "weather_latest_score": 0.6,
        "geomagnetic_tasks_attempted": 3,
        "geomagnetic_tasks_completed": 2,
        "geomagnetic_tasks_scored": 2,
        "geomagnetic_avg_score": 0.3,
        "geomagnetic_success_rate": 2 / 3,
        "geomagnetic_rank": 2,
        "geomagnetic_best_score": 0.8,
        "geomagnetic_latest_score": 0.0,
        "soil_moisture_tasks_attempted": 1,
        "soil_moisture_tasks_completed": 1,
        "soil_moisture_tasks_scored": 1,
        "soil_moisture_avg_score": 0.3,
        "soil_moisture_success_rate": 1.0,
        "soil_moisture_rank": 2,
        "soil_moisture_best_score": 0.3,
        "soil_moisture_latest_score": 0.3,
        "total_tasks_attempted": 6,
        "total_tasks_completed": 5,
        "total_tasks_scored": 4,
        "overall_success_rate": 5 / 6,
        "overall_avg_score": (0.5 * 1 + 0.3 * 2 + 0.3 * 1) / 4,
        "overall_rank": 2,
        "last_active_time": h(6),  # R6's 0.0 is an entry
        "consecutive_failures": 1,  # R6 (0.0) after R4 (0.3); R5 has no entry
        "uptime_percentage": 100 * 6 / 7,
    },
    1: {
        "weather_tasks_attempted": 2,
        "weather_tasks_completed": 0,
        "weather_tasks_scored": 0,
        "weather_avg_score": -0.1,
        "weather_success_rate": 0.0,
        "weather_rank": 3,
        "weather_best_score": 0.0,
        "weather_latest_score": -0.2,
        "geomagnetic_tasks_attempted": 2,
        "geomagnetic_tasks_completed": 2,
        "geomagnetic_tasks_scored": 2,
        "geomagnetic_avg_score": 0.4,
        "geomagnetic_success_rate": 1.0,
        "geomagnetic_rank": 1,
        "geomagnetic_best_score": 0.7,
        "geomagnetic_latest_score": 0.7,
        "soil_moisture_tasks_attempted": 2,
        "soil_moisture_tasks_completed": 2,
        "soil_moisture_tasks_scored": 1,  # R5 is pending
        "soil_moisture_avg_score": 0.8,
        "soil_moisture_success_rate": 1.0,
        "soil_moisture_rank": 1,
        "soil_moisture_best_score": 0.9,
        "soil_moisture_latest_score": 0.7,
        "total_tasks_attempted": 6,
        "total_tasks_completed": 4,
        "total_tasks_scored": 3,
        "overall_success_rate": 4 / 6,
        "overall_avg_score": (-0.1 * 0 + 0.4 * 2 + 0.8 * 1) / 3,
        "overall_rank": 1,
        "last_active_time": h(6),
        "consecutive_failures": 0,
        "uptime_percentage": 100 * 6 / 7,
    },
    2: {
        "weather_tasks_attempted": 1,  # +inf in R1 is not an entry
        "weather_tasks_completed": 1,
        "weather_tasks_scored": 1,
        "weather_avg_score": 0.5,
        "weather_success_rate": 1.0,
        "weather_rank": 1,
        "weather_best_score": 0.5,
        "weather_latest_score": 0.5,
        "geomagnetic_tasks_attempted": 3,
        "geomagnetic_tasks_completed": 1,
        "geomagnetic_tasks_scored": 1,
        "geomagnetic_avg_score": 0.0,
        "geomagnetic_success_rate": 1 / 3,
        "geomagnetic_rank": 3,
        "geomagnetic_best_score": 0.1,
        "geomagnetic_latest_score": -0.1,
        "soil_moisture_tasks_attempted": 1,  # R4's array stops before uid 2
        "soil_moisture_tasks_completed": 1,
        "soil_moisture_tasks_scored": 0,
        "soil_moisture_avg_score": 0.2,
        "soil_moisture_success_rate": 1.0,
        "soil_moisture_rank": 3,
        "soil_moisture_best_score": 0.2,
        "soil_moisture_latest_score": 0.2,
        "total_tasks_attempted": 5,
        "total_tasks_completed": 3,
        "total_tasks_scored": 2,
        "overall_success_rate": 3 / 5,
        "overall_avg_score": (0.5 * 1 + 0.0 * 1 + 0.2 * 0) / 2,
        "overall_rank": 3,
        "last_active_time": h(6),
        "consecutive_failures": 1,
        "uptime_percentage": 100 * 5 / 7,
    },
}

ENTRIES = {
    0: [0.1, 0.4, 0.6, 0.8, 0.3, 0.0],
    1: [0.1, 0.0, -0.2, 0.9, 0.7, 0.7],
    2: [0.1, 0.5, 0.0, 0.2, -0.1],
}


def assert_matches(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for column, want in expected.items():
        got = actual[column]
        if isinstance(want, float):
            assert got == pytest.approx(want, abs=1e-12), column
        else:
            assert got == want, column


@pytest.mark.parametrize("uid", [0, 1, 2])
def test_daily_statistics_match_hand_computed_values(crafted: Engine, uid: int) -> None:
    assert refresh_period_stats(crafted, "daily", NOW) == 4
    row = rows(crafted, "daily")[uid]
    assert row["miner_hotkey"] == f"hk{uid}"
    assert (row["period_start"], row["period_end"]) == (DAY, DAY + timedelta(days=1))
    assert_matches(row, EXPECTED_DAILY[uid])
    assert row["calculated_at"] == NOW and row["updated_at"] == NOW
    # One day of data: no trend yet.
    assert row["performance_trend"] == "insufficient_data"
    assert row["trend_confidence"] is None


@pytest.mark.parametrize("uid", [0, 1, 2])
def test_score_distribution_percentiles(crafted: Engine, uid: int) -> None:
    refresh_period_stats(crafted, "daily", NOW)
    dist = rows(crafted, "daily")[uid]["score_distribution"]
    values = ENTRIES[uid]
    assert dist["count"] == len(values)
    for q in (10, 25, 50, 75, 90):
        # numpy's default is the same linear interpolation as percentile_cont.
        assert dist[f"p{q}"] == pytest.approx(float(np.percentile(values, q)), abs=1e-12)


def test_score_distribution_by_hand(crafted: Engine) -> None:
    # uid 0 sorted: 0.0 0.1 0.3 0.4 0.6 0.8; p10 sits halfway between the first two, etc.
    refresh_period_stats(crafted, "daily", NOW)
    dist = rows(crafted, "daily")[0]["score_distribution"]
    stored = [dist[f"p{q}"] for q in (10, 25, 50, 75, 90)]
    assert stored == pytest.approx([0.05, 0.15, 0.35, 0.55, 0.7], abs=1e-12)


def test_miner_without_entries_and_node_without_hotkey(crafted: Engine) -> None:
    refresh_period_stats(crafted, "daily", NOW)
    daily = rows(crafted, "daily")
    assert set(daily) == {0, 1, 2, 3}
    idle = daily[3]
    assert idle["miner_hotkey"] == "hk3"
    assert idle["total_tasks_attempted"] == 0
    assert idle["weather_tasks_attempted"] == 0
    assert idle["weather_avg_score"] is None and idle["weather_rank"] is None
    assert idle["overall_avg_score"] is None and idle["overall_rank"] is None
    assert idle["overall_success_rate"] is None
    assert idle["uptime_percentage"] == 0.0
    assert idle["consecutive_failures"] == 0
    assert idle["last_active_time"] is None
    assert idle["score_distribution"]["count"] == 0
    assert idle["score_distribution"]["p50"] is None
    assert idle["detailed_metrics"]["runs"] == {
        "total": 7,
        "weather": 2,
        "geomagnetic": 3,
        "soil_moisture": 2,
    }


def test_weekly_includes_the_run_just_before_midnight(crafted: Engine) -> None:
    refresh_period_stats(crafted, "weekly", NOW)
    weekly = rows(crafted, "weekly")
    assert weekly[0]["period_start"] == datetime(2024, 5, 13, tzinfo=UTC)
    assert weekly[0]["geomagnetic_tasks_attempted"] == 4
    assert weekly[0]["geomagnetic_best_score"] == pytest.approx(0.9)
    assert weekly[0]["uptime_percentage"] == pytest.approx(100 * 7 / 8)
    # The earlier run does not change what is latest or trailing.
    assert weekly[0]["geomagnetic_latest_score"] == pytest.approx(0.0)
    assert weekly[0]["consecutive_failures"] == 1


def test_refresh_all_writes_every_current_period(crafted: Engine) -> None:
    counts = refresh_all(crafted, NOW)
    assert {p.period_type: n for p, n in counts.items()} == {
        "daily": 4,
        "weekly": 4,
        "monthly": 4,
        "all_time": 4,
    }
    assert rows(crafted, "all_time")[0]["period_end"] == datetime(9999, 1, 1, tzinfo=UTC)
    assert rows(crafted, "monthly")[2]["total_tasks_attempted"] == 6


def test_refresh_is_idempotent_and_follows_new_scores(crafted: Engine) -> None:
    refresh_period_stats(crafted, "daily", NOW)
    refresh_period_stats(crafted, "daily", NOW)
    assert rows(crafted, "daily")[3]["total_tasks_attempted"] == 0
    insert_runs(crafted, [("geomagnetic", "g3", "completed", h(8), [NAN, NAN, NAN, 0.25])])
    later = NOW + timedelta(hours=1)
    assert refresh_period_stats(crafted, "daily", later) == 4
    row = rows(crafted, "daily")[3]
    assert row["geomagnetic_tasks_attempted"] == 1
    assert row["geomagnetic_rank"] == 3  # 0.25 is between uid 0 (0.3) and uid 2 (0.0)
    assert row["calculated_at"] == later
    assert rows(crafted, "daily")[0]["consecutive_failures"] == 1  # no entry in g3


def test_consecutive_failures_run_across_tasks(engine: Engine) -> None:
    insert_nodes(engine, {0: "a", 1: "b"})
    insert_runs(
        engine,
        [
            ("weather", "final_weather_scores_9", "completed", h(1), [0.0, 0.0]),
            ("geomagnetic", "g1", "completed", h(2), [0.5, -0.3]),
            ("soil_moisture_region_1", "s1", "completed", h(3), [0.0, 0.0]),
            ("weather", "final_weather_scores_10", "completed", h(4), [-1.0, NAN]),
            ("geomagnetic", "g2", "completed", h(5), [0.0, 0.0]),
            # Same time as g2: order by task name, then task id, makes this one later.
            ("soil_moisture_region_1", "s2", "completed", h(5), [NAN, 0.0]),
        ],
    )
    refresh_period_stats(engine, "daily", NOW)
    daily = rows(engine, "daily")
    assert daily[0]["consecutive_failures"] == 3  # s1, w10, g2 after g1
    assert daily[1]["consecutive_failures"] == 5  # never completed: every entry
    assert daily[0]["last_active_time"] == h(5)


def test_status_completed_makes_any_row_final(engine: Engine) -> None:
    insert_nodes(engine, {0: "a"})
    insert_runs(
        engine,
        [
            ("weather", "initial_weather_scores_1", "completed", h(1), [0.5]),
            ("weather", "final_weather_scores_1", "scoring", h(2), [0.5]),
            ("weather", "something_else", "pending", h(3), [0.5]),
            ("geomagnetic", "final_weather_scores_x", "pending", h(4), [0.5]),
        ],
    )
    refresh_period_stats(engine, "daily", NOW)
    row = rows(engine, "daily")[0]
    assert row["weather_tasks_scored"] == 2
    assert row["weather_tasks_completed"] == 3
    assert row["geomagnetic_tasks_scored"] == 0  # the final_ prefix counts for weather only


def test_pipeline_columns_are_left_alone(crafted: Engine) -> None:
    period = period_for("daily", NOW)
    pipeline = {
        "submitted_weight": 0.125,
        "raw_calculated_weight": 0.2,
        "excellence_weight": 0.1,
        "diversity_weight": 0.2,
        "scoring_pathway": "diversity",
        "pathway_details": {"weather": {"rank": 90.0}},
        "incentive": 0.03,
        "consensus_rank": 7,
        "weight_submission_block": 1234,
        "consensus_block": 1300,
        "weather_weight_contribution": 0.05,
        "geomagnetic_weight_contribution": 0.06,
        "soil_weight_contribution": 0.07,
        "multi_task_bonus": 1.15,
        "percentile_rank_weather": 90.0,
        "percentile_rank_geomagnetic": 80.0,
        "percentile_rank_soil": 70.0,
        "excellence_qualified_tasks": ["weather"],
        "validator_hotkey": "validator-1",
        "soil_moisture_surface_rmse_avg": 0.01,
    }
    with crafted.begin() as conn:
        conn.execute(
            mps.insert(),
            {
                "miner_uid": 0,
                "miner_hotkey": "hk0",
                "period_start": period.start,
                "period_end": period.end,
                "period_type": "daily",
                "weather_tasks_attempted": 99,
                "performance_trend": "improving",
                **pipeline,
            },
        )
        before = dict(conn.execute(select(mps).where(mps.c.miner_uid == 0)).mappings().one())
    refresh_period_stats(crafted, "daily", NOW)
    after = rows(crafted, "daily")[0]
    untouched = set(mps.c.keys()) - set(STATS_COLUMNS)
    assert {c: after[c] for c in untouched} == {c: before[c] for c in untouched}
    assert {c: after[c] for c in pipeline} == pipeline
    assert after["weather_tasks_attempted"] == 2
    assert after["performance_trend"] == "insufficient_data"


def test_row_with_an_old_hotkey_is_not_relabelled(crafted: Engine) -> None:
    period = period_for("daily", NOW)
    with crafted.begin() as conn:
        conn.execute(
            mps.insert(),
            {
                "miner_uid": 1,
                "miner_hotkey": "old-hk1",
                "period_start": period.start,
                "period_end": period.end,
                "period_type": "daily",
                "submitted_weight": 0.5,
            },
        )
    assert refresh_period_stats(crafted, "daily", NOW) == 3
    stale = rows(crafted, "daily")[1]
    assert stale["miner_hotkey"] == "old-hk1"
    assert stale["total_tasks_attempted"] == 0  # untouched
    # refresh_all removes stale rows first, then writes the new miner's row.
    refresh_all(crafted, NOW, ["daily"])
    fresh = rows(crafted, "daily")[1]
    assert fresh["miner_hotkey"] == "hk1"
    assert fresh["submitted_weight"] is None
    assert fresh["total_tasks_attempted"] == 6


def test_refresh_on_a_connection_uses_the_callers_transaction(crafted: Engine) -> None:
    with crafted.connect() as conn:
        work_mem = conn.execute(text("SHOW work_mem")).scalar_one()
        assert refresh_period_stats(conn, "daily", NOW) == 4
        assert conn.execute(text("SHOW work_mem")).scalar_one() == work_mem
        conn.rollback()
    assert rows(crafted, "daily") == {}


def test_only_a_refresh_in_its_own_transaction_commits_asynchronously(crafted: Engine) -> None:
    with crafted.connect() as conn:
        refresh_all(conn, NOW)
        # The caller's transaction keeps its durability.
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
        conn.rollback()
    own = _statements(crafted, lambda: refresh_all(crafted, NOW))
    assert sum("'synchronous_commit', 'off', true" in s for s in own) == 1
    assert rows(crafted, "daily")
    with crafted.connect() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"


def test_naive_now_is_rejected(crafted: Engine) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        refresh_period_stats(crafted, "daily", NOW.replace(tzinfo=None))


def _statements(engine: Engine, refresh: Any) -> list[str]:
    from sqlalchemy import event

    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        refresh()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return statements


def test_period_stats_update_statement_count(crafted: Engine) -> None:
    """One INSERT ... ON CONFLICT statement per period, whatever the number of miners."""
    single = _statements(crafted, lambda: refresh_period_stats(crafted, "daily", NOW))
    assert sum("INSERT INTO miner_performance_stats" in s for s in single) == 1
    assert sum("CREATE TEMPORARY TABLE" in s for s in single) == 1

    # The full path: the incremental one adds a few statements when day cells are recomputed.
    every = _statements(crafted, lambda: refresh_all(crafted, NOW, incremental=False))
    assert sum("INSERT INTO miner_performance_stats" in s for s in every) == 4
    # The compute statement reads its parameters only: the score rows are read once, by day,
    # into the day cells (tests/stats/test_incremental.py).
    assert not any("score_table" in s for s in every)

    insert_nodes(crafted, {u: f"more-{u}" for u in range(5, 105)})
    written: dict[str, int] = {}

    def refresh() -> None:
        counts = refresh_all(crafted, NOW, incremental=False)
        written.update({p.period_type: n for p, n in counts.items()})

    more = _statements(crafted, refresh)
    assert len(more) == len(every)
    # The 100 new miners' rows are written; the 4 rows that did not change are not.
    assert written["daily"] == 100


def test_unchanged_rows_are_not_rewritten(crafted: Engine) -> None:
    """A refresh that computes the values a row already holds leaves the row alone."""
    assert set(refresh_all(crafted, NOW).values()) == {4}
    before = rows(crafted, "weekly")
    with crafted.connect() as conn:
        versions = conn.execute(text("SELECT ctid FROM miner_performance_stats")).scalars().all()
    assert set(refresh_all(crafted, NOW).values()) == {0}
    with crafted.connect() as conn:
        again = conn.execute(text("SELECT ctid FROM miner_performance_stats")).scalars().all()
    # Same tuples: no new row version was written.
    assert sorted(again) == sorted(versions)
    assert rows(crafted, "weekly") == before


def test_unrelated_updates_do_not_bleed(crafted: Engine) -> None:
    """Rows of other periods are not touched by a daily refresh."""
    refresh_all(crafted, NOW)
    with crafted.begin() as conn:
        conn.execute(update(mps).where(mps.c.period_type == "weekly").values(incentive=0.5))
    refresh_period_stats(crafted, "daily", NOW + timedelta(hours=1))
    weekly = rows(crafted, "weekly")
    assert all(r["incentive"] == 0.5 and r["calculated_at"] == NOW for r in weekly.values())
