"""`build_service`: the wiring `minertrace run` starts, against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from minertrace.chain.local import LocalChain
from minertrace.clock import PacedClock, SystemClock
from minertrace.config import Settings, load_settings
from minertrace.db import migrate
from minertrace.db.database import Database
from minertrace.sim.subnet import SimulatedSubnet
from minertrace.validator import build as build_module
from minertrace.validator.build import (
    MISSING_SDK_HINT,
    BuildError,
    LocalOptions,
    build_service,
)

FAST = LocalOptions(speed=1e9, miners=8, validators=1, seed=3)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return load_settings(database_url=db_url)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database.open(db_url)
    yield database
    database.close()


def test_local_chain_wiring(settings: Settings, db: Database) -> None:
    built = build_service(settings, db, FAST)
    assert migrate.current(db.engine) == migrate.head_revision()
    assert built.migrations, "the migrations' report is kept for the caller"
    assert isinstance(built.chain, LocalChain)
    assert built.sim is not None and built.chain is built.sim.chain
    assert built.chain_label == "LocalChain"
    assert built.validator_hotkey == built.sim.validator_hotkey
    assert built.netuid == built.chain.netuid
    assert isinstance(built.clock, PacedClock) and built.clock.speed == 1e9
    assert built.service.clock is built.clock and built.service.chain is built.chain
    assert built.service.validator_hotkey == built.validator_hotkey
    assert [job.name for job in built.service.extra_jobs] == ["simulator"]
    assert built.save_state() is None  # no --chain-state given
    assert built.until(None) is None
    assert built.until(2.0) == built.clock.now() + timedelta(hours=2)


def test_local_service_runs_and_resumes_from_its_state(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    state = tmp_path / "chain.json"
    options = LocalOptions(chain_state=state, speed=1e9, miners=8, validators=1, seed=3)
    built = build_service(settings, db, options)
    counters = asyncio.run(built.service.run(until=built.until(2.0)))
    assert sum(counters.cycle_statuses.values()) >= 1
    assert counters.runs["simulator"] >= 1
    assert built.save_state() == state and state.exists()
    assert built.sim is not None
    height = built.sim.chain.height
    assert height > 0

    again = build_service(settings, db, options)
    assert again.sim is not None and again.sim.chain.height == height
    assert again.validator_hotkey == built.validator_hotkey


def test_the_chain_state_is_saved_periodically_while_running(
    settings: Settings, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "chain.json"
    options = LocalOptions(chain_state=state, speed=1e9, miners=8, validators=1, seed=3)
    built = build_service(settings, db, options)
    assert built.sim is not None
    (job,) = [j for j in built.service.extra_jobs if j.name == "chain_state"]
    now = built.clock.now()

    async def save() -> object:
        return await job.action(now)

    # Within the wall-time spacing nothing is written.
    assert asyncio.run(save()) is None and not state.exists()
    monkeypatch.setattr(build_module, "CHAIN_STATE_SAVE_SECONDS", 0.0)
    built.sim.chain.advance(7)
    assert asyncio.run(save()) == state
    saved = SimulatedSubnet.from_json(state.read_text())
    assert saved.chain.height == built.sim.chain.height
    assert not state.with_suffix(".json.tmp").exists()  # written through a rename
    # A SIGKILL after this loses only what followed the save: the file is the last one.
    built.sim.chain.advance(5)
    assert SimulatedSubnet.from_json(state.read_text()).chain.height == saved.chain.height
    assert asyncio.run(save()) == state
    assert SimulatedSubnet.from_json(state.read_text()).chain.height == built.sim.chain.height


def test_bad_chain_state_is_a_build_error(settings: Settings, db: Database, tmp_path: Path) -> None:
    state = tmp_path / "chain.json"
    state.write_text('{"not": "a subnet"}')
    with pytest.raises(BuildError, match="is not a simulated subnet"):
        build_service(settings, db, LocalOptions(chain_state=state))
    assert state.read_text() == '{"not": "a subnet"}'


def test_real_chain_without_the_sdk_is_a_build_error(
    db_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [
        m for m in sys.modules if m.startswith(("minertrace.chain.bittensor", "bittensor"))
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "bittensor", None)
    settings = load_settings(["--subtensor.network", "finney"], database_url=db_url)
    with pytest.raises(BuildError) as caught:
        build_service(settings, db)
    assert str(caught.value) == MISSING_SDK_HINT
    assert "minertrace[bittensor]" in MISSING_SDK_HINT


def test_real_chain_with_a_missing_wallet_is_a_build_error(
    db_url: str, db: Database, tmp_path: Path
) -> None:
    pytest.importorskip("bittensor")
    settings = load_settings(
        ["--subtensor.network", "finney", "--wallet.path", str(tmp_path), "--wallet.name", "nope"],
        database_url=db_url,
    )
    with pytest.raises(BuildError, match="has no hotkey"):
        build_service(settings, db)


def test_paced_clock_refuses_a_non_positive_speed() -> None:
    assert SystemClock().now().tzinfo is timezone.utc
    with pytest.raises(ValueError):
        PacedClock(SystemClock(), 0.0)
