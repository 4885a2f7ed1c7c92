"""The web app's database access: a read-only engine and one connection per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL

POOL_SIZE = 5
MAX_OVERFLOW = 10


def _read_only_session(dbapi_connection: Any, _record: Any) -> None:
    # Every transaction of the session is read only, whatever a route would try.
    with dbapi_connection.cursor() as cur:
        cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    dbapi_connection.commit()


def make_read_only(engine: Engine) -> Engine:
    """Make every new connection of `engine` read only (call before its first connection)."""
    event.listen(engine, "connect", _read_only_session)
    return engine


def read_only_engine(url: str | URL) -> Engine:
    """A pooled engine whose sessions run with `default_transaction_read_only` on."""
    # No pre-ping: it would cost a round trip per request; a connection the server dropped
    # fails one request with a 503 and is then replaced by the pool. AUTOCOMMIT: each read is
    # its own (read-only) transaction, without a BEGIN and a ROLLBACK round trip around it.
    engine = create_engine(
        url,
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_recycle=3600,
        isolation_level="AUTOCOMMIT",
    )
    return make_read_only(engine)


def connection(request: Request) -> Iterator[Connection]:
    """FastAPI dependency: a (read-only) connection for the request."""
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        yield conn


__all__ = ["connection", "make_read_only", "read_only_engine"]
