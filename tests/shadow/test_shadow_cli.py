"""`minertrace run --shadow` and `--rules` from the command line."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from minertrace.cli import app
from minertrace.db.urls import sync_url

runner = CliRunner()


def test_run_in_shadow_mode_submits_nothing(db_url: str) -> None:
    args = ["run", "--shadow", "--rules", "template", "--speed", "1e9", "--miners", "6"]
    result = runner.invoke(app, [*args, "--hours", "2", "--database-url", db_url])
    assert result.exit_code == 0, result.output
    assert "template rules; shadow mode: nothing is submitted" in result.output
    engine = create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            query = text("SELECT status, attempts, scalars FROM weight_submissions")
            rows = list(conn.execute(query))
    finally:
        engine.dispose()
    assert rows
    assert all(r.status in ("computed", "skipped", "observed") for r in rows)
    assert all(r.attempts == [] for r in rows)
    assert all(r.scalars["rules"] == "template" for r in rows)


def test_run_rejects_unknown_rules() -> None:
    result = runner.invoke(app, ["run", "--rules", "nope", "--hours", "0"])
    assert result.exit_code == 2
    assert "Invalid value for '--rules'" in result.output
    assert "Traceback" not in result.output
