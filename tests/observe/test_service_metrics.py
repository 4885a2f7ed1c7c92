"""The service on a LocalChain at simulated speed, scraped over HTTP while it runs.

The values must move as the run goes (cycles counted, step and query durations observed,
data gaps measured, the lock held), and a database outage in the middle of the run must show
in the metrics and in a bounded number of log lines — nothing of the database is mocked: it
stops accepting connections and its sessions are terminated, then it comes back.
"""

from __future__ import annotations

import io
import logging
import math
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, text

from minertrace.config import load_settings
from minertrace.observe import Metrics, make_handler, start_exporter
from minertrace.sim.subnet import SimParams, SimulatedSubnet
from minertrace.validator.service import Job, Service

HOUR = 3600.0
LEVELS = ("DEBUG ", "INFO ", "WARNING ", "ERROR ", "CRITICAL ")
TRACEBACK = "Traceback (most recent call last):"
Samples = dict[str, float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = resp.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}" if labels else s.name] = float(s.value)
    return out


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = make_handler("text", stream=out)
    root = logging.getLogger("minertrace")
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(old_level)


class Outage:
    """Refuse new connections to the test database and terminate its sessions; undo."""

    def __init__(self, engine: Engine, admin_url: str) -> None:
        self.name = engine.url.database
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")

    def down(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
                {"d": self.name},
            )

    def up(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))

    def close(self) -> None:
        self.up()
        self.admin.dispose()


async def test_metrics_move_and_an_outage_shows(
    engine: Engine, migrated_db_url: str, pg_server: Any, captured: io.StringIO
) -> None:
    sim = SimulatedSubnet.create(
        SimParams(n_miners=16, n_validators=3, seed=5, duration_seconds=12 * HOUR)
    )
    settings = load_settings(
        database_url=migrated_db_url,
        cycle_interval_seconds=1800,
        node_sync_interval_seconds=300,
        stats_refresh_interval_seconds=3600,
        cleanup_frequency_hours=2,
    )

    async def sim_step(now: datetime) -> object:
        return sim.step(engine, now)

    metrics = Metrics()
    service = Service(
        engine=engine,
        chain=sim.chain,
        clock=sim.chain.clock,
        settings=settings,
        validator_hotkey=sim.validator_hotkey,
        netuid=sim.chain.netuid,
        extra_jobs=[Job("simulator", 600.0, sim_step)],
        metrics=metrics,
    )
    server = start_exporter(metrics.registry, 0)
    outage = Outage(engine, str(pg_server.url("postgres")))
    start = sim.start
    down_at, up_at = start + timedelta(hours=3), start + timedelta(hours=4, minutes=10)
    scrapes: list[tuple[datetime, Samples]] = []
    log_marks: dict[str, int] = {}
    state = {"down": False, "was_down": False}

    def progress(now: datetime) -> None:
        scrapes.append((now, scrape(server.url)))
        if not state["down"] and not state["was_down"] and now >= down_at:
            log_marks["down"] = len(captured.getvalue())
            outage.down()
            state["down"] = state["was_down"] = True
        elif state["down"] and now >= up_at:
            outage.up()
            state["down"] = False
            log_marks["up"] = len(captured.getvalue())

    service._progress = progress
    try:
        await service.run(until=start + timedelta(hours=6))
        final = scrape(server.url)
    finally:
        server.close()
        outage.close()

    def at(when: datetime) -> Samples:
        return [s for t, s in scrapes if t <= when][-1]

    before, during = at(down_at - timedelta(minutes=1)), at(up_at - timedelta(minutes=1))
    early = at(start + timedelta(hours=1, minutes=10))

    # cycles counted, as the run goes
    verified = 'minertrace_cycles_total{status="verified"}'
    assert early[verified] >= 2 and before[verified] > early[verified]
    assert final[verified] > before[verified]
    # step durations observed for every step of a submitted cycle
    for name in ("read", "compute", "persist", "submit", "verify"):
        count = f'minertrace_cycle_step_duration_seconds_count{{step="{name}"}}'
        assert early[count] >= 2 and final[count] > early[count], name
    assert final['minertrace_db_query_duration_seconds_count{step="read"}'] > 0
    assert final['minertrace_db_query_duration_seconds_count{step="node_sync"}'] > 0
    assert final["minertrace_stats_refresh_duration_seconds_count"] >= 5
    # data gaps measured: the simulator writes geomagnetic rows every pass it runs
    geo_age = before['minertrace_score_newest_row_age_seconds{task="geomagnetic"}']
    assert 0 <= geo_age <= 2 * HOUR
    assert before['minertrace_score_rows_in_window{task="geomagnetic"}'] > 0
    assert before['minertrace_table_size_bytes{table="weight_submissions"}'] > 0
    # the lock held, the database up, the chain position known
    assert before["minertrace_lock_held"] == 1 and before["minertrace_database_up"] == 1
    assert 0 <= before["minertrace_blocks_since_weights_set"] < 1800 / 12 + 10
    assert before["minertrace_activity_cutoff_blocks"] > 0
    assert final["minertrace_epochs_total"] >= 4  # 6 h = 1800 blocks, tempo 360
    assert 0 <= final["minertrace_node_sync_age_seconds"] <= 300
    assert (
        final["minertrace_last_successful_submission_block"]
        > before["minertrace_last_successful_submission_block"]
    )

    # the outage shows: database down, lock lost, cycles skipped for the real reason
    assert during["minertrace_database_up"] == 0
    assert during["minertrace_lock_held"] == 0
    assert during['minertrace_cycles_total{status="db_unreachable"}'] >= 1
    assert 'minertrace_cycles_total{status="lock_held_elsewhere"}' not in final
    assert final['minertrace_job_failures_total{job="node_sync"}'] >= 1
    # ... and recovery: up again, lock re-taken, cycles verified again
    last = scrapes[-1][1]  # the service releases its lock when it stops: read it before
    assert last["minertrace_database_up"] == 1 and last["minertrace_lock_held"] == 1
    assert final["minertrace_lock_held"] == 0
    assert final[verified] >= during[verified] + 2

    logs = captured.getvalue()
    outage_lines = logs[log_marks["down"] : log_marks["up"]].splitlines()
    passes_down = sum(1 for t, _ in scrapes if down_at <= t < up_at)
    assert passes_down >= 10
    # bounded: a start line per failing thing, not one (or a traceback) per pass
    records = [i for i, ln in enumerate(outage_lines) if ln.startswith(LEVELS)]
    with_traceback = [i for i in records if outage_lines[i + 1 : i + 2] == [TRACEBACK]]
    assert len(records) <= 3 * 6, "\n".join(outage_lines[i] for i in records)
    assert 1 <= len(with_traceback) <= 6
    assert "already sets weights" not in logs
    assert "weight cycle skipped: the database is unreachable" in logs
    assert "database failing: recovered" in logs
    assert not math.isnan(final['minertrace_score_newest_row_age_seconds{task="weather"}'])
