"""`minertrace status` on real PostgreSQL: a health check that says what is wrong."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import typer
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from minertrace.cli.status import register
from minertrace.observe import Metrics, start_exporter
from minertrace.validator.lock import HotkeyLock

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
HOTKEY = "5Hk[bold]evil[/bold]"


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command()
    def other() -> None:  # a second command keeps `status` a named sub-command
        """Unused."""

    return app


def _invoke(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        _app(), ["status", "--database-url", url, "--now", "2026-03-01T12:00:00", *args]
    )
    return result.exit_code, result.output


def _healthy(engine: Engine) -> None:
    with engine.begin() as conn:
        for task, task_id in (
            ("weather", "final_weather_scores_1"),
            ("geomagnetic", "g1"),
            ("soil_moisture_region_1", "s1"),
        ):
            conn.execute(
                text(
                    "INSERT INTO score_table (task_name, task_id, score, created_at, status) "
                    "VALUES (:n, :i, ARRAY[0.5], :at, 'final')"
                ),
                {"n": task, "i": task_id, "at": NOW - timedelta(hours=1)},
            )
        conn.execute(
            text(
                "INSERT INTO node_table (uid, hotkey, last_update_block, last_updated) "
                "VALUES (0, :h, 9900, :at)"
            ),
            {"h": HOTKEY, "at": NOW - timedelta(minutes=3)},
        )
        conn.execute(
            text(
                """
                INSERT INTO weight_submissions (validator_hotkey, netuid, computed_at,
                    computed_block, n_uids, config, score_rows, scalars, data_quality,
                    weights_produced, rank_based_fallback, status, block_number)
                VALUES (:h, 1, :at, 9899, 0, '{}', '[]', '{}', '{}', true, false,
                        'verified', 9900)
                """
            ),
            {"h": HOTKEY, "at": NOW - timedelta(minutes=20)},
        )


def test_an_empty_database_needs_attention(migrated_db_url: str) -> None:
    code, out = _invoke(migrated_db_url)
    assert code == 1
    assert "no weight cycle recorded yet" in out
    assert "no weather score rows at all" in out
    assert "the metagraph was never synced" in out


def test_a_healthy_validator_exits_zero(engine: Engine, migrated_db_url: str) -> None:
    _healthy(engine)
    with HotkeyLock(engine, HOTKEY):
        code, out = _invoke(migrated_db_url)
        assert code == 0, out
        assert "OK" in out
        # user text is escaped, not interpreted as rich markup
        assert HOTKEY in out
        assert "held by pid" in out
        # 20 min since block 9899 = 100 blocks; last update 9900 -> 4901 left
        assert "4901 blocks left of 5000" in out
        code, out = _invoke(migrated_db_url, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True and data["problems"] == []
    assert data["validator_hotkey"] == HOTKEY
    assert data["last_cycle"]["status"] == "verified"
    assert data["blocks_until_cutoff"] == 4901
    assert {g["task"]: g["age_s"] for g in data["gaps"]}["soil"] == 3600


def test_no_lock_holder_and_stale_data_are_problems(engine: Engine, migrated_db_url: str) -> None:
    _healthy(engine)
    code, out = _invoke(migrated_db_url, "--json", "--margin-blocks", "4950")
    assert code == 1
    problems = json.loads(out)["problems"]
    assert any("no process holds the weight-setting lock" in p for p in problems)
    assert any("only 4901 blocks left" in p for p in problems)
    code, out = _invoke(migrated_db_url, "--now", "2026-03-03T12:00:00", "--json")
    problems = json.loads(out)["problems"]
    assert any("no new geomagnetic score rows" in p for p in problems)
    assert any("the last cycle ran" in p for p in problems)


def test_live_metrics_of_the_service(engine: Engine, migrated_db_url: str) -> None:
    _healthy(engine)
    m = Metrics()
    m.bind_live(clock=lambda: NOW, queue_depth=lambda: 5, lock_held=lambda: False)
    m.database_checked(False)
    m.chain_position(block=20_000, last_update=16_000, activity_cutoff=4_500)
    server = start_exporter(m.registry, 0)
    try:
        with HotkeyLock(engine, HOTKEY):
            code, out = _invoke(migrated_db_url, "--metrics-url", server.url, "--json")
    finally:
        server.close()
    assert code == 1
    data = json.loads(out)
    assert data["blocks_until_cutoff"] == 500 and data["activity_cutoff"] == 4500
    assert "the service cannot reach its database" in data["problems"]
    assert any("500 blocks left" in p for p in data["problems"])
    assert "5 traces wait in memory for the database" in data["notes"]


def test_unreachable_service_metrics_are_a_problem(engine: Engine, migrated_db_url: str) -> None:
    _healthy(engine)
    code, out = _invoke(migrated_db_url, "--metrics-url", "http://127.0.0.1:1/metrics")
    assert code == 1 and "metrics at http://127.0.0.1:1/metrics are unreachable" in out
