"""`minertrace explain UID`: why a miner has its weight, rendered for the terminal or as JSON."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Optional

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
    opened_database_for,
)

if TYPE_CHECKING:
    from minertrace.explain import Explanation, Reason, StageValue

EXIT_INPUT = 2


def register(app: typer.Typer) -> None:
    """Attach `explain` to the root app."""
    app.command(name="explain")(explain_command)


def explain_command(
    uid: Annotated[int, typer.Argument(help="The miner's UID.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    validator_hotkey: Annotated[
        Optional[str],  # noqa: UP045 - typer needs Optional on Python 3.10
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
    from sqlalchemy.exc import ProgrammingError

    from minertrace.explain import InvalidUidError, UnknownCycleError, UnknownUidError, explain

    settings = cli_settings(database_url=database_url, data_dir=data_dir)
    with opened_database_for(settings, demo=demo_data) as db:
        try:
            result = explain(db.engine, uid, validator_hotkey=validator_hotkey, cycle_id=cycle)
        except InvalidUidError as exc:
            raise fail(str(exc), EXIT_INPUT) from None
        except (UnknownUidError, UnknownCycleError) as exc:
            raise fail(str(exc)) from None
        except ProgrammingError as exc:
            if getattr(exc.orig, "sqlstate", None) != _UNDEFINED_TABLE:
                raise
            raise fail(
                "the database has no minertrace tables; run `minertrace db upgrade` or "
                + ("`minertrace demo`" if demo_data else "`minertrace run`")
            ) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, allow_nan=False) + "\n")
        return
    print_explanation(result, console)


_UNDEFINED_TABLE = "42P01"


def _value(value: StageValue) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def print_explanation(exp: Explanation, out: Console) -> None:
    """The human-readable form of an explanation; every stored text is escaped."""
    who = f"UID {exp.uid}"
    if exp.hotkey:
        who += f"  hotkey {exp.hotkey}"
    if exp.coldkey:
        who += f"  coldkey {exp.coldkey}"
    if not exp.registered:
        who += "  (not registered)"
    out.print(f"[bold]{escape(who)}[/bold]", highlight=False)
    out.print(escape(exp.summary), highlight=False)
    c = exp.cycle
    if c is not None:
        line = (
            f"cycle {c.id} by {c.validator_hotkey} at {c.computed_at:%Y-%m-%d %H:%M:%S} "
            f"UTC (block {_value(c.computed_block)}): status {c.status.value}"
        )
        if c.block_number is not None:
            line += f", included in block {c.block_number} ({str(c.block_hash)[:18]}...)"
        if c.verification is not None:
            line += f", verification {'match' if c.verification.match else 'MISMATCH'}"
        if c.error:
            line += f", error: {c.error}"
        out.print(escape(line), highlight=False)
    if exp.stages:
        table = Table(title="score -> weight", show_header=True)
        table.add_column("stage")
        table.add_column("value", justify="right")
        for stage in exp.stages:
            table.add_row(escape(stage.label), escape(_value(stage.value)))
        out.print(table)
    elif c is not None and not exp.details_stored:
        out.print("stage vectors were not stored (enable_detailed_pathways is off)")
    out.print(escape(_chain_line(exp)), highlight=False)
    _print_reasons(out, "why the weight is zero:", exp.reasons)
    _print_reasons(out, "notes:", exp.notes)


def _chain_line(exp: Explanation) -> str:
    ch = exp.chain
    line = (
        f"chain (epoch at block {_value(ch.consensus_block)}): incentive "
        f"{_value(ch.incentive)}, consensus rank {_value(ch.consensus_rank)}"
    )
    if ch.consensus_delay_blocks is not None:
        line += f"; {ch.consensus_delay_blocks} blocks after the weights were included"
    elif ch.weight_submission_block is not None and ch.consensus_block is not None:
        line += (
            f"; the weights included in block {ch.weight_submission_block} have not met an "
            "epoch yet, so this incentive reflects earlier weights"
        )
    return line


def _print_reasons(out: Console, title: str, reasons: tuple[Reason, ...]) -> None:
    if not reasons:
        return
    out.print(f"[bold]{title}[/bold]")
    for r in reasons:
        out.print(escape(f"  - {r.message} [{r.code}]"), highlight=False)
