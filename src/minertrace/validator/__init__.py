"""minertrace.validator: the orchestration of a validator's work.

A weight cycle (`run_cycle`), commit-reveal verification (`verify_pending`), node sync,
epoch results, fork detection, the hotkey lock, the trace queue and the service loop that
runs them on one clock. The data access is `minertrace.store`; the weights `minertrace.weights`.
"""

from minertrace.validator.chain_integration import (
    EpochReport,
    apply_epoch_results,
    write_epoch_results,
)
from minertrace.validator.cycle import (
    READ_FAILED,
    CycleContext,
    CycleResult,
    cycle_inputs,
    flush,
    run_cycle,
)
from minertrace.validator.demo import (
    DEMO_SCHEMA,
    DemoResult,
    open_demo_database,
    reset_demo_schema,
    run_demo,
)
from minertrace.validator.forks import DEFAULT_LOOKBACK_BLOCKS, detect_orphans
from minertrace.validator.lock import HotkeyLock, LockHeldError, held_message, lock_key
from minertrace.validator.metrics import CycleMetrics
from minertrace.validator.node_sync import (
    EmptyMetagraphError,
    MetagraphError,
    NodeSyncReport,
    apply_metagraph,
    sync_nodes,
)
from minertrace.validator.persist import build_record, json_vector, skip_reason, stages_json
from minertrace.validator.service import Job, Service, ServiceCounters
from minertrace.validator.shadow import Observation, Shadow, ShadowCycle, ShadowMetrics
from minertrace.validator.submit import (
    SubmissionState,
    Submitter,
    apply_verification,
    compare_weights,
    find_validator,
    rate_limit_wait_blocks,
    submit_weights,
    verify_weights,
    wait_rate_limit,
)
from minertrace.validator.trace_queue import PendingTrace, TraceQueue
from minertrace.validator.verify import verify_pending

__all__ = [
    "DEFAULT_LOOKBACK_BLOCKS",
    "DEMO_SCHEMA",
    "READ_FAILED",
    "CycleContext",
    "CycleMetrics",
    "CycleResult",
    "DemoResult",
    "EmptyMetagraphError",
    "EpochReport",
    "HotkeyLock",
    "Job",
    "LockHeldError",
    "MetagraphError",
    "NodeSyncReport",
    "Observation",
    "PendingTrace",
    "Service",
    "ServiceCounters",
    "Shadow",
    "ShadowCycle",
    "ShadowMetrics",
    "SubmissionState",
    "Submitter",
    "TraceQueue",
    "apply_epoch_results",
    "apply_metagraph",
    "apply_verification",
    "build_record",
    "compare_weights",
    "cycle_inputs",
    "detect_orphans",
    "find_validator",
    "flush",
    "held_message",
    "json_vector",
    "lock_key",
    "open_demo_database",
    "rate_limit_wait_blocks",
    "reset_demo_schema",
    "run_cycle",
    "run_demo",
    "skip_reason",
    "stages_json",
    "submit_weights",
    "sync_nodes",
    "verify_pending",
    "verify_weights",
    "wait_rate_limit",
    "write_epoch_results",
]
