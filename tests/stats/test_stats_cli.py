"""`minertrace stats refresh` and `minertrace stats cleanup` on a real database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from minertrace.cli import app
from minertrace.db.tables import miner_performance_stats as mps
from minertrace.db.urls import sync_url
from tests.helpers.stats import insert_nodes, insert_runs, rows

runner = CliRunner()


def test_refresh_and_cleanup_commands(migrated_db_url: str) -> None:
    engine = create_engine(sync_url(migrated_db_url))
    try:
        insert_nodes(engine, {0: "hk0", 1: "hk1"})
        day = datetime(2024, 5, 15, tzinfo=timezone.utc)
        insert_runs(engine, [("geomagnetic", "g1", "completed", day, [0.5, 0.0])])
        result = runner.invoke(
            app,
            [
                "stats",
                "refresh",
                "--period",
                "daily",
                "--period",
                "monthly",
                "--now",
                "2024-05-15T12:00:00",
                "--database-url",
                migrated_db_url,
            ],
        )
        assert result.exit_code == 0, result.output
        assert "daily" in result.output and "monthly" in result.output
        assert rows(engine, "weekly") == {}
        assert rows(engine, "daily")[0]["geomagnetic_avg_score"] == 0.5
        assert rows(engine, "monthly")[1]["consecutive_failures"] == 1

        later = (day + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%S")
        result = runner.invoke(
            app,
            [
                *("stats", "cleanup", "--now", later, "--retention-days", "30"),
                *("--database-url", migrated_db_url),
            ],
        )
        assert result.exit_code == 0, result.output
        # Cutoff 2024-05-25: the daily rows (ended 05-16) go, May (ends 06-01) stays.
        assert "deleted 0 weight_submissions rows and 2 stats rows" in result.output
        with engine.connect() as conn:
            left = conn.execute(select(mps.c.period_type, func.count()).group_by(mps.c.period_type))
            assert dict(tuple(r) for r in left) == {"monthly": 2}
    finally:
        engine.dispose()


def test_refresh_rejects_an_unknown_period(migrated_db_url: str) -> None:
    result = runner.invoke(
        app, ["stats", "refresh", "--period", "hourly", "--database-url", migrated_db_url]
    )
    assert result.exit_code != 0
