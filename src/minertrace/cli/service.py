"""Top-level service commands: `minertrace run`, `minertrace demo`, `minertrace explain`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from minertrace.chain.types import Chain
from minertrace.cli._support import (
    DatabaseUrlOption,
    DataDirOption,
    cli_settings,
    console,
    err,
    fail,
    opened_database,
)
from minertrace.clock import Clock, SystemClock
from minertrace.config import FLAGS, Settings
from minertrace.db.database import Database
from minertrace.db.migrate import upgrade
from minertrace.explain.model import Explanation, UnknownUidError, explain
from minertrace.validator.lock import LockHeldError

logger = logging.getLogger(__name__)

EXIT_LOCK_HELD = 3


def _database(settings: Settings, *, demo: bool = False) -> AbstractContextManager[Database]:
    if not demo:
        return opened_database(settings)
    from minertrace.validator.demo import open_demo_database

    def open_demo(settings: Settings) -> Database:
        db = open_demo_database(settings)
        db.ping()
        return db

    return opened_database(settings, open_demo)


# ---------------------------------------------------------------- run


def _write_state(path: Path, text: str) -> None:
    """Write the snapshot atomically (a crash never leaves half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class PacedClock:
    """A LocalChain's clock paced against wall time: `speed` simulated seconds per second.

    Sleeping waits for real (so SIGINT interrupts it), then produces the blocks.
    """

    def __init__(self, inner: Clock, speed: float) -> None:
        self.inner = inner
        self.speed = speed

    def now(self) -> Any:
        """The chain's time."""
        return self.inner.now()

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds / speed` of wall time, then advance the chain by `seconds`."""
        await asyncio.sleep(max(0.0, seconds) / self.speed)
        await self.inner.sleep(seconds)


def register(app: typer.Typer) -> None:
    """Attach the service commands to the root app."""
    app.command(
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        epilog="Chain and database flags (Bittensor style): " + ", ".join(FLAGS) + ".",
    )(run)
    app.command()(demo)
    app.command(name="explain")(explain_command)


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
) -> None:
    """Run the validator service: cycles, node sync, epochs, stats refresh, retention.

    Without --subtensor.network the chain is an in-process LocalChain with simulated miners
    (a fresh subnet, or the one saved in --chain-state). Stops cleanly on SIGINT/SIGTERM.
    A second instance for the same hotkey on the same database refuses to start (exit 3).
    """
    settings = cli_settings(list(ctx.args))
    with _database(settings) as db:
        report = upgrade(db.engine)
        for line in report.lines():
            logger.info("migrations: %s", line)
        try:
            code = asyncio.run(
                _run(db, settings, chain_state, speed, hours, miners, validators, seed)
            )
        except LockHeldError as exc:
            raise fail(str(exc), EXIT_LOCK_HELD) from None
    if code:
        raise typer.Exit(code)


async def _run(
    db: Database,
    settings: Settings,
    chain_state: Path | None,
    speed: float,
    hours: float | None,
    miners: int,
    validators: int,
    seed: int,
) -> int:
    from minertrace.validator.service import Job, Service

    sim = None
    chain: Chain
    clock: Clock
    extra: list[Job] = []
    if settings.uses_local_chain:
        from minertrace.sim.subnet import SimParams, SimulatedSubnet

        if chain_state is not None and chain_state.exists():
            try:
                sim = SimulatedSubnet.from_json(chain_state.read_text())
            except (ValueError, KeyError, TypeError) as exc:
                err.print(
                    f"[red]error:[/red] {chain_state} is not a simulated subnet saved by "
                    f"`minertrace run --chain-state` ({exc}); nothing was changed",
                    highlight=False,
                )
                return 1
            logger.info("resumed the simulated subnet from %s", chain_state)
        else:
            sim = SimulatedSubnet.create(
                SimParams(n_miners=miners, n_validators=validators, seed=seed)
            )
        chain, hotkey, netuid = sim.chain, sim.validator_hotkey, sim.chain.netuid
        clock = PacedClock(sim.chain.clock, speed)
        local_sim = sim

        async def sim_step(now: Any) -> object:
            return local_sim.step(db.engine, now)

        extra.append(Job("simulator", 600.0, sim_step))
    else:
        try:
            from minertrace.chain.bittensor.chain import BittensorChain
        except ImportError:
            err.print(
                "[red]error:[/red] the real chain needs the bittensor extra: "
                "pip install 'minertrace[bittensor]'"
            )
            return 1
        network = settings.subtensor_chain_endpoint or settings.subtensor_network
        assert network is not None
        try:
            bt_chain = BittensorChain.from_settings(
                network, settings.wallet_name, settings.wallet_hotkey, settings.wallet_path
            )
        except (FileNotFoundError, ValueError) as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            return 1
        chain, hotkey, netuid, clock = bt_chain, bt_chain.hotkey, settings.netuid, SystemClock()
    service = Service(
        engine=db.engine,
        chain=chain,
        clock=clock,
        settings=settings,
        validator_hotkey=hotkey,
        netuid=netuid,
        extra_jobs=extra,
    )
    service.install_signal_handlers()
    until = clock.now() + timedelta(hours=hours) if hours is not None else None
    console.print(
        f"minertrace service for hotkey {hotkey} on subnet {netuid} "
        f"({'LocalChain' if sim else network}), database "
        f"{db.describe_server()}; Ctrl-C stops it.",
        highlight=False,
    )
    try:
        counters = await service.run(until=until)
    finally:
        if sim is not None and chain_state is not None:
            _write_state(chain_state, sim.to_json())
            console.print(f"simulated subnet saved to {chain_state}", highlight=False)
        close = getattr(chain, "close", None)
        if close is not None:
            await close()
    console.print(f"stopped: {counters.snapshot()}", highlight=False)
    return 0


# ---------------------------------------------------------------- demo


def demo(
    days: Annotated[float, typer.Option("--days", min=0.01, help="Simulated days.")] = 2.0,
    miners: Annotated[int, typer.Option("--miners", min=1, max=1000, help="Miners.")] = 64,
    validators: Annotated[
        int, typer.Option("--validators", min=0, max=64, help="Peer validators.")
    ] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Simulation seed.")] = 0,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Simulate a subnet at full speed with the validator service, then show the top miners.

    Data goes to the schema minertrace_demo (of DATABASE_URL's database, else of an embedded
    server under <data dir>/demo); each run starts it afresh.
    """
    from minertrace.validator.demo import DEMO_SCHEMA, reset_demo_schema, run_demo

    settings = cli_settings(database_url=database_url, data_dir=data_dir)
    if settings.log_level == "INFO":
        # The progress bar is the demo's output; the service's INFO lines would scroll it away.
        logging.getLogger("minertrace").setLevel(logging.WARNING)
    with _database(settings, demo=True) as db:
        reset_demo_schema(db)
        console.print(
            f"demo: {days:g} simulated days, {miners} miners, {validators} peer validators, "
            f"seed {seed}; data in schema {DEMO_SCHEMA} of {db.describe_server()}",
            highlight=False,
        )
        with Progress(
            TextColumn("[bold]simulating[/bold]"),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("demo", total=1.0, detail="")

            def progress(fraction: float) -> None:
                bar.update(task, completed=fraction, detail=f"day {fraction * days:.2f}")

            result = asyncio.run(
                run_demo(
                    db,
                    settings,
                    days=days,
                    miners=miners,
                    validators=validators,
                    seed=seed,
                    progress=progress,
                )
            )
            bar.update(task, completed=1.0, detail=f"day {days:g}")
        _print_demo(result)


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _print_demo(result: Any) -> None:
    c = result.counters
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(c.cycle_statuses.items())) or "none"
    console.print(
        f"\n{result.simulated_seconds / 86400:.2f} simulated days in {result.wall_seconds:.1f} s: "
        f"{sum(c.cycle_statuses.values())} cycles ({statuses}), {len(c.epochs)} epochs, "
        f"{c.runs.get('node_sync', 0)} node syncs, {c.runs.get('stats', 0)} stats refreshes, "
        f"{c.runs.get('retention', 0)} retention runs, "
        f"{sum(c.failures.values())} step failures.",
        highlight=False,
    )
    for event in result.events:
        console.print(f"event: {event}", highlight=False)
    table = Table(title="top miners (latest cycle)")
    for name, justify in (
        ("UID", "right"),
        ("hotkey", "left"),
        ("pathway", "left"),
        ("submitted weight", "right"),
        ("incentive", "right"),
        ("consensus rank", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in result.top:
        table.add_row(
            str(row.uid),
            row.hotkey,
            row.scoring_pathway or "-",
            _fmt(row.weight, ".5f"),
            _fmt(row.incentive, ".5f"),
            _fmt(row.consensus_rank, "d"),
        )
    console.print(table)
    if result.top:
        uid = result.top[0].uid
        console.print(
            f"Why does a miner have its weight? Ask: [bold]minertrace explain {uid} --demo[/bold]",
        )
    if result.zero_example is not None:
        console.print(
            f"A miner of an 11-hotkey coldkey farm gets nothing: "
            f"[bold]minertrace explain {result.zero_example} --demo[/bold]"
        )


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
