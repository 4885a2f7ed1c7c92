"""run_cycle end to end on PostgreSQL and a LocalChain: persist, submit, verify, epochs."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import Engine

from minertrace.chain.types import ChainError
from minertrace.stats.periods import current_periods
from minertrace.stats.refresh import STATS_COLUMNS, refresh_all
from minertrace.validator.chain_integration import apply_epoch_results
from minertrace.validator.cycle import run_cycle
from minertrace.validator.node_sync import sync_nodes
from minertrace.weights import CycleTrace, WeightConfig
from minertrace.weights.pathways import PATHWAY_LABELS
from tests.helpers.cycle import (
    FIRST_MINER,
    NET,
    TEMPO,
    VALIDATOR,
    VALIDATOR_UID,
    make_chain,
    make_context,
    seed_scores,
    statements,
    stats_rows,
    submissions,
)


async def test_end_to_end_scores_cycle_epoch(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain)
    result = await run_cycle(ctx)
    trace = result.trace
    assert isinstance(trace, CycleTrace) and trace.weights_produced  # Gaia's rules by default

    assert result.status == "verified"
    assert result.persisted and result.queued == 0
    [row] = submissions(engine)
    assert row["id"] == result.submission_id
    assert row["status"] == "verified"
    assert row["verification"]["match"] is True and row["verification"]["differing_uids"] == []
    assert row["validator_hotkey"] == VALIDATOR and row["netuid"] == NET
    assert row["computed_at"] == result.computed_at
    assert row["computed_block"] == result.computed_block
    assert row["block_number"] == result.block_number
    assert row["block_hash"] == await chain.block_hash(row["block_number"])
    assert [a["status"] for a in row["attempts"]] == ["included"]
    assert row["config"] == WeightConfig().to_dict()
    assert [r["task_name"] for r in row["score_rows"]] == [
        "weather",
        "geomagnetic",
        "soil_moisture_region_1",
    ]
    assert row["trace_overhead_s"] is not None and row["trace_overhead_s"] > 0
    # Every stage vector is stored, NaN as JSON null (the owner and validator have no scores).
    assert set(trace.stage_vectors()) <= set(row["stages"])
    assert row["stages"]["rank_weather"][VALIDATOR_UID] is None
    assert row["stages"]["hotkey"][VALIDATOR_UID] == VALIDATOR
    for name, vec in trace.stage_vectors().items():
        stored = [math.nan if v is None else float(v) for v in row["stages"][name]]
        np.testing.assert_allclose(stored, np.asarray(vec, dtype=float), rtol=0, atol=0)
    assert row["scalars"]["curve_midpoint"] == pytest.approx(trace.curve_midpoint)
    # The chain holds exactly what was sent.
    held = await chain.weights_of(NET, VALIDATOR_UID)
    sent = zip(row["submitted_uids"], row["submitted_u16"], strict=True)
    assert held == {u: v for u, v in sent if v} and len(held) > 1

    # The cycle wrote today's rows after the submission, with its block; the period job
    # carries their values into the weekly, monthly and all_time rows (and adds rows for the
    # untraced UIDs).
    assert {r["period_type"] for r in stats_rows(engine)} == {"daily"}
    assert all(r["weight_submission_block"] == row["block_number"] for r in stats_rows(engine))
    now = chain.clock.now()
    refresh_all(engine, now)

    weight_of = dict(zip(row["submitted_uids"], row["submitted_weights"], strict=True))
    traced = sorted(trace.miners or {})
    assert traced == list(range(FIRST_MINER, chain.n))
    hotkeys = {n.uid: n.hotkey for n in await chain.neurons(NET)}
    rows = [r for r in stats_rows(engine) if r["miner_uid"] in traced]
    assert {(r["miner_uid"], r["period_type"]) for r in rows} == {
        (u, p.period_type) for u in traced for p in current_periods(result.computed_at)
    }
    for r in rows:
        uid = r["miner_uid"]
        rec = (trace.miners or {})[uid]
        assert r["miner_hotkey"] == hotkeys[uid]
        assert r["submitted_weight"] == pytest.approx(weight_of[uid], abs=1e-15)
        assert r["raw_calculated_weight"] == pytest.approx(rec.raw_calculated_weight)
        assert r["excellence_weight"] == pytest.approx(rec.excellence_weight)
        assert r["diversity_weight"] == pytest.approx(rec.diversity_weight)
        assert r["scoring_pathway"] == rec.scoring_pathway
        assert r["pathway_details"] == rec.pathway_details
        assert r["multi_task_bonus"] == pytest.approx(rec.multi_task_bonus)
        for col in (
            "percentile_rank_weather",
            "percentile_rank_geomagnetic",
            "percentile_rank_soil",
            "weather_weight_contribution",
            "geomagnetic_weight_contribution",
            "soil_weight_contribution",
        ):
            assert r[col] == pytest.approx(getattr(rec, col)), col
        assert r["excellence_qualified_tasks"] == rec.excellence_qualified_tasks
        assert r["validator_hotkey"] == VALIDATOR
        assert r["weight_submission_block"] == row["block_number"]
        # No epoch was recorded yet: no chain columns.
        assert r["consensus_block"] is None and r["incentive"] is None
    assert set(PATHWAY_LABELS.values()) >= {r["scoring_pathway"] for r in rows}

    # An epoch writes no stats row; the next write of each row (the next cycle's) folds in
    # its chain columns: node_table's incentive, the rank, the block mark_in_force recorded.
    chain.advance(TEMPO)
    now = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=now)
    before = {(r["miner_uid"], r["period_type"]): r for r in stats_rows(engine)}
    await apply_epoch_results(engine, chain, NET, VALIDATOR, now)
    assert {(r["miner_uid"], r["period_type"]): r for r in stats_rows(engine)} == before
    epoch = await chain.last_epoch_block(NET)
    assert submissions(engine)[0]["consensus_block"] == epoch
    neurons = {n.uid: n for n in await chain.neurons(NET)}
    second = await run_cycle(ctx)
    assert second.status == "verified" and second.block_number is not None
    daily = [r for r in stats_rows(engine) if r["period_type"] == "daily"]
    folded = [r for r in daily if r["miner_uid"] in traced]
    assert len(folded) == len(traced)
    for r in folded:
        uid = r["miner_uid"]
        assert r["weight_submission_block"] == second.block_number
        assert r["consensus_block"] == epoch < second.block_number
        assert r["incentive"] == pytest.approx(neurons[uid].incentive)
        # Rank by incentive among the UIDs without a permit; ties share the higher rank.
        assert r["consensus_rank"] == 1 + sum(
            n.incentive > neurons[uid].incentive for n in neurons.values() if not n.validator_permit
        )
    assert any(r["incentive"] > 0 for r in folded)


async def test_persist_is_one_statement_per_table(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain)
    with statements(engine) as seen:
        await run_cycle(ctx)
    ws_inserts = [s for s in seen if s.startswith("INSERT INTO weight_submissions")]
    mps_writes = [s for s in seen if "INSERT INTO miner_performance_stats" in s]
    assert len(ws_inserts) == 1 and len(mps_writes) == 1
    # The miners' rows are written once, after the submission, with its block: no UPDATE.
    assert not any("UPDATE miner_performance_stats" in s for s in seen)
    assert seen.index(mps_writes[0]) > seen.index(ws_inserts[0])


async def test_cycle_leaves_the_period_job_columns_alone(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    now = chain.clock.now()
    refresh_all(engine, now)
    before = {(r["miner_uid"], r["period_type"]): r for r in stats_rows(engine)}
    assert before and all(r["submitted_weight"] is None for r in before.values())
    await run_cycle(make_context(engine, chain))
    after = {(r["miner_uid"], r["period_type"]): r for r in stats_rows(engine)}
    for key, old in before.items():
        new = after[key]
        for col in STATS_COLUMNS:
            if col != "updated_at":
                assert new[col] == old[col], (key, col)
        # The cycle writes today's row; the next refresh carries it into the longer periods.
        if key[0] >= FIRST_MINER:
            assert (new["submitted_weight"] is not None) == (key[1] == "daily")


async def test_rejections_are_retried_and_recorded(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    chain.inject_rejections(2, ChainError.OTHER)
    start = chain.height
    result = await run_cycle(make_context(engine, chain, submission_max_attempts=3))
    assert result.status == "verified"
    [row] = submissions(engine)
    assert [a["status"] for a in row["attempts"]] == ["rejected", "rejected", "included"]
    assert [a["error"] for a in row["attempts"]] == ["Other", "Other", None]
    assert [a["attempt"] for a in row["attempts"]] == [1, 2, 3]
    assert all(isinstance(datetime.fromisoformat(a["at"]), datetime) for a in row["attempts"])
    # Backoff on the clock: 1 block, then 2 blocks (12 s base, 12 s blocks), one per attempt.
    blocks = [a["block"] for a in row["attempts"]]
    assert blocks[1] - blocks[0] >= 2 and blocks[2] - blocks[1] >= 3
    assert row["block_number"] > start


async def test_failed_submission_then_next_cycle_submits_fresh(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain, submission_max_attempts=2)
    chain.inject_rejections(2, ChainError.OTHER)
    first = await run_cycle(ctx)
    assert first.status == "failed"
    failed = submissions(engine)[0]
    assert failed["status"] == "failed" and "Other" in failed["error"]
    assert len(failed["attempts"]) == 2 and failed["block_number"] is None
    assert await chain.weights_of(NET, VALIDATOR_UID) == {}
    assert all(r["weight_submission_block"] is None for r in stats_rows(engine))
    assert ctx.metrics.submissions_failed == 1

    chain.advance(3)
    second = await run_cycle(ctx)
    assert second.status == "verified"
    rows = submissions(engine)
    assert [r["status"] for r in rows] == ["failed", "verified"]
    assert rows[1]["id"] != rows[0]["id"] and rows[1]["computed_block"] > rows[0]["computed_block"]
    assert all(r["weight_submission_block"] == rows[1]["block_number"] for r in stats_rows(engine))


async def test_timeouts_are_retried(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    chain.inject_timeouts(1)
    result = await run_cycle(make_context(engine, chain))
    assert result.status == "verified"
    assert [a.status for a in result.attempts] == ["timeout", "included"]
    assert result.attempts[0].error == "Timeout"


async def test_a_timeout_that_landed_is_recognised(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    chain.inject_timeouts(1, lands=True)
    result = await run_cycle(make_context(engine, chain))
    # No second extrinsic (it would have hit the rate limit): the first one is found on chain.
    assert [a.status for a in result.attempts] == ["timeout"]
    assert result.status == "verified"
    [me] = [n for n in await chain.neurons(NET) if n.hotkey == VALIDATOR]
    assert result.block_number == me.last_update == result.attempts[0].landed_block
    assert result.block_hash == await chain.block_hash(me.last_update)


async def test_rate_limit_is_waited_out(engine: Engine) -> None:
    chain = make_chain(weights_rate_limit=40)
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain)
    first = await run_cycle(ctx)
    second = await run_cycle(ctx)
    assert first.status == second.status == "verified"
    assert [a.status for a in second.attempts] == ["included"]
    assert second.block_number is not None and first.block_number is not None
    assert second.block_number - first.block_number == 40
