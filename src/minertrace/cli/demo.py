"""`minertrace demo`: a simulated subnet at full speed, then the top miners."""

from __future__ import annotations

import asyncio
import logging
from contextlib import ExitStack
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from minertrace.cli._support import (
    DatabaseUrlOption,
    DataDirOption,
    cli_settings,
    console,
    fail,
    opened_database_for,
    say,
)
from minertrace.cli.errors import EXIT_LOCK_HELD
from minertrace.flags import RulesName

if TYPE_CHECKING:
    from minertrace.validator.demo import DemoResult


def demo(
    days: Annotated[float, typer.Option("--days", min=0.01, help="Simulated days.")] = 2.0,
    miners: Annotated[int, typer.Option("--miners", min=1, max=1000, help="Miners.")] = 64,
    validators: Annotated[
        int, typer.Option("--validators", min=0, max=64, help="Peer validators.")
    ] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Simulation seed.")] = 0,
    rules: Annotated[
        RulesName,
        typer.Option(
            "--rules",
            help="Weight rules (docs/rules.md).",
        ),
    ] = RulesName.GAIA,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Simulate a subnet at full speed with the validator service, then show the top miners.

    Data goes to the schema minertrace_demo (of DATABASE_URL's database, else of an embedded
    server under <data dir>/demo); each run starts it afresh.
    """
    from minertrace.validator.demo import DEMO_SCHEMA, demo_lock, reset_demo_schema, run_demo
    from minertrace.validator.lock import LockHeldError

    settings = cli_settings(database_url=database_url, data_dir=data_dir, weight_rules=rules.value)
    quiet = ExitStack()
    if settings.log_level == "INFO":
        # The progress bar is the demo's output; the service's INFO lines would scroll it
        # away. The level is given back at the end (the process may run other commands).
        package_logger = logging.getLogger("minertrace")
        quiet.callback(package_logger.setLevel, package_logger.level)
        package_logger.setLevel(logging.WARNING)
    with quiet, opened_database_for(settings, demo=True) as db, ExitStack() as held:
        try:
            held.enter_context(demo_lock(db))
        except LockHeldError as exc:
            raise fail(str(exc), EXIT_LOCK_HELD) from None
        reset_demo_schema(db)
        say(
            f"demo: {days:g} simulated days, {miners} miners, {validators} peer validators, "
            f"seed {seed}, {settings.weight_rules} rules; data in schema {DEMO_SCHEMA} of "
            f"{db.describe_server()}"
        )
        with Progress(
            TextColumn("[bold]simulating[/bold]"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("demo", total=1.0, detail="")

            def progress(fraction: float) -> None:
                bar.update(task, completed=fraction, detail=f"day {fraction * days:.2f}")

            try:
                result = asyncio.run(
                    run_demo(
                        db,
                        settings,
                        days=days,
                        miners=miners,
                        validators=validators,
                        seed=seed,
                        progress=progress,
                    )
                )
            except LockHeldError as exc:
                raise fail(str(exc), EXIT_LOCK_HELD) from None
            bar.update(task, completed=1.0, detail=f"day {days:g}")
        print_demo(result)


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_demo(result: DemoResult) -> None:
    """The demo's summary line, its events, the top-miners table and what to ask next."""
    c = result.counters
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(c.cycle_statuses.items())) or "none"
    say(
        f"\n{result.simulated_seconds / 86400:.2f} simulated days in {result.wall_seconds:.1f} s: "
        f"{sum(c.cycle_statuses.values())} cycles ({statuses}), {len(c.epochs)} epochs, "
        f"{c.runs.get('node_sync', 0)} node syncs, {c.runs.get('stats', 0)} stats refreshes, "
        f"{c.runs.get('retention', 0)} retention runs, "
        f"{sum(c.failures.values())} step failures."
    )
    for event in result.events:
        say(f"event: {event}")
    table = Table(title="top miners (latest cycle)")
    for name, justify in (
        ("UID", "right"),
        ("hotkey", "left"),
        ("pathway", "left"),
        ("submitted weight", "right"),
        ("incentive", "right"),
        ("consensus rank", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in result.top:
        table.add_row(
            str(row.uid),
            escape(str(row.hotkey)),
            escape(row.scoring_pathway or "-"),
            _fmt(row.weight, ".5f"),
            _fmt(row.incentive, ".5f"),
            _fmt(row.consensus_rank, "d"),
        )
    console.print(table)
    if result.top:
        uid = result.top[0].uid
        console.print(
            f"Why does a miner have its weight? Ask: [bold]minertrace explain {uid} --demo[/bold]",
        )
    if result.zero_example is not None:
        console.print(
            f"A miner of an 11-hotkey coldkey farm gets nothing: "
            f"[bold]minertrace explain {result.zero_example} --demo[/bold]"
        )
    console.print(
        "Open the dashboard: [bold]minertrace serve --demo[/bold], then http://127.0.0.1:8057/"
    )


def register(app: typer.Typer) -> None:
    """Attach `demo` to the root app."""
    app.command()(demo)


__all__ = ["demo", "print_demo", "register"]
