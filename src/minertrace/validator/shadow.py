"""Shadow mode: trace every cycle, submit nothing, and compare with what the validator sets.

`Shadow.run_cycle()` reads the same score rows a cycle would, computes the full trace with the
configured rules (carrying their state from the validator's previous row) and records it with
what it *would* submit (status 'computed', or 'skipped' with the reason). `Shadow.observe()`
watches the chain: when the validator's `last_update` moves, it reads the weight row the chain
now holds, finds the trace that was current at that block (the latest computed at or before
it) and records the comparison on that trace's row: status 'observed', the block and its hash,
and `verification` — whether the chain's u16 row equals the trace's, and when not, which UIDs
differ and by how much; a row that equals an *earlier* trace is named there (`matches_cycle`,
`lag_blocks`: a validator that sets its weights late).

It shares the service's `CycleContext` (chain, clock, database, rules, windows). An operator
runs it beside a validator that sets its own weights to prove that the validator
does what the trace says before letting minertrace submit. Nothing here raises into the
service loop: failures are logged and counted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from minertrace.stats.periods import period_for
from minertrace.store import (
    insert_submission,
    period_params,
    upsert_miner_rows,
)
from minertrace.store.shadow import (
    TraceRow,
    last_observed_block,
    mark_observed,
    traces_up_to,
)
from minertrace.validator.cycle import CycleContext, read_inputs, short_error
from minertrace.validator.persist import build_record, skip_reason
from minertrace.validator.submit import SubmissionState, find_validator
from minertrace.vocabulary import PeriodType, SubmissionStatus
from minertrace.weights import CycleInputs
from minertrace.weights.observe import compare_u16
from minertrace.weights.rules import RulesTrace

logger = logging.getLogger(__name__)


@dataclass
class ShadowMetrics:
    """Counters of one `Shadow` (never reset)."""

    cycles: int = 0
    traces_written: int = 0
    observations: int = 0
    matches: int = 0
    mismatches: int = 0
    late: int = 0
    """Observations that equal an earlier trace, not the current one."""
    untraced: int = 0
    """Weight updates seen before any trace was computed."""
    failures: int = 0


@dataclass(frozen=True)
class ShadowCycle:
    """What `Shadow.run_cycle` did: the row written (None on failure) and the trace."""

    ws_id: int | None
    computed_at: datetime
    computed_block: int | None
    trace: RulesTrace | None
    status: str
    reason: str | None = None


@dataclass(frozen=True)
class Observation:
    """One weight update of the validator seen on chain, and what it was compared with."""

    block: int
    ws_id: int | None
    match: bool | None
    verification: dict[str, Any]


@dataclass
class Shadow:
    """Shadow mode for the cycle context's validator: its rules, windows, chain and database.

    `history` bounds how many recent traces an observation is compared with.
    """

    ctx: CycleContext
    history: int = 16
    metrics: ShadowMetrics = field(default_factory=ShadowMetrics)
    _last_seen: int | None = None

    @property
    def log(self) -> logging.Logger:
        """The cycle context's logger."""
        return self.ctx.log

    async def run_cycle(self) -> ShadowCycle:
        """Compute and record one trace; submits nothing. Never raises."""
        ctx = self.ctx
        self.metrics.cycles += 1
        now = ctx.clock.now()
        try:
            block, inputs, previous = await read_inputs(ctx, now)
            trace = ctx.rules.compute(inputs, previous)
        except Exception as exc:
            self.metrics.failures += 1
            self.log.error("shadow cycle skipped: %s", short_error(exc))
            return ShadowCycle(None, now, None, None, "read_failed", short_error(exc))
        reason = skip_reason(trace)
        status = SubmissionStatus.SKIPPED if reason else SubmissionStatus.COMPUTED
        try:
            ws_id = await asyncio.to_thread(
                self._write_trace, trace, inputs, now, block, status, reason
            )
        except Exception as exc:
            self.metrics.failures += 1
            self.log.error("shadow trace not written: %s", short_error(exc))
            return ShadowCycle(None, now, block, trace, status.value, short_error(exc))
        self.metrics.traces_written += 1
        return ShadowCycle(ws_id, now, block, trace, status.value, reason)

    async def observe(self) -> list[Observation]:
        """Record the validator's latest weight update if it is new. Never raises."""
        try:
            return await self._observe()
        except Exception as exc:
            self.metrics.failures += 1
            self.log.warning("shadow: chain weights not observed: %s", short_error(exc))
            return []

    # ------------------------------------------------------------------ internals

    def _write_trace(
        self,
        trace: RulesTrace,
        inputs: CycleInputs,
        now: datetime,
        block: int,
        status: SubmissionStatus,
        reason: str | None,
    ) -> int:
        ctx = self.ctx
        record = build_record(
            trace,
            inputs.node_list,
            validator_hotkey=ctx.validator_hotkey,
            netuid=ctx.netuid,
            computed_at=now,
            computed_block=block,
            detailed=ctx.settings.enable_detailed_pathways,
            realtime=ctx.settings.enable_realtime_updates,
            inputs=inputs,
        )
        state = SubmissionState(status=status, error=reason)
        with ctx.engine.begin() as conn:
            ws_id = insert_submission(conn, record, state.outcome())
            upsert_miner_rows(conn, record, None)
        return ws_id

    async def _observe(self) -> list[Observation]:
        ctx = self.ctx
        me = find_validator(await ctx.chain.neurons(ctx.netuid), ctx.validator_hotkey)
        if me is None or me.last_update <= 0:
            return []
        if self._last_seen is None:
            self._last_seen = await asyncio.to_thread(self._last_observed)
        if self._last_seen is not None and me.last_update <= self._last_seen:
            return []
        block = me.last_update
        held = await ctx.chain.weights_of(ctx.netuid, me.uid)
        checked = await ctx.chain.current_block()
        block_hash = await ctx.chain.block_hash(block)
        traces = await asyncio.to_thread(self._traces, block)
        self._last_seen = block
        self.metrics.observations += 1
        if not traces:
            self.metrics.untraced += 1
            self.log.info("shadow: weights set at block %d, before any trace", block)
            return [Observation(block, None, None, {"untraced": True})]
        current = traces[-1]
        verification = _verification(traces, held, block, checked)
        match = bool(verification["match"])
        if match:
            self.metrics.matches += 1
        else:
            self.metrics.mismatches += 1
            if verification["matches_cycle"] is not None:
                self.metrics.late += 1
            self.log.warning(
                "shadow: the weights set at block %d differ from cycle %d on %d UIDs%s",
                block,
                current.id,
                verification["differing_count"],
                f" (they equal cycle {verification['matches_cycle']})"
                if verification["matches_cycle"] is not None
                else "",
            )
        await asyncio.to_thread(self._mark, current.id, block, block_hash, verification)
        return [Observation(block, current.id, match, verification)]

    def _last_observed(self) -> int | None:
        with self.ctx.engine.connect() as conn:
            return last_observed_block(conn, self.ctx.validator_hotkey, self.ctx.netuid)

    def _traces(self, block: int) -> list[TraceRow]:
        ctx = self.ctx
        with ctx.engine.connect() as conn:
            return traces_up_to(conn, ctx.validator_hotkey, ctx.netuid, block, self.history)

    def _mark(
        self, ws_id: int, block: int, block_hash: str | None, verification: dict[str, Any]
    ) -> None:
        now = self.ctx.clock.now()
        with self.ctx.engine.begin() as conn:
            mark_observed(
                conn,
                ws_id,
                block=block,
                block_hash=block_hash,
                verification_json=json.dumps(verification),
                now=now,
                periods=period_params([period_for(PeriodType.DAILY, now)]),
            )


def _verification(
    traces: list[TraceRow], held: dict[int, int], block: int, checked: int
) -> dict[str, Any]:
    current = traces[-1]
    result = compare_u16(current.expected, held).to_dict()
    earlier = None
    if not result["match"]:
        # A validator that sets weights late sends an older trace's vector.
        earlier = next(
            (
                t
                for t in reversed(traces[:-1])
                if t.expected and compare_u16(t.expected, held).match
            ),
            None,
        )
    result.update(
        mode="shadow",
        observed_block=block,
        checked_block=checked,
        trace_computed_block=current.computed_block,
        trace_age_blocks=block - current.computed_block,
        matches_cycle=earlier.id if earlier is not None else None,
        lag_blocks=block - earlier.computed_block if earlier is not None else None,
    )
    return result


__all__ = ["Observation", "Shadow", "ShadowCycle", "ShadowMetrics"]
