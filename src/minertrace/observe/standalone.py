"""Metrics of the database alone, for a process that does not run the service (`serve`).

`probing_registry(engine, ...)` returns a registry whose scrape runs the health probe (table
sizes, estimated rows, data gaps, retention, the validator's position as node sync stored it)
at most every `min_interval_s` seconds; the service's own counters are not there, they live in
the `minertrace run` process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from minertrace.observe.metrics import Metrics
from minertrace.observe.observer import score_windows
from minertrace.observe.probe import HealthProbe
from minertrace.weights import WeightConfig

# What the database alone can tell; the service's counters, queue and lock are not here.
_PROBED = (
    "minertrace_database_",
    "minertrace_health_check_",
    "minertrace_retention_oldest_",
    "minertrace_retention_window_",
    "minertrace_score_",
    "minertrace_table_",
)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ProbingCollector(Collector):
    """Runs the probe (when stale) and yields the metrics it fed, at each scrape."""

    def __init__(
        self,
        metrics: Metrics,
        probe: HealthProbe,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = _utc_now,
        min_interval_s: float = 15.0,
    ) -> None:
        self.metrics = metrics
        self.probe = probe
        self.engine = engine
        self.clock = clock
        self.min_interval_s = min_interval_s
        self._last: float | None = None
        self._lock = threading.Lock()

    def collect(self) -> Iterable[Metric]:
        """The exposition, after a probe if the last one is older than `min_interval_s`."""
        with self._lock:
            now = time.monotonic()
            if self._last is None or now - self._last >= self.min_interval_s:
                self._last = now
                self.probe.run_db(self.engine, self.clock())
        return [f for f in self.metrics.registry.collect() if f.name.startswith(_PROBED)]


def probing_registry(
    engine: Engine,
    *,
    validator_hotkey: str = "",
    retention_days: float = 30.0,
    cleanup_hours: float = 4.0,
    cycle_interval_s: float = 3600.0,
    weight_config: WeightConfig | None = None,
    min_interval_s: float = 15.0,
    clock: Callable[[], datetime] = _utc_now,
) -> CollectorRegistry:
    """A registry exposing the database's health metrics, probed at scrape time."""
    metrics = Metrics()
    windows = score_windows(weight_config or WeightConfig())
    for task, window in windows.items():
        metrics.score_window.labels(task=task).set(window)
    metrics.retention_window.set(retention_days * 86400.0 + cleanup_hours * 3600.0)
    metrics.bind_live(clock=clock, queue_depth=lambda: 0.0, lock_held=lambda: False)
    probe = HealthProbe(
        metrics, validator_hotkey, windows, retention_days, cleanup_hours, cycle_interval_s
    )
    registry = CollectorRegistry()
    registry.register(
        ProbingCollector(metrics, probe, engine, clock=clock, min_interval_s=min_interval_s)
    )
    return registry
