"""One weight cycle: read → compute → persist (one transaction) → submit → verify.

`run_cycle(ctx)` is the whole of it; the service calls it at its cycle interval and, each loop,
`flush(ctx)` (write traces that wait in the `TraceQueue`) and `verify_pending(ctx)`
(commit-reveal submissions whose reveal epoch has passed).

Failure isolation: weights come first. The trace is written before the submission and the
submission's outcome after it; when the database fails the trace (and later its outcome)
waits in a bounded in-memory `TraceQueue` and the submission goes ahead anyway. Nothing the
tracing or persistence code raises reaches the submission.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from minertrace.chain.types import Chain, SubnetHyperparameters
from minertrace.clock import Clock
from minertrace.config import Settings
from minertrace.validator.metrics import CycleMetrics
from minertrace.validator.persist import TraceRecord, build_record, skip_reason
from minertrace.validator.reads import CycleReads, read_cycle_inputs_async
from minertrace.validator.submit import (
    SubmissionState,
    Submitter,
    apply_verification,
    compare_weights,
    find_validator,
    submit_weights,
    verify_weights,
)
from minertrace.validator.trace_queue import PendingTrace, TraceQueue
from minertrace.weights import CycleInputs, CycleTrace, ScoreRow, WeightConfig, compute_cycle

logger = logging.getLogger(__name__)

BLOCK_SECONDS = 12.0


@dataclass
class CycleContext:
    """Everything a cycle needs; one per validator service, reused across cycles.

    `engine` is the sync Engine of the minertrace database (`Database.engine`). `netuid`
    defaults to `settings.netuid`. `queue` defaults to a `TraceQueue` of
    `settings.trace_queue_size` sharing `metrics`. `weight_config` defaults to `WeightConfig()`
    with `enable_detailed_pathways` taken from the settings. `block_seconds` converts block
    counts into clock time when waiting out the rate limit.
    """

    engine: Engine
    chain: Chain
    clock: Clock
    validator_hotkey: str
    settings: Settings
    netuid: int | None = None
    weight_config: WeightConfig | None = None
    metrics: CycleMetrics = field(default_factory=CycleMetrics)
    queue: TraceQueue | None = None
    block_seconds: float = BLOCK_SECONDS
    log: logging.Logger = logger

    def __post_init__(self) -> None:
        if self.netuid is None:
            self.netuid = self.settings.netuid
        cfg = self.weight_config if self.weight_config is not None else WeightConfig()
        detailed = self.settings.enable_detailed_pathways
        if cfg.enable_detailed_pathways != detailed:
            cfg = dataclasses.replace(cfg, enable_detailed_pathways=detailed)
        self.weight_config = cfg
        if self.queue is None:
            self.queue = TraceQueue(self.settings.trace_queue_size, self.metrics, self.log)

    @property
    def subnet(self) -> int:
        """The netuid in use (resolved from the settings when not given)."""
        assert self.netuid is not None
        return self.netuid

    @property
    def config(self) -> WeightConfig:
        """The weight configuration in use."""
        assert self.weight_config is not None
        return self.weight_config

    @property
    def trace_queue(self) -> TraceQueue:
        """The queue in use."""
        assert self.queue is not None
        return self.queue

    def submitter(self) -> Submitter:
        """The submission policy from the settings."""
        s = self.settings
        return Submitter(
            chain=self.chain,
            clock=self.clock,
            hotkey=self.validator_hotkey,
            netuid=self.subnet,
            version_key=s.weights_version_key,
            max_attempts=s.submission_max_attempts,
            backoff_seconds=s.submission_backoff_seconds,
            block_seconds=self.block_seconds,
            log=self.log,
        )


@dataclass
class CycleResult:
    """What one `run_cycle` did.

    `status` is the weight_submissions status the cycle ended with: 'skipped' (no weights;
    `reason` says why), 'included', 'committed', 'verified', 'mismatch' or 'failed' (`reason`
    = last error); or 'read_failed' when the inputs could not be read (nothing computed, no
    row). `submission_id` is the weight_submissions id, None while the trace waits in the
    queue (`persisted` False). `attempts` are the submission attempts as recorded on the row.
    """

    status: str
    computed_at: datetime
    computed_block: int | None
    submission_id: int | None = None
    trace: CycleTrace | None = None
    reason: str | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    block_number: int | None = None
    block_hash: str | None = None
    reveal_epoch: int | None = None
    reveal_block: int | None = None
    verification: dict[str, Any] | None = None
    trace_overhead_s: float | None = None
    """Seconds from the end of compute_cycle to the end of the persist transaction."""
    trace_build_s: float | None = None
    """The part of trace_overhead_s spent turning the trace into statement parameters."""
    persisted: bool = False
    queued: int = 0
    """Traces still waiting in the queue when the cycle ended."""

    @property
    def submitted(self) -> bool:
        """True when the chain included the weights (plain or commit)."""
        return self.block_number is not None


def _read_options(ctx: CycleContext) -> dict[str, Any]:
    cfg = ctx.config
    return {
        "weather_window": timedelta(days=cfg.weather_window_days),
        "weather_limit": cfg.weather_row_limit,
        "geomagnetic_window": timedelta(days=cfg.geomagnetic_window_days),
        "geomagnetic_limit": cfg.geomagnetic_row_limit,
        "soil_window": timedelta(days=cfg.soil_window_days),
        "soil_limit": cfg.soil_row_limit,
        "validator_window_blocks": ctx.settings.active_validator_window_blocks,
    }


def cycle_inputs(reads: CycleReads, now: datetime, hp: SubnetHyperparameters) -> CycleInputs:
    """The weight engine's inputs from the cycle's reads and the subnet's hyperparameters."""

    def rows(records: list[Any]) -> list[ScoreRow]:
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


def _short(exc: BaseException) -> str:
    text_ = str(exc).strip()
    first = text_.splitlines()[0] if text_ else ""
    return f"{type(exc).__name__}: {first}"[:300]


async def flush(ctx: CycleContext) -> int:
    """Write what waits in the queue (traces, then their submission outcomes), oldest first.

    Returns the number of queue entries completed. Stops at the first database failure
    (logged, counted) so the order of writes is kept; never raises.
    """
    try:
        return await asyncio.to_thread(ctx.trace_queue.flush, ctx.engine)
    except Exception as exc:  # the queue catches database errors; this is a last guard
        ctx.metrics.persist_failures += 1
        ctx.log.warning("trace queue flush failed: %s", _short(exc))
        return 0


def _trace_and_persist(
    ctx: CycleContext,
    trace: CycleTrace,
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
        netuid=ctx.subnet,
        computed_at=computed_at,
        computed_block=block,
        detailed=ctx.settings.enable_detailed_pathways,
        realtime=ctx.settings.enable_realtime_updates,
        inputs=inputs,
    )
    build_s = time.perf_counter() - t0
    item = PendingTrace(record, state)
    ctx.trace_queue.put(item)
    return item, build_s


async def run_cycle(ctx: CycleContext) -> CycleResult:
    """Run one cycle (issue 5 steps 1–6) and return what happened.

    1. flush the queue, then read the inputs in one snapshot (`reads.read_cycle_inputs`);
    2. `compute_cycle`;
    3. persist the weight_submissions row ('computed', or 'skipped' with the reason when no
       weights were produced) and, with `enable_realtime_updates`, the traced miners'
       current period rows — one transaction, one statement per table; on failure the trace
       is queued and the cycle goes on;
    4. submit: wait out the rate limit on the clock, retry rejections and timeouts with
       exponential backoff up to `submission_max_attempts`, record every attempt; on inclusion
       the block (and reveal epoch under commit-reveal) and the miners' weight_submission_block;
    5. verify by reading back the validator's weights (plain submissions; commits are verified
       by `verify_pending` after their reveal epoch);
    6. the trace-and-persist overhead is stored and compared with
       `performance_impact_threshold` (warning and `metrics.slow_traces`).

    Never raises for database failures; chain exceptions during a submission attempt are
    recorded as failed attempts.
    """
    ctx.metrics.cycles += 1
    await flush(ctx)
    computed_at = ctx.clock.now()
    try:
        block = await ctx.chain.current_block()
        hp = await ctx.chain.hyperparameters(ctx.subnet)
        reads = await read_cycle_inputs_async(ctx.engine, computed_at, block, **_read_options(ctx))
        inputs = cycle_inputs(reads, computed_at, hp)
    except Exception as exc:
        ctx.metrics.read_failures += 1
        ctx.log.error("cycle skipped: its inputs could not be read: %s", _short(exc))
        return CycleResult(
            status="read_failed",
            computed_at=computed_at,
            computed_block=None,
            reason=_short(exc),
            queued=len(ctx.trace_queue),
        )

    trace = compute_cycle(inputs, ctx.config)

    # Everything between here and the submission is tracing: it may fail, never block.
    t0 = time.perf_counter()
    reason = skip_reason(trace)
    state = SubmissionState(status="skipped" if reason else "computed", error=reason)
    item: PendingTrace | None = None
    build_s: float | None = None
    try:
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
        await submit_weights(
            ctx.submitter(),
            trace.emit_uids.tolist(),
            trace.emit_u16.tolist(),
            state,
            on_attempt=lambda: flush(ctx),
            metrics=ctx.metrics,
        )
        if state.status == "included":
            expected = dict(zip(trace.emit_uids.tolist(), trace.emit_u16.tolist(), strict=True))
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
        queued=len(ctx.trace_queue),
    )


async def _verify_now(ctx: CycleContext, state: SubmissionState, expected: dict[int, int]) -> None:
    try:
        me = find_validator(await ctx.chain.neurons(ctx.subnet), ctx.validator_hotkey)
        if me is None:
            ctx.log.warning("cannot verify: %s is no longer registered", ctx.validator_hotkey)
            return
        result = await verify_weights(ctx.chain, ctx.subnet, me.uid, expected)
    except Exception as exc:
        ctx.log.warning("weights read-back failed, left unverified: %s", _short(exc))
        return
    _record_verification(ctx, state, result)


def _record_verification(ctx: CycleContext, state: SubmissionState, result: dict[str, Any]) -> None:
    apply_verification(state, result, ctx.clock.now())
    if result["match"]:
        ctx.metrics.verified += 1
    else:
        ctx.metrics.mismatches += 1
        ctx.log.warning(
            "chain weights differ from those sent on %d UIDs: %s",
            len(result["differing_uids"]),
            result["differing_uids"][:20],
        )


_COMMITTED = text(
    """
    SELECT id, block_number, reveal_block, submitted_uids, submitted_u16
      FROM weight_submissions
     WHERE validator_hotkey = :hotkey AND netuid = :netuid AND status = 'committed'
       AND verification IS NULL AND reveal_block <= :last_epoch
     ORDER BY reveal_block, block_number, id
    """
)

_SET_VERIFIED = text(
    """
    UPDATE weight_submissions
       SET status = :status, verified_at = :verified_at, verification = CAST(:verification AS jsonb)
     WHERE id = :id AND status = 'committed'
    RETURNING id
    """
)


@dataclass
class _Candidate:
    key: tuple[int, int, int]
    expected: dict[int, int]
    ws_id: int | None = None
    item: PendingTrace | None = None


def _committed_rows(engine: Engine, hotkey: str, netuid: int, last_epoch: int) -> list[Any]:
    with engine.connect() as conn:
        params = {"hotkey": hotkey, "netuid": netuid, "last_epoch": last_epoch}
        return list(conn.execute(_COMMITTED, params).all())


def _write_verifications(engine: Engine, updates: list[dict[str, Any]]) -> list[int]:
    with engine.begin() as conn:
        return [i for u in updates for i in conn.execute(_SET_VERIFIED, u).scalars()]


async def verify_pending(ctx: CycleContext) -> list[int]:
    """Verify this validator's commit-reveal submissions whose reveal epoch has run.

    Candidates are the 'committed' rows (and queued entries) with no verification yet whose
    reveal_block is at or before the chain's last epoch block. The latest of them (by reveal
    block) is compared with the chain's weights for the validator → 'verified', or 'mismatch'
    with the differing UIDs in `verification`. Older candidates were replaced on chain by a
    later reveal before they could be read back: they stay 'committed' and get
    `verification = {"match": null, "superseded": true}`. Returns the ids of the rows updated
    (queued entries are updated in memory and written by the flush at the end). Never raises.
    """
    try:
        last_epoch = await ctx.chain.last_epoch_block(ctx.subnet)
    except Exception as exc:
        ctx.log.warning("verify_pending: chain unavailable: %s", _short(exc))
        return []
    queue = ctx.trace_queue
    queued_ids = {it.ws_id for it in queue if it.ws_id is not None}
    candidates = [
        _Candidate(
            (it.state.reveal_block, it.state.block_number or 0, it.ws_id or 0),
            it.record.expected_u16,
            it.ws_id,
            it,
        )
        for it in queue
        if it.state.status == "committed"
        and it.state.verification is None
        and it.state.reveal_block is not None
        and it.state.reveal_block <= last_epoch
    ]
    try:
        rows = await asyncio.to_thread(
            _committed_rows, ctx.engine, ctx.validator_hotkey, ctx.subnet, last_epoch
        )
    except Exception as exc:
        ctx.metrics.persist_failures += 1
        ctx.log.warning("verify_pending: committed rows not readable: %s", _short(exc))
        rows = []
    for r in rows:
        if r.id in queued_ids:
            continue
        expected = {
            int(u): int(v)
            for u, v in zip(r.submitted_uids or [], r.submitted_u16 or [], strict=True)
            if v
        }
        candidates.append(_Candidate((r.reveal_block, r.block_number or 0, r.id), expected, r.id))
    if not candidates:
        return []
    candidates.sort(key=lambda c: c.key)
    latest = candidates[-1]
    try:
        me = find_validator(await ctx.chain.neurons(ctx.subnet), ctx.validator_hotkey)
        if me is None:
            ctx.log.warning("cannot verify commits: %s is not registered", ctx.validator_hotkey)
            return []
        held = await ctx.chain.weights_of(ctx.subnet, me.uid)
        checked_block = await ctx.chain.current_block()
    except Exception as exc:
        ctx.log.warning("verify_pending: weights read-back failed: %s", _short(exc))
        return []
    now = ctx.clock.now()
    updates: list[dict[str, Any]] = []
    for cand in candidates:
        if cand is latest:
            result = compare_weights(cand.expected, held)
            result["checked_block"] = checked_block
            status = "verified" if result["match"] else "mismatch"
            if result["match"]:
                ctx.metrics.verified += 1
            else:
                ctx.metrics.mismatches += 1
                ctx.log.warning(
                    "revealed weights differ from the commit on UIDs %s",
                    result["differing_uids"][:20],
                )
        else:
            result = {"match": None, "superseded": True, "checked_block": checked_block}
            status = "committed"
        if cand.item is not None:
            cand.item.state.status = status
            cand.item.state.verification = result
            cand.item.state.verified_at = now
            cand.item.state.touch()
        else:
            updates.append(
                {
                    "id": cand.ws_id,
                    "status": status,
                    "verified_at": now,
                    "verification": json.dumps(result),
                }
            )
    ids: list[int] = []
    if updates:
        try:
            ids = await asyncio.to_thread(_write_verifications, ctx.engine, updates)
        except Exception as exc:
            ctx.metrics.persist_failures += 1
            ctx.log.warning("verification results not written (retried next time): %s", _short(exc))
    await flush(ctx)
    ids.extend(c.ws_id for c in candidates if c.item is not None and c.ws_id is not None)
    return sorted(ids)


__all__ = [
    "CycleContext",
    "CycleMetrics",
    "CycleResult",
    "PendingTrace",
    "TraceQueue",
    "cycle_inputs",
    "flush",
    "run_cycle",
    "verify_pending",
]
