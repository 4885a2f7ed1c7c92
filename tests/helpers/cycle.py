"""Helpers shared by the cycle tests (no tests here): a small LocalChain subnet with scores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, event, select

from minertrace.chain.local.chain import LocalChain
from minertrace.chain.types import SubnetHyperparameters
from minertrace.config import Settings
from minertrace.db.tables import miner_performance_stats, weight_submissions
from minertrace.store import record_scores
from minertrace.validator.cycle import CycleContext
from minertrace.validator.node_sync import sync_nodes

NET = 1
TEMPO = 20
VALIDATOR = "val"
VALIDATOR_UID = 1
FIRST_MINER = 2


def make_chain(*, miners: int = 10, max_uids: int = 64, **hp: Any) -> LocalChain:
    """Owner on UID 0, the validator 'val' (UID 1, staked), miners m0.. from UID 2."""
    params: dict[str, Any] = {
        "tempo": TEMPO,
        "weights_rate_limit": 5,
        "activity_cutoff": 5000,
        **hp,
    }
    chain = LocalChain(
        netuid=NET, max_uids=max_uids, hyperparameters=SubnetHyperparameters(**params)
    )
    chain.register(VALIDATOR, "cval", 10_000.0)
    chain.register_many([f"m{i}" for i in range(miners)], [f"cm{i}" for i in range(miners)])
    chain.refresh_permits()
    return chain


def make_settings(**overrides: Any) -> Settings:
    """Settings for tests: no .env, the chain's netuid, one-block backoff."""
    values: dict[str, Any] = {
        "netuid": NET,
        "submission_backoff_seconds": 12.0,
        "submission_max_attempts": 3,
        **overrides,
    }
    return Settings(_env_file=None, **values)


def make_context(engine: Engine, chain: LocalChain, **overrides: Any) -> CycleContext:
    """A CycleContext for the validator on `chain`."""
    return CycleContext(
        engine=engine,
        chain=chain,
        clock=chain.clock,
        validator_hotkey=VALIDATOR,
        settings=make_settings(**overrides),
    )


def miner_scores(chain: LocalChain, rng: np.random.Generator, low: float = 0.2) -> list[float]:
    """One score per UID: NaN for the owner and the validator, random for miners."""
    scores = np.full(chain.n, np.nan)
    scores[FIRST_MINER:] = rng.uniform(low, 1.0, chain.n - FIRST_MINER)
    return scores.tolist()


async def seed_scores(engine: Engine, chain: LocalChain, *, seed: int = 0, tag: str = "a") -> None:
    """Sync node_table from the chain, then record one row of each task an hour ago."""
    now = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=now)
    rng = np.random.default_rng(seed)
    at = now - timedelta(hours=1)
    record_scores(
        engine, "weather", f"final_weather_scores_{tag}", miner_scores(chain, rng), at, "completed"
    )
    record_scores(engine, "geomagnetic", f"geo_{tag}", miner_scores(chain, rng), at, "completed")
    record_scores(
        engine, "soil_moisture_region_1", f"soil_{tag}", miner_scores(chain, rng), at, "completed"
    )


def submissions(engine: Engine) -> list[dict[str, Any]]:
    """Every weight_submissions row, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(weight_submissions).order_by(weight_submissions.c.id))
        return [dict(r._mapping) for r in rows]


def stats_rows(engine: Engine) -> list[dict[str, Any]]:
    """Every miner_performance_stats row."""
    m = miner_performance_stats
    with engine.connect() as conn:
        rows = conn.execute(select(m).order_by(m.c.miner_uid, m.c.period_type))
        return [dict(r._mapping) for r in rows]


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
