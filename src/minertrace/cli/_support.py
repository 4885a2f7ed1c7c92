"""What every `minertrace` sub-command shares: consoles, database flags, errors, settings.

Only typer and rich are imported at module level: the settings (pydantic), the database
(SQLAlchemy, psycopg, pgserver) and the migrations (Alembic) are imported inside the
functions, so `minertrace --help` stays fast.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from minertrace.cli.errors import EXIT_INPUT

if TYPE_CHECKING:
    from minertrace.config import Settings
    from minertrace.db.database import Database

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
    """Print `message` (escaped: it may hold paths, URLs or `[extra]`) as an error on stderr
    and return the Exit to raise."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def say(text: str, out: Console | None = None) -> None:
    """Print plain text (no markup, no highlighting): for lines holding user data."""
    (out or console).print(text, markup=False, highlight=False)


def cli_settings(args: list[str] | None = None, **overrides: Any) -> Settings:
    """Settings from flags, environment and defaults; an invalid value exits with its name.

    Also configures logging at the settings' level, keeping Alembic's and pgserver's chatter
    at WARNING unless DEBUG was asked for.
    """
    from minertrace.config import SettingsError, load_settings

    try:
        settings = load_settings(args or [], **overrides)
    except SettingsError as exc:
        raise fail(str(exc), EXIT_INPUT) from None
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    if settings.log_level != "DEBUG":
        for noisy in _QUIET_LOGGERS:
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return settings


@contextmanager
def opened_database(
    settings: Settings, opener: Callable[[Settings], Database] | None = None
) -> Iterator[Database]:
    """The settings' database, closed on exit; unavailable servers and migration errors exit
    with a message that never contains the password."""
    from minertrace.db.database import Database, DatabaseUnavailableError
    from minertrace.db.migrate import MigrationError

    try:
        db = opener(settings) if opener else Database.open(settings.database_url, settings.data_dir)
    except DatabaseUnavailableError as exc:
        raise fail(str(exc)) from None
    try:
        yield db
    except MigrationError as exc:
        raise fail(db.scrub(str(exc))) from None
    finally:
        db.close()


def open_demo(settings: Settings) -> Database:
    """The database of `minertrace demo` (its own schema), checked to answer."""
    from minertrace.validator.demo import open_demo_database

    db = open_demo_database(settings)
    db.ping()
    return db


def opened_database_for(
    settings: Settings, *, demo: bool = False
) -> AbstractContextManager[Database]:
    """`opened_database` of the settings' database, or of the demo's with `demo`."""
    return opened_database(settings, open_demo if demo else None)


@contextmanager
def settings_and_database(
    database_url: str | None, data_dir: Path | None
) -> Iterator[tuple[Settings, Database]]:
    """Settings from the two database flags and the environment, and their open database."""
    settings = cli_settings(database_url=database_url, data_dir=data_dir)
    with opened_database(settings) as db:
        yield settings, db


__all__ = [
    "DataDirOption",
    "DatabaseUrlOption",
    "cli_settings",
    "console",
    "err",
    "fail",
    "open_demo",
    "opened_database",
    "opened_database_for",
    "say",
    "settings_and_database",
]
