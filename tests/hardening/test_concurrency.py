"""Honest concurrency: a second demo and a downgrade refuse while a lock is held (exit 3),
and a lock that cannot be checked says the database is unreachable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from typer.testing import CliRunner

from minertrace.cli import app
from minertrace.db import migrate
from minertrace.db.urls import sync_url
from minertrace.validator import HotkeyLock
from minertrace.validator.demo import DEMO_LOCK, DEMO_SCHEMA

runner = CliRunner(env={"DATABASE_URL": None, "MINERTRACE_DATABASE_URL": None})


@pytest.fixture
def db_engine(migrated_db_url: str) -> Iterator[Engine]:
    engine = create_engine(sync_url(migrated_db_url))
    yield engine
    engine.dispose()


def test_a_second_demo_refuses_before_touching_the_first(
    migrated_db_url: str, db_engine: Engine
) -> None:
    with db_engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {DEMO_SCHEMA}"))
        conn.execute(text(f"CREATE TABLE {DEMO_SCHEMA}.first_demo (x int)"))
    with HotkeyLock(db_engine, DEMO_LOCK):
        result = runner.invoke(app, ["demo", "--days", "0.01", "--database-url", migrated_db_url])
    assert result.exit_code == 3, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "another minertrace demo is running" in lines[0]
    with db_engine.connect() as conn:
        assert conn.execute(text(f"SELECT to_regclass('{DEMO_SCHEMA}.first_demo')")).scalar()


def test_downgrade_refuses_while_a_service_holds_a_lock(
    migrated_db_url: str, db_engine: Engine
) -> None:
    head = migrate.head_revision()
    with HotkeyLock(db_engine, "5Validator"):
        result = runner.invoke(app, ["db", "downgrade", "-1", "--database-url", migrated_db_url])
        assert result.exit_code == 3, result.output
        assert "holds a lock" in result.stderr and "--force" in result.stderr
        assert migrate.current(migrated_db_url) == head
        forced = runner.invoke(
            app, ["db", "downgrade", "-1", "--force", "--database-url", migrated_db_url]
        )
        assert forced.exit_code == 0, forced.output
    assert migrate.current(migrated_db_url) != head
    result = runner.invoke(app, ["db", "upgrade", "--database-url", migrated_db_url])
    assert result.exit_code == 0, result.output


def test_a_lock_that_cannot_be_checked_says_the_database_is_unreachable(
    db_engine: Engine,
) -> None:
    down = create_engine("postgresql+psycopg://alice@127.0.0.1:1/mt?connect_timeout=2")
    try:
        lock = HotkeyLock(down, "5Validator")
        assert not lock.ensure()
        assert lock.failure is not None and "unreachable" in lock.failure
        assert "another minertrace service" not in lock.failure
    finally:
        down.dispose()
    with HotkeyLock(db_engine, "5Validator"):
        other = HotkeyLock(db_engine, "5Validator")
        assert not other.ensure()
        assert other.failure is not None and "another minertrace service" in other.failure
    assert other.ensure() and other.failure is None
    other.release()
