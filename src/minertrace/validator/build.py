"""Wiring of the validator service: database schema, chain, clock, simulator, service.

`build_service(settings, db)` is what `minertrace run` starts: it migrates the database to
head, chooses the chain (an in-process `LocalChain` with simulated miners when no network is
configured, else `BittensorChain` through the SDK), picks the clock that goes with it and
constructs the `Service`, which takes the hotkey's advisory lock when it runs. Errors a user
can fix (a missing SDK, a wallet that does not exist, an unreadable chain-state file) raise
`BuildError` with a one-line message; nothing is printed here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from minertrace.chain.types import Chain
from minertrace.clock import Clock, PacedClock, SystemClock
from minertrace.config import Settings
from minertrace.db.database import Database
from minertrace.db.migrate import upgrade
from minertrace.sim.subnet import SimParams, SimulatedSubnet
from minertrace.validator.service import Job, Service

logger = logging.getLogger(__name__)

SIM_STEP_SECONDS = 600.0
"""How often the simulator writes score rows, in simulated seconds."""

MISSING_SDK_HINT = "the real chain needs the bittensor extra: pip install 'minertrace[bittensor]'"


CHAIN_STATE_SAVE_SECONDS = 60.0
"""Least wall time between two periodic saves of the chain state (also saved at each
simulator step at most, and on exit)."""


class BuildError(RuntimeError):
    """The service cannot be wired; the message says why in one line.

    `input_error` is True when the user's settings or files are at fault (a wallet, a
    chain-state path), False for the environment (a missing SDK).
    """

    def __init__(self, message: str, *, input_error: bool = False) -> None:
        super().__init__(message)
        self.input_error = input_error


@dataclass(frozen=True)
class LocalOptions:
    """How to build the simulated subnet when no network is configured."""

    chain_state: Path | None = None
    """Resume the subnet from this file if it exists; `BuiltService.save_state` writes it."""
    speed: float = 1.0
    """Simulated seconds per wall second."""
    miners: int = 64
    validators: int = 4
    seed: int = 0


@dataclass
class BuiltService:
    """A wired service and what the caller needs to report on it and shut it down."""

    service: Service
    chain: Chain
    clock: Clock
    validator_hotkey: str
    netuid: int
    chain_label: str
    """`LocalChain`, or the network or endpoint of the real chain."""
    sim: SimulatedSubnet | None = None
    chain_state: Path | None = None
    migrations: list[str] = field(default_factory=list)

    def save_state(self) -> Path | None:
        """Save the simulated subnet to its chain-state file (atomically); the path or None."""
        if self.sim is None or self.chain_state is None:
            return None
        write_atomically(self.chain_state, self.sim.to_json())
        return self.chain_state

    async def close(self) -> None:
        """Close the chain's connection, if it has one."""
        close = getattr(self.chain, "close", None)
        if close is not None:
            await close()

    def until(self, hours: float | None) -> datetime | None:
        """The clock time `hours` from now (None: run until stopped)."""
        if hours is None:
            return None
        return self.clock.now() + timedelta(hours=hours)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` through a synced temporary file and a rename, so a crash (or a
    power loss) leaves the old file or the new one, never half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def check_chain_state(path: Path) -> None:
    """Raise `BuildError` now, not at the first save, when `path` cannot be written."""
    parent = path.parent
    if path.exists() and path.is_dir():
        raise BuildError(f"--chain-state {path} is a directory", input_error=True)
    if not parent.is_dir():
        raise BuildError(
            f"--chain-state {path}: the directory {parent} does not exist", input_error=True
        )
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BuildError(f"--chain-state {path} is not writable", input_error=True)


def build_service(
    settings: Settings, db: Database, local: LocalOptions | None = None
) -> BuiltService:
    """Migrate `db` to head and wire the service for the settings' chain.

    `local` applies only to the LocalChain (no `subtensor_network`/endpoint configured).
    Raises `BuildError` for problems the user can fix.
    """
    # The chain (wallet, chain-state file) is checked before any migration runs: a bad
    # wallet must not leave a migrated database behind.
    if settings.uses_local_chain:
        built = _local(settings, db, local or LocalOptions())
    else:
        built = _bittensor(settings, db)
    built.migrations = upgrade(db.engine).lines()
    for line in built.migrations:
        logger.info("migrations: %s", line)
    return built


def _local(settings: Settings, db: Database, options: LocalOptions) -> BuiltService:
    path = options.chain_state
    if path is not None:
        check_chain_state(path)
    if path is not None and path.exists():
        try:
            sim = SimulatedSubnet.from_json(path.read_text())
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BuildError(
                f"{path} is not a simulated subnet saved by `minertrace run --chain-state` "
                f"({exc}); nothing was changed",
                input_error=True,
            ) from None
        logger.info("resumed the simulated subnet from %s", path)
    else:
        sim = SimulatedSubnet.create(
            SimParams(n_miners=options.miners, n_validators=options.validators, seed=options.seed)
        )
    engine = db.engine

    async def sim_step(now: datetime) -> object:
        return sim.step(engine, now)

    jobs = [Job("simulator", SIM_STEP_SECONDS, sim_step)]
    if path is not None:
        jobs.append(Job("chain_state", SIM_STEP_SECONDS, _periodic_save(sim, path)))
    clock = PacedClock(sim.chain.clock, options.speed)
    service = Service(
        engine=engine,
        chain=sim.chain,
        clock=clock,
        settings=settings,
        validator_hotkey=sim.validator_hotkey,
        netuid=sim.chain.netuid,
        extra_jobs=jobs,
    )
    return BuiltService(
        service=service,
        chain=sim.chain,
        clock=clock,
        validator_hotkey=sim.validator_hotkey,
        netuid=sim.chain.netuid,
        chain_label="LocalChain",
        sim=sim,
        chain_state=path,
    )


def _periodic_save(sim: SimulatedSubnet, path: Path) -> Callable[[datetime], Awaitable[object]]:
    """A job saving the subnet atomically, at most once per `CHAIN_STATE_SAVE_SECONDS` of
    wall time, so a SIGKILL loses at most that much (or one simulator step) of history."""
    last = time.monotonic()

    async def save(_now: datetime) -> object:
        nonlocal last
        if time.monotonic() - last < CHAIN_STATE_SAVE_SECONDS:
            return None
        last = time.monotonic()
        await asyncio.to_thread(write_atomically, path, sim.to_json())
        return path

    return save


def _bittensor(settings: Settings, db: Database) -> BuiltService:
    try:
        from minertrace.chain.bittensor import BittensorChain
    except ImportError:
        raise BuildError(MISSING_SDK_HINT) from None
    network = settings.subtensor_chain_endpoint or settings.subtensor_network
    if network is None:
        raise BuildError("no network configured (--subtensor.network or chain_endpoint)")
    try:
        chain = BittensorChain.from_settings(
            network, settings.wallet_name, settings.wallet_hotkey, settings.wallet_path
        )
    except (FileNotFoundError, ValueError) as exc:
        raise BuildError(str(exc), input_error=True) from None
    clock = SystemClock()
    hotkey = chain.hotkey
    service = Service(
        engine=db.engine,
        chain=chain,
        clock=clock,
        settings=settings,
        validator_hotkey=hotkey,
        netuid=settings.netuid,
    )
    return BuiltService(
        service=service,
        chain=chain,
        clock=clock,
        validator_hotkey=hotkey,
        netuid=settings.netuid,
        chain_label=network,
    )


__all__ = [
    "CHAIN_STATE_SAVE_SECONDS",
    "MISSING_SDK_HINT",
    "SIM_STEP_SECONDS",
    "BuildError",
    "BuiltService",
    "LocalOptions",
    "build_service",
    "check_chain_state",
    "write_atomically",
]
