"""PostgreSQL session advisory locks (the SQL of `minertrace.validator.HotkeyLock`)."""

from __future__ import annotations

from sqlalchemy import Connection, text

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:k)")
_UNLOCK = text("SELECT pg_advisory_unlock(:k)")
_PING = text("SELECT 1")


def try_advisory_lock(conn: Connection, key: int) -> bool:
    """Take the session lock `key` without waiting; True when this session now holds it."""
    return bool(conn.execute(_TRY_LOCK, {"k": key}).scalar())


def advisory_unlock(conn: Connection, key: int) -> None:
    """Release the session lock `key` held by this session."""
    conn.execute(_UNLOCK, {"k": key})


def ping(conn: Connection) -> None:
    """A round trip that raises when the connection (and so its session locks) is gone."""
    conn.execute(_PING)
