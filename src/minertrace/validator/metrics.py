"""Counters of the cycle's shell: trace overhead, persistence failures, queue drops, submissions.

One `CycleMetrics` lives in a `CycleContext`; the service (and later the metrics endpoint)
reads `snapshot()`. Plain integers and floats: the cycle runs on one event loop, so no lock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class CycleMetrics:
    """What the cycle counts. Every field only grows, except the `last_*` gauges."""

    cycles: int = 0
    """Cycles run (a cycle whose reads failed counts too)."""
    read_failures: int = 0
    """Cycles that could not read their inputs (nothing computed or submitted)."""
    slow_traces: int = 0
    """Cycles whose trace-and-persist overhead exceeded performance_impact_threshold."""
    last_trace_overhead_s: float | None = None
    max_trace_overhead_s: float = 0.0
    persist_failures: int = 0
    """Failed attempts to write a trace or a submission outcome (each is retried later)."""
    traces_written: int = 0
    traces_written_late: int = 0
    """Traces written by a flush after their cycle's own write had failed."""
    queue_drops: int = 0
    """Traces dropped because the TraceQueue was full (their data is lost)."""
    submission_attempts: int = 0
    submissions_included: int = 0
    submissions_committed: int = 0
    submissions_failed: int = 0
    submissions_skipped: int = 0
    verified: int = 0
    mismatches: int = 0

    def observe_overhead(self, seconds: float, threshold: float) -> bool:
        """Record one cycle's overhead; True (and counted) when it exceeds `threshold`."""
        self.last_trace_overhead_s = seconds
        self.max_trace_overhead_s = max(self.max_trace_overhead_s, seconds)
        slow = seconds > threshold
        if slow:
            self.slow_traces += 1
        return slow

    def snapshot(self) -> dict[str, float | int | None]:
        """Every counter by name (for logs and the metrics endpoint)."""
        return asdict(self)
