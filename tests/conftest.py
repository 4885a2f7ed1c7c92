"""Shared fixtures: one PostgreSQL server per session, a fresh database per test.

Contract relied on by every test package:
- `pg_server` (session): the server (embedded pgserver in a temp dir, or the server of
  `DATABASE_URL` when set); `pg_server.url(name)` gives a database's psycopg URL string,
  `create_database()` / `drop_database()` manage throwaway databases.
- `db_url`: URL string (`postgresql+psycopg://...`) of a fresh, EMPTY database.
- `migrated_db_url`: URL string of a fresh database at the head revision (a copy of a
  template migrated once per session).
- `engine`: sync Engine on a fresh migrated database (disposed after the test).
Every database made for a test is dropped after it.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from minertrace.db.embedded import EmbeddedServer
from minertrace.db.urls import sync_url


class PgServer:
    """A PostgreSQL server on which tests create and drop databases."""

    def __init__(self, admin_url: str, embedded: EmbeddedServer | None = None) -> None:
        self._admin_url = sync_url(admin_url)
        self.embedded = embedded
        self._admin = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        self._template: str | None = None

    def url(self, database: str) -> str:
        """psycopg URL string of `database` on this server (password kept, never print it)."""
        return self._admin_url.set(database=database).render_as_string(hide_password=False)

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """Create a database (optionally as a copy of `template`) and return its URL."""
        name = name or f"mt_test_{os.getpid()}_{uuid.uuid4().hex[:10]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting any session still on it."""
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def migrated_template(self) -> str:
        """Name of a database migrated to head once per session, used as a template."""
        if self._template is None:
            from minertrace.db.migrate import upgrade

            url = self.create_database(f"mt_template_{os.getpid()}_{uuid.uuid4().hex[:8]}")
            upgrade(url)
            self._template = sync_url(url).database
        assert self._template is not None
        return self._template

    def close(self) -> None:
        if self._template is not None:
            self.drop_database(self._template)
        self._admin.dispose()
        if self.embedded is not None:
            self.embedded.stop()


def _database_name(url: str) -> str:
    name = sync_url(url).database
    assert name is not None
    return name


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL server."""
    external = os.environ.get("DATABASE_URL")
    if external:
        server = PgServer(external)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="minertrace-pg-"))
        embedded = EmbeddedServer(tmp / "pgdata", delete_on_stop=True)
        server = PgServer(str(embedded.url("postgres")), embedded)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def db_url(pg_server: PgServer) -> Iterator[str]:
    """URL of a fresh empty database, dropped after the test."""
    url = pg_server.create_database()
    try:
        yield url
    finally:
        pg_server.drop_database(_database_name(url))


@pytest.fixture
def migrated_db_url(pg_server: PgServer) -> Iterator[str]:
    """URL of a fresh database at the head revision, dropped after the test."""
    url = pg_server.create_database(template=pg_server.migrated_template())
    try:
        yield url
    finally:
        pg_server.drop_database(_database_name(url))


@pytest.fixture
def engine(migrated_db_url: str) -> Iterator[Engine]:
    """Sync engine on a fresh migrated database."""
    eng = create_engine(sync_url(migrated_db_url))
    try:
        yield eng
    finally:
        eng.dispose()
