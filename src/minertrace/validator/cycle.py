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

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from minertrace.chain.types import Chain
from minertrace.clock import Clock
from minertrace.config import Settings
from minertrace.validator.metrics import CycleMetrics
from minertrace.validator.trace_queue import PendingTrace, TraceQueue
from minertrace.weights import CycleTrace, WeightConfig

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
        raise NotImplementedError

    @property
    def uid(self) -> int:
        """The netuid in use (resolved)."""
        raise NotImplementedError


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
    raise NotImplementedError


async def flush(ctx: CycleContext) -> int:
    """Write what waits in the queue (traces, then their submission outcomes), oldest first.

    Returns the number of queue entries completed. Stops at the first database failure
    (logged, counted) so the order of writes is kept; never raises.
    """
    raise NotImplementedError


async def verify_pending(ctx: CycleContext) -> list[int]:
    """Verify this validator's commit-reveal submissions whose reveal block has passed.

    For each 'committed' row (and queued entry) whose reveal_block <= the current block and
    whose reveal epoch has run, the chain's weights for the validator are compared with the
    u16 vector sent → 'verified', or 'mismatch' with the differing UIDs in `verification`.
    Returns the ids of the rows updated (queued entries are updated in memory and written by
    the next flush). Never raises for database failures.
    """
    raise NotImplementedError


__all__ = [
    "CycleContext",
    "CycleMetrics",
    "CycleResult",
    "PendingTrace",
    "TraceQueue",
    "flush",
    "run_cycle",
    "verify_pending",
]
