"""Trace → rows: JSON encoding, stale rows, orphaned rows."""

from __future__ import annotations

import json

import numpy as np
from sqlalchemy import Engine, insert

from minertrace.db.tables import miner_performance_stats
from minertrace.stats.periods import current_periods
from minertrace.store import update_outcome
from minertrace.validator.cycle import run_cycle
from minertrace.validator.persist import json_vector
from minertrace.validator.submit import SubmissionState
from minertrace.vocabulary import SubmissionStatus
from tests.helpers.cycle import (
    FIRST_MINER,
    make_chain,
    make_context,
    seed_scores,
    stats_rows,
    submissions,
)


def test_json_vector_turns_non_finite_values_into_null() -> None:
    vec = np.array([1.5, np.nan, np.inf, -np.inf, 0.0])
    assert json.loads(json_vector(vec)) == [1.5, None, None, None, 0.0]
    assert json.loads(json_vector(np.array([True, False]))) == [True, False]


async def test_a_row_of_a_replaced_hotkey_is_not_relabelled(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    now = chain.clock.now()
    uid = FIRST_MINER
    with engine.begin() as conn:
        conn.execute(
            insert(miner_performance_stats),
            [
                {
                    "miner_uid": uid,
                    "miner_hotkey": "someone-else",
                    "period_type": p.period_type,
                    "period_start": p.start,
                    "period_end": p.end,
                }
                for p in current_periods(now)
            ],
        )
    await run_cycle(make_context(engine, chain))
    mine = [r for r in stats_rows(engine) if r["miner_uid"] == uid]
    assert len(mine) == 4
    assert all(r["miner_hotkey"] == "someone-else" and r["submitted_weight"] is None for r in mine)
    others = [r for r in stats_rows(engine) if r["miner_uid"] != uid]
    assert others and all(r["submitted_weight"] is not None for r in others)


async def test_a_late_outcome_does_not_undo_an_orphaned_row(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    result = await run_cycle(make_context(engine, chain))
    assert result.submission_id is not None
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE weight_submissions SET status = 'orphaned'")
        state = SubmissionState(status=SubmissionStatus.VERIFIED, block_number=result.block_number)
        assert update_outcome(conn, result.submission_id, state.outcome()) == 0
    assert submissions(engine)[0]["status"] == "orphaned"
