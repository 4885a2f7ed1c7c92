"""What every `minertrace` sub-command shares: consoles, database flags, errors, settings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from minertrace.config import Settings, SettingsError, load_settings
from minertrace.db.database import Database, DatabaseUnavailableError
from minertrace.db.migrate import MigrationError

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DatabaseUrlOption = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(
        "--database-url",
        help="PostgreSQL URL (default: DATABASE_URL, else embedded PostgreSQL).",
        show_default=False,
    ),
]
DataDirOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        "--data-dir",
        help="Data directory of the embedded PostgreSQL (default: MINERTRACE_DATA_DIR or the "
        "user data dir).",
        show_default=False,
    ),
]

_QUIET_LOGGERS = ("alembic", "pgserver")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as an error on stderr and return the Exit to raise."""
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def cli_settings(args: list[str] | None = None, **overrides: Any) -> Settings:
    """Settings from flags, environment and defaults; an invalid value exits with its name.

    Also configures logging at the settings' level, keeping Alembic's and pgserver's chatter
    at WARNING unless DEBUG was asked for.
    """
    try:
        settings = load_settings(args or [], **overrides)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    if settings.log_level != "DEBUG":
        for noisy in _QUIET_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return settings


@contextmanager
def opened_database(
    settings: Settings,
    opener: Callable[[Settings], Database] = lambda s: Database.open(s.database_url, s.data_dir),
) -> Iterator[Database]:
    """The settings' database, closed on exit; unavailable servers and migration errors exit
    with a message that never contains the password."""
    try:
        db = opener(settings)
    except DatabaseUnavailableError as exc:
        raise fail(str(exc)) from None
    try:
        yield db
    except MigrationError as exc:
        raise fail(db.scrub(str(exc))) from None
    finally:
        db.close()
