"""The `minertrace explain` command (to be replaced by `cli/explain.py`)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from minertrace.cli._support import (
    DatabaseUrlOption,
    DataDirOption,
    cli_settings,
    console,
    fail,
    opened_database_for,
)

if TYPE_CHECKING:
    from minertrace.explain.model import Explanation


def register(app: typer.Typer) -> None:
    """Attach `explain` to the root app."""
    app.command(name="explain")(explain_command)


_database = opened_database_for


# ---------------------------------------------------------------- explain


def explain_command(
    uid: Annotated[int, typer.Argument(help="The miner's UID.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    validator_hotkey: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            "--validator-hotkey",
            help="Explain this validator's latest cycle (default: the latest cycle of any).",
            show_default=False,
        ),
    ] = None,
    cycle: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--cycle", help="A weight_submissions id instead of the latest cycle."),
    ] = None,
    demo_data: Annotated[
        bool, typer.Option("--demo", help="Read the data of the last `minertrace demo`.")
    ] = False,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Why does this miner have this weight? The path from its scores to the chain."""
    from minertrace.explain.model import UnknownUidError, explain

    settings = cli_settings(database_url=database_url, data_dir=data_dir)
    with _database(settings, demo=demo_data) as db:
        try:
            result = explain(db.engine, uid, validator_hotkey=validator_hotkey, cycle_id=cycle)
        except UnknownUidError as exc:
            raise fail(str(exc)) from None
        except Exception as exc:
            if "does not exist" in str(exc):
                raise fail(
                    "the database has no minertrace tables; run `minertrace db upgrade` or "
                    + ("`minertrace demo`" if demo_data else "`minertrace run`")
                ) from None
            raise
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        return
    print_explanation(result, console)


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def print_explanation(exp: Explanation, out: Console) -> None:
    """The human-readable form of an explanation."""
    who = f"UID {exp.uid}"
    if exp.hotkey:
        who += f"  hotkey {exp.hotkey}"
    if exp.coldkey:
        who += f"  coldkey {exp.coldkey}"
    if not exp.registered:
        who += "  (not registered)"
    out.print(f"[bold]{who}[/bold]", highlight=False)
    out.print(exp.summary, highlight=False)
    c = exp.cycle
    if c is not None:
        line = (
            f"cycle {c['id']} by {c['validator_hotkey']} at {c['computed_at']:%Y-%m-%d %H:%M:%S} "
            f"UTC (block {c['computed_block']}): status {c['status']}"
        )
        if c["block_number"] is not None:
            line += f", included in block {c['block_number']} ({str(c['block_hash'])[:18]}...)"
        verification = c["verification"]
        if verification:
            line += f", verification {'match' if verification.get('match') else 'MISMATCH'}"
        if c["error"]:
            line += f", error: {c['error']}"
        out.print(line, highlight=False)
    if exp.stages:
        table = Table(title="score -> weight", show_header=True)
        table.add_column("stage")
        table.add_column("value", justify="right")
        for stage in exp.stages:
            table.add_row(stage.label, _value(stage.value))
        out.print(table)
    elif c is not None and not exp.details_stored:
        out.print("stage vectors were not stored (enable_detailed_pathways is off)")
    ch = exp.chain
    line = (
        f"chain (epoch at block {_value(ch.get('consensus_block'))}): incentive "
        f"{_value(ch.get('incentive'))}, consensus rank {_value(ch.get('consensus_rank'))}"
    )
    if ch.get("consensus_delay_blocks") is not None:
        line += f"; {ch['consensus_delay_blocks']} blocks after the weights were included"
    elif ch.get("weight_submission_block") is not None and ch.get("consensus_block") is not None:
        line += (
            f"; the weights included in block {ch['weight_submission_block']} have not met an "
            "epoch yet, so this incentive reflects earlier weights"
        )
    out.print(line, highlight=False)
    if exp.reasons:
        out.print("[bold]why the weight is zero:[/bold]")
        for r in exp.reasons:
            out.print(f"  - {r.message} [{r.code}]", highlight=False, markup=False)
    if exp.notes:
        out.print("[bold]notes:[/bold]")
        for r in exp.notes:
            out.print(f"  - {r.message} [{r.code}]", highlight=False, markup=False)
