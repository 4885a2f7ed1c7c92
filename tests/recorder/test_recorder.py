"""`Recorder`: a validator's own cycles in the same tables, never raising into the caller."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, insert, select, text

from minertrace.db.tables import miner_performance_stats, node_table, weight_submissions
from minertrace.explain.model import explain
from minertrace.recorder import Recorder, weight_vector

T0 = datetime(2026, 4, 2, 10, 30, tzinfo=timezone.utc)
HOTKEY = "5Validator"


def _nodes(engine: Engine, n: int = 5) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(node_table),
            [{"uid": u, "hotkey": f"hk{u}", "coldkey": f"ck{u}"} for u in range(n)],
        )


def _recorder(engine: Engine, **kw: Any) -> Recorder:
    kw.setdefault("background", False)
    return Recorder(engine, validator_hotkey=HOTKEY, netuid=7, clock=lambda: T0, **kw)


def _row(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(weight_submissions)).mappings().one()


def _stats(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        q = select(miner_performance_stats).order_by(
            miner_performance_stats.c.miner_uid, miner_performance_stats.c.period_type
        )
        return list(conn.execute(q).mappings())


def test_cycle_and_submission_land_in_the_tables(engine: Engine) -> None:
    _nodes(engine)
    rec = _recorder(engine)
    handle = rec.record_cycle(
        {1: 0.5, 2: 0.3, 4: 0.2},
        n_uids=5,
        stages={"ema": [0.0, 0.5, 0.3, np.nan, 0.2]},
        miners={1: {"raw_calculated_weight": 0.9, "scoring_pathway": "excellence", "note": "x"}},
        block=100,
    )
    rec.record_submission(handle, [4, 1, 2], [26214, 65535, 39321], block=103, block_hash="0xab")
    assert rec.flush()
    row = _row(engine)
    assert row["status"] == "included"
    assert row["block_number"] == 103 and row["block_hash"] == "0xab"
    assert row["computed_block"] == 100 and row["n_uids"] == 5
    assert row["final_weights"] == [0.0, 0.5, 0.3, 0.0, 0.2]
    assert row["submitted_uids"] == [1, 2, 4]
    assert row["submitted_u16"] == [65535, 39321, 26214]
    assert row["stages"]["ema"] == [0.0, 0.5, 0.3, None, 0.2]
    assert row["scalars"]["rules"] == "custom"
    assert len(row["attempts"]) == 1 and row["attempts"][0]["block_number"] == 103
    stats = _stats(engine)
    assert {(r["miner_uid"], r["miner_hotkey"]) for r in stats} == {
        (1, "hk1"),
        (2, "hk2"),
        (4, "hk4"),
    }
    assert len(stats) == 3  # three miners, today's row (the refresh carries it further)
    one = [r for r in stats if r["miner_uid"] == 1]
    assert all(r["submitted_weight"] == pytest.approx(0.5) for r in one)
    assert all(r["raw_calculated_weight"] == 0.9 for r in one)
    assert all(r["scoring_pathway"] == "excellence" for r in one)
    assert all(r["pathway_details"] == {"note": "x"} for r in one)
    assert all(r["weight_submission_block"] == 103 for r in stats)
    assert all(r["validator_hotkey"] == HOTKEY for r in stats)


def test_explain_reads_a_recorded_cycle(engine: Engine) -> None:
    _nodes(engine)
    rec = _recorder(engine)
    handle = rec.record_cycle([0.0, 0.6, 0.4], stages={"ema": [0.0, 0.6, 0.4]})
    rec.record_submission(handle, [1, 2], [65535, 43690], block=50)
    assert rec.flush()
    exp = explain(engine, 2)
    assert exp.cycle is not None and exp.cycle.status == "included"
    assert exp.cycle.rules == "custom"
    assert exp.u16 == 43690
    assert exp.weight == pytest.approx(43690 / (65535 + 43690))
    assert exp.stage("final") == pytest.approx(0.4)
    assert [s.name for s in exp.stages] == ["ema", "final", "submitted", "u16"]
    assert not exp.zero


def test_failed_submission_and_retry(engine: Engine) -> None:
    _nodes(engine)
    rec = _recorder(engine)
    handle = rec.record_cycle([0.0, 1.0])
    rec.record_submission(handle, [1], [65535], error="SettingWeightsTooFast")
    assert rec.flush()
    assert _row(engine)["status"] == "failed"
    rec.record_submission(handle, [1], [65535], block=77)
    assert rec.flush()
    row = _row(engine)
    assert row["status"] == "included" and row["error"] is None
    assert [a["status"] for a in row["attempts"]] == ["failed", "included"]


def test_bad_input_is_logged_not_raised(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    rec = _recorder(engine)
    with caplog.at_level(logging.WARNING):
        assert rec.record_cycle(["a", "b"]) is None  # type: ignore[list-item]
        assert rec.record_cycle([0.1, 0.2], uids=[1]) is None
        assert rec.record_cycle({-1: 0.5}) is None
        rec.record_submission(None, [1], [1])
        handle = rec.record_cycle([0.5, 0.5], stages={"short": [1.0]})
        assert handle is not None
        rec.record_submission(handle, [0, 1], [70000, 1])
    assert rec.metrics.rejected == 5
    assert "not recorded" in caplog.text
    assert "short" in caplog.text
    assert rec.flush()
    assert "short" not in _row(engine)["stages"]


def test_database_failure_waits_in_the_queue(engine: Engine) -> None:
    _nodes(engine)
    rec = _recorder(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE weight_submissions RENAME TO ws_away"))
    handle = rec.record_cycle([0.2, 0.8])
    rec.record_submission(handle, [0, 1], [16384, 65535], block=9)
    assert handle is not None
    assert not rec.flush()
    assert rec.metrics.write_failures == 1
    assert len(rec) == 1
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE ws_away RENAME TO weight_submissions"))
    assert rec.flush()
    assert len(rec) == 0
    assert handle.ws_id is not None
    assert _row(engine)["status"] == "included"


def test_bounded_queue_drops_the_oldest(engine: Engine) -> None:
    rec = _recorder(engine, queue_size=2)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE weight_submissions RENAME TO ws_away"))
    handles = [rec.record_cycle([float(i), 1.0], block=i) for i in range(3)]
    assert all(h is not None for h in handles)
    assert rec.metrics.queue_drops == 1
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE ws_away RENAME TO weight_submissions"))
    assert rec.flush()
    with engine.connect() as conn:
        blocks = conn.execute(text("SELECT computed_block FROM weight_submissions ORDER BY id"))
        assert [b for (b,) in blocks] == [1, 2]


def test_slow_recording_is_counted(engine: Engine) -> None:
    rec = _recorder(engine, performance_impact_threshold=0.0)
    rec.record_cycle([0.5, 0.5])
    assert rec.metrics.slow_records == 1
    assert rec.metrics.last_overhead_s is not None
    assert rec.flush()
    assert _row(engine)["trace_overhead_s"] == rec.metrics.last_overhead_s


def test_background_writer(engine: Engine) -> None:
    _nodes(engine, 3)
    rec = Recorder(engine, validator_hotkey=HOTKEY, netuid=7, retry_seconds=0.05)
    handle = rec.record_cycle([0.0, 0.5, 0.5])
    rec.record_submission(handle, [1, 2], [65535, 65535], block=5)
    assert rec.close()
    assert _row(engine)["status"] == "included"


def test_stale_hotkey_rows_are_left_alone(engine: Engine) -> None:
    _nodes(engine, 2)
    rec = _recorder(engine)
    rec.record_cycle([0.5, 0.5])
    assert rec.flush()
    with engine.begin() as conn:
        conn.execute(text("UPDATE node_table SET hotkey = 'other' WHERE uid = 1"))
    rec.record_cycle([0.1, 0.9], miners={1: {"raw_calculated_weight": 3.0}})
    assert rec.flush()
    one = [r for r in _stats(engine) if r["miner_uid"] == 1]
    assert all(r["miner_hotkey"] == "hk1" and r["raw_calculated_weight"] is None for r in one)


def test_weight_vector_forms() -> None:
    np.testing.assert_array_equal(weight_vector({2: 0.5}), [0.0, 0.0, 0.5])
    np.testing.assert_array_equal(
        weight_vector([0.5, 0.5], uids=[3, 1], n_uids=5), [0.0, 0.5, 0.0, 0.5, 0.0]
    )
    with pytest.raises(ValueError, match="repeat"):
        weight_vector([0.5, 0.5], uids=[1, 1])
