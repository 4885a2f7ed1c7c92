"""The service's Prometheus metrics: one `Metrics` object per process, on its own registry.

Names follow the Prometheus conventions: the `minertrace_` prefix, the unit in the name
(`_seconds`, `_bytes`, `_blocks`), `_total` on counters (added by prometheus-client). Values
come from three places:

- observations made where the work happens: the cycle's step durations (through
  `minertrace.observe.context.step`), database query durations, the trace overhead, the stats
  refresh duration;
- events the service reports (`cycle_finished`, `node_synced`, `retention_done`, ...);
- live readings taken at scrape time (`bind_live`): the trace queue depth, the lock, and ages
  measured on the service's clock, so a simulated clock gives simulated ages.

Counters the service already keeps in memory (`CycleMetrics`, `ServiceCounters`) are fed in by
`sync_counters`, which adds what grew since the previous call, so nothing is counted twice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry

from minertrace.observe.catalog import MetricSet
from minertrace.vocabulary import ON_CHAIN_STATUSES

STEPS: tuple[str, ...] = ("read", "compute", "persist", "submit", "verify")
"""The cycle's steps, as the `step` label of `minertrace_cycle_step_duration_seconds`."""

# CycleMetrics field -> (metric attribute, label values) it feeds.
_CYCLE_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "slow_traces": ("slow_cycles", ()),
    "persist_failures": ("trace_write_failures", ()),
    "traces_written": ("traces_written", ()),
    "traces_written_late": ("traces_written_late", ()),
    "queue_drops": ("trace_queue_drops", ()),
    "verified": ("verifications", ("match",)),
    "mismatches": ("verifications", ("mismatch",)),
}

# ShadowMetrics field -> (metric attribute, label values) it feeds.
_SHADOW_FIELDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cycles": ("shadow_cycles", ()),
    "matches": ("shadow_observations", ("match",)),
    "mismatches": ("shadow_observations", ("mismatch",)),
    "untraced": ("shadow_observations", ("untraced",)),
    "late": ("shadow_late", ()),
    "failures": ("shadow_failures", ()),
}

Reading = Callable[[], float]


def _seconds(dt: datetime) -> float:
    return dt.timestamp()


class Metrics(MetricSet):
    """The metrics of `MetricSet` and the ways the service feeds them (see the module doc)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        super().__init__(registry)
        self._synced: dict[tuple[str, tuple[str, ...]], float] = {}
        self._clock: Callable[[], datetime] | None = None
        self._newest_score: dict[str, datetime | None] = {}
        self._oldest: dict[str, datetime | None] = {}
        self._last_sync: datetime | None = None

    # ---------------------------------------------------------------- configuration

    def configure(
        self,
        *,
        hotkey: str,
        netuid: int,
        trace_overhead_threshold_s: float,
        node_sync_interval_s: float,
        trace_queue_size: int,
        score_windows_s: Mapping[str, float],
        retention_window_s: float,
    ) -> None:
        """Set the constant gauges from the service's settings."""
        self.service_info.labels(hotkey=hotkey, netuid=str(netuid)).set(1)
        self.trace_overhead_threshold.set(trace_overhead_threshold_s)
        self.node_sync_interval.set(node_sync_interval_s)
        self.trace_queue_capacity.set(trace_queue_size)
        for task, window in score_windows_s.items():
            self.score_window.labels(task=task).set(window)
        self.retention_window.set(retention_window_s)
        # Pre-create the labelled series that alerts compare, so they read 0, not absent.
        for step in STEPS:
            self.step_duration.labels(step=step)

    def bind_live(
        self,
        *,
        clock: Callable[[], datetime],
        queue_depth: Reading,
        lock_held: Callable[[], bool],
    ) -> None:
        """Readings taken at scrape time: queue depth, lock, and ages on the service clock."""
        self._clock = clock
        self.trace_queue_depth.set_function(queue_depth)
        self.lock_held.set_function(lambda: 1.0 if lock_held() else 0.0)
        self.node_sync_age.set_function(lambda: self._age(self._last_sync))

    def _reader(self, times: Mapping[str, datetime | None], key: str) -> Reading:
        """A scrape-time reading of the age of `times[key]` (looked up at each scrape)."""

        def read() -> float:
            return self._age(times.get(key))

        return read

    def _age(self, at: datetime | None) -> float:
        if at is None or self._clock is None:
            return math.nan
        return max(0.0, (self._clock() - at).total_seconds())

    # ---------------------------------------------------------------- events

    def cycle_finished(
        self,
        status: str,
        *,
        at: datetime,
        attempts: Iterable[str] = (),
        block_number: int | None = None,
        trace_overhead_s: float | None = None,
        count_status: bool = True,
    ) -> None:
        """Record a finished cycle: its attempts by outcome (each attempt's status), its
        overhead, the last success.

        `count_status` is False when `sync_counters` already counts cycles by status (from
        the service's own counters).
        """
        if count_status:
            self.cycles.labels(status=status).inc()
        self.cycle_last_timestamp.set(_seconds(at))
        n = 0
        for outcome in attempts:
            n += 1
            self.submission_attempts.labels(outcome=outcome or "error").inc()
        if n > 1:
            self.submission_retries.inc(n - 1)
        if trace_overhead_s is not None:
            self.trace_overhead.observe(trace_overhead_s)
            self.trace_overhead_last.set(trace_overhead_s)
        if block_number is not None and status in {s.value for s in ON_CHAIN_STATUSES}:
            self.last_success_timestamp.set(_seconds(at))
            self.last_success_block.set(block_number)

    def cycle_skipped(self, status: str, *, at: datetime) -> None:
        """A cycle that did not run (database unreachable, lock held elsewhere)."""
        self.cycles.labels(status=status).inc()
        self.cycle_last_timestamp.set(_seconds(at))

    def node_synced(self, *, at: datetime, replacements: int) -> None:
        """A successful metagraph sync and how many hotkeys it found replaced."""
        self.node_syncs.inc()
        self._last_sync = at
        if replacements:
            self.hotkey_replacements.inc(replacements)

    def node_sync_failed(self) -> None:
        """A metagraph sync that raised."""
        self.node_sync_failures.inc()

    def epoch_seen(self, block: int) -> None:
        """A new subnet epoch."""
        self.epochs.inc()
        self.last_epoch_block.set(block)

    def chain_position(self, *, block: int, last_update: int | None, activity_cutoff: int) -> None:
        """Where the validator stands against the activity cutoff (`last_update` None or 0:
        it never set weights, counted from block 0)."""
        self.chain_block.set(block)
        self.activity_cutoff.set(activity_cutoff)
        self.blocks_since_weights_set.set(max(0, block - (last_update or 0)))

    def retention_done(self, removed: Mapping[str, int]) -> None:
        """Rows one retention run deleted, by table."""
        for table, n in removed.items():
            self.retention_rows_removed.labels(table=table).inc(max(0, n))

    def database_checked(self, up: bool) -> None:
        """The latest database reachability check."""
        self.database_up.set(1.0 if up else 0.0)
        if not up:
            self.database_failures.inc()

    def score_gaps(self, gaps: Iterable[tuple[str, datetime | None, int]]) -> None:
        """Per task: the newest score row's time (None: no row) and the rows in its window."""
        for task, newest, rows in gaps:
            self._newest_score[task] = newest
            self.score_rows_in_window.labels(task=task).set(rows)
            self.score_age.labels(task=task).set_function(self._reader(self._newest_score, task))

    def table_stats(self, tables: Iterable[tuple[str, int, float | None, float | None]]) -> None:
        """Per table: total bytes, estimated rows (None before ANALYZE), expected max rows."""
        for name, size, rows, limit in tables:
            self.table_size.labels(table=name).set(size)
            if rows is not None:
                self.table_rows.labels(table=name).set(rows)
            if limit is not None:
                self.table_row_limit.labels(table=name).set(limit)

    def oldest_rows(self, oldest: Mapping[str, datetime | None]) -> None:
        """Per retained table: the time of its oldest row subject to retention."""
        for table, at in oldest.items():
            self._oldest[table] = at
            self.oldest_row_age.labels(table=table).set_function(self._reader(self._oldest, table))

    # ---------------------------------------------------------------- in-memory counters

    def _feed(self, attr: str, labels: tuple[str, ...], value: float) -> None:
        key = (attr, labels)
        grown = value - self._synced.get(key, 0.0)
        if grown <= 0:
            return
        self._synced[key] = value
        metric = getattr(self, attr)
        (metric.labels(*labels) if labels else metric).inc(grown)

    def sync_counters(
        self,
        cycle: Mapping[str, Any],
        *,
        runs: Mapping[str, int] | None = None,
        failures: Mapping[str, int] | None = None,
        cycle_statuses: Mapping[str, int] | None = None,
    ) -> None:
        """Add what the in-memory counters gained since the last call.

        `cycle` is `CycleMetrics.snapshot()`; `runs`, `failures` and `cycle_statuses` are the
        `ServiceCounters` of the same names.
        """
        for name, (attr, labels) in _CYCLE_FIELDS.items():
            value = cycle.get(name)
            if isinstance(value, (int, float)):
                self._feed(attr, labels, float(value))
        for job, n in (runs or {}).items():
            self._feed("jobs", (job,), float(n))
        for job, n in (failures or {}).items():
            self._feed("job_failures", (job,), float(n))
        for status, n in (cycle_statuses or {}).items():
            self._feed("cycles", (status,), float(n))

    def sync_shadow(self, counters: Mapping[str, int]) -> None:
        """Add what a shadow's counters (`ShadowMetrics`, as a dict) gained since the last call."""
        for name, (attr, labels) in _SHADOW_FIELDS.items():
            value = counters.get(name)
            if isinstance(value, int):
                self._feed(attr, labels, float(value))
