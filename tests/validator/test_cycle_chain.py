"""run_cycle against forks and commit-reveal, and cycles that submit nothing."""

from __future__ import annotations

from sqlalchemy import Engine

from minertrace.validator import run_cycle, verify_pending
from minertrace.validator.chain_integration import apply_epoch_results
from minertrace.validator.forks import detect_orphans
from minertrace.validator.node_sync import sync_nodes
from tests.helpers.cycle import (
    NET,
    TEMPO,
    VALIDATOR,
    VALIDATOR_UID,
    make_chain,
    make_context,
    seed_scores,
    stats_rows,
    submissions,
)


async def test_reorg_orphans_the_submission_and_the_next_cycle_resubmits(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain)
    first = await run_cycle(ctx)
    assert first.status == "verified" and first.block_number is not None
    chain.advance(2)
    chain.reorg(chain.height - first.block_number + 1)
    # The dropped block took the weights with it.
    assert await chain.weights_of(NET, VALIDATOR_UID) == {}
    assert await detect_orphans(engine, chain, VALIDATOR, netuid=NET) == [first.submission_id]
    assert submissions(engine)[0]["status"] == "orphaned"

    second = await run_cycle(ctx)
    assert second.status == "verified"
    rows = submissions(engine)
    assert [r["status"] for r in rows] == ["orphaned", "verified"]
    assert rows[1]["block_hash"] == await chain.block_hash(rows[1]["block_number"])
    assert await chain.weights_of(NET, VALIDATOR_UID) != {}
    assert {r["weight_submission_block"] for r in stats_rows(engine)} == {second.block_number}


async def test_commit_reveal_is_verified_after_the_reveal_epoch(engine: Engine) -> None:
    chain = make_chain(commit_reveal_enabled=True, reveal_period_epochs=1)
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain)
    result = await run_cycle(ctx)
    assert result.status == "committed"
    assert result.reveal_epoch == chain.epoch_index + 1
    assert result.reveal_block == await chain.next_epoch_block(NET)
    [row] = submissions(engine)
    assert row["status"] == "committed" and row["reveal_block"] == result.reveal_block
    assert row["verification"] is None
    # Nothing is on chain before the reveal, and nothing is verified yet.
    assert await chain.weights_of(NET, VALIDATOR_UID) == {}
    assert await verify_pending(ctx) == []
    assert submissions(engine)[0]["status"] == "committed"

    chain.advance(result.reveal_block - chain.height)
    assert await verify_pending(ctx) == [row["id"]]
    [row] = submissions(engine)
    assert row["status"] == "verified"
    assert row["verification"]["match"] is True and row["verified_at"] is not None
    sent = zip(row["submitted_uids"], row["submitted_u16"], strict=True)
    assert await chain.weights_of(NET, VALIDATOR_UID) == {u: v for u, v in sent if v}
    assert await verify_pending(ctx) == []

    # The weights were in force from the reveal epoch: chain integration sees them.
    chain.advance(TEMPO)
    now = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=now)
    await apply_epoch_results(engine, chain, NET, VALIDATOR, now)
    assert submissions(engine)[0]["consensus_block"] is not None
    # The rows were written with the commit's block; the epoch's chain columns wait for the
    # rows' next write.
    rows = stats_rows(engine)
    assert rows and all(r["weight_submission_block"] == row["block_number"] for r in rows)
    assert all(r["consensus_block"] is None for r in rows)


async def test_a_failed_reveal_is_a_mismatch(engine: Engine) -> None:
    chain = make_chain(commit_reveal_enabled=True, reveal_period_epochs=1)
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain)
    result = await run_cycle(ctx)
    assert result.status == "committed"
    # The version key rises before the reveal: the chain drops the reveal silently.
    chain.set_hyperparameters(weights_version_key=7)
    assert result.reveal_block is not None
    chain.advance(result.reveal_block - chain.height)
    assert await verify_pending(ctx) == [result.submission_id]
    [row] = submissions(engine)
    assert row["status"] == "mismatch"
    assert row["verification"]["match"] is False
    sent = [u for u, v in zip(row["submitted_uids"], row["submitted_u16"], strict=True) if v]
    assert row["verification"]["differing_uids"] == sent
    assert ctx.metrics.mismatches == 1


async def test_no_scores_means_skipped_and_nothing_submitted(engine: Engine) -> None:
    chain = make_chain()
    await sync_nodes(engine, chain, NET, now=chain.clock.now())
    height = chain.height
    ctx = make_context(engine, chain)
    result = await run_cycle(ctx)
    assert result.status == "skipped"
    assert result.reason is not None and "no weights produced" in result.reason
    [row] = submissions(engine)
    assert row["status"] == "skipped" and row["weights_produced"] is False
    assert row["no_weights_reason"] == result.trace.no_weights_reason  # type: ignore[union-attr]
    assert row["error"] == result.reason
    assert row["attempts"] == [] and row["block_number"] is None
    assert row["trace_overhead_s"] is not None
    assert chain.height == height
    assert await chain.weights_of(NET, VALIDATOR_UID) == {}
    assert ctx.metrics.submissions_skipped == 1 and ctx.metrics.submission_attempts == 0


async def test_an_unencodable_vector_is_skipped(engine: Engine) -> None:
    # More weights required than there are miners: the chain would refuse, so nothing is sent.
    chain = make_chain(min_allowed_weights=50)
    await seed_scores(engine, chain)
    result = await run_cycle(make_context(engine, chain))
    assert result.status == "skipped"
    assert result.reason is not None and result.reason.startswith("encoding failed")
    [row] = submissions(engine)
    assert row["status"] == "skipped" and row["weights_produced"] is True
    assert await chain.weights_of(NET, VALIDATOR_UID) == {}
