"""The catalogue of minertrace's Prometheus metrics: every name, help text, label and bucket.

`MetricSet` only creates the metric objects on a registry; `minertrace.observe.metrics.Metrics`
adds how they are fed. Names follow the Prometheus conventions: the `minertrace_` prefix, the
unit in the name, `_total` on counters (added by prometheus-client).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Sub-millisecond reads up to minute-long submissions (the rate-limit wait is part of submit).
_STEP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_QUERY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
_REFRESH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


def _gauge(r: CollectorRegistry, name: str, doc: str, *labels: str) -> Gauge:
    return Gauge(name, doc, list(labels), registry=r)


def _counter(r: CollectorRegistry, name: str, doc: str, *labels: str) -> Counter:
    return Counter(name, doc, list(labels), registry=r)


class MetricSet:
    """Every minertrace metric, registered on `registry` (a fresh one by default).

    A private registry keeps several services (tests, a web process) from colliding in the
    library's global one; `minertrace.observe.exporter` serves exactly this registry.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.service_info = _gauge(
            r,
            "minertrace_service_info",
            "Always 1; the labels name the validator hotkey and subnet this process serves.",
            "hotkey",
            "netuid",
        )
        # ---- the cycle
        self.step_duration = Histogram(
            "minertrace_cycle_step_duration_seconds",
            "Duration of each step of a weight cycle.",
            ["step"],
            buckets=_STEP_BUCKETS,
            registry=r,
        )
        self.query_duration = Histogram(
            "minertrace_db_query_duration_seconds",
            "Duration of database statements, by the cycle step (or service job) running them.",
            ["step"],
            buckets=_QUERY_BUCKETS,
            registry=r,
        )
        self.trace_overhead = Histogram(
            "minertrace_trace_overhead_seconds",
            "Trace-and-persist overhead of each cycle (end of compute to end of persist).",
            buckets=_STEP_BUCKETS,
            registry=r,
        )
        self.trace_overhead_last = _gauge(
            r,
            "minertrace_trace_overhead_last_seconds",
            "Trace-and-persist overhead of the latest cycle.",
        )
        self.trace_overhead_threshold = _gauge(
            r,
            "minertrace_trace_overhead_threshold_seconds",
            "The configured performance_impact_threshold.",
        )
        self.slow_cycles = _counter(
            r, "minertrace_slow_cycles", "Cycles whose trace overhead exceeded the threshold."
        )
        self.cycles = _counter(
            r,
            "minertrace_cycles",
            "Weight cycles by final status (a submission status, read_failed, db_unreachable, "
            "lock_held_elsewhere).",
            "status",
        )
        self.cycle_last_timestamp = _gauge(
            r,
            "minertrace_cycle_last_timestamp_seconds",
            "Clock time of the latest cycle (Unix seconds).",
        )
        # ---- submissions
        self.submission_attempts = _counter(
            r,
            "minertrace_submission_attempts",
            "set_weights attempts by outcome (included, committed, rejected, timeout, error).",
            "outcome",
        )
        self.submission_retries = _counter(
            r, "minertrace_submission_retries", "set_weights attempts after the first of a cycle."
        )
        self.last_success_timestamp = _gauge(
            r,
            "minertrace_last_successful_submission_timestamp_seconds",
            "Clock time of the latest cycle whose weights reached the chain (Unix seconds).",
        )
        self.last_success_block = _gauge(
            r,
            "minertrace_last_successful_submission_block",
            "Block that included the latest successful submission.",
        )
        self.verifications = _counter(
            r,
            "minertrace_verifications",
            "Read-backs of submitted weights by result (match, mismatch).",
            "result",
        )
        self.blocks_since_weights_set = _gauge(
            r,
            "minertrace_blocks_since_weights_set",
            "Blocks since the chain last recorded weights from this validator (last_update).",
        )
        self.activity_cutoff = _gauge(
            r,
            "minertrace_activity_cutoff_blocks",
            "The subnet's activity_cutoff: a validator silent this long loses its weights.",
        )
        self.chain_block = _gauge(
            r, "minertrace_chain_block", "The chain's current block as last read."
        )
        # ---- shadow mode (run --shadow)
        self.shadow_cycles = _counter(
            r, "minertrace_shadow_cycles", "Shadow cycles computed (traced, never submitted)."
        )
        self.shadow_observations = _counter(
            r,
            "minertrace_shadow_observations",
            "Weight updates of the watched hotkey compared with the shadow trace, by result "
            "(match, mismatch, untraced: set before any trace).",
            "result",
        )
        self.shadow_late = _counter(
            r,
            "minertrace_shadow_late_observations",
            "Mismatches whose weights equal an earlier shadow cycle (the validator lags a cycle).",
        )
        self.shadow_failures = _counter(
            r, "minertrace_shadow_failures", "Shadow cycles or observations that failed."
        )
        # ---- data gaps
        self.score_age = _gauge(
            r,
            "minertrace_score_newest_row_age_seconds",
            "Age of the newest score_table row of each task.",
            "task",
        )
        self.score_rows_in_window = _gauge(
            r,
            "minertrace_score_rows_in_window",
            "score_table rows inside each task's read window.",
            "task",
        )
        self.score_window = _gauge(
            r,
            "minertrace_score_window_seconds",
            "Each task's read window (a task with no row this recent feeds the cycle nothing).",
            "task",
        )
        # ---- node sync, epochs, stats, retention
        self.node_syncs = _counter(r, "minertrace_node_syncs", "Successful metagraph syncs.")
        self.node_sync_failures = _counter(
            r, "minertrace_node_sync_failures", "Failed metagraph syncs."
        )
        self.node_sync_age = _gauge(
            r,
            "minertrace_node_sync_age_seconds",
            "Seconds since the last successful metagraph sync.",
        )
        self.node_sync_interval = _gauge(
            r, "minertrace_node_sync_interval_seconds", "The configured node_sync_interval_seconds."
        )
        self.epochs = _counter(r, "minertrace_epochs", "Subnet epochs the service saw.")
        self.last_epoch_block = _gauge(
            r, "minertrace_last_epoch_block", "Block of the latest epoch seen."
        )
        self.hotkey_replacements = _counter(
            r,
            "minertrace_hotkey_replacements",
            "UIDs whose hotkey changed (or that left the metagraph) at a node sync.",
        )
        self.stats_refresh_duration = Histogram(
            "minertrace_stats_refresh_duration_seconds",
            "Duration of the period statistics refresh.",
            buckets=_REFRESH_BUCKETS,
            registry=r,
        )
        self.retention_rows_removed = _counter(
            r, "minertrace_retention_rows_removed", "Rows deleted by retention, by table.", "table"
        )
        self.jobs = _counter(r, "minertrace_job_runs", "Service loop steps run, by job.", "job")
        self.job_failures = _counter(
            r,
            "minertrace_job_failures",
            "Service loop steps that raised (logged; the loop goes on), by job.",
            "job",
        )
        # ---- trace queue, lock, database
        self.trace_queue_depth = _gauge(
            r, "minertrace_trace_queue_depth", "Traces waiting in memory for the database."
        )
        self.trace_queue_capacity = _gauge(
            r, "minertrace_trace_queue_capacity", "The configured trace_queue_size."
        )
        self.trace_queue_drops = _counter(
            r,
            "minertrace_trace_queue_drops",
            "Traces dropped because the queue was full (their data is lost).",
        )
        self.trace_write_failures = _counter(
            r,
            "minertrace_trace_write_failures",
            "Failed attempts to write a trace or an outcome (each is retried).",
        )
        self.traces_written = _counter(r, "minertrace_traces_written", "Traces completely written.")
        self.traces_written_late = _counter(
            r,
            "minertrace_traces_written_late",
            "Traces written by a later flush after their cycle's own write failed.",
        )
        self.lock_held = _gauge(
            r,
            "minertrace_lock_held",
            "1 while this process holds the hotkey's weight-setting advisory lock.",
        )
        self.database_up = _gauge(
            r, "minertrace_database_up", "1 when the latest database check succeeded."
        )
        self.database_failures = _counter(
            r, "minertrace_database_check_failures", "Database checks that failed."
        )
        self.table_size = _gauge(
            r,
            "minertrace_table_size_bytes",
            "pg_total_relation_size of each minertrace table (with indexes and TOAST).",
            "table",
        )
        self.table_rows = _gauge(
            r,
            "minertrace_table_estimated_rows",
            "Estimated rows of each table (pg_class.reltuples, as of the last ANALYZE).",
            "table",
        )
        self.table_row_limit = _gauge(
            r,
            "minertrace_table_expected_max_rows",
            "Rows a table should not exceed when retention works.",
            "table",
        )
        self.oldest_row_age = _gauge(
            r,
            "minertrace_retention_oldest_row_age_seconds",
            "Age of the oldest row retention should have removed by now, by table.",
            "table",
        )
        self.retention_window = _gauge(
            r,
            "minertrace_retention_window_seconds",
            "retention_days plus one cleanup interval: no retained row should be older.",
        )
        self.health_duration = Histogram(
            "minertrace_health_check_duration_seconds",
            "Duration of the periodic health queries (table sizes, data gaps).",
            buckets=_QUERY_BUCKETS,
            registry=r,
        )
