"""record_score_rows: several task runs in one statement, stored as one call per row would."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, create_engine, event, select, text

from minertrace.db import gaia
from minertrace.db.migrate import upgrade
from minertrace.db.tables import score_table
from minertrace.store import ScoreRow, ScoreValidationError, record_score_rows, record_scores
from tests.helpers.gaia import layouts, seed

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)

ROWS = [
    ScoreRow("geomagnetic", "geomagnetic_2026031012", [0.5, math.nan, 0.25], T0, "completed"),
    ScoreRow("weather", "initial_weather_scores_2026031000", [0.1, 0.2], T0, "pending"),
    ScoreRow("soil_moisture_region_0", "soil_2026031009", {2: 0.75}, T0, "completed"),
    ScoreRow("geomagnetic", "geomagnetic_2026031013", [], T0, "completed"),
]


def _table(engine: Engine) -> list[tuple[Any, ...]]:
    c = score_table.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.task_name, c.task_id, c.score, c.created_at, c.status).order_by(
                c.task_name, c.task_id
            )
        )
        return [
            (
                r.task_name,
                r.task_id,
                np.asarray(r.score, dtype=float).tolist(),
                r.created_at,
                r.status,
            )
            for r in rows
        ]


def _same(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x[:2] != y[:2] or x[3:] != y[3:]:
            return False
        if not np.array_equal(np.asarray(x[2]), np.asarray(y[2]), equal_nan=True):
            return False
    return True


def _statements(engine: Engine) -> list[str]:
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    return seen


def test_a_batch_stores_what_one_call_per_row_stores(engine: Engine, db_url: str) -> None:
    seen = _statements(engine)
    reports = record_score_rows(engine, ROWS, n_uids=3)
    writes = [s for s in seen if s.startswith("INSERT INTO score_table")]
    assert len(writes) == 1
    assert [r.inserted for r in reports] == [True] * 4
    assert [(r.n_entries, r.n_valid) for r in reports] == [(3, 2), (3, 2), (3, 1), (3, 0)]
    batch = _table(engine)
    other = create_engine(db_url)
    try:
        upgrade(other)
        singles = [
            record_scores(other, r.task_name, r.task_id, r.scores, r.created_at, r.status, n_uids=3)
            for r in ROWS
        ]
        assert _same(batch, _table(other))
        assert [s.n_valid for s in singles] == [r.n_valid for r in reports]
    finally:
        other.dispose()
    assert batch[0][2][0] == 0.5 and math.isnan(batch[0][2][1])


def test_existing_rows_are_updated_and_a_repeat_keeps_the_last(engine: Engine) -> None:
    record_score_rows(engine, ROWS[:1], n_uids=3)
    later = T0 + timedelta(minutes=5)
    again = ScoreRow("geomagnetic", "geomagnetic_2026031012", [0.9, 0.9, 0.9], later, "completed")
    last = ScoreRow("geomagnetic", "geomagnetic_2026031012", [0.3, 0.2, 0.1], later, "final")
    new = ScoreRow("geomagnetic", "geomagnetic_2026031014", [0.4], T0, "completed")
    reports = record_score_rows(engine, [again, new, last], n_uids=3)
    assert [r.inserted for r in reports] == [False, True, False]
    rows = {r[1]: r for r in _table(engine)}
    assert len(rows) == 2
    assert rows["geomagnetic_2026031012"][2:] == ([0.3, 0.2, 0.1], later, "final")
    padded = rows["geomagnetic_2026031014"][2]
    assert padded[0] == 0.4 and all(math.isnan(v) for v in padded[1:])
    # A repeat of a new row inserts it once.
    twice = ScoreRow("geomagnetic", "geomagnetic_2026031015", [0.1], T0, "completed")
    reports = record_score_rows(engine, [twice, twice], n_uids=3)
    assert [r.inserted for r in reports] == [True, False]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (ScoreRow("nope", "x", [0.1], T0, "completed"), "nope"),
        (ScoreRow("geomagnetic", "g1", [0.1], T0, ""), "invalid status"),
        (ScoreRow("geomagnetic", "g1", [0.1], T0.replace(tzinfo=None), "ok"), "timezone"),
        (ScoreRow("geomagnetic", "g1", {7: 0.1}, T0, "ok"), "g1"),
    ],
)
def test_one_bad_row_writes_nothing(engine: Engine, row: ScoreRow, message: str) -> None:
    with pytest.raises(ScoreValidationError, match=message):
        record_score_rows(engine, [ROWS[0], row], n_uids=3)
    assert _table(engine) == []


def test_bounds_come_from_node_table_without_n_uids(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO node_table (uid, hotkey) VALUES (0, 'a'), (1, 'b')"))
    with pytest.raises(ScoreValidationError, match="out of range"):
        record_score_rows(engine, [ScoreRow("geomagnetic", "g1", {5: 0.1}, T0, "ok")])
    [report] = record_score_rows(engine, [ScoreRow("geomagnetic", "g1", {1: 0.1}, T0, "ok")])
    assert report.n_entries == 2 and report.n_valid == 1


@pytest.fixture
def gaia_columns(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    gaia.use_search_path(eng)
    with eng.begin() as conn:
        layouts.build(conn, "f33d500dc2bc")
        seed.seed(conn, None)
    yield eng
    eng.dispose()


def test_the_per_uid_layout_takes_one_statement_per_row(gaia_columns: Engine) -> None:
    rows = [
        ScoreRow("geomagnetic", "geo_b1", [0.5, math.nan, 0.25], seed.NOW, "completed"),
        ScoreRow("geomagnetic", "geo_b2", [0.75], seed.NOW, "completed"),
    ]
    reports = record_score_rows(gaia_columns, rows, n_uids=3)
    assert [r.inserted for r in reports] == [True, True]
    with gaia_columns.connect() as conn:
        got: dict[str, list[float]] = dict(
            conn.execute(
                text(
                    "SELECT task_id, ARRAY[uid_0_score, uid_1_score, uid_2_score] "
                    "FROM score_table WHERE task_id LIKE 'geo_b%'"
                )
            ).all()
        )
    assert got["geo_b1"][0] == 0.5 and got["geo_b1"][2] == 0.25
    assert math.isnan(got["geo_b1"][1])
    assert got["geo_b2"][0] == 0.75 and all(math.isnan(v) for v in got["geo_b2"][1:])
