"""Embedded PostgreSQL (pgserver): a private server in a data directory, reused across runs."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from minertrace.db.urls import sync_url

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE = "minertrace"
HANDLES_FILE = ".handle_pids.json"
"""pgserver's list of the processes holding a server; the last one out stops it."""


def _pgserver() -> Any:
    # pgserver resolves a runtime dir at import and warns when XDG_RUNTIME_DIR is unset; the
    # fallback it picks is fine, so the warning is noise for operators.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def release_dead_handles(pgdata: Path) -> list[int]:
    """Drop the processes that died holding the server in `pgdata`; return their pids.

    pgserver stops a server when its last holder releases it, and a process killed by SIGKILL
    never releases it: its pid stays in the list and the server would run for ever. Pruning
    the dead pids (under pgserver's own lock) makes the next holder the last one again.
    """
    path = pgdata / HANDLES_FILE
    if not path.exists():
        return []
    with _pgserver().PostgresServer._lock:
        try:
            pids = [int(p) for p in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError):
            return []
        dead = [p for p in pids if not _alive(p)]
        if dead:
            path.write_text(json.dumps([p for p in pids if p not in dead]))
    return dead


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class EmbeddedServer:
    """A pgserver-managed PostgreSQL whose data lives in `pgdata`.

    The server listens on a Unix socket only, with trust authentication for local users, so
    its URLs carry no password. Several processes may share one data directory: pgserver
    counts handles and the last `stop()` shuts the server down.
    """

    def __init__(self, pgdata: Path, *, delete_on_stop: bool = False) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        logger.debug("starting embedded PostgreSQL in %s", self.pgdata)
        dead = release_dead_handles(self.pgdata)
        if dead:
            logger.warning(
                "the embedded PostgreSQL in %s was held by process(es) %s that ended without "
                "releasing it; they are dropped, and the last process using it stops it",
                self.pgdata,
                ", ".join(map(str, dead)),
            )
        self._server: Any = _pgserver().get_server(
            self.pgdata, cleanup_mode="delete" if delete_on_stop else "stop"
        )
        self._stopped = False

    def url(self, database: str = EMBEDDED_DATABASE) -> URL:
        """A psycopg URL of `database` on this server."""
        return sync_url(self._server.get_uri(database=database))

    def ensure_database(self, database: str = EMBEDDED_DATABASE) -> URL:
        """Create `database` if missing and return its URL."""
        admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                exists = conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}
                ).scalar()
                if not exists:
                    conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
        finally:
            admin.dispose()
        return self.url(database)

    def describe(self) -> str:
        """One line for status output."""
        version = "PostgreSQL"
        pg_version = self.pgdata / "PG_VERSION"
        if pg_version.exists():
            version += " " + pg_version.read_text().strip()
        return f"embedded {version} (pgserver), data directory {self.pgdata}"

    def stop(self) -> None:
        """Release this process's handle; the last handle stops the server."""
        if not self._stopped:
            self._stopped = True
            self._server.cleanup()
            logger.debug("released embedded PostgreSQL in %s", self.pgdata)
