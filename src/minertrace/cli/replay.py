"""`minertrace replay CYCLE`: recompute a stored cycle, verify it, ask what-if.

Only typer and rich at module level; the replay machinery is imported when the command runs.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from minertrace.cli._support import (
    DatabaseUrlOption,
    DataDirOption,
    cli_settings,
    console,
    fail,
)
from minertrace.cli.serve import serving_database

if TYPE_CHECKING:
    from minertrace.validator.replay import ReplayReport
    from minertrace.validator.replay_diff import UidChange


def replay(
    cycle: Annotated[int, typer.Argument(min=1, help="The weight_submissions id of the cycle.")],
    assignments: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--set",
            help="Override a field of the cycle's rules config, FIELD=VALUE (repeatable), "
            "e.g. coldkey_upper=5 (Gaia) or moving_average_alpha=0.3 (template).",
            show_default=False,
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option("--verify", help="Exit 1 unless the stored vectors are reproduced exactly."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="UIDs to list, largest moves first.")
    ] = 25,
    demo_data: Annotated[
        bool, typer.Option("--demo", help="Replay a cycle of the last `minertrace demo`.")
    ] = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Recompute a stored cycle from its stored inputs: same config → same vectors, bit for bit;
    with --set, what would have changed for every miner."""
    from minertrace.validator.replay import CycleNotFoundError, ReplayError, replay_assignments
    from minertrace.validator.replay_overrides import OverrideError

    settings = cli_settings(database_url=database_url, data_dir=data_dir)
    with serving_database(settings, demo=demo_data) as db:
        try:
            report = replay_assignments(db.engine, cycle, assignments or [])
        except OverrideError as exc:
            raise fail(escape(str(exc)), 2) from None
        except CycleNotFoundError as exc:
            raise fail(escape(str(exc)), 2) from None
        except ReplayError as exc:
            raise fail(escape(str(exc)), 1) from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")
    else:
        print_report(report, limit)
    if verify and not report.verification.identical:
        raise typer.Exit(1)


def print_report(report: ReplayReport, limit: int) -> None:
    """The human-readable replay."""
    v = report.verification
    if v.identical:
        console.print(
            f"cycle {report.cycle_id}: replay reproduces all {len(v.checked)} stored vectors "
            "bit for bit",
            highlight=False,
        )
    else:
        console.print(
            f"[red]cycle {report.cycle_id}: replay differs from the stored cycle in "
            f"{len(v.differences)} vector(s)[/red]",
            highlight=False,
        )
        table = Table("vector", "UIDs differing", "first UIDs", "stored", "replayed")
        for d in v.differences:
            table.add_row(
                d.name,
                str(d.count),
                ", ".join(map(str, d.uids)),
                escape(str(d.stored[:3])),
                escape(str(d.replayed[:3])),
            )
        console.print(table)
    for note in report.notes:
        console.print(f"note: {escape(note)}", highlight=False)
    diff = report.diff
    if diff is None:
        return
    shown = ", ".join(f"{k}={v}" for k, v in report.overrides.items())
    console.print(
        f"\nwith {escape(shown)}: {len(diff.changes)} UIDs change; {diff.gainers} gain, "
        f"{diff.losers} lose, {diff.pathway_changes} change pathway; "
        f"{diff.weight_moved:.2%} of the weight changes hands",
        highlight=False,
    )
    if not diff.changes:
        return
    table = Table(title=f"largest moves (of {len(diff.changes)})", box=box.SIMPLE)
    for name in ("UID", "hotkey", "pathway", "final", "submitted", "Δ submitted", "rank"):
        left = name in ("hotkey", "pathway")
        table.add_column(
            name,
            justify="left" if left else "right",
            no_wrap=not left,
            min_width=10 if name == "pathway" else None,
        )
    ordered = sorted(diff.changes, key=lambda c: -abs(c.delta))[:limit]
    for c in ordered:
        table.add_row(*_row(c))
    console.print(table)


def _row(c: UidChange) -> list[str]:
    path = c.pathway_before
    if c.pathway_after != c.pathway_before:
        path += f" → {c.pathway_after}"
    color = "green" if c.delta > 0 else "red"
    return [
        str(c.uid),
        escape(c.hotkey or "-"),
        path,
        f"{c.final_before:.4f}→{c.final_after:.4f}",
        f"{c.submitted_before:.4f}→{c.submitted_after:.4f}",
        f"[{color}]{c.delta:+.5f}[/{color}]",
        f"{c.rank_before or '-'}→{c.rank_after or '-'}",
    ]


def register(app: typer.Typer) -> None:
    """Attach `minertrace replay` to the root app."""
    app.command(name="replay")(replay)


__all__ = ["print_report", "register", "replay"]
