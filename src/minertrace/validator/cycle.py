"""One weight cycle: read → compute → persist the trace → submit → verify (and the rows).

`run_cycle(ctx)` is the whole of it; the service calls it at its cycle interval, `flush(ctx)`
(write traces that wait in the `TraceQueue`) on each pass with a non-empty queue, and
`minertrace.validator.verify.verify_pending(ctx)` (commit-reveal submissions whose reveal
epoch has passed) after epochs and cycles.

Failure isolation: weights come first. Only the weight_submissions row (the durable trace)
is written before the submission; the submission's outcome after it, and with the first
final outcome, in the same transaction, the traced miners' daily rows (derived data, rebuilt
from the stored row by `minertrace.validator.reconcile` when a process dies in between).
When the database fails the trace (and later its outcome) waits in a bounded in-memory
`TraceQueue` and the submission goes ahead anyway. Nothing the tracing or persistence code
raises reaches the submission.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from minertrace.chain.types import Chain, SubnetHyperparameters
from minertrace.clock import Clock
from minertrace.config import Settings
from minertrace.observe.context import step
from minertrace.store import (
    Attempt,
    CycleReads,
    ScoreRecord,
    ScoreWindows,
    TraceRecord,
    Verification,
    read_cycle_inputs_async,
)
from minertrace.store.shadow import previous_scalars
from minertrace.validator.metrics import CycleMetrics
from minertrace.validator.persist import build_record, skip_reason
from minertrace.validator.submit import (
    SubmissionState,
    Submitter,
    apply_verification,
    find_validator,
    submit_weights,
    verify_weights,
)
from minertrace.validator.trace_queue import PendingTrace, TraceQueue
from minertrace.vocabulary import BLOCK_SECONDS, SubmissionStatus
from minertrace.weights import (
    CycleInputs,
    GaiaRules,
    RulesTrace,
    ScoreRow,
    StoredCycle,
    WeightConfig,
    WeightRules,
    rules_by_name,
)
from minertrace.weights.rules import DEFAULT_RULES

logger = logging.getLogger(__name__)


class CycleContext:
    """Everything a cycle needs; one per validator service, reused across cycles.

    `engine` is the sync Engine of the minertrace database (`Database.engine`). Optional
    arguments are resolved once, here: `netuid` defaults to `settings.netuid`; `queue` to a
    `TraceQueue` of `settings.trace_queue_size` sharing `metrics`; `weight_config` to
    `WeightConfig()`, with `enable_detailed_pathways` always taken from the settings; `rules`
    to the settings' `weight_rules` (Gaia's with `weight_config`, or the template's).
    `block_seconds` converts block counts into clock time when waiting out the rate limit.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        chain: Chain,
        clock: Clock,
        validator_hotkey: str,
        settings: Settings,
        netuid: int | None = None,
        weight_config: WeightConfig | None = None,
        rules: WeightRules | None = None,
        metrics: CycleMetrics | None = None,
        queue: TraceQueue | None = None,
        block_seconds: float = BLOCK_SECONDS,
        log: logging.Logger = logger,
    ) -> None:
        self.engine = engine
        self.chain = chain
        self.clock = clock
        self.validator_hotkey = validator_hotkey
        self.settings = settings
        self.netuid: int = settings.netuid if netuid is None else netuid
        cfg = weight_config if weight_config is not None else WeightConfig()
        detailed = settings.enable_detailed_pathways
        if cfg.enable_detailed_pathways != detailed:
            cfg = dataclasses.replace(cfg, enable_detailed_pathways=detailed)
        self.weight_config: WeightConfig = cfg
        if rules is None:
            gaia = settings.weight_rules == DEFAULT_RULES
            rules = GaiaRules(cfg) if gaia else rules_by_name(settings.weight_rules)
        self.rules: WeightRules = rules
        self.metrics: CycleMetrics = metrics if metrics is not None else CycleMetrics()
        self.log = log
        self.queue: TraceQueue = (
            queue if queue is not None else TraceQueue(settings.trace_queue_size, self.metrics, log)
        )
        self.block_seconds = block_seconds
        self.rows_checked = False
        """Whether `minertrace.validator.reconcile` checked the latest row's miner rows."""

    @property
    def windows(self) -> ScoreWindows:
        """The score rows' query windows and limits of the weight configuration."""
        return ScoreWindows.from_config(self.weight_config)

    def submitter(self) -> Submitter:
        """The submission policy from the settings."""
        s = self.settings
        return Submitter(
            chain=self.chain,
            clock=self.clock,
            hotkey=self.validator_hotkey,
            netuid=self.netuid,
            version_key=s.weights_version_key,
            max_attempts=s.submission_max_attempts,
            backoff_seconds=s.submission_backoff_seconds,
            block_seconds=self.block_seconds,
            log=self.log,
        )


READ_FAILED = "read_failed"
"""`CycleResult.status` of a cycle whose inputs could not be read (no row is written)."""


@dataclass
class CycleResult:
    """What one `run_cycle` did.

    `status` is the weight_submissions status the cycle ended with: 'skipped' (no weights;
    `reason` says why), 'included', 'committed', 'verified', 'mismatch' or 'failed' (`reason`
    = last error); or `READ_FAILED` when the inputs could not be read (nothing computed, no
    row). `submission_id` is the weight_submissions id, None while the trace waits in the
    queue (`persisted` False). `attempts` are the submission attempts as recorded on the row.
    """

    status: SubmissionStatus | str
    computed_at: datetime
    computed_block: int | None
    submission_id: int | None = None
    trace: RulesTrace | None = None
    reason: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    block_number: int | None = None
    block_hash: str | None = None
    reveal_epoch: int | None = None
    reveal_block: int | None = None
    verification: Verification | None = None
    trace_overhead_s: float | None = None
    """Seconds from the end of compute_cycle to the end of the persist transaction (what
    delays the submission; the miner rows are written after it)."""
    trace_build_s: float | None = None
    """The part of trace_overhead_s spent turning the trace into statement parameters."""
    persisted: bool = False
    queued: int = 0
    """Traces still waiting in the queue when the cycle ended."""

    @property
    def submitted(self) -> bool:
        """True when the chain included the weights (plain or commit)."""
        return self.block_number is not None


def cycle_inputs(reads: CycleReads, now: datetime, hp: SubnetHyperparameters) -> CycleInputs:
    """The weight engine's inputs from the cycle's reads and the subnet's hyperparameters."""

    def rows(records: list[ScoreRecord]) -> list[ScoreRow]:
        return [ScoreRow(r.task_name, r.task_id, r.score, r.created_at) for r in records]

    return CycleInputs(
        weather_results=rows(reads.weather),
        geomagnetic_results=rows(reads.geomagnetic),
        soil_results=rows(reads.soil),
        now=now,
        nodes=[(n.uid, n.hotkey, n.coldkey) for n in reads.nodes],
        active_validator_uids=reads.active_validator_uids,
        max_weight_limit=float(hp.max_weight_limit),
        min_allowed_weights=int(hp.min_allowed_weights),
    )


def short_error(exc: BaseException) -> str:
    """`Type: first line of the message`, at most 300 characters (for logs and rows)."""
    message = str(exc).strip()
    first = message.splitlines()[0] if message else ""
    return f"{type(exc).__name__}: {first}"[:300]


async def flush(ctx: CycleContext) -> int:
    """Write what waits in the queue (traces, then their submission outcomes), oldest first.

    Returns the number of queue entries completed. Stops at the first database failure
    (logged, counted) so the order of writes is kept; never raises.
    """
    try:
        return await asyncio.to_thread(ctx.queue.flush, ctx.engine)
    except Exception as exc:  # the queue catches database errors; this is a last guard
        ctx.metrics.persist_failures += 1
        ctx.log.warning("trace queue flush failed: %s", short_error(exc))
        return 0


def _previous(ctx: CycleContext) -> StoredCycle | None:
    """The validator's previous cycle, for rules that carry state (None for the others)."""
    if not ctx.rules.stateful:
        return None
    with ctx.engine.connect() as conn:
        scalars = previous_scalars(conn, ctx.validator_hotkey, ctx.netuid)
    return StoredCycle(scalars=scalars) if scalars is not None else None


async def read_inputs(
    ctx: CycleContext, now: datetime
) -> tuple[int, CycleInputs, StoredCycle | None]:
    """A cycle's inputs at `now`: the chain's block, the score rows, nodes and subnet
    parameters in one snapshot (`reads.read_cycle_inputs`), and the validator's previous
    cycle for rules that carry state. Raises whatever the chain or the database raise."""
    block = await ctx.chain.current_block()
    hp = await ctx.chain.hyperparameters(ctx.netuid)
    reads = await read_cycle_inputs_async(
        ctx.engine,
        now,
        block,
        windows=ctx.windows,
        validator_window_blocks=ctx.settings.active_validator_window_blocks,
    )
    previous = await asyncio.to_thread(_previous, ctx)
    return block, cycle_inputs(reads, now, hp), previous


def _trace_and_persist(
    ctx: CycleContext,
    trace: RulesTrace,
    inputs: CycleInputs,
    state: SubmissionState,
    computed_at: datetime,
    block: int,
) -> tuple[PendingTrace | None, float | None]:
    """Build the record and queue it; returns the entry and the build time (s)."""
    t0 = time.perf_counter()
    record: TraceRecord = build_record(
        trace,
        inputs.node_list,
        validator_hotkey=ctx.validator_hotkey,
        netuid=ctx.netuid,
        computed_at=computed_at,
        computed_block=block,
        detailed=ctx.settings.enable_detailed_pathways,
        realtime=ctx.settings.enable_realtime_updates,
        inputs=inputs,
    )
    build_s = time.perf_counter() - t0
    item = PendingTrace(record, state, chain=ctx.settings.enable_chain_integration)
    ctx.queue.put(item)
    return item, build_s


async def run_cycle(ctx: CycleContext) -> CycleResult:
    """Run one cycle (issue 5 steps 1–6) and return what happened.

    1. flush the queue, then read the inputs in one snapshot (`reads.read_cycle_inputs`);
    2. compute with `ctx.rules` (`compute_cycle` for Gaia's; rules that carry state get the
       validator's previous row);
    3. persist the weight_submissions row ('computed', or 'skipped' with the reason when no
       weights were produced): one statement; on failure the trace is queued and the cycle
       goes on;
    4. submit: wait out the rate limit on the clock, retry rejections and timeouts with
       exponential backoff up to `submission_max_attempts`, record every attempt; with the
       final outcome (included or committed with its block, or failed) and, with
       `enable_realtime_updates`, the traced miners' daily rows in the same transaction:
       pipeline columns, weight_submission_block, and (`enable_chain_integration`) the last
       epoch's chain columns — one statement (a skipped cycle writes them at its end);
    5. verify by reading back the validator's weights (plain submissions; commits are verified
       by `verify.verify_pending` after their reveal epoch);
    6. the trace-and-persist overhead (step 3, what delays the submission) is stored and
       compared with `performance_impact_threshold` (warning and `metrics.slow_traces`).

    Never raises for database failures; chain exceptions during a submission attempt are
    recorded as failed attempts.
    """
    ctx.metrics.cycles += 1
    await flush(ctx)
    computed_at = ctx.clock.now()
    try:
        with step("read"):
            block, inputs, previous = await read_inputs(ctx, computed_at)
    except Exception as exc:
        ctx.metrics.read_failures += 1
        ctx.log.error("cycle skipped: its inputs could not be read: %s", short_error(exc))
        return CycleResult(
            status=READ_FAILED,
            computed_at=computed_at,
            computed_block=None,
            reason=short_error(exc),
            queued=len(ctx.queue),
        )

    with step("compute"):
        trace = ctx.rules.compute(inputs, previous)

    # Everything between here and the submission is tracing: it may fail, never block.
    t0 = time.perf_counter()
    reason = skip_reason(trace)
    status = SubmissionStatus.SKIPPED if reason else SubmissionStatus.COMPUTED
    state = SubmissionState(status=status, error=reason)
    item: PendingTrace | None = None
    build_s: float | None = None
    try:
        with step("persist"):
            item, build_s = _trace_and_persist(ctx, trace, inputs, state, computed_at, block)
            await flush(ctx)
    except Exception:
        ctx.metrics.persist_failures += 1
        ctx.log.exception("the trace of this cycle could not be built; submitting without it")
    overhead = time.perf_counter() - t0
    persisted = item is not None and item.ws_id is not None
    state.trace_overhead_s = overhead
    state.touch()
    threshold = ctx.settings.performance_impact_threshold
    if ctx.metrics.observe_overhead(overhead, threshold):
        ctx.log.warning(
            "trace-and-persist took %.3f s (threshold %.3f s; %d slow cycles so far)",
            overhead,
            threshold,
            ctx.metrics.slow_traces,
        )

    if reason is not None:
        ctx.metrics.submissions_skipped += 1
        ctx.log.info("nothing submitted this cycle: %s", reason)
    else:
        with step("submit"):
            await submit_weights(
                ctx.submitter(),
                trace.emit_uids.tolist(),
                trace.emit_u16.tolist(),
                state,
                on_attempt=lambda: flush(ctx),
                metrics=ctx.metrics,
            )
        if state.status is SubmissionStatus.INCLUDED:
            expected = dict(zip(trace.emit_uids.tolist(), trace.emit_u16.tolist(), strict=True))
            with step("verify"):
                await _verify_now(ctx, state, expected)

    if item is not None:
        item.done = True
    await flush(ctx)
    return CycleResult(
        status=state.status,
        computed_at=computed_at,
        computed_block=block,
        submission_id=item.ws_id if item is not None else None,
        trace=trace,
        reason=state.error,
        attempts=list(state.attempts),
        block_number=state.block_number,
        block_hash=state.block_hash,
        reveal_epoch=state.reveal_epoch,
        reveal_block=state.reveal_block,
        verification=state.verification,
        trace_overhead_s=overhead,
        trace_build_s=build_s,
        persisted=persisted,
        queued=len(ctx.queue),
    )


async def _verify_now(ctx: CycleContext, state: SubmissionState, expected: dict[int, int]) -> None:
    try:
        me = find_validator(await ctx.chain.neurons(ctx.netuid), ctx.validator_hotkey)
        if me is None:
            ctx.log.warning("cannot verify: %s is no longer registered", ctx.validator_hotkey)
            return
        result = await verify_weights(ctx.chain, ctx.netuid, me.uid, expected)
    except Exception as exc:
        ctx.log.warning("weights read-back failed, left unverified: %s", short_error(exc))
        return
    _record_verification(ctx, state, result)


def _record_verification(ctx: CycleContext, state: SubmissionState, result: Verification) -> None:
    apply_verification(state, result, ctx.clock.now())
    if result.match:
        ctx.metrics.verified += 1
    else:
        ctx.metrics.mismatches += 1
        ctx.log.warning(
            "chain weights differ from those sent on %d UIDs: %s",
            len(result.differing_uids),
            result.differing_uids[:20],
        )


__all__ = [
    "CycleContext",
    "CycleMetrics",
    "CycleResult",
    "PendingTrace",
    "TraceQueue",
    "cycle_inputs",
    "flush",
    "read_inputs",
    "run_cycle",
    "short_error",
]
