"""The miners' daily rows: written after the submission, rebuilt after a crash, few versions.

A cycle writes its weight_submissions row before the submission and its traced miners' daily
rows after it, with the submission's block and the last recorded epoch's chain columns, in
one write; an epoch writes no stats row. Row versions are counted exactly with statement-level
triggers on miner_performance_stats (every inserted or updated row is one new version).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text

from minertrace.chain.types import ChainError
from minertrace.config import load_settings
from minertrace.db.tables import node_table
from minertrace.sim.subnet import SimParams, SimulatedSubnet
from minertrace.stats.periods import current_periods
from minertrace.stats.refresh import refresh_all
from minertrace.store import insert_submission, mark_in_force, upsert_miner_rows
from minertrace.validator.chain_integration import apply_epoch_results
from minertrace.validator.cycle import run_cycle
from minertrace.validator.node_sync import sync_nodes
from minertrace.validator.reconcile import reconcile_unsettled
from minertrace.validator.service import Job, Service
from minertrace.validator.submit import SubmissionState
from minertrace.vocabulary import SubmissionStatus
from tests.helpers.cycle import (
    NET,
    TEMPO,
    VALIDATOR,
    make_chain,
    make_context,
    seed_scores,
    stats_rows,
    submissions,
)
from tests.helpers.rows import make_trace, outcome_writes_blocked, record_of


@contextmanager
def counted_versions(engine: Engine) -> Iterator[None]:
    """Count every new row version of miner_performance_stats per miner in `row_versions`."""
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                CREATE TABLE row_versions (miner_uid integer, n bigint);
                CREATE FUNCTION count_versions() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO row_versions SELECT miner_uid, count(*) FROM new_rows
                     GROUP BY miner_uid;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER count_inserts AFTER INSERT ON miner_performance_stats
                    REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION count_versions();
                CREATE TRIGGER count_updates AFTER UPDATE ON miner_performance_stats
                    REFERENCING NEW TABLE AS new_rows
                    FOR EACH STATEMENT EXECUTE FUNCTION count_versions();
                """
            )
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER count_inserts ON miner_performance_stats"))
            conn.execute(text("DROP TRIGGER count_updates ON miner_performance_stats"))
            conn.execute(text("DROP FUNCTION count_versions()"))


def versions(engine: Engine) -> dict[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT miner_uid, sum(n) FROM row_versions GROUP BY miner_uid")
        ).all()
    return {int(u): int(n) for u, n in rows}


def xmins(engine: Engine) -> dict[tuple[int, str], str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT miner_uid, period_type, xmin::text FROM miner_performance_stats")
        ).all()
    return {(int(u), str(p)): str(x) for u, p, x in rows}


async def test_rows_are_written_once_after_the_submission_with_its_block(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    with counted_versions(engine):
        result = await run_cycle(make_context(engine, chain))
        assert result.status == SubmissionStatus.VERIFIED and result.block_number is not None
        traced = sorted(getattr(result.trace, "miners", None) or {})
        assert traced
        # One version per traced miner: the row is inserted with the block, never updated.
        assert versions(engine) == dict.fromkeys(traced, 1)
    rows = stats_rows(engine)
    assert sorted(r["miner_uid"] for r in rows) == traced
    assert all(r["weight_submission_block"] == result.block_number for r in rows)


async def test_a_failed_submission_writes_the_rows_without_a_block(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    chain.inject_rejections(3, ChainError.OTHER)
    result = await run_cycle(make_context(engine, chain))
    assert result.status == SubmissionStatus.FAILED
    rows = stats_rows(engine)
    assert rows and all(r["weight_submission_block"] is None for r in rows)
    assert all(r["validator_hotkey"] is not None for r in rows)


async def test_rows_a_dead_process_did_not_write_are_rebuilt_on_restart(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    # The process 'dies' after the trace insert: the outcome and the rows never reach the
    # database (they are one transaction).
    with outcome_writes_blocked(engine):
        result = await run_cycle(make_context(engine, chain))
    assert result.status == SubmissionStatus.VERIFIED
    assert submissions(engine)[0]["status"] == SubmissionStatus.COMPUTED
    assert stats_rows(engine) == []

    restarted = make_context(engine, chain)
    await reconcile_unsettled(restarted)
    rows = stats_rows(engine)
    traced = sorted(getattr(result.trace, "miners", None) or {})
    assert sorted(r["miner_uid"] for r in rows) == traced
    assert all(r["weight_submission_block"] == result.block_number for r in rows)
    weight_of = dict(
        zip(
            submissions(engine)[0]["submitted_uids"],
            submissions(engine)[0]["submitted_weights"],
            strict=True,
        )
    )
    assert all(r["submitted_weight"] == weight_of[r["miner_uid"]] for r in rows)
    assert restarted.rows_checked

    # Rebuilt once per process, and a second process finds nothing to rewrite.
    before = xmins(engine)
    await reconcile_unsettled(restarted)
    await reconcile_unsettled(make_context(engine, chain))
    assert xmins(engine) == before


async def test_rebuilt_rows_equal_the_rows_the_cycle_writes(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    await run_cycle(make_context(engine, chain))
    written = {(r["miner_uid"], r["period_type"]): r for r in stats_rows(engine)}
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE miner_performance_stats"))
    await reconcile_unsettled(make_context(engine, chain))
    rebuilt = {(r["miner_uid"], r["period_type"]): r for r in stats_rows(engine)}
    assert rebuilt == written


def _nodes(engine: Engine, incentives: dict[int, float], permits: set[int]) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(node_table),
            [
                {"uid": u, "hotkey": f"hk{u}", "incentive": inc, "validator_permit": u in permits}
                for u, inc in incentives.items()
            ],
        )


def _chain_columns(engine: Engine) -> dict[int, tuple[object, object, object]]:
    return {
        r["miner_uid"]: (r["incentive"], r["consensus_rank"], r["consensus_block"])
        for r in stats_rows(engine)
    }


def test_the_next_write_folds_in_the_last_epoch(engine: Engine) -> None:
    trace, inputs = make_trace()
    record = record_of(trace, inputs)
    traced = record.traced_uids
    assert len(traced) > 6
    # Ties at the top and at zero; UID 0 holds a permit (no rank); traced[1]'s UID now
    # carries another hotkey (its row is stale: no chain columns).
    uids = inputs.node_list.uids.tolist()
    incentives = dict.fromkeys(uids, 0.0)
    incentives.update({traced[2]: 0.5, traced[3]: 0.5, traced[4]: 0.2, 0: 0.9})
    _nodes(engine, {u: v for u, v in incentives.items() if u != traced[1]}, {0})
    with engine.begin() as conn:
        conn.execute(insert(node_table).values(uid=traced[1], hotkey="someone-else"))
    included = SubmissionState(status=SubmissionStatus.INCLUDED, block_number=100).outcome()
    with engine.begin() as conn:
        insert_submission(conn, record, included)
        # Before any recorded epoch: the rows get no chain columns.
        upsert_miner_rows(conn, record, 100)
    assert set(_chain_columns(engine).values()) == {(None, None, None)}

    with engine.begin() as conn:
        assert mark_in_force(conn, "val", 1, 150)
        # chain=False (enable_chain_integration off) leaves them alone.
        upsert_miner_rows(conn, record, 101, chain=False)
    assert set(_chain_columns(engine).values()) == {(None, None, None)}
    with engine.begin() as conn:
        upsert_miner_rows(conn, record, 101)
    got = _chain_columns(engine)
    assert got[traced[1]] == (None, None, None)
    ranked = [u for u in uids if u != 0 and u != traced[1]]
    for u in traced:
        if u == traced[1]:
            continue
        rank = None if u == 0 else 1 + sum(incentives[o] > incentives[u] for o in ranked)
        assert got[u] == (incentives[u], rank, 150), u
    assert got[traced[2]][1] == got[traced[3]][1] == 1 and got[traced[4]][1] == 3

    # A later write without a recorded epoch for the miner keeps the chain columns.
    with engine.begin() as conn:
        upsert_miner_rows(conn, record, 102, chain=False)
    assert _chain_columns(engine) == got


def _sim(miners: int, hours: float) -> SimulatedSubnet:
    return SimulatedSubnet.create(
        SimParams(n_miners=miners, n_validators=4, seed=3, duration_seconds=hours * 3600)
    )


async def _versions_per_miner_cycle(engine: Engine, url: str, hours: int, **settings: Any) -> float:
    sim = _sim(16, hours)

    async def step(now: datetime) -> object:
        return sim.step(engine, now)

    service = Service(
        engine=engine,
        chain=sim.chain,
        clock=sim.chain.clock,
        settings=load_settings(
            database_url=url,
            cycle_interval_seconds=3600,
            stats_refresh_interval_seconds=3600,
            **settings,
        ),
        validator_hotkey=sim.validator_hotkey,
        netuid=sim.chain.netuid,
        extra_jobs=[Job("simulator", 600.0, step)],
    )
    with counted_versions(engine):
        counters = await service.run(
            until=sim.start + timedelta(hours=hours) - timedelta(seconds=1)
        )
        assert not counters.failures
        assert counters.runs["cycle"] == counters.runs["stats"] == hours
        assert len(counters.epochs) >= hours * 3 // 4  # tempo 360 blocks, ~72 min
        per_miner = versions(engine)
    miners = set(sim.miner_uids.tolist())
    assert miners <= set(per_miner)
    return max(per_miner[u] for u in miners) / hours


async def test_at_most_five_row_versions_per_miner_per_hourly_cycle(
    engine: Engine, migrated_db_url: str
) -> None:
    # Per hour: the cycle's write of the daily row (block and chain columns folded in) and the
    # refresh's four upserts; epochs and the submission block add none.
    assert await _versions_per_miner_cycle(engine, migrated_db_url, 6) <= 5.0


async def test_realtime_off_makes_at_most_five_versions_too(
    engine: Engine, migrated_db_url: str
) -> None:
    got = await _versions_per_miner_cycle(engine, migrated_db_url, 6, enable_realtime_updates=False)
    assert got <= 5.0


async def test_the_period_refresh_folds_in_the_last_epoch_too(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain)
    result = await run_cycle(ctx)
    assert result.block_number is not None
    chain.advance(TEMPO)
    now = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=now)
    await apply_epoch_results(engine, chain, NET, VALIDATOR, now)
    epoch = await chain.last_epoch_block(NET)
    refresh_all(engine, now)
    neurons = {n.uid: n for n in await chain.neurons(NET)}
    rows = stats_rows(engine)
    # Every row of a registered UID, traced by the cycle or not, in every period.
    assert {r["miner_uid"] for r in rows} == set(neurons)
    assert {r["period_type"] for r in rows} == {p.period_type for p in current_periods(now)}
    for r in rows:
        n = neurons[r["miner_uid"]]
        assert r["consensus_block"] == epoch
        assert r["incentive"] == pytest.approx(n.incentive)
        expected = (
            None
            if n.validator_permit
            else 1
            + sum(o.incentive > n.incentive for o in neurons.values() if not o.validator_permit)
        )
        assert r["consensus_rank"] == expected
    # The weights of the cycle met this epoch: consensus_block - weight_submission_block is
    # their consensus delay.
    traced = [r for r in rows if r["weight_submission_block"] is not None]
    assert traced and all(r["weight_submission_block"] == result.block_number for r in traced)
    assert epoch >= result.block_number
