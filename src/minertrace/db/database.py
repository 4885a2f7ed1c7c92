"""`Database`: the one handle the rest of minertrace uses to reach PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL

from minertrace.db import gaia
from minertrace.db.embedded import EmbeddedServer
from minertrace.db.urls import protect_logs, redact_url, scrub, sync_url

POOL_SIZE = 5
MAX_OVERFLOW = 10


def first_line(exc: BaseException) -> str:
    """The first line of the driver's own message (SQLAlchemy's wrapper adds a type prefix
    and a documentation link on further lines)."""
    message = str(getattr(exc, "orig", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


class DatabaseUnavailableError(RuntimeError):
    """The database could not be reached; the message is free of passwords."""


class Database:
    """A pooled engine on one PostgreSQL database.

    Use `Database.open(url, data_dir)` (the server at `url`, or an embedded server in the
    data dir when `url` is None); call `close()` (or use it as a context manager) to dispose
    the pool and release the embedded server.
    """

    def __init__(self, url: str | URL, *, embedded: EmbeddedServer | None = None) -> None:
        self._given = url
        self._url = sync_url(url)
        protect_logs(url)
        self.embedded = embedded
        self.engine: Engine = create_engine(
            self._url, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW, pool_pre_ping=True
        )
        # In an adopted Gaia database minertrace's tables live in their own schema; a URL that
        # sets its own search_path (the demo's) keeps it as given.
        if "options" not in self._url.query:
            gaia.use_search_path(self.engine)
        self._closed = False

    @classmethod
    def open(
        cls,
        url: str | URL | None,
        data_dir: Path | str | None = None,
        *,
        check: bool = True,
    ) -> Database:
        """Open the database at `url`, or an embedded one when `url` is None.

        The embedded PostgreSQL is started (or reused) in `<data_dir>/pgdata` with a
        `minertrace` database; `data_dir` is required then and ignored otherwise. With
        `check`, one round trip verifies the connection and a failure raises
        `DatabaseUnavailableError` with a redacted message.
        """
        if url:
            db = cls(url)
        elif data_dir is None:
            raise ValueError("Database.open needs a URL or a data directory")
        else:
            server = EmbeddedServer(Path(data_dir).expanduser() / "pgdata")
            try:
                db = cls(server.ensure_database(), embedded=server)
            except Exception:
                server.stop()
                raise
        if check:
            try:
                db.ping()
            except DatabaseUnavailableError:
                db.close()
                raise
        return db

    @property
    def url(self) -> URL:
        """The SQLAlchemy URL (psycopg driver). Its str() hides the password."""
        return self._url

    @property
    def display_url(self) -> str:
        """The URL with its password redacted: the only form to print or log."""
        return redact_url(self._url)

    def describe_server(self) -> str:
        """Where the data lives: embedded data dir, or the external server."""
        if self.embedded is not None:
            return self.embedded.describe()
        return f"external PostgreSQL at {self.display_url}"

    def ping(self) -> str:
        """Round trip to the server; returns its version string."""
        try:
            with self.engine.connect() as conn:
                return str(conn.execute(text("SELECT version()")).scalar())
        except Exception as exc:
            raise DatabaseUnavailableError(
                f"cannot use the database at {self.display_url}: {self.scrub(first_line(exc))}"
            ) from None

    def scrub(self, message: str) -> str:
        """`message` with this database's URL redacted and no trace of its password."""
        return scrub(message, self._given, self._url)

    def close(self) -> None:
        """Dispose the pools and release the embedded server (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.engine.dispose()
        if self.embedded is not None:
            self.embedded.stop()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({self.display_url})"
