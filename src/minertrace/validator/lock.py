"""One weight setter per validator hotkey: a PostgreSQL session advisory lock.

Two services setting weights for the same hotkey would race each other on chain (and hit the
rate limit in turn) and interleave their traces. The service therefore takes
`pg_try_advisory_lock(key)` on a dedicated connection that it keeps open for its whole life;
PostgreSQL releases the lock when that session ends, so a crashed service never leaves a
stale lock behind. The key is a stable signed 64-bit hash of the hotkey (BLAKE2b of a
namespaced string), the same in every process and Python version.
"""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy import Connection, Engine

from minertrace.store import advisory_unlock, ping, try_advisory_lock

logger = logging.getLogger(__name__)

_NAMESPACE = b"minertrace/validator-hotkey/"


class LockHeldError(RuntimeError):
    """Another process holds the weight-setting lock of this hotkey."""


def lock_key(hotkey: str) -> int:
    """The advisory lock key of `hotkey`: a signed 64-bit integer (PostgreSQL's bigint)."""
    digest = hashlib.blake2b(_NAMESPACE + hotkey.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class HotkeyLock:
    """The session advisory lock of one validator hotkey, on its own connection.

    `acquire()` returns False when another session holds it; `ensure()` checks that the
    connection (and so the lock) is still alive and re-takes it after a lost connection;
    `release()` unlocks and closes the connection. Holders of the Engine's pool are not
    affected: the lock lives on a connection taken out of the pool for good.
    """

    def __init__(self, engine: Engine, hotkey: str) -> None:
        self.engine = engine
        self.hotkey = hotkey
        self.key = lock_key(hotkey)
        self._conn: Connection | None = None
        self.failure: str | None = None
        """Why the last `ensure()` returned False (None after a success)."""

    @property
    def held(self) -> bool:
        """True while this object holds the lock (as far as it knows)."""
        return self._conn is not None

    def acquire(self) -> bool:
        """Try to take the lock without waiting; True when this session now holds it."""
        if self._conn is not None:
            return True
        conn = self.engine.connect()
        try:
            # Autocommit: the lock is session-level, and an open transaction on a connection
            # held for days would pin the xmin horizon and block vacuum.
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            got = try_advisory_lock(conn, self.key)
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        logger.info("holding the weight-setting lock of hotkey %s", self.hotkey)
        return True

    def ensure(self) -> bool:
        """True when the lock is still held; re-takes it if its connection was lost.

        When it returns False, `failure` says why: the database could not be reached, or
        another session holds the lock.
        """
        self.failure = None
        if self._conn is not None:
            try:
                ping(self._conn)
                return True
            except Exception:
                logger.warning("lost the lock connection of hotkey %s; re-taking it", self.hotkey)
                self._discard()
        try:
            got = self.acquire()
        except Exception as exc:
            self.failure = unreachable_message(exc)
            logger.warning("cannot re-take the lock of hotkey %s: %s", self.hotkey, self.failure)
            return False
        if not got:
            self.failure = held_message(self.hotkey)
        return got

    def release(self) -> None:
        """Unlock and close the connection (idempotent; errors are logged)."""
        if self._conn is None:
            return
        try:
            advisory_unlock(self._conn, self.key)
        except Exception as exc:
            logger.warning(
                "unlocking hotkey %s failed (the session end frees it): %s", self.hotkey, exc
            )
        self._discard()

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                logger.debug("closing the lock connection failed", exc_info=True)

    def __enter__(self) -> HotkeyLock:
        if not self.acquire():
            raise LockHeldError(held_message(self.hotkey))
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def held_message(hotkey: str) -> str:
    """The message a second instance prints."""
    return (
        f"another minertrace service already sets weights for hotkey {hotkey} on this "
        "database (PostgreSQL advisory lock held); this instance will not set weights. "
        "Stop the other instance, or use a different hotkey."
    )


def unreachable_message(exc: BaseException) -> str:
    """Why the lock could not be checked: the database did not answer (first line of it)."""
    detail = str(getattr(exc, "orig", None) or exc).strip()
    first = detail.splitlines()[0] if detail else type(exc).__name__
    return f"the database is unreachable, so the weight-setting lock cannot be held ({first})"


__all__ = ["HotkeyLock", "LockHeldError", "held_message", "lock_key", "unreachable_message"]
