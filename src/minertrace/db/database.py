"""`Database`: the one handle the rest of minertrace uses to reach PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from minertrace.db.embedded import EmbeddedServer
from minertrace.db.urls import async_url, password_of, redact_url, scrub, sync_url

if TYPE_CHECKING:
    from minertrace.config import Settings

logger = logging.getLogger(__name__)

POOL_SIZE = 5
MAX_OVERFLOW = 10


class DatabaseUnavailableError(RuntimeError):
    """The database could not be reached; the message is free of passwords."""


class Database:
    """Pooled sync and async engines on one PostgreSQL database.

    Use `Database.open(settings)` (DATABASE_URL, or an embedded server in the data dir) or
    `Database.from_url(url)`; call `close()` (or `await aclose()`, or use it as a context
    manager) to dispose the pools and release the embedded server.
    """

    def __init__(self, url: str | URL, *, embedded: EmbeddedServer | None = None) -> None:
        self._url = sync_url(url)
        self._secret = password_of(self._url)
        self.embedded = embedded
        self.engine: Engine = create_engine(
            self._url, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW, pool_pre_ping=True
        )
        self._async_engine: AsyncEngine | None = None
        self._closed = False

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        database_url: str | None = None,
        data_dir: Path | str | None = None,
        check: bool = True,
    ) -> Database:
        """Open the configured database.

        `database_url` / `data_dir` override the settings. Without a URL an embedded
        PostgreSQL is started (or reused) in `<data_dir>/pgdata` with a `minertrace`
        database. With `check`, one round trip verifies the connection and a failure raises
        `DatabaseUnavailableError` with a redacted message.
        """
        if settings is None:
            from minertrace.config import load_settings

            settings = load_settings()
        url = database_url or settings.database_url
        if url:
            db = cls(url)
        else:
            pgdata = Path(data_dir).expanduser() / "pgdata" if data_dir else settings.pgdata
            server = EmbeddedServer(pgdata)
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

    @classmethod
    def from_url(cls, url: str | URL, *, check: bool = True) -> Database:
        """Open the database at `url` (no embedded server)."""
        db = cls(url)
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

    @property
    def async_engine(self) -> AsyncEngine:
        """The async engine (psycopg 3 async), created on first use."""
        if self._async_engine is None:
            self._async_engine = create_async_engine(
                async_url(self._url),
                pool_size=POOL_SIZE,
                max_overflow=MAX_OVERFLOW,
                pool_pre_ping=True,
            )
        return self._async_engine

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
                f"cannot use the database at {self.display_url}: {self.scrub(str(exc))}"
            ) from None

    def scrub(self, message: str) -> str:
        """`message` without this database's password or any URL password."""
        return scrub(message, self._secret)

    def close(self) -> None:
        """Dispose the pools and release the embedded server (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._async_engine is not None:
            # Outside an event loop the async pool cannot await its connections; dropping
            # the pool lets them close when collected (or when the server stops).
            self._async_engine.sync_engine.dispose(close=False)
        self.engine.dispose()
        if self.embedded is not None:
            self.embedded.stop()

    async def aclose(self) -> None:
        """Async close: awaits the async pool's connections, then `close()`."""
        if self._async_engine is not None and not self._closed:
            await self._async_engine.dispose()
            self._async_engine = None
        self.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"Database({self.display_url})"
