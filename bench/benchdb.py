"""The database a benchmark script measures against: DATABASE_URL's server or an embedded one."""

from __future__ import annotations

import os
import tempfile
import time
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


def fresh_schema(engine: sa.Engine) -> None:
    """Drop and recreate the public schema with minertrace's tables (counters start at zero)."""
    from minertrace.db.tables import metadata

    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    metadata.create_all(engine)


def table_stats(engine: sa.Engine, table: str = "miner_performance_stats") -> dict[str, int]:
    """What the writes cost `table`: updates, HOT updates, dead tuples, live rows, heap bytes.

    The pool's connections are closed first: a backend reports its counters when it goes idle
    or closes, so this reads every write made so far.
    """
    engine.dispose()
    time.sleep(0.5)  # the closed backends' last report
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT n_tup_upd, n_tup_hot_upd, n_dead_tup, n_live_tup, "
                "pg_relation_size(relid) FROM pg_stat_user_tables WHERE relname = :t"
            ),
            {"t": table},
        ).one()
    return {
        "updates": int(row[0]),
        "hot_updates": int(row[1]),
        "dead_tuples": int(row[2]),
        "live_rows": int(row[3]),
        "heap_bytes": int(row[4]),
    }
