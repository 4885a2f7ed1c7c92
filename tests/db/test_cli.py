"""`minertrace db` commands against a real database."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from minertrace.cli import app
from minertrace.db import migrate

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["db", *args])
    return result.exit_code, result.output


def test_db_commands(db_url: str) -> None:
    head = migrate.head_revision()
    code, out = _run("current", "--database-url", db_url)
    assert (code, out.split()[0]) == (0, "none")

    code, out = _run("upgrade", "--database-url", db_url)
    assert code == 0, out
    assert f"base -> {head}" in out

    code, out = _run("check", "--database-url", db_url)
    assert code == 0, out
    assert "agree" in out

    code, out = _run("status", "--database-url", db_url)
    assert code == 0, out
    assert f"revision: {head} (head)" in out
    assert "miner_performance_stats" in out
    assert "Gaia: no Gaia alembic_version in this database" in out

    code, out = _run("downgrade", "0001", "--database-url", db_url)
    assert code == 0, out
    assert migrate.current(db_url) == "0001"

    code, out = _run("check", "--database-url", db_url)
    assert code == 1
    assert "database revision is 0001" in out


def test_db_status_error_is_redacted() -> None:
    code, out = _run(
        "status", "--database-url", "postgresql://u:hunter2@127.0.0.1:1/x?connect_timeout=2"
    )
    assert code == 1
    assert "hunter2" not in out
    assert "u:***@127.0.0.1" in out


def test_db_upgrade_reports_quarantined_rows(db_url: str) -> None:
    migrate.upgrade(db_url, "0001")
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO miner_performance_stats (miner_uid, miner_hotkey, period_start, "
                    "period_end, period_type, updated_at) VALUES "
                    "('5', 'a', '2024-01-01', '2024-01-02', 'daily', '2024-02-01'), "
                    "('05', 'b', '2024-01-01', '2024-01-02', 'daily', '2024-01-01'), "
                    "('x1', 'c', '2024-01-01', '2024-01-02', 'daily', '2024-01-01')"
                )
            )
    finally:
        engine.dispose()
    code, out = _run("upgrade", "--database-url", db_url)
    assert code == 0, out
    assert "rows converted: 1" in out
    assert "rows moved to miner_performance_stats_quarantine: 2" in out
    assert "non_numeric_uid: 1" in out and "uid_collision: 1" in out
