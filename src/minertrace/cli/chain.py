"""`minertrace chain` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import numpy as np

    from minertrace.chain import yuma

app = typer.Typer(help="Chain commands: run Yuma Consensus locally.", no_args_is_help=True)


@app.callback()
def _chain() -> None:
    """Chain commands: run Yuma Consensus locally."""


_COLUMNS: tuple[tuple[str, str], ...] = (
    ("validator_permit", "permit"),
    ("active_stake", "active"),
    ("consensus", "consensus"),
    ("validator_trust", "vtrust"),
    ("incentive", "incentive"),
    ("dividends", "dividends"),
    ("emission", "emission"),
    ("new_validator_permit", "next"),
)


def _column(res: yuma.EpochResult, name: str) -> np.ndarray[Any, np.dtype[Any]]:
    import numpy as np

    if name == "emission":
        return res.server_emission_share + res.validator_emission_share
    return np.asarray(getattr(res, name))


@app.command("epoch")
def epoch_command(
    input: Path = typer.Option(..., "--input", "-i", help="A yuma-golden/1 JSON file."),
    as_json: bool = typer.Option(False, "--json", help='Print {"epochs": [...]} as JSON.'),
) -> None:
    """Run Yuma Consensus on every epoch of a yuma-golden/1 file.

    Bonds and permits are carried from one epoch to the next as on chain. Prints one table
    per epoch, or with --json an object whose epochs carry the files' `expected` names.
    """
    import numpy as np

    from minertrace.chain import golden

    try:
        doc = golden.load(input)
        run = golden.run(doc)
    except (OSError, golden.GoldenFormatError, KeyError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from exc
    if as_json:
        epochs = [golden.result_to_json(r) for r in run.results]
        typer.echo(json.dumps({"epochs": epochs}, allow_nan=False))
        return
    # Nine columns need about 90 characters; narrower, rich would truncate the headers.
    console = Console(width=max(Console().width, 100))
    version = "Yuma 3" if run.params.yuma3 else "Yuma 2"
    for t, res in enumerate(run.results):
        table = Table(title=escape(f"{run.name or input.name}: epoch {t} ({version})"))
        table.caption = "emission = server + validator share of the epoch's emission"
        table.add_column("uid", justify="right")
        for _, header in _COLUMNS:
            table.add_column(header, justify="right")
        for uid in range(res.consensus.size):
            cells = [str(uid)]
            for name, _ in _COLUMNS:
                arr = _column(res, name)
                if arr.dtype == np.bool_:
                    cells.append("yes" if arr[uid] else "")
                else:
                    cells.append(f"{float(arr[uid]):.4f}")
            table.add_row(*cells)
        console.print(table)
