"""The faster write paths store exactly what the previous ones stored.

Three changes are checked against the statements they replaced, on the same cycle: vectors
bound as binary arrays instead of lists, the stage vectors serialised by orjson instead of the
json module, and the cycle writing only today's row, which the refresh carries into the
weekly, monthly and all_time rows, instead of writing all four.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, insert, select, text

from minertrace.db.tables import miner_performance_stats, node_table, weight_submissions
from minertrace.stats.periods import current_periods
from minertrace.stats.refresh import refresh_all
from minertrace.store import insert_submission, upsert_miner_rows
from minertrace.store.arrays import PgArray
from minertrace.store.period_upsert import PIPELINE_COLUMNS
from minertrace.store.records import TraceRecord
from minertrace.validator.persist import stages_json
from minertrace.validator.submit import SubmissionState
from minertrace.vocabulary import SubmissionStatus
from minertrace.weights import CycleInputs, CycleTrace
from tests.helpers.rows import NOW, N, make_trace, record_of


def as_lists(record: TraceRecord, trace: CycleTrace, inputs: CycleInputs) -> TraceRecord:
    """The record as the previous code built it: Python lists, stages from the json module."""

    def plain(value: Any) -> Any:
        return value.tolist() if isinstance(value, PgArray) else value

    def json_vector(values: np.ndarray) -> str:
        if values.dtype.kind != "f":
            return json.dumps(values.tolist())
        out = values.astype(object)
        out[~np.isfinite(values)] = None
        return json.dumps(out.tolist())

    hot: list[str | None] = [None] * trace.n_uids
    for uid, hotkey in zip(inputs.node_list.uids.tolist(), inputs.node_list.hotkeys, strict=True):
        hot[uid] = hotkey
    parts = [
        f"{json.dumps(k)}: {json_vector(np.asarray(v))}" for k, v in trace.stage_vectors().items()
    ]
    parts.append(f'"hotkey": {json.dumps(hot)}')
    submission = {k: plain(v) for k, v in record.submission.items()}
    submission["stages"] = "{" + ", ".join(parts) + "}"
    assert record.miners is not None
    miners = {k: plain(v) for k, v in record.miners.items()}
    return dataclasses.replace(record, submission=submission, miners=miners)


def write(engine: Engine, record: TraceRecord, block: int | None = None) -> int:
    outcome = SubmissionState(status=SubmissionStatus.COMPUTED).outcome()
    with engine.begin() as conn:
        ws_id = insert_submission(conn, record, outcome)
        upsert_miner_rows(conn, record, block)
    return ws_id


def snapshot(engine: Engine, columns: tuple[str, ...] | None = None) -> dict[Any, Any]:
    m = miner_performance_stats.c
    cols = [m[c] for c in columns] if columns else [c for c in m if c.name != "updated_at"]
    with engine.connect() as conn:
        rows = conn.execute(select(m.miner_uid, m.period_type, *cols)).mappings().all()
    return {(r["miner_uid"], r["period_type"]): dict(r) for r in rows}


def stored_submission(engine: Engine, ws_id: int) -> dict[str, Any]:
    w = weight_submissions.c
    with engine.connect() as conn:
        row = conn.execute(select(weight_submissions).where(w.id == ws_id)).mappings().one()
        as_text = conn.execute(
            text("SELECT stages::text FROM weight_submissions WHERE id = :i"), {"i": ws_id}
        ).scalar_one()
    return {**{k: v for k, v in row.items() if k != "id"}, "stages_text": as_text}


def test_binary_arrays_and_orjson_store_what_lists_and_json_stored(engine: Engine) -> None:
    trace, inputs = make_trace()
    record = record_of(trace, inputs)
    old = as_lists(record, trace, inputs)
    assert record.submission["stages"] != old.submission["stages"]  # different text ...

    new_id = write(engine, record)
    new_rows = snapshot(engine)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE miner_performance_stats"))
    old_id = write(engine, old)
    assert new_rows and snapshot(engine) == new_rows
    new_ws, old_ws = stored_submission(engine, new_id), stored_submission(engine, old_id)
    assert new_ws == old_ws  # ... the same jsonb, printed the same, and the same arrays
    assert isinstance(new_ws["stages"]["score_weather"][7], float)
    assert new_ws["stages"]["rank_weather"][5] is None


def test_stages_json_is_the_json_module_document() -> None:
    trace, inputs = make_trace()
    hot = [f"hk{u}" if u != 11 else None for u in range(N)]
    ours = json.loads(stages_json(trace, hot))
    theirs = json.loads(as_lists(record_of(trace, inputs), trace, inputs).submission["stages"])
    assert ours == theirs
    assert [type(v) for v in ours["raw_weight"]] == [type(v) for v in theirs["raw_weight"]]


def test_daily_write_and_refresh_give_the_four_period_upsert_values(engine: Engine) -> None:
    trace, inputs = make_trace()
    with engine.begin() as conn:
        conn.execute(
            insert(node_table),
            [
                {"uid": u, "hotkey": h}
                for u, h in zip(
                    inputs.node_list.uids.tolist(), inputs.node_list.hotkeys, strict=True
                )
            ],
        )
    record = record_of(trace, inputs)
    assert [p.period_type for p in record.periods] == ["daily"]
    write(engine, record, 1234)
    refresh_all(engine, NOW + timedelta(minutes=5))
    new = snapshot(engine, PIPELINE_COLUMNS)

    # The previous cycle write: all four current period rows, with the block.
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE miner_performance_stats, weight_submissions"))
    four = dataclasses.replace(record, periods=tuple(current_periods(NOW)))
    write(engine, four, 1234)
    old = snapshot(engine, PIPELINE_COLUMNS)

    traced = {k: v for k, v in new.items() if v["validator_hotkey"] is not None}
    assert len(old) == 4 * len(record.traced_uids) > 0
    assert traced == old


def test_a_repeated_cycle_write_rewrites_no_row(engine: Engine) -> None:
    trace, inputs = make_trace()
    record = record_of(trace, inputs)
    outcome = SubmissionState(status=SubmissionStatus.COMPUTED).outcome()
    with engine.begin() as conn:
        insert_submission(conn, record, outcome)
        assert upsert_miner_rows(conn, record, None) == len(record.traced_uids) > 0
    with engine.begin() as conn:
        assert upsert_miner_rows(conn, record, None) == 0
        assert upsert_miner_rows(conn, record, 77) == len(record.traced_uids)


@pytest.mark.parametrize("values", [[], [1.5, np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324]])
def test_binary_float_arrays_round_trip(engine: Engine, values: list[float]) -> None:
    from minertrace.store.arrays import float8_array

    with engine.connect() as conn:
        got, nulls = conn.execute(
            text("SELECT CAST(:a AS double precision[]), CAST(:b AS double precision[])"),
            {"a": float8_array(values), "b": float8_array(values, nulls=True)},
        ).one()
    np.testing.assert_array_equal(np.asarray(got, dtype=float), np.asarray(values, dtype=float))
    assert [v is None for v in nulls] == [not np.isfinite(v) for v in values]
