"""Crash consistency: rows a dead process left 'computed'/'submitting' are settled from the chain.

A crash between the chain's inclusion and the row's update is reproduced with a trigger that
rejects every outcome write (the database never hears of the inclusion, as after a SIGKILL);
a fresh context (a restarted process, empty trace queue) then reconciles.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from minertrace.validator.cycle import run_cycle
from minertrace.validator.reconcile import reconcile_unsettled
from minertrace.vocabulary import SubmissionStatus
from tests.helpers.cycle import make_chain, make_context, seed_scores, submissions
from tests.helpers.rows import outcome_writes_blocked


async def test_included_but_unrecorded_is_verified_on_restart(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    with outcome_writes_blocked(engine):
        result = await run_cycle(make_context(engine, chain))
    assert result.status == SubmissionStatus.VERIFIED  # what the dead process knew
    [row] = submissions(engine)
    assert row["status"] == SubmissionStatus.COMPUTED  # what the database kept
    ids = await reconcile_unsettled(make_context(engine, chain))
    [row] = submissions(engine)
    assert ids == [row["id"]]
    assert row["status"] == SubmissionStatus.VERIFIED
    assert row["block_number"] == result.block_number
    assert row["verification"]["match"] is True
    assert "reconciled" in row["error"]


async def test_every_unsettled_row_gets_a_final_status(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    result = await run_cycle(make_context(engine, chain))
    assert result.status == SubmissionStatus.VERIFIED
    [done] = submissions(engine)
    with engine.begin() as conn:
        # Computed after the chain's last weights: never submitted.
        conn.execute(
            text(
                """
                INSERT INTO weight_submissions (validator_hotkey, netuid, computed_at,
                    computed_block, n_uids, config, score_rows, scalars, data_quality,
                    weights_produced, rank_based_fallback, submitted_uids, submitted_u16,
                    status)
                SELECT validator_hotkey, netuid, computed_at, computed_block + 100, n_uids,
                       config, score_rows, scalars, data_quality, weights_produced,
                       rank_based_fallback, submitted_uids, submitted_u16, 'computed'
                  FROM weight_submissions WHERE id = :id
                UNION ALL
                SELECT validator_hotkey, netuid, computed_at, computed_block - 1, n_uids,
                       config, score_rows, scalars, data_quality, weights_produced,
                       rank_based_fallback, submitted_uids,
                       array(SELECT 1 FROM unnest(submitted_u16)), 'submitting'
                  FROM weight_submissions WHERE id = :id
                """
            ),
            {"id": done["id"]},
        )
    ids = await reconcile_unsettled(make_context(engine, chain))
    rows = {r["id"]: r for r in submissions(engine)}
    assert len(ids) == 2
    assert rows[done["id"]]["status"] == SubmissionStatus.VERIFIED  # untouched
    late, superseded = (rows[i] for i in ids)
    assert late["status"] == SubmissionStatus.FAILED and "not submitted" in late["error"]
    assert superseded["status"] == SubmissionStatus.FAILED
    assert "superseded or never included" in superseded["error"]
    assert not [r for r in rows.values() if r["status"] in ("computed", "submitting")]
    assert await reconcile_unsettled(make_context(engine, chain)) == []


async def test_rows_held_by_the_live_queue_are_left_alone(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain)
    with outcome_writes_blocked(engine):
        await run_cycle(ctx)
        assert len(ctx.queue) == 1
        assert await reconcile_unsettled(ctx) == []
    [row] = submissions(engine)
    assert row["status"] == SubmissionStatus.COMPUTED
