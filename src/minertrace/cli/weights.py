"""`minertrace weights` commands: recompute a cycle offline from exported rows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from minertrace.weights import CycleTrace

app = typer.Typer(help="Weight engine commands.", no_args_is_help=True)

_EXPECTED_KEYS = (
    "weights_produced",
    "rank_based_fallback",
    "raw_weights",
    "after_coldkey_adjustment",
    "final_weights",
    "miners",
    "submitted_weights",
    "submitted_uids",
)


@app.callback()
def _group() -> None:
    """Weight engine commands."""


@app.command()
def compute(
    input: Path = typer.Option(..., "--input", "-i", help="Cycle input (minertrace-weights/1)."),
    as_json: bool = typer.Option(False, "--json", help="Print the conformance `expected` object."),
    top: int = typer.Option(15, "--top", help="Miners shown in the summary table."),
) -> None:
    """Compute one weight cycle from a JSON file and print a summary (or JSON)."""
    from minertrace.weights import CycleInputs, compute_cycle

    try:
        inputs = CycleInputs.from_json(input)
    except (OSError, json.JSONDecodeError, ValueError) as exc:
        typer.echo(f"error: cannot read {input}: {exc}", err=True)
        raise typer.Exit(2) from exc
    trace = compute_cycle(inputs)
    if as_json:
        full = trace.to_json_dict()
        # to_json_dict() writes non-finite floats as null; allow_nan=False keeps it strict JSON.
        typer.echo(json.dumps({k: full[k] for k in _EXPECTED_KEYS}, allow_nan=False))
        return
    _summary(trace, top)


def _fmt(x: float | None, digits: int = 6) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}g}"


def _summary(trace: CycleTrace, top: int) -> None:
    import numpy as np

    from minertrace.weights import TASKS
    from minertrace.weights.pathways import PATHWAY_LABELS

    console = Console(width=max(Console().width, 140))
    status = (
        "weights produced" if trace.weights_produced else f"no weights ({trace.no_weights_reason})"
    )
    console.print(
        f"[bold]{escape(status)}[/bold]; {trace.n_uids} UIDs; fallback: {trace.rank_based_fallback}"
    )
    weight = trace.final if trace.final is not None else trace.raw_weight
    uids = np.arange(trace.n_uids)
    ranked = np.lexsort((uids, -weight))
    order = [int(u) for u in ranked[trace.has_record[ranked]][:top]]
    table = Table(title=f"top {len(order)} miners")
    for col in ("uid", "pathway", *TASKS, "raw", "after coldkey", "final", "submitted", "u16"):
        table.add_column(col, justify="right")
    labels = {-1: "-", **PATHWAY_LABELS}
    for u in order:
        table.add_row(
            str(u),
            labels[int(trace.pathway[u])],
            *(
                _fmt(float(trace.tasks[t].score[u]), 4) if trace.tasks[t].present[u] else "-"
                for t in TASKS
            ),
            _fmt(float(trace.raw_weight[u])),
            _fmt(float(trace.after_coldkey[u])),
            _fmt(float(trace.final[u])) if trace.final is not None else "-",
            _fmt(float(trace.submitted[u])) if trace.submitted is not None else "-",
            str(int(trace.u16[u])) if trace.u16 is not None else "-",
        )
    console.print(table)
    scalars = Table(title="scalars")
    scalars.add_column("name")
    scalars.add_column("value", justify="right")
    for key, value in trace.scalars().items():
        scalars.add_row(key, escape(_fmt(value) if isinstance(value, float) else str(value)))
    console.print(scalars)
    quality = Table(title="data quality")
    quality.add_column("counter")
    quality.add_column("count", justify="right")
    for key, value in trace.data_quality().items():
        quality.add_row(key, str(value))
    console.print(quality)
