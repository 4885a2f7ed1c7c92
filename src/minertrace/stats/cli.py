"""`minertrace stats` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="Period statistics.", no_args_is_help=True)
