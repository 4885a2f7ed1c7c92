"""Score ingestion: validation, NaN-ing of bad values, upsert without duplicates."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from sqlalchemy import Engine, func, insert, select

from minertrace.db.tables import node_table, score_table
from minertrace.store import (
    ScoreValidationError,
    record_scores,
    record_scores_async,
)

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)


def _rows(engine: Engine) -> list[tuple[str, str, list[float], datetime, str]]:
    with engine.connect() as conn:
        result = conn.execute(
            select(
                score_table.c.task_name,
                score_table.c.task_id,
                score_table.c.score,
                score_table.c.created_at,
                score_table.c.status,
            ).order_by(score_table.c.task_name, score_table.c.task_id)
        )
        return [tuple(r) for r in result]


def _same(a: list[float], b: list[float]) -> bool:
    return np.array_equal(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True)


def test_sequence_is_stored_by_uid(engine: Engine) -> None:
    report = record_scores(
        engine, "weather", "final_weather_scores_2026031000", [0.1, 0.9, 0.5], T0, "completed"
    )
    assert report.inserted
    assert report.n_entries == 3 and report.n_valid == 3 and report.n_bad == 0
    [(name, task_id, score, created_at, status)] = _rows(engine)
    assert (name, task_id, status) == ("weather", "final_weather_scores_2026031000", "completed")
    assert score == [0.1, 0.9, 0.5]
    assert created_at == T0


def test_existing_task_run_is_updated_not_duplicated(engine: Engine) -> None:
    record_scores(engine, "geomagnetic", "geo_1", [0.2, 0.4], T0)
    later = T0 + timedelta(minutes=5)
    report = record_scores(engine, "geomagnetic", "geo_1", [0.3, 0.7], later, "completed")
    assert not report.inserted
    rows = _rows(engine)
    assert len(rows) == 1
    assert rows[0][2] == [0.3, 0.7]
    assert rows[0][3] == later
    assert rows[0][4] == "completed"


def test_mapping_is_laid_out_over_the_subnet(engine: Engine) -> None:
    report = record_scores(
        engine, "soil_moisture_region_17", "r17", {3: 0.8, 0: 0.25}, T0, n_uids=5
    )
    assert report.n_entries == 5 and report.n_valid == 2
    [row] = _rows(engine)
    assert _same(row[2], [0.25, math.nan, math.nan, 0.8, math.nan])


def test_bad_values_become_nan_and_are_reported(engine: Engine) -> None:
    scores = [0.5, None, "0.7", math.nan, math.inf, -math.inf, True, 7]
    report = record_scores(engine, "geomagnetic", "geo_bad", scores, T0)
    assert report.bad_entries == {
        1: "missing",
        2: "not a number: str",
        3: "nan",
        4: "infinite",
        5: "infinite",
        6: "not a number: bool",
    }
    assert report.n_valid == 2
    [row] = _rows(engine)
    assert _same(row[2], [0.5, *[math.nan] * 6, 7.0])


def test_numpy_array_input(engine: Engine) -> None:
    values = np.array([0.1, np.nan, np.inf, 0.4], dtype=np.float32)
    report = record_scores(engine, "geomagnetic", "geo_np", values, T0)
    assert report.bad_entries == {1: "nan", 2: "infinite"}
    [row] = _rows(engine)
    assert _same(row[2], [float(np.float32(0.1)), math.nan, math.nan, float(np.float32(0.4))])


@pytest.mark.parametrize(
    ("task_name", "task_id"),
    [
        ("weathers", "final_weather_scores_1"),
        ("Weather", "final_weather_scores_1"),
        ("soil_moisture_region_", "x"),
        ("soil_moisture", "x"),
        ("soil_moisture_region_1; DROP TABLE score_table", "x"),
        ("", "x"),
        ("weather", "forecast_1"),
        ("weather", "final_weather"),
        ("geomagnetic", ""),
        ("geomagnetic", "   "),
    ],
)
def test_invalid_task_is_rejected_and_nothing_written(
    engine: Engine, task_name: str, task_id: str
) -> None:
    with pytest.raises(ScoreValidationError):
        record_scores(engine, task_name, task_id, [0.5], T0)
    assert _rows(engine) == []


def test_weather_accepts_both_prefixes(engine: Engine) -> None:
    record_scores(engine, "weather", "initial_weather_scores_a", [0.1], T0)
    record_scores(engine, "weather", "final_weather_scores", [0.2], T0)
    assert len(_rows(engine)) == 2


@pytest.mark.parametrize(
    "scores",
    [
        {-1: 0.5},
        {4: 0.5},
        {"3": 0.5},
        {1.0: 0.5},
        [0.1, 0.2, 0.3, 0.4, 0.9],
    ],
)
def test_invalid_uid_is_rejected(engine: Engine, scores: object) -> None:
    with pytest.raises(ScoreValidationError):
        record_scores(engine, "geomagnetic", "geo_uid", scores, T0, n_uids=4)  # type: ignore[arg-type]
    assert _rows(engine) == []


def test_sequence_is_fitted_to_the_subnet(engine: Engine) -> None:
    # Trailing empty slots beyond the subnet are dropped; a short array is padded.
    record_scores(engine, "geomagnetic", "long", [0.1, 0.2, math.nan, None], T0, n_uids=2)
    record_scores(engine, "geomagnetic", "short", [0.3], T0, n_uids=3)
    rows = {r[1]: r[2] for r in _rows(engine)}
    assert rows["long"] == [0.1, 0.2]
    assert _same(rows["short"], [0.3, math.nan, math.nan])


def test_subnet_size_comes_from_node_table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(node_table), [{"uid": u, "hotkey": f"hk{u}"} for u in range(3)])
    with pytest.raises(ScoreValidationError, match="out of range"):
        record_scores(engine, "geomagnetic", "geo_n", {3: 0.5}, T0)
    report = record_scores(engine, "geomagnetic", "geo_n", {2: 0.5}, T0)
    assert report.n_entries == 3


def test_rejected_update_keeps_the_existing_row(engine: Engine) -> None:
    record_scores(engine, "geomagnetic", "geo_keep", [0.6, 0.4], T0, n_uids=2)
    with pytest.raises(ScoreValidationError):
        record_scores(engine, "geomagnetic", "geo_keep", {7: 0.1}, T0, n_uids=2)
    [row] = _rows(engine)
    assert row[2] == [0.6, 0.4]


def test_naive_timestamp_and_bad_status_are_rejected(engine: Engine) -> None:
    with pytest.raises(ScoreValidationError, match="timezone"):
        record_scores(engine, "geomagnetic", "g", [0.1], datetime(2026, 3, 10, 12))
    with pytest.raises(ScoreValidationError, match="status"):
        record_scores(engine, "geomagnetic", "g", [0.1], T0, status="")
    assert _rows(engine) == []


def test_connection_joins_the_callers_transaction(engine: Engine) -> None:
    with engine.connect() as conn:
        record_scores(conn, "geomagnetic", "geo_tx", [0.1], T0)
        conn.rollback()
    assert _rows(engine) == []
    with engine.begin() as conn:
        record_scores(conn, "geomagnetic", "geo_tx", [0.1], T0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(score_table)).scalar_one() == 1


async def test_async_variant(engine: Engine) -> None:
    report = await record_scores_async(engine, "geomagnetic", "geo_async", {1: 0.9}, T0, n_uids=2)
    assert report.inserted
    [row] = _rows(engine)
    assert _same(row[2], [math.nan, 0.9])
