"""`minertrace stats` commands: refresh the period statistics, apply retention."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from minertrace.config import Settings, SettingsError, load_settings
from minertrace.db.database import Database, DatabaseUnavailableError
from minertrace.stats.periods import PERIOD_TYPES, current_periods
from minertrace.stats.refresh import refresh_all
from minertrace.stats.retention import cleanup as apply_retention

app = typer.Typer(help="Period statistics.", no_args_is_help=True)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

PeriodName = Enum("PeriodName", {name: name for name in PERIOD_TYPES}, type=str)  # type: ignore[misc]

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
        "--data-dir", help="Data directory of the embedded PostgreSQL.", show_default=False
    ),
]
NowOption = Annotated[
    Optional[datetime],  # noqa: UP045
    typer.Option(
        "--now",
        help="Compute as of this time (ISO 8601, UTC when no offset; default: the current time).",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"],
        show_default=False,
    ),
]


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    return typer.Exit(1)


def _as_utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    return now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now


@contextmanager
def _opened(database_url: str | None, data_dir: Path | None) -> Iterator[tuple[Settings, Database]]:
    try:
        settings = load_settings(database_url=database_url, data_dir=data_dir)
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    try:
        db = Database.open(settings)
    except DatabaseUnavailableError as exc:
        raise _fail(str(exc)) from None
    try:
        yield settings, db
    finally:
        db.close()


@app.command()
def refresh(
    period: Annotated[
        Optional[list[PeriodName]],  # noqa: UP045
        typer.Option("--period", help="Period to refresh (repeatable; default: all four)."),
    ] = None,
    now: NowOption = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Recompute the statistics columns of the current period rows from score_table."""
    at = _as_utc(now)
    kinds = [p.value for p in period] if period else list(PERIOD_TYPES)
    with _opened(database_url, data_dir) as (_, db):
        counts = refresh_all(db.engine, at, current_periods(at, kinds))
    table = Table(title=f"period statistics as of {at.isoformat()}")
    for column in ("period", "start", "end", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left")
    for p, n in counts.items():
        table.add_row(p.period_type, p.start.isoformat(), p.end.isoformat(), str(n))
    console.print(table)


@app.command()
def cleanup(
    retention_days: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--retention-days", min=1, help="Days kept (default: the retention_days setting)."
        ),
    ] = None,
    now: NowOption = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delete weight_submissions and non-all_time stats rows older than the retention."""
    at = _as_utc(now)
    with _opened(database_url, data_dir) as (settings, db):
        days = retention_days if retention_days is not None else settings.retention_days
        counts = apply_retention(db.engine, at, days)
    console.print(
        f"retention {days} days (cutoff {counts.cutoff.isoformat()}): deleted "
        f"{counts.weight_submissions} weight_submissions rows and {counts.stats_rows} "
        "stats rows",
        highlight=False,
    )
