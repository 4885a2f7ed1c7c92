"""The demo: a simulated subnet, the validator service at full speed, then the top miners.

Where the data goes: the PostgreSQL schema `minertrace_demo`, in the database of
`DATABASE_URL` when it is set, else in an embedded server under `<data_dir>/demo`. Every run
drops and recreates that schema first, so a second run starts clean (the simulated chain is
new each time, and yesterday's UIDs would not match it); the demo never touches the tables
of the default schema, so pointing it at a validator's database is safe. The data stays after
the run for `minertrace explain UID --demo`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from minertrace.config import Settings
from minertrace.db.database import Database
from minertrace.db.migrate import upgrade
from minertrace.sim.subnet import SimParams, SimulatedSubnet
from minertrace.store import TopMiner, recreate_schema, top_miners
from minertrace.validator.lock import HotkeyLock, LockHeldError
from minertrace.validator.service import Job, Service, ServiceCounters

logger = logging.getLogger(__name__)

DEMO_SCHEMA = "minertrace_demo"
SIM_STEP_SECONDS = 600.0


def open_demo_database(settings: Settings) -> Database:
    """The demo's database handle: every connection's search_path is the demo schema."""
    base = Database.open(settings.database_url, settings.data_dir / "demo", check=False)
    url = base.url.update_query_dict(
        {"options": f"-csearch_path={DEMO_SCHEMA} -csynchronous_commit=off"}
    )
    db = Database(url, embedded=base.embedded)
    base.embedded = None
    base.close()
    return db


DEMO_LOCK = f"minertrace-demo/{DEMO_SCHEMA}"
"""Name of the advisory lock a demo holds from before it resets its schema to its end."""


class DemoRunningError(LockHeldError):
    """Another demo is running on this database; nothing was touched."""


@contextmanager
def demo_lock(db: Database) -> Iterator[None]:
    """Hold the demo's advisory lock for the block; `DemoRunningError` if another demo has it.

    Taken before the schema is reset, so a second demo refuses without touching the first's
    data.
    """
    lock = HotkeyLock(db.engine, DEMO_LOCK)
    if not lock.acquire():
        raise DemoRunningError(
            f"another minertrace demo is running on this database (schema {DEMO_SCHEMA}); "
            "wait for it to finish"
        )
    try:
        yield
    finally:
        lock.release()


def reset_demo_schema(db: Database) -> None:
    """Drop and recreate the demo schema, then migrate it to head."""
    recreate_schema(db.engine, DEMO_SCHEMA)
    upgrade(db.engine)


@dataclass
class DemoResult:
    """What the demo run did."""

    counters: ServiceCounters
    sim: SimulatedSubnet
    simulated_seconds: float
    wall_seconds: float
    events: list[str] = field(default_factory=list)
    top: list[TopMiner] = field(default_factory=list)
    zero_example: int | None = None
    """A UID with zero weight worth explaining (a coldkey-farm member), if any."""


async def run_demo(
    db: Database,
    settings: Settings,
    *,
    days: float,
    miners: int,
    validators: int,
    seed: int,
    progress: Callable[[float], None] | None = None,
    top: int = 10,
) -> DemoResult:
    """Simulate `days` of a subnet with the validator service; `progress(fraction)` as it goes."""
    duration = days * 86400.0
    sim = SimulatedSubnet.create(
        SimParams(n_miners=miners, n_validators=validators, seed=seed, duration_seconds=duration)
    )
    sim.plan_demo_events()
    engine = db.engine
    events: list[str] = []

    async def sim_step(now: datetime) -> object:
        report = sim.step(engine, now)
        events.extend(report.events)
        return report

    start = sim.start
    until = start + timedelta(seconds=duration)

    def on_progress(now: datetime) -> None:
        if progress is not None:
            progress(min(1.0, (now - start).total_seconds() / duration) if duration else 1.0)

    service = Service(
        engine=engine,
        chain=sim.chain,
        clock=sim.chain.clock,
        settings=settings,
        validator_hotkey=sim.validator_hotkey,
        netuid=sim.chain.netuid,
        extra_jobs=[Job("simulator", SIM_STEP_SECONDS, sim_step)],
        progress=on_progress,
    )
    wall = time.perf_counter()
    counters = await service.run(until=until)
    wall = time.perf_counter() - wall
    return DemoResult(
        counters=counters,
        sim=sim,
        simulated_seconds=(sim.chain.clock.now() - start).total_seconds(),
        wall_seconds=wall,
        events=events,
        top=top_miners(engine, sim.validator_hotkey, top),
        zero_example=_farm_uid(sim),
    )


def _farm_uid(sim: SimulatedSubnet) -> int | None:
    big = [i for i, c in enumerate(sim.population.cluster.tolist()) if c == 1]
    return int(sim.miner_uids[big[0]]) if big else None


__all__ = [
    "DEMO_LOCK",
    "DEMO_SCHEMA",
    "DemoResult",
    "DemoRunningError",
    "demo_lock",
    "open_demo_database",
    "reset_demo_schema",
    "run_demo",
]
