"""`minertrace run --shadow`'s service: shadow cycles and chain watching, nothing submitted."""

from __future__ import annotations

from datetime import datetime, timedelta

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from minertrace.config import load_settings
from minertrace.observe import Metrics
from minertrace.sim.subnet import SimParams, SimulatedSubnet
from minertrace.validator.service import Job, Service

PEER = "peer-honest-0"


async def test_shadow_service_watches_a_validator_with_its_own_loop(
    engine: Engine, migrated_db_url: str
) -> None:
    sim = SimulatedSubnet.create(
        SimParams(n_miners=24, n_validators=4, seed=2, duration_seconds=3 * 3600.0)
    )
    settings = load_settings(
        database_url=migrated_db_url,
        shadow=True,
        shadow_watch_seconds=600,
        cycle_interval_seconds=3600,
        node_sync_interval_seconds=300,
    )

    async def step(now: datetime) -> object:
        return sim.step(engine, now)

    # The honest peer sets its own weights (a noisy view of quality, not Gaia's rules).
    service = Service(
        engine=engine,
        chain=sim.chain,
        clock=sim.chain.clock,
        settings=settings,
        validator_hotkey=PEER,
        netuid=sim.chain.netuid,
        extra_jobs=[Job("simulator", 600.0, step)],
    )
    metrics = Metrics()
    service.attach_metrics(metrics)
    start = sim.chain.clock.now()
    counters = await service.run(until=start + timedelta(hours=3))
    assert counters.runs["observe"] > 0
    assert counters.cycle_statuses["computed"] + counters.cycle_statuses["skipped"] >= 2
    assert service.shadow is not None
    assert service.shadow.metrics.observations > 0
    # The shadow's counters reach Prometheus: every observation here is a mismatch.
    exported = {
        (s.name, tuple(s.labels.items())): s.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for s in family.samples
    }
    assert exported[("minertrace_shadow_cycles_total", ())] == service.shadow.metrics.cycles
    mismatches = exported[("minertrace_shadow_observations_total", (("result", "mismatch"),))]
    assert mismatches == service.shadow.metrics.mismatches > 0
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT status, verification, block_number, attempts, consensus_block"
                " FROM weight_submissions"
                " WHERE validator_hotkey = :h ORDER BY id"
            ),
            {"h": PEER},
        ).all()
        ours = conn.execute(
            text("SELECT count(*) FROM weight_submissions WHERE validator_hotkey <> :h"),
            {"h": PEER},
        ).scalar()
    assert ours == 0
    observed = [r for r in rows if r.status == "observed"]
    assert observed
    assert all(r.attempts == [] for r in rows)  # nothing was submitted
    assert all(r.verification["match"] is False for r in observed)
    assert all(r.verification["differing_count"] > 0 for r in observed)
    # Chain integration treats observed weights as in force from their block.
    assert any(r.consensus_block is not None for r in observed)
    assert all(r.consensus_block >= r.block_number for r in observed if r.consensus_block)
    # The validator minertrace would run for never set weights.
    me = next(
        n for n in await sim.chain.neurons(sim.chain.netuid) if n.hotkey == sim.validator_hotkey
    )
    assert me.last_update == 0
