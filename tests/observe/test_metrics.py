"""Metrics: counters fed once, live readings at scrape time, the HTTP exporter, query timing."""

from __future__ import annotations

import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from minertrace.observe import ExporterError, Metrics, cycle_scope, start_exporter, step
from minertrace.observe.context import time_queries

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client import generate_latest

    out = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, tuple(sorted(labels.items())))]


def test_sync_counters_adds_only_what_grew() -> None:
    m = Metrics()
    m.sync_counters(
        {"slow_traces": 1, "queue_drops": 0, "verified": 2, "last_trace_overhead_s": None},
        runs={"cycle": 2},
        failures={"stats": 1},
        cycle_statuses={"verified": 2},
    )
    m.sync_counters(
        {"slow_traces": 1, "queue_drops": 3, "verified": 5},
        runs={"cycle": 3},
        cycle_statuses={"verified": 3, "failed": 1},
    )
    assert value(m, "minertrace_slow_cycles_total") == 1
    assert value(m, "minertrace_trace_queue_drops_total") == 3
    assert value(m, "minertrace_verifications_total", result="match") == 5
    assert value(m, "minertrace_job_runs_total", job="cycle") == 3
    assert value(m, "minertrace_job_failures_total", job="stats") == 1
    assert value(m, "minertrace_cycles_total", status="verified") == 3
    assert value(m, "minertrace_cycles_total", status="failed") == 1


def test_sync_shadow_feeds_the_shadow_counters_once() -> None:
    m = Metrics()
    m.sync_shadow({"cycles": 2, "matches": 1, "mismatches": 0, "untraced": 1, "late": 0})
    m.sync_shadow(
        {"cycles": 3, "matches": 1, "mismatches": 2, "untraced": 1, "late": 1, "failures": 1}
    )
    assert value(m, "minertrace_shadow_cycles_total") == 3
    assert value(m, "minertrace_shadow_observations_total", result="match") == 1
    assert value(m, "minertrace_shadow_observations_total", result="mismatch") == 2
    assert value(m, "minertrace_shadow_observations_total", result="untraced") == 1
    assert value(m, "minertrace_shadow_late_observations_total") == 1
    assert value(m, "minertrace_shadow_failures_total") == 1


def test_cycle_finished_counts_attempts_retries_and_last_success() -> None:
    m = Metrics()
    attempts = ["rejected", "timeout", "included"]
    m.cycle_finished("verified", at=T0, attempts=attempts, block_number=1234, trace_overhead_s=0.02)
    m.cycle_finished("failed", at=T0 + timedelta(hours=1), attempts=["error"])
    assert value(m, "minertrace_submission_attempts_total", outcome="rejected") == 1
    assert value(m, "minertrace_submission_attempts_total", outcome="included") == 1
    assert value(m, "minertrace_submission_attempts_total", outcome="error") == 1
    assert value(m, "minertrace_submission_retries_total") == 2
    assert value(m, "minertrace_last_successful_submission_block") == 1234
    assert value(m, "minertrace_last_successful_submission_timestamp_seconds") == T0.timestamp()
    assert value(m, "minertrace_cycles_total", status="failed") == 1
    assert value(m, "minertrace_trace_overhead_last_seconds") == pytest.approx(0.02)
    assert value(m, "minertrace_trace_overhead_seconds_count") == 1


def test_ages_are_read_on_the_service_clock_at_scrape_time() -> None:
    m = Metrics()
    now = [T0]
    depth = [0]
    m.bind_live(clock=lambda: now[0], queue_depth=lambda: depth[0], lock_held=lambda: True)
    m.node_synced(at=T0, replacements=2)
    m.score_gaps([("weather", T0 - timedelta(hours=1), 7), ("soil", None, 0)])
    now[0] = T0 + timedelta(minutes=10)
    depth[0] = 3
    assert value(m, "minertrace_node_sync_age_seconds") == 600
    assert value(m, "minertrace_score_newest_row_age_seconds", task="weather") == 4200
    assert value(m, "minertrace_score_rows_in_window", task="weather") == 7
    assert value(m, "minertrace_trace_queue_depth") == 3
    assert value(m, "minertrace_lock_held") == 1
    assert value(m, "minertrace_hotkey_replacements_total") == 2
    soil_age = value(m, "minertrace_score_newest_row_age_seconds", task="soil")
    assert soil_age != soil_age  # NaN: no row at all


def test_chain_position_and_cutoff() -> None:
    m = Metrics()
    m.chain_position(block=10_000, last_update=9_400, activity_cutoff=5000)
    assert value(m, "minertrace_blocks_since_weights_set") == 600
    assert value(m, "minertrace_activity_cutoff_blocks") == 5000
    m.chain_position(block=10_000, last_update=None, activity_cutoff=5000)
    assert value(m, "minertrace_blocks_since_weights_set") == 10_000


def test_steps_are_observed_inside_a_cycle_scope_only() -> None:
    m = Metrics()
    with step("read"):
        pass
    key = ("minertrace_cycle_step_duration_seconds_count", (("step", "read"),))
    assert key not in samples(m)
    with cycle_scope(1, m):
        for name in ("read", "compute"):
            with step(name):
                pass
        with pytest.raises(RuntimeError), step("submit"):
            raise RuntimeError("chain down")
    for name in ("read", "compute", "submit"):
        assert value(m, "minertrace_cycle_step_duration_seconds_count", step=name) == 1


def test_exporter_serves_the_registry_over_http() -> None:
    m = Metrics()
    m.database_checked(True)
    server = start_exporter(m.registry, 0)
    try:
        assert server.host == "127.0.0.1" and server.port > 0
        with urllib.request.urlopen(server.url, timeout=5) as resp:
            body = resp.read().decode()
        assert "minertrace_database_up 1.0" in body
        with pytest.raises(ExporterError, match="cannot serve metrics"):
            start_exporter(m.registry, server.port)
    finally:
        server.close()


def test_query_durations_are_labelled_with_the_step(engine: Engine) -> None:
    m = Metrics()
    time_queries(engine, m)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
        with cycle_scope(3, m), step("read"):
            conn.execute(text("SELECT count(*) FROM score_table"))
            conn.execute(text("SELECT count(*) FROM node_table"))
        with pytest.raises(Exception):  # noqa: B017 - a failing statement leaves no timer behind
            conn.execute(text("SELECT * FROM no_such_table"))
    assert value(m, "minertrace_db_query_duration_seconds_count", step="read") == 2
    assert value(m, "minertrace_db_query_duration_seconds_count", step="other") == 1


def test_probing_registry_for_a_process_without_the_service(engine: Engine) -> None:
    from prometheus_client import generate_latest

    from minertrace.observe.standalone import probing_registry

    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO score_table (task_name, task_id, score, created_at, status) "
                "VALUES ('geomagnetic', 'g', ARRAY[1.0], :at, 'final')"
            ),
            {"at": T0 - timedelta(hours=3)},
        )
    registry = probing_registry(engine, clock=lambda: T0, min_interval_s=3600)
    body = generate_latest(registry).decode()
    assert "minertrace_database_up 1.0" in body
    assert 'minertrace_score_newest_row_age_seconds{task="geomagnetic"} 10800.0' in body
    assert 'minertrace_table_size_bytes{table="score_table"}' in body
    # only what the database can tell: no lock, queue or cycle counters from this process
    assert "minertrace_lock_held" not in body
    assert "minertrace_cycles_total" not in body


def test_mount_metrics_serves_exactly_slash_metrics_in_a_fastapi_app() -> None:
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from minertrace.observe import mount_metrics

    m = Metrics()
    m.database_checked(True)
    app = fastapi.FastAPI()
    mount_metrics(app, m.registry)
    client = TestClient(app)
    response = client.get("/metrics", follow_redirects=False)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "minertrace_database_up 1.0" in response.text
    assert "/metrics" not in client.get("/openapi.json").json()["paths"]
