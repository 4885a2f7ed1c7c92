"""`minertrace run`: the validator service, wired by `minertrace.validator.build`."""

from __future__ import annotations

import asyncio
import signal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from minertrace.cli._support import cli_settings, console, err, fail, opened_database, say
from minertrace.cli.errors import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_LOCK_HELD, EXIT_RUNTIME
from minertrace.flags import FLAGS, RulesName

if TYPE_CHECKING:
    from minertrace.observe import MetricsServer
    from minertrace.validator.build import BuiltService


class LogFormat(str, Enum):
    """`--log-format`: plain text lines, or one JSON object a line (for log shippers)."""

    TEXT = "text"
    JSON = "json"


CONTEXT_SETTINGS = {"allow_extra_args": True, "ignore_unknown_options": True}
EPILOG = "Chain and database flags (Bittensor style): " + ", ".join(FLAGS) + "."


def run(
    ctx: typer.Context,
    chain_state: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--chain-state",
            help="LocalChain only: resume the simulated subnet from this file if it exists, "
            "and save it there on exit.",
            show_default=False,
        ),
    ] = None,
    speed: Annotated[
        float,
        typer.Option(
            "--speed", min=0.001, help="LocalChain only: simulated seconds per wall second."
        ),
    ] = 1.0,
    hours: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--hours", min=0.0, help="Stop after this many hours of chain time."),
    ] = None,
    miners: Annotated[
        int, typer.Option("--miners", min=1, help="LocalChain only: simulated miners.")
    ] = 64,
    validators: Annotated[
        int, typer.Option("--validators", min=0, help="LocalChain only: peer validators.")
    ] = 4,
    seed: Annotated[int, typer.Option("--seed", help="LocalChain only: simulation seed.")] = 0,
    shadow: Annotated[
        bool,
        typer.Option(
            "--shadow",
            help="Shadow mode: trace every cycle, submit nothing, and compare with the weights "
            "the validator's hotkey sets itself (docs/shadow.md).",
        ),
    ] = False,
    rules: Annotated[
        Optional[RulesName],  # noqa: UP045
        typer.Option(
            "--rules",
            help="Weight rules (default: the weight_rules setting, gaia; docs/rules.md).",
            show_default=False,
        ),
    ] = None,
    metrics_port: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            "--metrics-port",
            min=0,
            max=65535,
            help="Serve Prometheus metrics at http://<metrics-host>:PORT/metrics.",
            show_default=False,
        ),
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option(
            "--metrics-host",
            help="Address the metrics endpoint binds (the metrics name the hotkey: keep it "
            "local unless a firewall guards it).",
        ),
    ] = "127.0.0.1",
    log_format: Annotated[
        LogFormat,
        typer.Option(
            "--log-format", help="text, or json: one object a line with the cycle id and step."
        ),
    ] = LogFormat.TEXT,
) -> None:
    """Run the validator service: cycles, node sync, epochs, stats refresh, retention.

    Without --subtensor.network the chain is an in-process LocalChain with simulated miners
    (a fresh subnet, or the one saved in --chain-state). Stops cleanly on SIGINT/SIGTERM.
    A second instance for the same hotkey on the same database refuses to start (exit 3).
    """
    from minertrace.observe.logs import configure_logging
    from minertrace.validator.build import BuildError, LocalOptions, build_service
    from minertrace.validator.lock import LockHeldError

    overrides: dict[str, object] = {"shadow": True} if shadow else {}
    if rules is not None:
        overrides["weight_rules"] = rules.value
    settings = cli_settings(list(ctx.args), **overrides)
    configure_logging(settings.log_level, log_format.value)
    local = LocalOptions(
        chain_state=chain_state, speed=speed, miners=miners, validators=validators, seed=seed
    )
    closing = _QuietClose()
    try:
        with opened_database(settings) as db:
            try:
                built = build_service(settings, db, local)
            except BuildError as exc:
                raise fail(str(exc), EXIT_INPUT if exc.input_error else EXIT_RUNTIME) from None
            say(
                f"minertrace service for hotkey {built.validator_hotkey} on subnet "
                f"{built.netuid} ({built.chain_label}), database {db.describe_server()}, "
                f"{settings.weight_rules} rules"
                f"{'; shadow mode: nothing is submitted' if settings.shadow else ''}; "
                "Ctrl-C stops it."
            )
            server = _metrics_server(built, metrics_port, metrics_host)
            try:
                asyncio.run(_serve(built, hours))
            except LockHeldError as exc:
                raise fail(str(exc), EXIT_LOCK_HELD) from None
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise fail(
                    "interrupted again: stopped without finishing the current step (the next "
                    "start reconciles any submission left open)",
                    EXIT_INTERRUPTED,
                ) from None
            finally:
                closing.begin()
                if server is not None:
                    server.close()
    finally:
        closing.end()


class _QuietClose:
    """While the database closes after the loop, Ctrl-C/SIGTERM print a note instead of
    raising KeyboardInterrupt (which would end in a traceback); then the handlers return."""

    def __init__(self) -> None:
        self._saved: dict[int, object] = {}

    def begin(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._saved[sig] = signal.signal(sig, self._note)

    def end(self) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        self._saved.clear()

    @staticmethod
    def _note(_signum: int, _frame: object) -> None:
        say("already stopping: closing the database", err)


def _metrics_server(built: BuiltService, port: int | None, host: str) -> MetricsServer | None:
    """Attach metrics to the service and serve them (None when no port was asked for)."""
    if port is None:
        return None
    from minertrace.observe import ExporterError, Metrics, start_exporter

    metrics = Metrics()
    built.service.attach_metrics(metrics)
    try:
        server = start_exporter(metrics.registry, port, host)
    except ExporterError as exc:
        raise fail(str(exc)) from None
    say(f"metrics on {server.url}")
    return server


async def _serve(built: BuiltService, hours: float | None) -> None:
    built.service.install_signal_handlers()
    try:
        counters = await built.service.run(until=built.until(hours))
    finally:
        saved = built.save_state()
        if saved is not None:
            say(f"simulated subnet saved to {saved}")
        await built.close()
    say(f"stopped: {counters.snapshot()}", console)


def register(app: typer.Typer) -> None:
    """Attach `run` to the root app."""
    app.command(context_settings=CONTEXT_SETTINGS, epilog=EPILOG)(run)


__all__ = ["EXIT_LOCK_HELD", "LogFormat", "register", "run"]
