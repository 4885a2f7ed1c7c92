"""`minertrace stats` commands: refresh the period statistics, apply retention."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Annotated, Optional

import typer
from rich.table import Table

from minertrace.cli._support import (
    DatabaseUrlOption,
    DataDirOption,
    console,
    fail,
    say,
    settings_and_database,
)
from minertrace.cli.errors import EXIT_INPUT
from minertrace.vocabulary import MAX_RETENTION_DAYS, PERIOD_TYPES

app = typer.Typer(help="Period statistics.", no_args_is_help=True)
PeriodName = Enum("PeriodName", {name: name for name in PERIOD_TYPES}, type=str)  # type: ignore[misc]

NowOption = Annotated[
    Optional[datetime],  # noqa: UP045
    typer.Option(
        "--now",
        help="Compute as of this time (ISO 8601, UTC when no offset; default: the current time).",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S"],
        show_default=False,
    ),
]


EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)
FUTURE_SLACK = timedelta(days=1)


def _as_utc(now: datetime | None) -> datetime:
    """`--now` in UTC, checked: from 2000 to one day after the current time (clock skew).

    Statistics as of another century mean a typo; they would also overflow the period
    arithmetic. Out of range is an input error (exit 2).
    """
    current = datetime.now(timezone.utc)
    if now is None:
        return current
    at = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now
    if not EARLIEST <= at <= current + FUTURE_SLACK:
        raise fail(
            f"--now {at.isoformat()} is out of range: from {EARLIEST.date()} to one day after "
            "the current time",
            EXIT_INPUT,
        )
    return at


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
    from minertrace.stats.periods import current_periods
    from minertrace.stats.refresh import refresh_all

    at = _as_utc(now)
    kinds = [p.value for p in period] if period else list(PERIOD_TYPES)
    with settings_and_database(database_url, data_dir) as (_, db):
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
            "--retention-days",
            min=1,
            max=MAX_RETENTION_DAYS,
            help="Days kept (default: the retention_days setting).",
        ),
    ] = None,
    now: NowOption = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Delete weight_submissions and non-all_time stats rows older than the retention."""
    from minertrace.stats.retention import cleanup as apply_retention

    at = _as_utc(now)
    with settings_and_database(database_url, data_dir) as (settings, db):
        days = retention_days if retention_days is not None else settings.retention_days
        counts = apply_retention(db.engine, at, days)
    say(
        f"retention {days} days (cutoff {counts.cutoff.isoformat()}): deleted "
        f"{counts.weight_submissions} weight_submissions rows and {counts.stats_rows} "
        "stats rows"
    )
