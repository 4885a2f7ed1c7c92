"""`minertrace status`: one screen an operator reads at a glance (or `--json`); exit 1 when
something needs attention, so it doubles as a health check."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from minertrace.cli._support import (
    DatabaseUrlOption,
    DataDirOption,
    cli_settings,
    console,
    fail,
    opened_database,
)

EXIT_ATTENTION = 1


def _bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    from minertrace.observe.status import duration_text

    return f"{duration_text(seconds)} ago" if seconds >= 0 else f"in {duration_text(-seconds)}"


def status(
    validator_hotkey: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--validator-hotkey",
            help="The validator to report on (default: the one of the latest cycle).",
            show_default=False,
        ),
    ] = None,
    metrics_url: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--metrics-url",
            help="The running service's /metrics (e.g. http://127.0.0.1:9101/metrics): adds "
            "the trace queue, the chain's block and activity cutoff, the service's view.",
            show_default=False,
        ),
    ] = None,
    activity_cutoff: Annotated[
        int,
        typer.Option(
            "--activity-cutoff", min=1, help="The subnet's activity_cutoff when not read live."
        ),
    ] = 5000,
    margin_blocks: Annotated[
        int,
        typer.Option(
            "--margin-blocks", min=0, help="Warn when fewer blocks remain before the cutoff."
        ),
    ] = 1000,
    now: Annotated[
        Optional[datetime],  # noqa: UP045
        typer.Option(
            "--now",
            help="Judge as of this time (ISO 8601, UTC; default: now). For simulated runs.",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """The validator at a glance: last cycle, submission, cutoff, data gaps, lock, tables."""
    from minertrace.observe.status import StatusLimits, gather_status, read_metrics
    from minertrace.validator.lock import lock_key
    from minertrace.vocabulary import Task
    from minertrace.weights import WeightConfig

    settings = cli_settings(database_url=database_url, data_dir=data_dir)
    at = datetime.now(timezone.utc) if now is None else now
    at = at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at
    cfg = WeightConfig()
    limits = StatusLimits(
        cycle_interval_s=settings.cycle_interval_seconds,
        node_sync_interval_s=settings.node_sync_interval_seconds,
        score_windows_s={
            Task.WEATHER.value: cfg.weather_window_days * 86400.0,
            Task.GEOMAGNETIC.value: cfg.geomagnetic_window_days * 86400.0,
            Task.SOIL.value: cfg.soil_window_days * 86400.0,
        },
        retention_days=settings.retention_days,
        cleanup_hours=settings.cleanup_frequency_hours,
        activity_cutoff=activity_cutoff,
        margin_blocks=margin_blocks,
    )
    service = read_metrics(metrics_url) if metrics_url else None
    with opened_database(settings) as db:
        try:
            from minertrace.store.health import last_activity

            hotkey = validator_hotkey
            if hotkey is None:
                last = last_activity(db.engine, None).last_cycle
                hotkey = last.validator_hotkey if last else None
            report = gather_status(
                db.engine,
                at,
                limits,
                validator_hotkey=hotkey,
                lock_key=lock_key(hotkey) if hotkey else None,
                service=service,
            )
        except Exception as exc:
            if "does not exist" in str(exc):
                raise fail(
                    "the database has no minertrace tables; run `minertrace db upgrade`"
                ) from None
            raise
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        render(report, console)
    if not report.ok:
        raise typer.Exit(EXIT_ATTENTION)


def render(report: object, out: Console) -> None:
    """The one-screen form of a `StatusReport`."""
    from minertrace.observe.status import StatusReport

    assert isinstance(report, StatusReport)
    r = report
    who = escape(r.validator_hotkey) if r.validator_hotkey else "no validator yet"
    out.print(f"[bold]minertrace status[/bold]  {who}  as of {r.now:%Y-%m-%d %H:%M:%S} UTC")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    c = r.last_cycle
    if c is None:
        grid.add_row("last cycle", "none recorded")
    else:
        line = f"#{c.id} {_ago(r.age(c.computed_at))}, block {c.computed_block}: {c.status}"
        if c.error:
            line += f" ({c.error})"
        grid.add_row("last cycle", escape(line))
    s = r.last_submission
    grid.add_row(
        "last submission",
        "none on chain"
        if s is None
        else escape(
            f"#{s.id} in block {s.block_number} ({s.status}), {_ago(r.age(s.computed_at))}"
        ),
    )
    if r.blocks_until_cutoff is None:
        cutoff = "unknown (no block known)"
    else:
        cutoff = f"{r.blocks_until_cutoff} blocks left of {r.activity_cutoff}"
        if r.current_block_estimated:
            cutoff += f" (block ~{r.current_block}, estimated at 12 s a block)"
    grid.add_row("activity cutoff", cutoff)
    grid.add_row("node sync", _ago(r.age(r.node_sync_at)))
    if r.lock is None:
        grid.add_row("lock", "not held")
    else:
        who_holds = f"pid {r.lock.pid}"
        if r.lock.client_addr:
            who_holds += f" from {r.lock.client_addr}"
        if r.lock.backend_start:
            who_holds += f", connected {r.lock.backend_start:%Y-%m-%d %H:%M} UTC"
        grid.add_row("lock", escape(f"held by {who_holds}"))
    svc = r.service
    if svc is None:
        grid.add_row("trace queue", "unknown (pass --metrics-url of the service)")
    elif not svc.reachable:
        grid.add_row("trace queue", "unknown (service metrics unreachable)")
    else:
        depth = svc.get("minertrace_trace_queue_depth")
        drops = svc.get("minertrace_trace_queue_drops_total") or 0
        grid.add_row("trace queue", f"{depth or 0:.0f} waiting, {drops:.0f} dropped")
    out.print(grid)

    gaps = Table(title="data by task", title_justify="left")
    for col, justify in (("task", "left"), ("newest row", "right"), ("rows in window", "right")):
        gaps.add_column(col, justify=justify)  # type: ignore[arg-type]
    for g in r.gaps:
        gaps.add_row(g.task, _ago(r.age(g.newest)), str(g.rows_in_window))
    out.print(gaps)
    tables = Table(title="tables", title_justify="left")
    for col, justify in (("table", "left"), ("size", "right"), ("rows (est.)", "right")):
        tables.add_column(col, justify=justify)  # type: ignore[arg-type]
    for t in r.tables:
        rows = "not analysed" if t.estimated_rows is None else str(t.estimated_rows)
        tables.add_row(t.table, _bytes(t.total_bytes), rows)
    out.print(tables)
    for note in r.notes:
        out.print(f"note: {escape(note)}")
    if r.ok:
        out.print("[green]OK[/green]: nothing needs attention")
        return
    out.print(f"[red bold]{len(r.problems)} problem(s):[/red bold]")
    for problem in r.problems:
        out.print(f"  - {escape(problem)}")


def register(app: typer.Typer) -> None:
    """Attach `status` to the root app."""
    app.command(name="status")(status)


__all__ = ["EXIT_ATTENTION", "register", "render", "status"]
