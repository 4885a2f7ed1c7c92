"""Cycle reads: the right rows, in the right order, with the windows and limits."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, event, insert

from minertrace.db.tables import node_table, score_table
from minertrace.store import (
    DEFAULT_WINDOWS,
    read_active_validators,
    read_cycle_inputs,
    read_cycle_inputs_async,
    read_geomagnetic_rows,
    read_nodes,
    read_soil_rows,
    read_weather_rows,
)

NOW = datetime(2026, 4, 20, 6, 30, tzinfo=timezone.utc)
US = timedelta(microseconds=1)


def _insert(engine: Engine, rows: list[tuple[str, str, datetime]]) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(score_table),
            [
                {"task_name": n, "task_id": i, "score": [0.5, 0.25], "created_at": t}
                for n, i, t in rows
            ],
        )


def test_weather_window_prefixes_and_order(engine: Engine) -> None:
    _insert(
        engine,
        [
            ("weather", "final_weather_scores_old_edge", NOW - timedelta(days=15)),
            ("weather", "final_weather_scores_too_old", NOW - timedelta(days=15) - US),
            ("weather", "final_weather_scores_new", NOW - timedelta(days=1)),
            ("weather", "initial_weather_scores_newest", NOW - timedelta(hours=1)),
            ("weather", "initial_weather_scores_mid", NOW - timedelta(days=3)),
            ("weather", "forecast_run", NOW - timedelta(hours=2)),
            # `_` must not act as a LIKE wildcard.
            ("weather", "finalXweather_scores_1", NOW - timedelta(hours=2)),
            ("geomagnetic", "final_weather_scores_geo", NOW - timedelta(hours=2)),
        ],
    )
    rows = read_weather_rows(engine, NOW)
    assert [r.task_id for r in rows] == [
        "final_weather_scores_new",
        "final_weather_scores_old_edge",
        "initial_weather_scores_newest",
        "initial_weather_scores_mid",
    ]
    assert all(r.task_name == "weather" for r in rows)
    short = read_weather_rows(engine, NOW, window=timedelta(days=2), limit=2)
    assert [r.task_id for r in short] == [
        "final_weather_scores_new",
        "initial_weather_scores_newest",
    ]


def test_weather_limit_keeps_finals_first(engine: Engine) -> None:
    rows = [
        ("weather", f"initial_weather_scores_{i:03d}", NOW - timedelta(minutes=i))
        for i in range(90)
    ]
    rows += [
        ("weather", f"final_weather_scores_{i:03d}", NOW - timedelta(days=10, minutes=i))
        for i in range(20)
    ]
    _insert(engine, rows)
    got = read_weather_rows(engine, NOW)
    assert len(got) == 100
    assert [r.task_id for r in got[:20]] == [f"final_weather_scores_{i:03d}" for i in range(20)]
    assert [r.task_id for r in got[20:]] == [f"initial_weather_scores_{i:03d}" for i in range(80)]


def test_geomagnetic_window_order_and_no_limit(engine: Engine) -> None:
    rows = [("geomagnetic", f"geo_{i:03d}", NOW - timedelta(minutes=10 * i)) for i in range(144)]
    rows += [
        ("geomagnetic", "geo_edge", NOW - timedelta(hours=24)),
        ("geomagnetic", "geo_stale", NOW - timedelta(hours=24) - US),
        ("soil_moisture_region_1", "soil_not_geo", NOW),
    ]
    _insert(engine, rows)
    got = read_geomagnetic_rows(engine, NOW)
    assert len(got) == 145
    assert got[-1].task_id == "geo_edge"
    assert [r.task_id for r in got[:3]] == ["geo_000", "geo_001", "geo_002"]
    created = [r.created_at for r in got]
    assert created == sorted(created, reverse=True)
    assert len(read_geomagnetic_rows(engine, NOW, window=timedelta(hours=1))) == 7


def test_soil_regions_window_order_and_limit(engine: Engine) -> None:
    rows = [
        (f"soil_moisture_region_{i % 7}", f"soil_{i:03d}", NOW - timedelta(minutes=5 * i))
        for i in range(210)
    ]
    rows += [
        ("soil_moisture_region_9", "soil_stale", NOW - timedelta(days=1) - US),
        ("soil_moisture_regionX", "not_a_region", NOW),
        ("geomagnetic", "geo", NOW),
    ]
    _insert(engine, rows)
    got = read_soil_rows(engine, NOW)
    assert [r.task_id for r in got] == [f"soil_{i:03d}" for i in range(200)]
    assert {r.task_name for r in got} == {f"soil_moisture_region_{k}" for k in range(7)}
    assert len(read_soil_rows(engine, NOW, limit=None)) == 210


def test_score_values_and_null_entries(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(score_table),
            [
                {
                    "task_name": "geomagnetic",
                    "task_id": "g",
                    "score": [0.75, None, float("nan"), 1e-300],
                    "created_at": NOW,
                    "status": "completed",
                }
            ],
        )
    [row] = read_geomagnetic_rows(engine, NOW)
    assert row.score[0] == 0.75 and row.score[3] == 1e-300
    assert math.isnan(row.score[1]) and math.isnan(row.score[2])
    assert (row.status, row.created_at) == ("completed", NOW)


def _nodes(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(node_table),
            [
                {
                    "uid": 3,
                    "hotkey": "h3",
                    "coldkey": "c3",
                    "validator_permit": True,
                    "last_update_block": 1500,
                },
                {
                    "uid": 0,
                    "hotkey": "h0",
                    "coldkey": "c0",
                    "validator_permit": True,
                    "last_update_block": 1499,
                },
                {
                    "uid": 1,
                    "hotkey": "h1",
                    "coldkey": "c1",
                    "validator_permit": False,
                    "last_update_block": 2000,
                },
                {
                    "uid": 2,
                    "hotkey": "h2",
                    "coldkey": None,
                    "validator_permit": True,
                    "last_update_block": 1990,
                },
                {
                    "uid": 4,
                    "hotkey": None,
                    "coldkey": None,
                    "validator_permit": None,
                    "last_update_block": None,
                },
            ],
        )


def test_nodes_in_uid_order(engine: Engine) -> None:
    _nodes(engine)
    nodes = read_nodes(engine)
    assert [(n.uid, n.hotkey, n.coldkey) for n in nodes] == [
        (0, "h0", "c0"),
        (1, "h1", "c1"),
        (2, "h2", None),
        (3, "h3", "c3"),
        (4, None, None),
    ]


@pytest.mark.parametrize(
    ("current_block", "window", "expected"),
    [(2000, 500, [2, 3]), (1999, 500, [0, 2, 3]), (2000, 5, []), (2000, 10, [2])],
)
def test_active_validators(
    engine: Engine, current_block: int, window: int, expected: list[int]
) -> None:
    _nodes(engine)
    assert read_active_validators(engine, current_block, window_blocks=window) == expected


def test_cycle_inputs_in_one_snapshot(engine: Engine) -> None:
    _nodes(engine)
    _insert(
        engine,
        [
            ("weather", "final_weather_scores_a", NOW - timedelta(days=2)),
            ("geomagnetic", "g", NOW - timedelta(hours=3)),
            ("soil_moisture_region_2", "s", NOW - timedelta(hours=4)),
        ],
    )
    reads = read_cycle_inputs(engine, NOW, 2000)
    assert [r.task_id for r in reads.weather] == ["final_weather_scores_a"]
    assert [r.task_id for r in reads.geomagnetic] == ["g"]
    assert [r.task_id for r in reads.soil] == ["s"]
    assert [n.uid for n in reads.nodes] == [0, 1, 2, 3, 4]
    assert reads.active_validator_uids == [2, 3]
    windows = dataclasses.replace(DEFAULT_WINDOWS, geomagnetic=timedelta(hours=2))
    reads = read_cycle_inputs(engine, NOW, 2000, windows=windows)
    assert reads.geomagnetic == []


async def test_cycle_inputs_async(engine: Engine) -> None:
    _nodes(engine)
    _insert(engine, [("geomagnetic", "g", NOW - timedelta(hours=1))])
    reads = await read_cycle_inputs_async(engine, NOW, 2000, validator_window_blocks=10)
    assert [r.task_id for r in reads.geomagnetic] == ["g"]
    assert reads.active_validator_uids == [2]


def test_cycle_reads_are_five_queries_whatever_the_row_count(engine: Engine) -> None:
    """One round trip per query: three score reads, the nodes and the active validators."""
    _nodes(engine)
    _insert(
        engine,
        [("geomagnetic", f"g{i}", NOW - timedelta(minutes=i)) for i in range(60)]
        + [("soil_moisture_region_1", f"s{i}", NOW - timedelta(minutes=i)) for i in range(60)]
        + [("weather", f"final_weather_scores_{i}", NOW - timedelta(hours=i)) for i in range(60)],
    )
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        reads = read_cycle_inputs(engine, NOW, 2000)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert (len(reads.weather), len(reads.geomagnetic), len(reads.soil)) == (60, 60, 60)
    tables = [s for s in seen if "score_table" in s or "node_table" in s]
    assert len(tables) == 5, tables
