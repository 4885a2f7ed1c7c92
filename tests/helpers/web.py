"""A recorded subnet for the web and replay tests (no tests here).

Real code end to end: a LocalChain with an owner, the validator, 18 miners (6 of them share a
coldkey, so smoothing cuts them) and an idle miner; hourly score rows; `run_cycle` each hour;
the chain's epochs recorded with `apply_epoch_results`; the period statistics refreshed. One
cycle fails (the chain rejects every attempt) so the record holds more than one status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from sqlalchemy import Engine

from minertrace.chain.local.chain import LocalChain
from minertrace.chain.types import ChainError, SubnetHyperparameters
from minertrace.config import Settings
from minertrace.stats.refresh import refresh_all
from minertrace.store import record_scores
from minertrace.validator.chain_integration import apply_epoch_results
from minertrace.validator.cycle import CycleContext, CycleResult, run_cycle
from minertrace.validator.node_sync import sync_nodes

NET = 1
VALIDATOR = "val-hotkey"
MINERS = 18
FARM = 6


@dataclass
class Recorded:
    """What `record_subnet` wrote."""

    chain: LocalChain
    results: list[CycleResult] = field(default_factory=list)
    miners: list[int] = field(default_factory=list)
    farm: list[int] = field(default_factory=list)
    idle: int = -1

    @property
    def cycle_ids(self) -> list[int]:
        return [r.submission_id for r in self.results if r.submission_id is not None]


def _scores(rng: np.random.Generator, n: int, miners: list[int], spread: float) -> list[float]:
    out = np.full(n, np.nan)
    out[miners] = np.clip(
        np.linspace(0.3, 0.95, len(miners)) + spread * rng.standard_normal(len(miners)), 0, 1
    )
    return out.tolist()


@dataclass
class RecordedDb:
    """A database holding a recorded subnet (the web fixtures share one per module)."""

    url: str
    rec: Recorded


async def record_subnet(engine: Engine, *, cycles: int = 4, fail_cycle: int | None = 2) -> Recorded:
    """Record `cycles` hourly cycles (cycle `fail_cycle`, 0-based, fails on chain)."""
    hp = SubnetHyperparameters(tempo=20, weights_rate_limit=5, activity_cutoff=5000)
    chain = LocalChain(netuid=NET, max_uids=64, hyperparameters=hp, seed=5)
    chain.register(VALIDATOR, "val-coldkey", 10_000.0)
    honest = chain.register_many(
        [f"miner-{i}" for i in range(MINERS - FARM)],
        [f"coldkey-{i}" for i in range(MINERS - FARM)],
    )
    farm = chain.register_many([f"farm-{i}" for i in range(FARM)], ["farm-coldkey"] * FARM)
    idle = chain.register("idle-miner", "idle-coldkey")
    chain.refresh_permits()
    rec = Recorded(chain, miners=[*honest, *farm], farm=list(farm), idle=idle)
    settings = Settings(
        _env_file=None, netuid=NET, submission_backoff_seconds=0.0, submission_max_attempts=2
    )
    ctx = CycleContext(
        engine=engine, chain=chain, clock=chain.clock, validator_hotkey=VALIDATOR, settings=settings
    )
    rng = np.random.default_rng(11)
    for k in range(cycles):
        now = chain.clock.now()
        await sync_nodes(engine, chain, NET, now=now)
        n = chain.n
        at = now - timedelta(minutes=30)
        record_scores(
            engine,
            "weather",
            f"final_weather_scores_{k}",
            _scores(rng, n, rec.miners, 0.03),
            at,
            "completed",
        )
        record_scores(
            engine, "geomagnetic", f"geo_{k}", _scores(rng, n, rec.miners, 0.05), at, "completed"
        )
        record_scores(
            engine,
            "soil_moisture_region_1",
            f"soil_{k}",
            _scores(rng, n, rec.miners, 0.05),
            at,
            "completed",
        )
        if k == fail_cycle:
            chain.inject_rejections(2, ChainError.MAX_WEIGHT_EXCEEDED)
        rec.results.append(await run_cycle(ctx))
        await chain.clock.sleep(3600)
        await apply_epoch_results(engine, chain, NET, VALIDATOR, chain.clock.now())
        refresh_all(engine, chain.clock.now())
    return rec
