"""enable_detailed_pathways, enable_realtime_updates and performance_impact_threshold."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Engine

from minertrace.stats.periods import current_periods, period_for
from minertrace.stats.refresh import refresh_all
from minertrace.store import fill_pipeline_columns
from minertrace.store.period_upsert import PIPELINE_COLUMNS
from minertrace.validator.cycle import run_cycle
from tests.helpers.cycle import (
    FIRST_MINER,
    VALIDATOR,
    make_chain,
    make_context,
    seed_scores,
    stats_rows,
    submissions,
)


def pipeline_values(engine: Engine) -> dict[tuple[int, str], dict[str, object]]:
    return {
        (r["miner_uid"], r["period_type"]): {c: r[c] for c in PIPELINE_COLUMNS}
        for r in stats_rows(engine)
        if r["submitted_weight"] is not None
    }


async def test_detailed_pathways_off_drops_details_but_keeps_weights(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    result = await run_cycle(make_context(engine, chain, enable_detailed_pathways=False))
    assert result.status == "verified"
    [row] = submissions(engine)
    assert row["stages"] is None
    assert row["submitted_u16"] and row["final_weights"] and row["scalars"]
    assert row["block_number"] == result.block_number
    rows = stats_rows(engine)
    assert {r["miner_uid"] for r in rows} == set(range(FIRST_MINER, chain.n))
    weight_of = dict(zip(row["submitted_uids"], row["submitted_weights"], strict=True))
    for r in rows:
        assert r["pathway_details"] is None
        assert r["submitted_weight"] == pytest.approx(weight_of[r["miner_uid"]], abs=1e-15)
        assert r["raw_calculated_weight"] is not None and r["scoring_pathway"] is not None
        assert r["weight_submission_block"] == row["block_number"]


async def test_detailed_pathways_on_stores_details(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    await run_cycle(make_context(engine, chain))
    assert submissions(engine)[0]["stages"] is not None
    assert all(r["pathway_details"] is not None for r in stats_rows(engine))


async def test_realtime_off_writes_only_the_submission_row(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    result = await run_cycle(make_context(engine, chain, enable_realtime_updates=False))
    assert result.status == "verified"
    assert len(submissions(engine)) == 1
    assert stats_rows(engine) == []


async def test_realtime_off_fill_matches_the_realtime_rows(engine: Engine) -> None:
    # Realtime on: the cycle writes the rows itself.
    chain = make_chain()
    await seed_scores(engine, chain)
    await run_cycle(make_context(engine, chain))
    refresh_all(engine, chain.clock.now())
    expected = pipeline_values(engine)
    assert len(expected) == 4 * (chain.n - FIRST_MINER)

    # Realtime off on an identical subnet: the period job makes the rows, the fill completes them.
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE weight_submissions, miner_performance_stats, score_table")
    chain = make_chain()
    await seed_scores(engine, chain)
    await run_cycle(make_context(engine, chain, enable_realtime_updates=False))
    now = chain.clock.now()
    assert stats_rows(engine) == []
    # As the service does it: today's rows from the stored stages, then the refresh.
    written = fill_pipeline_columns(
        engine, validator_hotkey=VALIDATOR, netuid=1, now=now, periods=[period_for("daily", now)]
    )
    assert written == chain.n - FIRST_MINER
    refresh_all(engine, now)
    got = pipeline_values(engine)
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        for col, value in want.items():
            if isinstance(value, float):
                assert got[key][col] == pytest.approx(value, abs=1e-15), (key, col)
            else:
                assert got[key][col] == value, (key, col)
    # The period job's columns are still there (the scores are an hour before the genesis day).
    all_time = [r for r in stats_rows(engine) if r["period_type"] == "all_time"]
    assert all(r["total_tasks_attempted"] == 3 for r in all_time if r["miner_uid"] >= FIRST_MINER)


async def test_realtime_off_and_details_off_fill_only_the_submitted_weight(
    engine: Engine,
) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    await run_cycle(
        make_context(engine, chain, enable_realtime_updates=False, enable_detailed_pathways=False)
    )
    now = chain.clock.now()
    refresh_all(engine, now)
    fill_pipeline_columns(
        engine, validator_hotkey=VALIDATOR, netuid=1, now=now, periods=current_periods(now)
    )
    [ws] = submissions(engine)
    weight_of = dict(zip(ws["submitted_uids"], ws["submitted_weights"], strict=True))
    miners = [r for r in stats_rows(engine) if r["miner_uid"] >= FIRST_MINER]
    assert miners
    for r in miners:
        assert r["submitted_weight"] == pytest.approx(weight_of[r["miner_uid"]], abs=1e-15)
        assert r["weight_submission_block"] == ws["block_number"]
        assert r["raw_calculated_weight"] is None and r["pathway_details"] is None


async def test_slow_trace_is_warned_and_counted(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain, performance_impact_threshold=1e-9)
    with caplog.at_level(logging.WARNING, logger="minertrace.validator.cycle"):
        result = await run_cycle(ctx)
    assert result.status == "verified"
    assert ctx.metrics.slow_traces == 1
    assert ctx.metrics.last_trace_overhead_s == result.trace_overhead_s
    assert any("trace-and-persist took" in r.getMessage() for r in caplog.records)
    assert submissions(engine)[0]["trace_overhead_s"] == pytest.approx(result.trace_overhead_s)


async def test_generous_threshold_counts_nothing(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain, performance_impact_threshold=60.0)
    await run_cycle(ctx)
    assert ctx.metrics.slow_traces == 0 and ctx.metrics.last_trace_overhead_s is not None
