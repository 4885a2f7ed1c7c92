"""Node sync tests' shared code: a small LocalChain, statement capture, node_table reads,
stats rows and weight_submissions rows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine, event, insert, select

from minertrace.chain.local.chain import LocalChain
from minertrace.chain.types import NeuronInfo, SubmissionReceipt, SubnetHyperparameters
from minertrace.db.tables import (
    miner_performance_stats,
    node_table,
    score_table,
    weight_submissions,
)
from minertrace.stats.periods import Period

NET = 1
TEMPO = 10


def make_chain(*, miners: int = 6, **hp: object) -> LocalChain:
    """Owner on UID 0, validators v0 (UID 1) and v1 (UID 2), then miners m0.. (UID 3..)."""
    params = {"tempo": TEMPO, "weights_rate_limit": 3, "activity_cutoff": 5000, **hp}
    chain = LocalChain(
        netuid=NET,
        max_uids=32,
        hyperparameters=SubnetHyperparameters(**params),  # type: ignore[arg-type]
    )
    chain.register("v0", "cv0", 6000.0)
    chain.register("v1", "cv1", 4000.0)
    chain.register_many([f"m{i}" for i in range(miners)], [f"cm{i}" for i in range(miners)])
    chain.refresh_permits()
    return chain


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the block runs."""
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def node_rows(engine: Engine) -> dict[int, dict[str, object]]:
    with engine.connect() as conn:
        return {r.uid: dict(r._mapping) for r in conn.execute(select(node_table))}


def stats_keys(engine: Engine) -> set[tuple[int, str, str, datetime]]:
    m = miner_performance_stats.c
    with engine.connect() as conn:
        rows = conn.execute(select(m.miner_uid, m.miner_hotkey, m.period_type, m.period_start))
        return {tuple(r) for r in rows}


def add_stats(engine: Engine, rows: list[tuple[int, str, Period]]) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(miner_performance_stats),
            [
                {
                    "miner_uid": uid,
                    "miner_hotkey": hotkey,
                    "period_type": p.period_type,
                    "period_start": p.start,
                    "period_end": p.end,
                }
                for uid, hotkey, p in rows
            ],
        )


def score_arrays(engine: Engine) -> dict[str, list[float]]:
    with engine.connect() as conn:
        rows = conn.execute(select(score_table.c.task_id, score_table.c.score))
        return {r.task_id: r.score for r in rows}


def assert_node_matches(row: dict[str, object], n: NeuronInfo) -> None:
    assert row["hotkey"] == n.hotkey and row["coldkey"] == n.coldkey
    assert row["stake"] == n.stake and row["incentive"] == n.incentive
    assert row["vtrust"] == n.validator_trust and row["consensus"] == n.consensus
    assert row["dividends"] == n.dividends
    assert row["validator_permit"] == n.validator_permit
    assert row["last_update_block"] == n.last_update
    assert (row["ip"], row["port"]) == (n.axon_ip, n.axon_port)


def add_submission(
    engine: Engine,
    hotkey: str,
    status: str,
    *,
    receipt: SubmissionReceipt | None = None,
    block: int | None = None,
    reveal_block: int | None = None,
    computed_at: datetime,
) -> int:
    if receipt is not None:
        block = receipt.block_number
        reveal_block = receipt.reveal_block
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(weight_submissions)
                .values(
                    validator_hotkey=hotkey,
                    netuid=NET,
                    computed_at=computed_at,
                    n_uids=9,
                    config={},
                    score_rows=[],
                    scalars={},
                    data_quality={},
                    weights_produced=True,
                    rank_based_fallback=False,
                    status=status,
                    block_number=block,
                    block_hash=receipt.block_hash if receipt is not None else None,
                    reveal_block=reveal_block,
                )
                .returning(weight_submissions.c.id)
            ).scalar_one()
        )
