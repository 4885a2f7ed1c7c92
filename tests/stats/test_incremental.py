"""The incremental refresh (day cells, process caches) equals the full recompute, bit for bit.

Random histories go through random steps — new rows (also late ones, with an old created_at),
score arrays updated in place, rows deleted, hotkeys replaced, UIDs added beyond the width,
time moving on across days, weeks and months — and after each step the rows written by the
incremental refresh are compared with those of `incremental=False`, every float by its bits.
"""

from __future__ import annotations

import math
import struct
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text

from minertrace.db.tables import miner_performance_stats as mps
from minertrace.db.tables import node_table, score_table, stats_day_cells
from minertrace.stats import refresh_all
from minertrace.stats.cache import CACHE
from minertrace.stats.rollup import union_percentiles

UTC = timezone.utc
# A Saturday near the end of a month: steps cross a day, a week and a month.
START = datetime(2024, 8, 29, 6, 0, tzinfo=UTC)
STAMPS = ("calculated_at", "updated_at")
TASKS = (
    ("weather", "initial_weather_scores"),
    ("weather", "final_weather_scores"),
    ("geomagnetic", "g"),
    ("soil_moisture_region_1", "s"),
    ("soil_moisture_region_2", "s"),
    ("other_task", "x"),
)

entry = st.one_of(
    st.sampled_from([0.0, -0.0, 0.5, 0.5, 1.0, -0.25, 0.1, math.nan, math.inf, None]),
    st.floats(-1, 1, allow_nan=False, width=64),
)
scores = st.one_of(st.none(), st.lists(entry, min_size=0, max_size=7))
run = st.tuples(
    st.integers(0, len(TASKS) - 1),
    st.sampled_from(["completed", "pending", None]),
    st.integers(-4 * 24 * 60, 60),  # minutes from the step's now: mostly the past, some future
    scores,
)
step = st.one_of(
    st.tuples(st.just("rows"), st.lists(run, min_size=1, max_size=6)),
    st.tuples(st.just("update"), st.integers(0, 10**6), scores),
    st.tuples(st.just("delete"), st.integers(0, 10**6)),
    st.tuples(st.just("hotkey"), st.integers(0, 6)),
    st.tuples(st.just("advance"), st.sampled_from([1, 7, 13, 24, 49])),
)


def _bits(value: Any) -> Any:
    if isinstance(value, float):
        return struct.pack(">d", value)
    if isinstance(value, dict):
        return {k: _bits(v) for k, v in value.items()}
    return value


def _snapshot(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(
            select(mps).order_by(mps.c.period_type, mps.c.period_start, mps.c.miner_uid)
        )
        return [{k: _bits(v) for k, v in r.items() if k not in STAMPS} for r in result.mappings()]


def _reset(engine: Engine) -> None:
    CACHE.clear()
    with engine.begin() as conn:
        for table in (mps, stats_day_cells, score_table, node_table):
            conn.execute(table.delete())
        conn.execute(node_table.insert(), [{"uid": u, "hotkey": f"hk{u}"} for u in range(4)])


def _apply(engine: Engine, action: tuple[Any, ...], now: datetime, serial: list[int]) -> datetime:
    kind = action[0]
    with engine.begin() as conn:
        names = conn.execute(select(score_table.c.task_name, score_table.c.task_id)).all()
        if kind == "rows":
            rows = []
            for task, status, minutes, values in action[1]:
                name, prefix = TASKS[task]
                serial[0] += 1
                rows.append(
                    {
                        "task_name": name,
                        "task_id": f"{prefix}_{serial[0]}",
                        "status": status,
                        "created_at": now + timedelta(minutes=minutes),
                        "score": values,
                    }
                )
            conn.execute(score_table.insert(), rows)
        elif kind == "update" and names:
            name, task_id = names[action[1] % len(names)]
            conn.execute(
                score_table.update()
                .where(score_table.c.task_name == name, score_table.c.task_id == task_id)
                .values(score=action[2])
            )
        elif kind == "delete" and names:
            name, task_id = names[action[1] % len(names)]
            conn.execute(
                score_table.delete().where(
                    score_table.c.task_name == name, score_table.c.task_id == task_id
                )
            )
        elif kind == "hotkey":
            uid = action[1]
            serial[0] += 1
            conn.execute(
                text(
                    "INSERT INTO node_table (uid, hotkey) VALUES (:u, :k) "
                    "ON CONFLICT (uid) DO UPDATE SET hotkey = EXCLUDED.hotkey"
                ),
                {"u": uid, "k": f"hk{uid}-{serial[0]}"},
            )
        elif kind == "advance":
            return now + timedelta(hours=action[1])
    return now


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_incremental_equals_full_bit_for_bit(engine: Engine, steps: list[tuple[Any, ...]]) -> None:
    _reset(engine)
    now, serial = START, [0]
    for action in steps:
        now = _apply(engine, action, now, serial)
        refresh_all(engine, now)
        incremental = _snapshot(engine)
        refresh_all(engine, now, incremental=False)
        assert _snapshot(engine) == incremental, action


def test_cells_are_stored_reused_and_dropped(engine: Engine) -> None:
    _reset(engine)
    day = datetime(2024, 5, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            score_table.insert(),
            [
                {
                    "task_name": "geomagnetic",
                    "task_id": f"g{d}",
                    "status": "completed",
                    "created_at": day + timedelta(days=d, hours=1),
                    "score": [0.5, 0.25],
                }
                for d in range(3)
            ],
        )
    now = day + timedelta(days=3, hours=5)
    refresh_all(engine, now)
    with engine.connect() as conn:
        first = dict(conn.execute(select(stats_day_cells.c.day, stats_day_cells.c.token)).all())
    assert len(first) == 3
    refresh_all(engine, now + timedelta(hours=1))
    with engine.connect() as conn:
        again = dict(conn.execute(select(stats_day_cells.c.day, stats_day_cells.c.token)).all())
    assert again == first  # nothing changed: nothing recomputed
    with engine.begin() as conn:
        conn.execute(score_table.delete().where(score_table.c.task_id == "g0"))
        conn.execute(score_table.update().where(score_table.c.task_id == "g1").values(score=[0.0]))
    refresh_all(engine, now + timedelta(hours=2))
    with engine.connect() as conn:
        after = dict(conn.execute(select(stats_day_cells.c.day, stats_day_cells.c.token)).all())
    assert set(after) == set(first) - {day.date()}
    assert after[(day + timedelta(days=1)).date()] != first[(day + timedelta(days=1)).date()]
    assert after[(day + timedelta(days=2)).date()] == first[(day + timedelta(days=2)).date()]


@pytest.mark.parametrize("seed", range(20))
def test_union_percentiles_equal_a_sort_of_both(seed: int) -> None:
    from minertrace.stats.cells import _percentiles

    rng = np.random.default_rng(seed)
    width = int(rng.integers(1, 9))
    pool = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 0.5, 2.0])

    def sorted_rows(cap: int) -> tuple[np.ndarray, np.ndarray]:
        n = rng.integers(0, cap + 1, width)
        out = np.full((width, cap), np.inf)
        for m in range(width):
            draw = rng.choice(pool, n[m]) if seed % 2 else rng.normal(size=n[m])
            out[m, : n[m]] = np.sort(draw)
        return out, n.astype(np.int64)

    base, base_n = sorted_rows(int(rng.integers(0, 30)))
    tail, tail_n = sorted_rows(int(rng.integers(0, 6)))
    got = union_percentiles(base, base_n, tail, tail_n)
    union = np.sort(np.concatenate([base, tail], axis=1), axis=1, kind="stable")
    expected = np.empty((width, 5))
    _percentiles(union, base_n + tail_n, expected)
    assert got.tobytes() == expected.tobytes()


def test_revision_0006_round_trip_keeps_the_refresh_exact(migrated_db_url: str) -> None:
    from sqlalchemy import create_engine

    from minertrace.db import migrate
    from minertrace.db.urls import sync_url

    engine = create_engine(sync_url(migrated_db_url))
    try:
        _reset(engine)
        day = datetime(2024, 5, 1, 3, tzinfo=UTC)
        with engine.begin() as conn:
            conn.execute(
                score_table.insert(),
                [
                    {
                        "task_name": "geomagnetic",
                        "task_id": f"g{d}",
                        "status": "completed",
                        "created_at": day + timedelta(days=d),
                        "score": [0.5, -0.25, 0.125],
                    }
                    for d in range(3)
                ],
            )
        now = day + timedelta(days=3)
        refresh_all(engine, now)
        before = _snapshot(engine)
        with engine.connect() as conn:
            persistence = conn.execute(
                text("SELECT relpersistence FROM pg_class WHERE relname = 'stats_day_cells'")
            ).scalar()
        assert persistence == "u"  # unlogged: a cache
        migrate.downgrade(engine, "0005")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT to_regclass('stats_day_cells')")).scalar() is None
        CACHE.clear()
        migrate.upgrade(engine)
        assert migrate.check(engine) == []
        with engine.begin() as conn:
            conn.execute(mps.delete())
        refresh_all(engine, now)
        assert _snapshot(engine) == before
        with engine.connect() as conn:
            assert conn.execute(select(stats_day_cells.c.day)).all()
    finally:
        engine.dispose()


def test_the_current_day_grows_by_its_new_rows_only(engine: Engine) -> None:
    """The hourly case: the current day's cells are extended by the rows created after those
    they came from (read alone), and equal a recompute; any other change recomputes the day."""
    _reset(engine)
    day = datetime(2024, 5, 1, tzinfo=UTC)
    values = [0.1, -0.0, 0.0, 0.3, math.nan, 0.7, -0.2, 0.1, 0.25]

    def add(hour: int, tasks: range) -> None:
        with engine.begin() as conn:
            conn.execute(
                score_table.insert(),
                [
                    {
                        "task_name": TASKS[t % 5][0],
                        "task_id": f"{TASKS[t % 5][1]}_{hour}_{t}",
                        "status": "completed" if t % 3 else "pending",
                        "created_at": day + timedelta(hours=hour, minutes=t),
                        "score": [values[(hour + t + u) % len(values)] for u in range(4)],
                    }
                    for t in tasks
                ],
            )

    add(1, range(7))
    refresh_all(engine, day + timedelta(hours=2))
    for hour in (2, 3, 4):
        add(hour, range(5))
        now = day + timedelta(hours=hour + 1)
        refresh_all(engine, now)
        grown = _snapshot(engine)
        refresh_all(engine, now, incremental=False)
        assert _snapshot(engine) == grown
    with engine.begin() as conn:  # an earlier row of the day changes: the day is recomputed
        conn.execute(
            score_table.update().where(score_table.c.task_id == "g_1_2").values(score=[0.9])
        )
    add(5, range(2))
    now = day + timedelta(hours=6)
    refresh_all(engine, now)
    grown = _snapshot(engine)
    refresh_all(engine, now, incremental=False)
    assert _snapshot(engine) == grown


@pytest.mark.parametrize("seed", range(10))
def test_extending_a_day_equals_computing_it_whole(seed: int) -> None:
    from minertrace.stats.day_cells import compute_units, extend
    from minertrace.store.day_cells import DayRuns

    rng = np.random.default_rng(seed)
    runs, width = int(rng.integers(2, 30)), int(rng.integers(1, 6))
    pool = np.array([0.0, -0.0, 0.5, -0.5, 1.0, 0.1, np.nan, np.inf])
    matrix = rng.choice(pool, (width, runs))
    task = rng.integers(0, 3, runs)
    final = rng.random(runs) < 0.5
    seq = np.arange(1, runs + 1)
    at = 1_700_000_000_000_000 + seq * 1000

    def part(pick: np.ndarray) -> DayRuns:
        order = np.lexsort((seq[pick], final[pick], task[pick]))
        idx = np.flatnonzero(pick)[order]
        zeros = np.zeros(idx.size, dtype=np.int64)
        return DayRuns(
            zeros, zeros, task[idx], final[idx], seq[idx], at[idx], matrix[:, idx].copy()
        )

    cut = int(rng.integers(1, runs))
    whole = compute_units(part(seq > 0))[0][1]
    grown = extend(compute_units(part(seq <= cut))[0][1], part(seq > cut))
    for name in (
        "attempted",
        "completed",
        "latest_run",
        "total",
        "best",
        "latest",
        "failures",
        "last_at",
        "task_runs",
    ):
        assert getattr(grown, name).tobytes() == getattr(whole, name).tobytes(), name
    # The sorted entries: equal, but +0 and -0 may come in either order (no percentile sees it).
    assert np.array_equal(grown.values, whole.values)
