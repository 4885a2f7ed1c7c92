"""What each pass of the service runs: settlements after cycles, verifications on new epochs
and cycles, node syncs that write only what changed, the seconds of each step."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from minertrace.chain.types import SubnetHyperparameters
from minertrace.config import Settings, load_settings
from minertrace.sim.subnet import SimParams, SimulatedSubnet
from minertrace.validator import service as service_module
from minertrace.validator.node_sync import NodeSyncReport, sync_nodes
from minertrace.validator.service import Job, Service
from tests.helpers.node_sync import assert_node_matches

HOUR = 3600.0

SUBMITTING = """
    INSERT INTO weight_submissions (validator_hotkey, netuid, computed_at, n_uids, config,
        score_rows, scalars, data_quality, weights_produced, rank_based_fallback, status)
    VALUES (:h, :n, :at, 0, '{}', '[]', '{}', '{}', true, false, 'submitting')
    RETURNING id
"""


def _settings(url: str) -> Settings:
    return load_settings(
        database_url=url,
        cycle_interval_seconds=3600,
        node_sync_interval_seconds=300,
        stats_refresh_interval_seconds=3600,
        cleanup_frequency_hours=1,
        retention_days=30,
    )


def _sim(**hp: Any) -> SimulatedSubnet:
    return SimulatedSubnet.create(
        SimParams(n_miners=12, n_validators=4, seed=3, duration_seconds=6 * HOUR),
        hyperparameters=SubnetHyperparameters(**hp) if hp else None,
    )


def _service(engine: Engine, sim: SimulatedSubnet, url: str, *extra: Job) -> Service:
    async def step(now: datetime) -> object:
        return sim.step(engine, now)

    return Service(
        engine=engine,
        chain=sim.chain,
        clock=sim.chain.clock,
        settings=_settings(url),
        validator_hotkey=sim.validator_hotkey,
        netuid=sim.chain.netuid,
        extra_jobs=[Job("simulator", 600.0, step), *extra],
    )


def _status(engine: Engine, ws_id: int) -> tuple[str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, error FROM weight_submissions WHERE id = :i"), {"i": ws_id}
        ).one()
    return str(row.status), row.error


async def test_a_row_left_open_mid_run_is_settled_after_the_next_cycle(
    engine: Engine, migrated_db_url: str
) -> None:
    sim = _sim()
    opened: list[int] = []
    seen: list[str] = []

    async def leave_open(now: datetime) -> object:
        # What a cycle that died between two writes leaves behind, 20 minutes into the run;
        # 20 minutes later, before the next cycle, it is still open.
        elapsed = now - sim.start
        if not opened and elapsed >= timedelta(minutes=20):
            with engine.begin() as conn:
                params = {"h": sim.validator_hotkey, "n": sim.chain.netuid, "at": now}
                opened.append(int(conn.execute(text(SUBMITTING), params).scalar_one()))
        elif opened and not seen and elapsed >= timedelta(minutes=40):
            seen.append(_status(engine, opened[0])[0])
        return None

    service = _service(engine, sim, migrated_db_url, Job("crash", 600.0, leave_open))
    counters = await service.run(until=sim.start + timedelta(minutes=90))
    assert opened and seen == ["submitting"]
    status, error = _status(engine, opened[0])
    assert status == "failed" and error is not None
    assert "ended before recording the outcome" in error
    cycles = sum(counters.cycle_statuses.values())
    assert cycles == 2 and counters.runs["reconcile"] == 1 + cycles


async def test_commit_reveal_rows_are_verified_on_the_epochs_after_them(
    engine: Engine, migrated_db_url: str
) -> None:
    sim = _sim(commit_reveal_enabled=True, reveal_period_epochs=1)
    service = _service(engine, sim, migrated_db_url)
    counters = await service.run(until=sim.start + timedelta(hours=4))
    assert not counters.failures
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT status, reveal_block, verification FROM weight_submissions "
                "WHERE validator_hotkey = :h ORDER BY id"
            ),
            {"h": sim.validator_hotkey},
        ).all()
    last_epoch = await sim.chain.last_epoch_block(sim.chain.netuid)
    revealed = [r for r in rows if r.reveal_block <= last_epoch]
    assert len(rows) == 4 and revealed
    # Each revealed commit was read back: the newest of an epoch verified, older ones
    # superseded; the ones still waiting for their reveal are untouched.
    assert revealed[-1].status == "verified" and revealed[-1].verification["match"] is True
    for r in revealed[:-1]:
        assert r.status == "verified" or r.verification["superseded"] is True
    for r in rows[len(revealed) :]:
        assert r.status == "committed" and r.verification is None
    cycles = sum(counters.cycle_statuses.values())
    assert counters.runs["verify"] <= 1 + len(counters.epochs) + cycles


async def test_node_syncs_write_what_changed_and_keep_the_table_true(
    engine: Engine, migrated_db_url: str, monkeypatch: Any
) -> None:
    sim = _sim()
    reports: list[tuple[datetime, bool, NodeSyncReport]] = []
    last_metagraph: list[Any] = []

    async def recording_sync(*args: Any, **kwargs: Any) -> NodeSyncReport:
        report = await sync_nodes(*args, **kwargs)
        reports.append((kwargs["now"], kwargs.get("full", False), report))
        last_metagraph[:] = await sim.chain.neurons(sim.chain.netuid)
        return report

    monkeypatch.setattr(service_module, "sync_nodes", recording_sync)
    service = _service(engine, sim, migrated_db_url)
    counters = await service.run(until=sim.start + timedelta(hours=3))
    assert not counters.failures
    assert len(reports) == counters.runs["node_sync"]
    # Right after each epoch the sync is a full one; between epochs most change nothing.
    assert sum(full for _, full, _ in reports) == len(counters.epochs) > 0
    quiet = [r for _, full, r in reports if not full and r.unchanged]
    assert quiet and all(r.updated_uids == [] for r in quiet)
    assert all(r.stale_rows_deleted is None for r in quiet)
    # node_table is the metagraph of the last sync, and its time is the latest sync's.
    with engine.connect() as conn:
        rows = {r.uid: dict(r._mapping) for r in conn.execute(text("SELECT * FROM node_table"))}
    assert len(rows) == len(last_metagraph)
    for n in last_metagraph:
        assert_node_matches(rows[n.uid], n)
    assert max(r["last_updated"] for r in rows.values()) == reports[-1][0]
    # Each step's seconds are counted under its own name.
    assert set(counters.seconds) == set(counters.runs)
    assert all(s >= 0 for s in counters.seconds.values())
