"""The validator service on a LocalChain and real PostgreSQL, at full simulated speed."""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text

from minertrace.config import Settings, load_settings
from minertrace.sim.subnet import SimParams, SimulatedSubnet
from minertrace.validator import service as service_module
from minertrace.validator.lock import HotkeyLock, LockHeldError, lock_key
from minertrace.validator.node_sync import sync_nodes
from minertrace.validator.service import Job, Service

HOUR = 3600.0


def _settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "cycle_interval_seconds": 3600,
        "node_sync_interval_seconds": 300,
        "stats_refresh_interval_seconds": 3600,
        "cleanup_frequency_hours": 1,
        "retention_days": 30,
    }
    values.update(overrides)
    return load_settings(**values)


def _service(engine: Engine, sim: SimulatedSubnet, settings: Settings, **kwargs: Any) -> Service:
    async def step(now: datetime) -> object:
        return sim.step(engine, now)

    return Service(
        engine=engine,
        chain=sim.chain,
        clock=sim.chain.clock,
        settings=settings,
        validator_hotkey=kwargs.pop("hotkey", sim.validator_hotkey),
        netuid=sim.chain.netuid,
        extra_jobs=[Job("simulator", 600.0, step)],
        **kwargs,
    )


def _sim(seed: int = 1, miners: int = 24) -> SimulatedSubnet:
    return SimulatedSubnet.create(
        SimParams(n_miners=miners, n_validators=4, seed=seed, duration_seconds=6 * HOUR)
    )


def _insert_submission(engine: Engine, hotkey: str, at: datetime) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    """
                    INSERT INTO weight_submissions (validator_hotkey, netuid, computed_at, n_uids,
                        config, score_rows, scalars, data_quality, weights_produced,
                        rank_based_fallback, status)
                    VALUES (:h, 1, :at, 0, '{}', '[]', '{}', '{}', false, false, 'skipped')
                    RETURNING id
                    """
                ),
                {"h": hotkey, "at": at},
            ).scalar_one()
        )


async def test_hours_of_service(engine: Engine, migrated_db_url: str, monkeypatch: Any) -> None:
    sim = _sim()
    start = sim.start
    old = _insert_submission(engine, "someone-else", start - timedelta(days=40))
    recent = _insert_submission(engine, "someone-else", start - timedelta(days=1))
    syncs: list[int] = []
    real_sync = sync_nodes

    async def recording_sync(*args: Any, **kwargs: Any) -> Any:
        syncs.append(sim.chain.height)
        return await real_sync(*args, **kwargs)

    monkeypatch.setattr(service_module, "sync_nodes", recording_sync)
    service = _service(engine, sim, _settings(migrated_db_url))
    counters = await service.run(until=start + timedelta(hours=4))

    assert not counters.failures
    # Cycles at 0, 1, 2 and 3 h, every one submitted and read back.
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT status, block_number, submitted_uids, submitted_u16, consensus_block "
                "FROM weight_submissions WHERE validator_hotkey = :h ORDER BY id"
            ),
            {"h": sim.validator_hotkey},
        ).all()
    assert [r.status for r in rows] == ["verified"] * 4
    assert all(r.block_number is not None for r in rows)
    last = rows[-1]
    validator_uid = sim.chain.uid_of(sim.validator_hotkey)
    assert validator_uid is not None
    on_chain = await sim.chain.weights_of(sim.chain.netuid, validator_uid)
    sent = {u: w for u, w in zip(last.submitted_uids, last.submitted_u16, strict=True) if w}
    assert on_chain == sent

    # An epoch every tempo (360) blocks; a node sync in the block of each epoch.
    tempo = (await sim.chain.hyperparameters(sim.chain.netuid)).tempo
    epochs = list(range(tempo, sim.chain.height + 1, tempo))
    assert counters.epochs == epochs
    for block in epochs:
        assert any(block <= h <= block + 1 for h in syncs), (block, syncs)
    # ... and every 300 s (25 blocks) in between: at least one sync per 25-block window.
    assert len(syncs) >= 4 * 12
    # Chain integration: an epoch writes no stats row; each cycle's row write folds in the
    # last epoch recorded before it (node_table's incentive, the rank, the epoch block).
    neurons = {n.uid: n for n in await sim.chain.neurons(sim.chain.netuid)}
    with engine.connect() as conn:
        stats = conn.execute(
            text(
                "SELECT miner_uid, incentive, consensus_block, total_tasks_attempted, "
                "weight_submission_block FROM miner_performance_stats "
                "WHERE period_type = 'daily'"
            )
        ).all()
        node_incentive = {
            r.uid: r.incentive for r in conn.execute(text("SELECT uid, incentive FROM node_table"))
        }
    assert stats
    recorded = [r.consensus_block for r in rows[:-1] if r.consensus_block is not None]
    folded = [r for r in stats if r.weight_submission_block == last.block_number]
    assert folded and {r.consensus_block for r in folded} == {max(recorded)}
    assert all(r.incentive is not None for r in folded)
    miners = set(sim.miner_uids.tolist())
    for r in stats:
        # The period statistics ran: every miner answered something today.
        assert (r.total_tasks_attempted > 0) == (r.miner_uid in miners)
    assert node_incentive == pytest.approx({u: n.incentive for u, n in neurons.items()})
    # consensus_block is set on the rows whose weights were in force at an epoch.
    assert sum(r.consensus_block is not None for r in rows) >= 2

    assert counters.runs["stats"] == 4
    assert counters.runs["retention"] == 4
    with engine.connect() as conn:
        ids = set(conn.execute(text("SELECT id FROM weight_submissions")).scalars())
    assert old not in ids and recent in ids


async def test_a_failing_step_never_stops_cycles(
    engine: Engine, migrated_db_url: str, monkeypatch: Any
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("statistics are down")

    monkeypatch.setattr(service_module, "refresh_all", broken)
    monkeypatch.setattr(service_module, "cleanup", broken)
    sim = _sim(seed=2, miners=12)
    service = _service(engine, sim, _settings(migrated_db_url))
    counters = await service.run(until=sim.start + timedelta(hours=2))
    assert counters.failures["stats"] == 2
    assert counters.failures["retention"] == 2
    assert counters.cycle_statuses == {"verified": 2}
    assert counters.runs["node_sync"] >= 2 * 12


async def test_second_instance_with_the_same_hotkey_does_not_set_weights(
    engine: Engine, migrated_db_url: str
) -> None:
    sim = _sim(seed=3, miners=12)
    settings = _settings(migrated_db_url)
    other = HotkeyLock(engine, sim.validator_hotkey)
    assert other.acquire()
    try:
        service = _service(engine, sim, settings)
        with pytest.raises(LockHeldError, match="already sets weights"):
            await service.run(until=sim.start + timedelta(hours=1))
        # A different hotkey is not blocked by it.
        different = HotkeyLock(engine, "another-validator")
        assert different.acquire()
        different.release()
    finally:
        other.release()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM weight_submissions")).scalar() == 0
    assert sim.chain.weights_matrix()[1].sum() == 0

    # Once the other holder is gone the service runs, and holds the lock while it does.
    held_elsewhere: list[bool] = []

    def probe(_now: datetime) -> None:
        rival = HotkeyLock(engine, sim.validator_hotkey)
        held_elsewhere.append(not rival.acquire())
        rival.release()

    service = _service(engine, sim, settings, progress=probe)
    counters = await service.run(until=sim.start + timedelta(hours=1))
    assert counters.cycle_statuses == {"verified": 1}
    assert held_elsewhere and all(held_elsewhere)
    assert HotkeyLock(engine, sim.validator_hotkey).acquire()


def test_lock_keys_differ_per_hotkey_and_fit_bigint() -> None:
    keys = {lock_key(f"hotkey-{i}") for i in range(1000)}
    assert len(keys) == 1000
    assert all(-(2**63) <= k < 2**63 for k in keys)
    assert lock_key("5F3sa2TJAWMqDhXG6jhV4N8ko9SxwGy8TpaNS1repo5EYjQX") == lock_key(
        "5F3sa2TJAWMqDhXG6jhV4N8ko9SxwGy8TpaNS1repo5EYjQX"
    )


async def test_stop_finishes_the_current_pass_and_releases(
    engine: Engine, migrated_db_url: str
) -> None:
    sim = _sim(seed=4, miners=12)
    passes: list[datetime] = []
    service: Service

    def stop_after_first(now: datetime) -> None:
        passes.append(now)
        service.stop("test")

    service = _service(engine, sim, _settings(migrated_db_url), progress=stop_after_first)
    counters = await service.run(until=sim.start + timedelta(hours=5))
    assert len(passes) == 1
    assert counters.cycle_statuses == {"verified": 1}
    assert sim.chain.clock.now() < sim.start + timedelta(minutes=10)
    lock = HotkeyLock(engine, sim.validator_hotkey)
    assert lock.acquire()
    lock.release()


@pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_cleanly(
    engine: Engine, migrated_db_url: str, signum: signal.Signals
) -> None:
    sim = _sim(seed=5, miners=12)
    passes: list[datetime] = []

    def terminate_once(now: datetime) -> None:
        passes.append(now)
        if len(passes) == 2:
            os.kill(os.getpid(), signum)

    service = _service(engine, sim, _settings(migrated_db_url), progress=terminate_once)
    service.install_signal_handlers()
    counters = await service.run(until=sim.start + timedelta(hours=5))
    assert service.stopping
    assert len(passes) in (2, 3)  # the signal lands at the next await, within a pass
    assert sum(counters.cycle_statuses.values()) == 1
    with engine.connect() as conn:
        statuses = conn.execute(text("SELECT status FROM weight_submissions")).scalars().all()
    assert statuses == ["verified"]
    assert json.dumps(counters.snapshot())


async def test_realtime_off_leaves_stats_rows_to_the_period_job(
    engine: Engine, migrated_db_url: str
) -> None:
    sim = _sim(seed=3)
    start = sim.start
    # Cycles every hour, the period job every 2 h: between them the cycle's values wait in
    # weight_submissions only.
    settings = _settings(
        migrated_db_url, enable_realtime_updates=False, stats_refresh_interval_seconds=7200
    )
    service = _service(engine, sim, settings)
    await service.run(until=start + timedelta(hours=1, minutes=30))

    with engine.connect() as conn:
        cycles = conn.execute(
            text("SELECT id, status FROM weight_submissions WHERE validator_hotkey = :h"),
            {"h": sim.validator_hotkey},
        ).all()
        filled = conn.execute(
            text(
                "SELECT count(*) FROM miner_performance_stats "
                "WHERE submitted_weight IS NOT NULL OR scoring_pathway IS NOT NULL"
            )
        ).scalar_one()
    # Two cycles ran (0 h and 1 h); the period job ran once, at 0 h, right after the first
    # cycle, and filled its values; the second cycle's values are not in the stats rows yet.
    assert len(cycles) == 2
    assert filled > 0
    with engine.connect() as conn:
        latest = conn.execute(
            text("SELECT submitted_uids, submitted_weights FROM weight_submissions WHERE id = :id"),
            {"id": max(c.id for c in cycles)},
        ).one()
        stored: dict[int, float] = dict(
            conn.execute(
                text(
                    "SELECT miner_uid, submitted_weight FROM miner_performance_stats "
                    "WHERE period_type = 'daily' AND submitted_weight IS NOT NULL"
                )
            ).all()
        )
    latest_weights = dict(zip(latest.submitted_uids, latest.submitted_weights, strict=True))
    first = await _first_cycle_weights(engine, sim.validator_hotkey)
    assert stored == pytest.approx({u: first[u] for u in stored})
    assert stored != pytest.approx({u: latest_weights[u] for u in stored})

    # The next period job carries the latest cycle into the rows.
    await service.run(until=start + timedelta(hours=2, minutes=30))
    with engine.connect() as conn:
        newest = conn.execute(
            text(
                "SELECT submitted_uids, submitted_weights FROM weight_submissions "
                "WHERE validator_hotkey = :h ORDER BY id DESC LIMIT 1"
            ),
            {"h": sim.validator_hotkey},
        ).one()
        stored = dict(
            conn.execute(
                text(
                    "SELECT miner_uid, submitted_weight FROM miner_performance_stats "
                    "WHERE period_type = 'daily' AND submitted_weight IS NOT NULL"
                )
            ).all()
        )
    newest_weights = dict(zip(newest.submitted_uids, newest.submitted_weights, strict=True))
    assert stored
    assert stored == pytest.approx({u: newest_weights[u] for u in stored})


async def _first_cycle_weights(engine: Engine, hotkey: str) -> dict[int, float]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT submitted_uids, submitted_weights FROM weight_submissions "
                "WHERE validator_hotkey = :h ORDER BY id LIMIT 1"
            ),
            {"h": hotkey},
        ).one()
    return dict(zip(row.submitted_uids, row.submitted_weights, strict=True))


async def test_chain_integration_off_and_cleanup_frequency(
    engine: Engine, migrated_db_url: str
) -> None:
    sim = _sim(seed=4)
    start = sim.start
    old = _insert_submission(engine, "someone-else", start - timedelta(days=3))
    recent = _insert_submission(engine, "someone-else", start - timedelta(hours=12))
    settings = _settings(
        migrated_db_url,
        enable_chain_integration=False,
        cleanup_frequency_hours=2,
        retention_days=1,
    )
    service = _service(engine, sim, settings)
    counters = await service.run(until=start + timedelta(hours=4))

    assert counters.epochs, "the run must cross epochs for this test to mean anything"
    with engine.connect() as conn:
        chain_values = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE incentive IS NOT NULL OR consensus_rank IS NOT NULL "
                "OR consensus_block IS NOT NULL), count(*) FROM miner_performance_stats"
            )
        ).one()
        in_force = conn.execute(
            text("SELECT count(*) FROM weight_submissions WHERE consensus_block IS NOT NULL")
        ).scalar_one()
        ids = set(conn.execute(text("SELECT id FROM weight_submissions")).scalars())
    # Without chain integration nothing of the epoch reaches the stats or submission rows.
    assert chain_values[1] > 0
    assert chain_values[0] == 0
    assert in_force == 0
    # A cleanup every 2 h over 4 h: at 0 h and 2 h; with 1 day of retention.
    assert counters.runs["retention"] == 2
    assert old not in ids and recent in ids
