"""The database a benchmark script measures against: DATABASE_URL's server or an embedded one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def bench_engine(database: str) -> Iterator[sa.Engine]:
    """An engine on a scratch database, removed afterwards.

    With DATABASE_URL set, `database` is dropped and recreated on that server (and dropped at
    the end); otherwise an embedded pgserver runs in a temporary directory for the duration.
    """
    url = os.environ.get("DATABASE_URL")
    if url:
        base = sa.make_url(url).set(drivername="postgresql+psycopg")
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
        engine = sa.create_engine(base.set(database=database))
        try:
            yield engine
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}"'))
            admin.dispose()
        return
    import pgserver

    with tempfile.TemporaryDirectory(prefix="minertrace-bench-") as tmp:
        server = pgserver.get_server(tmp, cleanup_mode="stop")
        try:
            uri = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
            engine = sa.create_engine(uri)
            yield engine
            engine.dispose()
        finally:
            server.cleanup()
