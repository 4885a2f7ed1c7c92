"""The `minertrace` command: one Typer app, one module per command group."""

from minertrace.cli.main import app, main

__all__ = ["app", "main"]
