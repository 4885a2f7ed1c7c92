"""Embedded PostgreSQL (pgserver): a private server in a data directory, reused across runs."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from minertrace.db.urls import sync_url

logger = logging.getLogger(__name__)

EMBEDDED_DATABASE = "minertrace"


def _pgserver() -> Any:
    # pgserver resolves a runtime dir at import and warns when XDG_RUNTIME_DIR is unset; the
    # fallback it picks is fine, so the warning is noise for operators.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


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
