"""PostgreSQL session advisory locks (the SQL of `minertrace.validator.HotkeyLock`)."""

from __future__ import annotations

from sqlalchemy import Connection, text

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:k)")
_UNLOCK = text("SELECT pg_advisory_unlock(:k)")
_PING = text("SELECT 1")
# Advisory locks granted to other sessions in this database: minertrace services and demos.
_OTHER_HOLDERS = text(
    """
    SELECT DISTINCT l.pid
      FROM pg_locks AS l
      JOIN pg_database AS d ON d.oid = l.database
     WHERE l.locktype = 'advisory' AND l.granted
       AND d.datname = current_database() AND l.pid <> pg_backend_pid()
     ORDER BY l.pid
    """
)


def try_advisory_lock(conn: Connection, key: int) -> bool:
    """Take the session lock `key` without waiting; True when this session now holds it."""
    return bool(conn.execute(_TRY_LOCK, {"k": key}).scalar())


def advisory_unlock(conn: Connection, key: int) -> None:
    """Release the session lock `key` held by this session."""
    conn.execute(_UNLOCK, {"k": key})


def advisory_lock_holders(conn: Connection) -> list[int]:
    """Server pids of the other sessions holding an advisory lock in this database."""
    return [int(pid) for pid in conn.execute(_OTHER_HOLDERS).scalars()]


def ping(conn: Connection) -> None:
    """A round trip that raises when the connection (and so its session locks) is gone."""
    conn.execute(_PING)
