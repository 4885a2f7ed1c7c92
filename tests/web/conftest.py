"""Web fixtures: one recorded subnet per session (the app only reads it), a client on it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine

from minertrace.db.urls import sync_url
from minertrace.validator.replay import replay_request
from minertrace.web import create_app, read_only_engine
from tests.helpers.web import RecordedDb, record_subnet


@pytest.fixture(scope="session")
def recorded_db(pg_server: object) -> Iterator[RecordedDb]:
    """A migrated database holding `record_subnet`'s cycles, shared by the web tests."""
    server = pg_server
    url = server.create_database(template=server.migrated_template())  # type: ignore[attr-defined]
    writer: Engine = create_engine(sync_url(url))
    try:
        rec = asyncio.run(record_subnet(writer, cycles=4, fail_cycle=2))
        yield RecordedDb(url, rec)
    finally:
        writer.dispose()
        server.drop_database(sync_url(url).database)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def client(recorded_db: RecordedDb) -> Iterator[TestClient]:
    """A TestClient on the app over a read-only engine of the recorded database."""
    engine = read_only_engine(sync_url(recorded_db.url))
    try:
        with TestClient(create_app(engine, replay=replay_request)) as c:
            yield c
    finally:
        engine.dispose()
