"""`minertrace db` commands: upgrade, downgrade, current, check, status."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from minertrace.cli._support import (
    DatabaseUrlOption,
    DataDirOption,
    console,
    err,
    fail,
    say,
    settings_and_database,
)
from minertrace.cli.errors import EXIT_LOCK_HELD

if TYPE_CHECKING:
    from minertrace.db.database import Database

app = typer.Typer(help="Database: migrations and status.", no_args_is_help=True)
STATUS_TABLES = (
    "node_table",
    "score_table",
    "miner_performance_stats",
    "miner_performance_stats_quarantine",
    "miner_performance_stats_legacy_uid",
    "weight_submissions",
    "miner_performance_stats_archive",
    "node_table_archive",
)


@contextmanager
def _database(database_url: str | None, data_dir: Path | None) -> Iterator[Database]:
    with settings_and_database(database_url, data_dir) as (_, db):
        yield db


@app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision: head, an id, or +N.")] = "head",
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Upgrade the schema (adopting an existing legacy/Gaia database)."""
    from minertrace.db import migrate

    with _database(database_url, data_dir) as db:
        report = migrate.upgrade(db.engine, revision)
        say(f"database: {db.display_url}")
        for line in report.lines():
            say(line)


@app.command(context_settings={"ignore_unknown_options": True})
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision: an id, -N, or base.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Downgrade even while a service or demo holds a lock."),
    ] = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Downgrade the schema; every row is kept (new-column values are archived).

    Refused (exit 3) while a minertrace service or demo holds a lock on the database: the
    tables would change under it. `--force` downgrades anyway.
    """
    from minertrace.db import migrate
    from minertrace.store import advisory_lock_holders

    with _database(database_url, data_dir) as db:
        if not force:
            with db.engine.connect() as conn:
                holders = advisory_lock_holders(conn)
            if holders:
                raise fail(
                    "a minertrace service or demo holds a lock on this database (server "
                    f"pid {', '.join(map(str, holders))}); stop it first, or pass --force",
                    EXIT_LOCK_HELD,
                )
        report = migrate.downgrade(db.engine, revision)
        say(f"database: {db.display_url}")
        for line in report.lines():
            say(line)


@app.command()
def current(database_url: DatabaseUrlOption = None, data_dir: DataDirOption = None) -> None:
    """Print the database's revision."""
    from minertrace.db import migrate

    with _database(database_url, data_dir) as db:
        rev = migrate.current(db.engine)
        head = migrate.head_revision()
        suffix = " (head)" if rev == head else f" (head is {head})"
        say(f"{rev or 'none'}{suffix}")


@app.command()
def check(database_url: DatabaseUrlOption = None, data_dir: DataDirOption = None) -> None:
    """Compare the models with the database; exit 1 on any difference."""
    from minertrace.db import migrate

    with _database(database_url, data_dir) as db:
        diffs = migrate.check(db.engine)
    if diffs:
        for diff in diffs:
            say(f"- {diff}", err)
        raise fail(f"{len(diffs)} difference(s) between the models and the database")
    say("models and database agree")


@app.command()
def status(database_url: DatabaseUrlOption = None, data_dir: DataDirOption = None) -> None:
    """Server, URL (password redacted), revision and table row counts."""
    from minertrace.db import gaia, migrate
    from minertrace.store import table_row_counts

    with _database(database_url, data_dir) as db:
        version = db.ping()
        rev = migrate.current(db.engine)
        with db.engine.connect() as conn:
            counts = table_row_counts(conn, STATUS_TABLES)
            gaia_lines = gaia.status(conn).lines()
        say(f"server:   {db.describe_server()}")
        say(f"version:  {version.split(' on ')[0]}")
        say(f"url:      {db.display_url}")
        head = migrate.head_revision()
        say(f"revision: {rev or 'none'} ({'head' if rev == head else f'head is {head}'})")
        table = RichTable("table", "rows")
        for name, count in counts.items():
            table.add_row(escape(name), str(count))
        console.print(table)
        for line in gaia_lines:
            say(line)
