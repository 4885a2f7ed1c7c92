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

An operator runs it beside a validator that sets its own weights to prove that the validator
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

from sqlalchemy import Engine

from minertrace.chain.types import Chain, SubnetHyperparameters
from minertrace.clock import Clock
from minertrace.recorder.trace import trace_rows
from minertrace.stats.periods import current_periods, period_params
from minertrace.store.recorded import insert_recorded_cycle, upsert_recorded_miners
from minertrace.store.shadow import (
    TraceRow,
    last_observed_block,
    mark_observed,
    previous_scalars,
    traces_up_to,
)
from minertrace.validator.cycle import cycle_inputs
from minertrace.validator.persist import (
    build_record,
    insert_submission,
    skip_reason,
    upsert_miner_rows,
)
from minertrace.validator.reads import read_cycle_inputs_async
from minertrace.validator.submit import SubmissionState, find_validator
from minertrace.vocabulary import SubmissionStatus
from minertrace.weights import CycleInputs, CycleTrace, StoredCycle, WeightRules
from minertrace.weights.observe import compare_u16
from minertrace.weights.rules import RulesTrace, hotkeys_by_uid

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
    """Shadow mode for the validator `validator_hotkey` on `netuid`.

    `read_options` are the cycle reads' windows and limits (as the service's own cycle uses).
    `detailed` stores every stage vector; `realtime` writes the miners' period rows with each
    trace. `history` bounds how many recent traces an observation is compared with.
    """

    engine: Engine
    chain: Chain
    clock: Clock
    validator_hotkey: str
    netuid: int
    rules: WeightRules
    read_options: dict[str, Any] = field(default_factory=dict)
    detailed: bool = True
    realtime: bool = True
    history: int = 16
    metrics: ShadowMetrics = field(default_factory=ShadowMetrics)
    log: logging.Logger = logger
    _last_seen: int | None = None

    async def run_cycle(self) -> ShadowCycle:
        """Compute and record one trace; submits nothing. Never raises."""
        self.metrics.cycles += 1
        now = self.clock.now()
        block: int | None = None
        try:
            block = await self.chain.current_block()
            hp = await self.chain.hyperparameters(self.netuid)
            reads = await read_cycle_inputs_async(self.engine, now, block, **self.read_options)
            inputs = cycle_inputs(reads, now, hp)
            scalars = await asyncio.to_thread(self._previous)
            previous = StoredCycle(scalars=scalars) if scalars is not None else None
            trace = self.rules.compute(inputs, previous)
        except Exception as exc:
            self.metrics.failures += 1
            self.log.error("shadow cycle skipped: %s", _short(exc))
            return ShadowCycle(None, now, block, None, "read_failed", _short(exc))
        reason = _skip_reason(trace)
        status = SubmissionStatus.SKIPPED if reason else SubmissionStatus.COMPUTED
        try:
            ws_id = await asyncio.to_thread(
                self._write_trace, trace, inputs, hp, now, block, status.value, reason
            )
        except Exception as exc:
            self.metrics.failures += 1
            self.log.error("shadow trace not written: %s", _short(exc))
            return ShadowCycle(None, now, block, trace, status.value, _short(exc))
        self.metrics.traces_written += 1
        return ShadowCycle(ws_id, now, block, trace, status.value, reason)

    async def observe(self) -> list[Observation]:
        """Record the validator's latest weight update if it is new. Never raises."""
        try:
            return await self._observe()
        except Exception as exc:
            self.metrics.failures += 1
            self.log.warning("shadow: chain weights not observed: %s", _short(exc))
            return []

    # ------------------------------------------------------------------ internals

    def _previous(self) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return previous_scalars(conn, self.validator_hotkey, self.netuid)

    def _write_trace(
        self,
        trace: RulesTrace,
        inputs: CycleInputs,
        hp: SubnetHyperparameters,
        now: datetime,
        block: int,
        status: str,
        reason: str | None,
    ) -> int:
        with self.engine.begin() as conn:
            if isinstance(trace, CycleTrace):
                # Gaia's rules: the service's own record, with every per-miner column.
                record = build_record(
                    trace,
                    inputs.node_list,
                    validator_hotkey=self.validator_hotkey,
                    netuid=self.netuid,
                    computed_at=now,
                    computed_block=block,
                    detailed=self.detailed,
                    realtime=self.realtime,
                )
                ws_id = insert_submission(conn, record, SubmissionState(status, error=reason))
                upsert_miner_rows(conn, record, None)
                return ws_id
            hotkeys = hotkeys_by_uid(inputs.node_list, trace.n_uids)
            cycle, miners = trace_rows(
                trace,
                rules_name=self.rules.name,
                hotkeys=hotkeys,
                validator_hotkey=self.validator_hotkey,
                netuid=self.netuid,
                computed_at=now,
                computed_block=block,
                status=status,
                error=reason,
                detailed=self.detailed,
            )
            ws_id = insert_recorded_cycle(conn, cycle)
            if self.realtime:
                upsert_recorded_miners(
                    conn,
                    miners,
                    period_params(current_periods(now)),
                    validator_hotkey=self.validator_hotkey,
                    now=now,
                )
            return ws_id

    async def _observe(self) -> list[Observation]:
        me = find_validator(await self.chain.neurons(self.netuid), self.validator_hotkey)
        if me is None or me.last_update <= 0:
            return []
        if self._last_seen is None:
            self._last_seen = await asyncio.to_thread(self._last_observed)
        if self._last_seen is not None and me.last_update <= self._last_seen:
            return []
        block = me.last_update
        held = await self.chain.weights_of(self.netuid, me.uid)
        checked = await self.chain.current_block()
        block_hash = await self.chain.block_hash(block)
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
        with self.engine.connect() as conn:
            return last_observed_block(conn, self.validator_hotkey, self.netuid)

    def _traces(self, block: int) -> list[TraceRow]:
        with self.engine.connect() as conn:
            return traces_up_to(conn, self.validator_hotkey, self.netuid, block, self.history)

    def _mark(
        self, ws_id: int, block: int, block_hash: str | None, verification: dict[str, Any]
    ) -> None:
        now = self.clock.now()
        with self.engine.begin() as conn:
            mark_observed(
                conn,
                ws_id,
                block=block,
                block_hash=block_hash,
                verification_json=json.dumps(verification),
                now=now,
                periods=period_params(current_periods(now)),
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


def _skip_reason(trace: RulesTrace) -> str | None:
    if isinstance(trace, CycleTrace):
        return skip_reason(trace)
    if not trace.weights_produced:
        return f"no weights produced: {trace.no_weights_reason}"
    if not trace.encoding_ok:
        return f"encoding failed: {trace.encoding_error}"
    return None


def _short(exc: BaseException) -> str:
    text_ = str(exc).strip()
    first = text_.splitlines()[0] if text_ else ""
    return f"{type(exc).__name__}: {first}"[:300]


__all__ = ["Observation", "Shadow", "ShadowCycle", "ShadowMetrics"]
