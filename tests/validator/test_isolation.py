"""Failure isolation: a database that fails at persist never stops the submission.

The outages are real: the test database stops accepting connections (ALLOW_CONNECTIONS false
and its sessions terminated) right after the cycle's reads, or its weight_submissions table
is renamed away. Nothing of the database is mocked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text

from minertrace.validator import cycle as cycle_module
from minertrace.validator.cycle import flush, run_cycle
from minertrace.validator.trace_queue import TraceQueue
from tests.helpers.cycle import (
    NET,
    VALIDATOR_UID,
    make_chain,
    make_context,
    seed_scores,
    stats_rows,
    submissions,
)


@contextmanager
def outage_after_reads(engine: Engine, admin_url: str) -> Iterator[dict[str, bool]]:
    """Take the database down when the cycle's read connection goes back to the pool."""
    name = engine.url.database
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    state = {"down": False}

    def down(*_: Any) -> None:
        if state["down"]:
            return
        state["down"] = True
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                {"d": name},
            )

    event.listen(engine.pool, "checkin", down)
    try:
        yield state
    finally:
        event.remove(engine.pool, "checkin", down)
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


@pytest.fixture
def admin_url(pg_server: Any) -> str:
    return str(pg_server.url("postgres"))


async def test_database_outage_submits_and_writes_the_trace_after_recovery(
    engine: Engine, admin_url: str
) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain)
    with outage_after_reads(engine, admin_url) as state:
        result = await run_cycle(ctx)
        assert state["down"]
        # Weights first: submitted and verified on chain although nothing could be written.
        assert result.status == "verified" and result.block_number is not None
        assert not result.persisted and result.submission_id is None
        assert result.queued == 1 and len(ctx.queue) == 1
        assert ctx.metrics.persist_failures >= 1
        trace = result.trace
        assert trace is not None
        emitted = dict(zip(trace.emit_uids.tolist(), trace.emit_u16.tolist(), strict=True))
        assert emitted and await chain.weights_of(NET, VALIDATOR_UID) == emitted
        # Still down: a flush keeps the trace.
        assert await flush(ctx) == 0 and len(ctx.queue) == 1

    assert await flush(ctx) == 1
    assert len(ctx.queue) == 0 and ctx.metrics.traces_written_late == 1
    [row] = submissions(engine)
    assert row["status"] == "verified"
    assert row["block_number"] == result.block_number
    assert row["block_hash"] == result.block_hash
    assert [a["status"] for a in row["attempts"]] == ["included"]
    assert row["computed_at"] == result.computed_at
    assert row["trace_overhead_s"] == pytest.approx(result.trace_overhead_s)
    assert row["verification"]["match"] is True
    sent_u16 = {u: v for u, v in zip(row["submitted_uids"], row["submitted_u16"], strict=True) if v}
    assert sent_u16 == await chain.weights_of(NET, VALIDATOR_UID)
    rows = stats_rows(engine)
    assert rows and all(r["weight_submission_block"] == result.block_number for r in rows)


def _rename(engine: Engine, old: str, new: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE {old} RENAME TO {new}")


async def test_full_queue_drops_the_oldest_trace(engine: Engine) -> None:
    chain = make_chain()
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain, trace_queue_size=1)
    _rename(engine, "weight_submissions", "weight_submissions_away")
    first = await run_cycle(ctx)
    chain.advance(10)
    second = await run_cycle(ctx)
    assert first.status == second.status == "verified"
    assert first.block_number != second.block_number
    assert ctx.metrics.queue_drops == 1 and len(ctx.queue) == 1
    _rename(engine, "weight_submissions_away", "weight_submissions")

    # The next cycle writes the waiting trace first, then its own.
    chain.advance(10)
    third = await run_cycle(ctx)
    assert third.persisted
    rows = submissions(engine)
    assert [r["block_number"] for r in rows] == [second.block_number, third.block_number]
    assert [r["status"] for r in rows] == ["verified", "verified"]
    assert {r["weight_submission_block"] for r in stats_rows(engine)} == {third.block_number}


async def test_a_tracing_exception_never_blocks_the_submission(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("trace builder bug")

    chain = make_chain()
    await seed_scores(engine, chain)
    ctx = make_context(engine, chain)
    monkeypatch.setattr(cycle_module, "build_record", broken)
    result = await run_cycle(ctx)
    assert result.status == "verified" and not result.persisted
    assert await chain.weights_of(NET, VALIDATOR_UID) != {}
    assert submissions(engine) == [] and ctx.metrics.persist_failures == 1


def test_trace_queue_needs_room() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        TraceQueue(0)
