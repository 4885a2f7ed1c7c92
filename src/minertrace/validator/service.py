"""`Service`: the validator's loops on one clock — cycles, node sync, epochs, stats, retention.

One asyncio task runs everything in a fixed order, so the steps never race each other for
the database or the chain, and a simulated clock (LocalChain's, where sleeping produces
blocks) runs the subnet at full speed. Each pass of the loop:

1. the extra jobs that are due (the simulator writing score rows, in the demo);
2. epoch check: when `chain.last_epoch_block` has moved, a full node sync right away, then
   `apply_epoch_results` (with `enable_chain_integration`) and `detect_orphans`;
3. node sync when `node_sync_interval_seconds` have passed (also followed by detect_orphans):
   between epochs it writes only what changed (`node_sync.MetagraphMemory`), and the fork
   check reads nothing while no step wrote submissions and its tip stands (`forks.ForkWatch`);
4. a weight cycle (`run_cycle`) every `cycle_interval_seconds`, only while this process holds
   the hotkey's advisory lock; in shadow mode (`settings.shadow`) a shadow cycle instead
   (traced, never submitted) and, every `shadow_watch_seconds`, a look at the weights the
   validator's hotkey set on chain (`validator.shadow`);
5. the period statistics refresh every `stats_refresh_interval_seconds`;
6. retention every `cleanup_frequency_hours`;
7. `flush` of the trace queue (when it holds anything), `reconcile_unsettled` (rows a dead
   process or a failed cycle left open: on start and after each cycle, which also retries a
   failed settlement) and `verify_pending` (commit-reveal read-backs: on the first pass, after
   a new epoch or a cycle, and after a read-back that could not reach the database).

then it sleeps until the earliest of the next due job and the next epoch block. Node sync,
stats, retention, flush and epoch failures are logged and counted and never stop the loop or
a cycle. `stop()` (wired to SIGINT/SIGTERM by `install_signal_handlers`) ends the loop after
the current step; a second signal cancels the step in progress.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine

from minertrace.chain.types import Chain
from minertrace.clock import Clock
from minertrace.config import Settings
from minertrace.observe.logs import FailureGate
from minertrace.observe.metrics import Metrics
from minertrace.observe.observer import ServiceObserver
from minertrace.stats.periods import period_for
from minertrace.stats.refresh import refresh_all
from minertrace.stats.retention import cleanup
from minertrace.store import fill_pipeline_columns
from minertrace.store.health import ping
from minertrace.validator.chain_integration import apply_epoch_results
from minertrace.validator.cycle import CycleContext, CycleResult, flush, run_cycle
from minertrace.validator.forks import ForkWatch, detect_orphans
from minertrace.validator.jobs import Job, JobAction, ServiceCounters, StepTimes
from minertrace.validator.lock import HotkeyLock, LockHeldError, held_message
from minertrace.validator.node_sync import MetagraphMemory, sync_nodes
from minertrace.validator.reconcile import reconcile_unsettled
from minertrace.validator.shadow import Shadow
from minertrace.validator.verify import verify_pending
from minertrace.vocabulary import BLOCK_SECONDS, PeriodType
from minertrace.weights import WeightConfig

logger = logging.getLogger(__name__)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:300]


class Service:
    """The validator service for one hotkey on one subnet (see the module doc).

    `engine` is the sync Engine of the minertrace database; the caller owns it (and the
    `Database`) and closes it after `run` returns. `extra_jobs` run first in each pass, in
    order (the demo's simulator). `progress(now)` is called after each pass. With `metrics`,
    a `ServiceObserver` feeds them (steps timed, counters synced, health probed).
    """

    def __init__(
        self,
        *,
        engine: Engine,
        chain: Chain,
        clock: Clock,
        settings: Settings,
        validator_hotkey: str,
        netuid: int | None = None,
        weight_config: WeightConfig | None = None,
        extra_jobs: Sequence[Job] = (),
        progress: Callable[[datetime], None] | None = None,
        block_seconds: float = BLOCK_SECONDS,
        log: logging.Logger | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.chain = chain
        self.clock = clock
        self.settings = settings
        self.validator_hotkey = validator_hotkey
        self.netuid = settings.netuid if netuid is None else netuid
        self.block_seconds = block_seconds
        self.log = log or logger
        self.ctx = CycleContext(
            engine=engine,
            chain=chain,
            clock=clock,
            validator_hotkey=validator_hotkey,
            settings=settings,
            netuid=self.netuid,
            weight_config=weight_config,
            block_seconds=block_seconds,
            log=self.log,
        )
        self.lock = HotkeyLock(engine, validator_hotkey)
        self.counters = ServiceCounters()
        self.shadow: Shadow | None = Shadow(self.ctx) if settings.shadow else None
        self.last_result: CycleResult | None = None
        self.extra_jobs = list(extra_jobs)
        self.jobs = {
            "node_sync": Job("node_sync", settings.node_sync_interval_seconds, self._node_sync),
            "cycle": Job("cycle", settings.cycle_interval_seconds, self._cycle),
            **(
                {"observe": Job("observe", settings.shadow_watch_seconds, self._observe)}
                if settings.shadow
                else {}
            ),
            "stats": Job("stats", settings.stats_refresh_interval_seconds, self._stats),
            "retention": Job(
                "retention", settings.cleanup_frequency_hours * 3600.0, self._retention
            ),
        }
        self._progress = progress
        self._stop = asyncio.Event()
        self._stop_reason: str | None = None
        self._last_epoch_block: int | None = None
        self._task: asyncio.Task[object] | None = None
        self._signals = 0
        self._started = False
        self._gates: dict[str, FailureGate] = {}
        self._times = StepTimes(self.counters.seconds)
        self.metagraph = MetagraphMemory()
        self.forks = ForkWatch()
        self._verify_due = True
        self.observer: ServiceObserver | None = None
        if metrics is not None:
            self.attach_metrics(metrics)

    # ---------------------------------------------------------------- control

    def attach_metrics(self, metrics: Metrics) -> ServiceObserver:
        """Feed `metrics` from now on (steps timed, counters synced, health probed)."""
        self.observer = ServiceObserver(metrics, self)
        return self.observer

    @property
    def stopping(self) -> bool:
        """True once `stop()` was called."""
        return self._stop.is_set()

    def stop(self, reason: str = "stop requested") -> None:
        """End the loop after the current step (safe to call from a signal handler)."""
        if not self._stop.is_set():
            self.log.info("stopping after the current step: %s", reason)
            self._stop_reason = reason
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """SIGINT/SIGTERM: the first stops after the current step, the second cancels it."""
        loop = asyncio.get_running_loop()

        def handle(signame: str) -> None:
            self._signals += 1
            if self._signals == 1:
                self.stop(f"received {signame}")
            elif self._task is not None:
                self.log.warning("second %s: cancelling the current step", signame)
                self._task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, handle, sig.name)
            except (NotImplementedError, RuntimeError):
                self.log.debug("signal handlers are not supported here")

    async def start(self) -> None:
        """Take the hotkey's advisory lock; raises `LockHeldError` if another process has it."""
        if self._started:
            return
        got = await asyncio.to_thread(self.lock.acquire)
        if not got:
            raise LockHeldError(held_message(self.validator_hotkey))
        self._started = True
        # Submissions a previous run left open are settled before anything new is sent.
        await self._guard("reconcile", lambda: reconcile_unsettled(self.ctx))

    async def close(self) -> None:
        """Last flush of the trace queue (best effort), then release the lock."""
        if not self._started:
            return
        await self._guard("flush", lambda: flush(self.ctx))
        await asyncio.to_thread(self.lock.release)
        self._started = False

    async def run(self, until: datetime | None = None) -> ServiceCounters:
        """Run the loop until `stop()` (or until the clock reaches `until`); then close.

        Raises `LockHeldError` before doing anything when another process holds the lock.
        """
        await self.start()
        self._task = asyncio.current_task()
        try:
            while not self.stopping:
                now = self.clock.now()
                if until is not None and now >= until:
                    break
                await self._pass(now)
                if self._progress is not None:
                    self._progress(self.clock.now())
                if self.stopping:
                    break
                await self._sleep_until(await self._next_wakeup(until))
        finally:
            self._task = None
            await self.close()
        self.log.info(
            "service stopped (%s): %s", self._stop_reason or "end of run", self.counters.snapshot()
        )
        return self.counters

    # ---------------------------------------------------------------- the loop

    async def _pass(self, now: datetime) -> None:
        for job in self.extra_jobs:
            if job.due(now) and not self.stopping:
                await self._run_job(job, now)
                if job.writes_submissions:
                    self.forks.touch()
        if await self._check_epoch():
            self._verify_due = True
        cycled = False
        for job in self.jobs.values():
            if self.stopping:
                return
            now = self.clock.now()
            if job.due(now):
                await self._run_job(job, now)
                cycled = cycled or job.name == "cycle"
                if job.name in ("cycle", "observe"):
                    self.forks.touch()
        await self._flush()
        if cycled:
            # Only a cycle leaves rows open once the start-up settlement ran (this process
            # holds the hotkey's lock); the rows its queue holds are left to the queue.
            if await self._guard("reconcile", lambda: reconcile_unsettled(self.ctx)):
                self.forks.touch()
            self._verify_due = True
        if self._verify_due:
            await self._verify()
        if self.observer is not None:
            await self._guard("observe", self.observer.after_pass)

    async def _flush(self) -> None:
        # An empty queue has nothing to write; the worker-thread hop would be all the cost.
        if len(self.ctx.queue) and await self._guard("flush", lambda: flush(self.ctx)):
            self.forks.touch()

    async def _verify(self) -> None:
        # A commit becomes verifiable when the last epoch passes its reveal block: new epochs
        # and cycles make this due; a database failure (a persist failure) keeps it due.
        failures = self.ctx.metrics.persist_failures
        result = await self._guard("verify", lambda: verify_pending(self.ctx))
        if result:
            self.forks.touch()
        self._verify_due = result is None or self.ctx.metrics.persist_failures != failures

    async def _run_job(self, job: Job, now: datetime) -> None:
        job.next_due = now + timedelta(seconds=job.interval)
        await self._guard(job.name, lambda: job.action(now))

    def _gate(self, name: str) -> FailureGate:
        gate = self._gates.get(name)
        if gate is None:
            gate = self._gates[name] = FailureGate(f"{name} failing", self.log)
        return gate

    async def _guard(self, name: str, step: Callable[[], Awaitable[object]]) -> object:
        """Run one step; an exception is counted and logged through the step's `FailureGate`
        (one line when a run of failures starts, summaries, one when it ends), never
        propagated."""
        observer = self.observer
        t0 = self._times.begin()
        error: BaseException | None = None
        result: object = None
        try:
            if observer is None:
                result = await step()
            else:
                with observer.job_scope(name):
                    result = await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = exc
            self.counters.failures[name] += 1
            self._gate(name).failed(_first_line(exc), exc_info=exc)
        else:
            self.counters.runs[name] += 1
            self._gate(name).ok()
        finally:
            elapsed = self._times.end(name, t0)
        if observer is not None:
            observer.job_done(name, result, error, elapsed)
        return result

    async def _next_wakeup(self, until: datetime | None) -> datetime:
        candidates = [j.next_due for j in (*self.jobs.values(), *self.extra_jobs)]
        due = [t for t in candidates if t is not None]
        now = self.clock.now()
        try:
            height = await self.chain.current_block()
            next_epoch = await self.chain.next_epoch_block(self.netuid)
            due.append(now + timedelta(seconds=max(1, next_epoch - height) * self.block_seconds))
        except Exception:
            self.log.debug("next epoch unknown; waking on the job schedule only", exc_info=True)
        if until is not None:
            due.append(until)
        return min(due) if due else now + timedelta(seconds=self.block_seconds)

    async def _sleep_until(self, when: datetime) -> None:
        seconds = (when - self.clock.now()).total_seconds()
        if seconds <= 0:
            return
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (sleeper, stopper):
                if not fut.done():
                    fut.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)

    # ---------------------------------------------------------------- steps

    async def _check_epoch(self) -> bool:
        """The epoch step; True when the epoch block moved (or could not be read: what
        depends on it is then tried again)."""
        try:
            block = await self.chain.last_epoch_block(self.netuid)
        except Exception as exc:
            self.counters.failures["epoch_check"] += 1
            self._gate("chain").failed(
                f"cannot read the last epoch block: {_first_line(exc)}", exc_info=exc
            )
            return True
        self._gate("chain").ok()
        if block == self._last_epoch_block or block <= 0:
            self._last_epoch_block = block
            return False
        self._last_epoch_block = block
        self.counters.epochs.append(block)
        now = self.clock.now()
        sync = self.jobs["node_sync"]
        sync.next_due = now + timedelta(seconds=sync.interval)
        synced = await self._guard("node_sync", lambda: self._node_sync(now, full=True))
        if synced is None:
            return True
        if self.settings.enable_chain_integration:
            await self._guard(
                "epoch_results",
                lambda: apply_epoch_results(
                    self.engine,
                    self.chain,
                    self.netuid,
                    self.validator_hotkey,
                    now,
                    epoch_block=block,
                    log=self.log,
                ),
            )
        return True

    async def _node_sync(self, now: datetime, *, full: bool = False) -> object:
        """A node sync (in full right after an epoch, or when asked), then the fork check."""
        engine, chain, log = self.engine, self.chain, self.log
        report = await sync_nodes(
            engine, chain, self.netuid, now=now, log=log, memory=self.metagraph, full=full
        )
        hotkey, netuid, watch = self.validator_hotkey, self.netuid, self.forks
        await self._guard(
            "orphans",
            lambda: detect_orphans(engine, chain, hotkey, netuid=netuid, log=log, watch=watch),
        )
        return report

    async def _cycle(self, now: datetime) -> object:
        if self.shadow is not None:
            shadow = await self.shadow.run_cycle()
            self.counters.cycle_statuses[shadow.status] += 1
            self.log.info("shadow cycle %s: %s", shadow.ws_id, shadow.status)
            return shadow
        if not await asyncio.to_thread(self.lock.ensure):
            # ensure() is also False when the lock could not be re-taken for want of a
            # database; only a reachable database means another session holds it.
            if await asyncio.to_thread(self._database_up):
                self.counters.skipped_cycles_no_lock += 1
                self.log.error("weight cycle skipped: %s", held_message(self.validator_hotkey))
                status = "lock_held_elsewhere"
            else:
                self.counters.skipped_cycles_db_down += 1
                self._gate("database").failed("weight cycle skipped: the database is unreachable")
                status = "db_unreachable"
            if self.observer is not None:
                self.observer.cycle_skipped(status)
            return None
        self._gate("database").ok()
        result = await run_cycle(self.ctx)
        self.last_result = result
        self.counters.cycle_statuses[result.status] += 1
        self.log.info(
            "cycle %s: %s%s",
            result.submission_id,
            result.status,
            f" ({result.reason})" if result.reason else "",
        )
        return result

    async def _observe(self, now: datetime) -> object:
        assert self.shadow is not None
        return await self.shadow.observe()

    def _database_up(self) -> bool:
        try:
            ping(self.engine)
        except Exception:
            return False
        return True

    async def _stats(self, now: datetime) -> object:
        if not self.settings.enable_realtime_updates:
            # Cycles wrote only their weight_submissions rows: the latest cycle's pipeline
            # values go into today's rows first, and the refresh carries them into the
            # longer periods' rows with their statistics (one write per row).
            await asyncio.to_thread(
                fill_pipeline_columns,
                self.engine,
                validator_hotkey=self.validator_hotkey,
                netuid=self.netuid,
                now=now,
                periods=[period_for(PeriodType.DAILY, now)],
            )
        return await asyncio.to_thread(refresh_all, self.engine, now)

    async def _retention(self, now: datetime) -> object:
        return await asyncio.to_thread(cleanup, self.engine, now, self.settings.retention_days)


__all__ = ["Job", "JobAction", "Service", "ServiceCounters"]
