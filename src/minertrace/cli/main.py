"""The `minertrace` command: one Typer app with a sub-app or command per module.

Importing this module imports typer, rich and the command modules only; each command
imports what it needs (the database, the service, the SDK, numpy) when it runs.
"""

from __future__ import annotations

import signal

import typer

from minertrace.cli import demo as demo_command
from minertrace.cli import explain as explain_command
from minertrace.cli import replay as replay_command
from minertrace.cli import run as run_command
from minertrace.cli import serve as serve_command
from minertrace.cli import status as status_command
from minertrace.cli.chain import app as chain_app
from minertrace.cli.db import app as db_app
from minertrace.cli.errors import OneLineErrors
from minertrace.cli.stats import app as stats_app
from minertrace.cli.weights import app as weights_app

app = typer.Typer(
    name="minertrace",
    cls=OneLineErrors,
    help="Trace a Bittensor validator's weights from task scores to on-chain incentive.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db_app, name="db")
app.add_typer(weights_app, name="weights")
app.add_typer(chain_app, name="chain")
app.add_typer(stats_app, name="stats")
run_command.register(app)
demo_command.register(app)
explain_command.register(app)
status_command.register(app)
serve_command.register(app)
replay_command.register(app)


def main() -> None:
    """Console-script entry point.

    Once the command is over, SIGINT/SIGTERM are ignored: a late Ctrl-C while the interpreter
    joins its threads and runs exit handlers would only print a traceback.
    """
    try:
        app()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)


__all__ = ["app", "main"]
