"""store.submissions and store.records: the weight_submissions life cycle, one call at a time."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from minertrace.db.tables import node_table, weight_submissions
from minertrace.store import (
    DEFAULT_WINDOWS,
    Attempt,
    Outcome,
    ScoreWindows,
    TraceRecord,
    Verification,
    VerificationUpdate,
    committed_rows,
    delete_submissions_before,
    insert_submission,
    mark_in_force,
    mark_orphaned,
    orphan_candidates,
    top_miners,
    update_outcome,
    write_verifications,
)
from minertrace.vocabulary import SubmissionStatus
from minertrace.weights import WeightConfig

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
HOTKEY = "val"


def _row(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "validator_hotkey": HOTKEY,
        "netuid": 1,
        "computed_at": T0,
        "n_uids": 4,
        "config": {},
        "score_rows": [],
        "scalars": {},
        "data_quality": {},
        "weights_produced": True,
        "rank_based_fallback": False,
        "submitted_uids": [1, 2, 3],
        "submitted_weights": [0.5, 0.3, 0.2],
        "submitted_u16": [65535, 39321, 0],
    }
    return {**base, **values}


def _insert(engine: Engine, *rows: dict[str, Any]) -> list[int]:
    ids = []
    with engine.begin() as conn:
        for r in rows:
            key = conn.execute(insert(weight_submissions).values(r)).inserted_primary_key
            assert key is not None
            ids.append(int(key[0]))
    return ids


def _status(engine: Engine, ws_id: int) -> tuple[str, Any, Any]:
    with engine.connect() as conn:
        r = conn.execute(
            select(
                weight_submissions.c.status,
                weight_submissions.c.verification,
                weight_submissions.c.consensus_block,
            ).where(weight_submissions.c.id == ws_id)
        ).one()
    return r.status, r.verification, r.consensus_block


def _outcome(status: SubmissionStatus, **values: Any) -> Outcome:
    base: dict[str, Any] = {
        "status": status,
        "error": None,
        "attempts": (),
        "block_number": None,
        "block_hash": None,
        "reveal_epoch": None,
        "reveal_block": None,
        "verified_at": None,
        "verification": None,
        "trace_overhead_s": None,
    }
    return Outcome(**{**base, **values})


def test_windows_come_from_the_weight_config() -> None:
    assert DEFAULT_WINDOWS.weather == timedelta(days=15)
    assert DEFAULT_WINDOWS.weather_limit == 100
    assert DEFAULT_WINDOWS.geomagnetic == timedelta(hours=24)
    assert DEFAULT_WINDOWS.geomagnetic_limit is None
    assert DEFAULT_WINDOWS.soil == timedelta(hours=24)
    assert DEFAULT_WINDOWS.soil_limit == 200
    short = ScoreWindows.from_config(WeightConfig(weather_window_days=2.0, soil_row_limit=5))
    assert short.weather == timedelta(days=2) and short.soil_limit == 5


def test_attempt_and_verification_json() -> None:
    raised = Attempt(attempt=1, at="2026-05-01T12:00:00+00:00", status="error", error="X: y")
    assert raised.to_json() == {
        "attempt": 1,
        "at": "2026-05-01T12:00:00+00:00",
        "status": "error",
        "error": "X: y",
        "message": "",
        "block_number": None,
    }
    landed = Attempt(1, "t", "timeout", block=7, error="Timeout", landed_block=9)
    assert landed.to_json()["block"] == 7 and landed.to_json()["landed_block"] == 9
    superseded = Verification(match=None, checked_block=12, superseded=True)
    assert superseded.to_json() == {"match": None, "superseded": True, "checked_block": 12}
    done = Verification(True, 12, [], 3, 3)
    assert done.to_json()["match"] is True and done.to_json()["expected_count"] == 3


def test_insert_then_update_outcome_and_orphaned_rows_stay(engine: Engine) -> None:
    record = TraceRecord(
        validator_hotkey=HOTKEY,
        netuid=1,
        computed_at=T0,
        computed_block=10,
        submission={
            k: (json.dumps(v) if k in ("config", "score_rows", "scalars", "data_quality") else v)
            for k, v in _row().items()
        }
        | {
            "computed_block": 10,
            "stages": None,
            "no_weights_reason": None,
            "final_weights": None,
        },
        miners=None,
        periods=(),
        expected_u16={1: 65535, 2: 39321},
        detailed=False,
    )
    attempt = Attempt(1, T0.isoformat(), "included", block=11, block_number=12)
    with engine.begin() as conn:
        ws_id = insert_submission(conn, record, _outcome(SubmissionStatus.COMPUTED))
        changed = update_outcome(
            conn,
            ws_id,
            _outcome(SubmissionStatus.INCLUDED, attempts=(attempt,), block_number=12),
        )
    assert changed == 1
    with engine.connect() as conn:
        row = conn.execute(select(weight_submissions).where(weight_submissions.c.id == ws_id)).one()
    assert row.status == "included" and row.block_number == 12
    assert row.attempts == [attempt.to_json()]
    assert mark_orphaned(engine, [(ws_id, "nope")]) == []  # hash differs: left alone
    with engine.begin() as conn:
        conn.execute(
            weight_submissions.update()
            .where(weight_submissions.c.id == ws_id)
            .values(status="orphaned")
        )
        assert update_outcome(conn, ws_id, _outcome(SubmissionStatus.VERIFIED)) == 0


def test_committed_rows_and_verifications_in_one_statement(engine: Engine) -> None:
    old, new, open_ = _insert(
        engine,
        _row(status="committed", block_number=5, reveal_block=20),
        _row(status="committed", block_number=6, reveal_block=30),
        _row(status="committed", block_number=7, reveal_block=99),
    )
    rows = committed_rows(engine, HOTKEY, 1, last_epoch=40)
    assert [r.id for r in rows] == [old, new]
    assert rows[0].expected_u16 == {1: 65535, 2: 39321}  # the zero entry is dropped
    assert committed_rows(engine, HOTKEY, 2, last_epoch=40) == []
    updates = [
        VerificationUpdate(
            old, SubmissionStatus.COMMITTED, T0, Verification(None, 41, superseded=True)
        ),
        VerificationUpdate(new, SubmissionStatus.MISMATCH, T0, Verification(False, 41, [3], 2, 3)),
    ]
    assert write_verifications(engine, updates) == [old, new]
    assert _status(engine, old)[:2] == (
        "committed",
        {"match": None, "superseded": True, "checked_block": 41},
    )
    status, verification, _ = _status(engine, new)
    assert status == "mismatch" and verification["differing_uids"] == [3]
    assert _status(engine, open_)[:2] == ("committed", None)
    # Only rows still 'committed' are written: a second write finds the mismatch row changed.
    assert write_verifications(engine, updates[1:]) == []


def test_orphan_candidates_and_in_force_row(engine: Engine) -> None:
    plain, commit, failed = _insert(
        engine,
        _row(status="included", block_number=100, block_hash="0xa"),
        _row(status="committed", block_number=105, block_hash="0xb", reveal_block=140),
        _row(status="failed"),
    )
    found = orphan_candidates(engine, HOTKEY, None, since_block=101)
    assert [(c.id, c.block_number, c.block_hash) for c in found] == [(commit, 105, "0xb")]
    with engine.begin() as conn:
        assert mark_in_force(conn, HOTKEY, 1, epoch_block=120) == [plain]
        assert mark_in_force(conn, HOTKEY, 1, epoch_block=130) == []  # already has one
        assert mark_in_force(conn, HOTKEY, 1, epoch_block=150) == [commit]
    assert _status(engine, plain)[2] == 120 and _status(engine, commit)[2] == 150
    assert mark_orphaned(engine, [(plain, "0xa")]) == [plain]
    assert _status(engine, plain)[0] == "orphaned" and _status(engine, failed)[0] == "failed"


def test_delete_before_and_top_miners(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(node_table),
            [{"uid": u, "hotkey": f"m{u}", "incentive": 0.1 * u} for u in range(4)],
        )
    old, latest = _insert(engine, _row(computed_at=T0 - timedelta(days=3)), _row(computed_at=T0))
    top = top_miners(engine, HOTKEY, limit=2)
    assert [(m.cycle_id, m.uid, m.hotkey) for m in top] == [(latest, 1, "m1"), (latest, 2, "m2")]
    assert top[0].weight == pytest.approx(0.5) and top[0].incentive == pytest.approx(0.1)
    assert top[0].scoring_pathway is None and top[0].consensus_rank is None
    with engine.begin() as conn:
        assert delete_submissions_before(conn, T0 - timedelta(days=1)) == 1
    assert top_miners(engine, "someone else") == []
    with engine.connect() as conn:
        ids = conn.execute(select(weight_submissions.c.id)).scalars().all()
    assert ids == [latest] and old not in ids
