"""`ServiceObserver`: what the validator service reports to its `Metrics`.

The service calls three hooks and does nothing else for its metrics:

- `job_scope(name)` around every step of its loop: a cycle gets a fresh cycle id (the
  `cycle_scope` that labels its log lines and times its steps); other jobs label the queries
  they run;
- `job_done(name, result, error, seconds)` after each step: stats refresh duration, retention
  counts, node sync success or failure and hotkey replacements, the cycle's attempts and
  last success;
- `after_pass()` at the end of each pass: the in-memory counters are synced, new epochs
  counted, the database pinged, and every `health_interval_s` of clock time the health probe
  reads table sizes, data gaps and the chain's position against the activity cutoff.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from minertrace.observe.context import cycle_scope, step, time_queries
from minertrace.observe.metrics import Metrics
from minertrace.observe.probe import HealthProbe
from minertrace.store import health
from minertrace.vocabulary import Task
from minertrace.weights import WeightConfig

logger = logging.getLogger(__name__)

DEFAULT_HEALTH_INTERVAL_S = 60.0


def score_windows(cfg: WeightConfig) -> dict[str, float]:
    """Each task's read window in seconds (the `task` label values of the gap metrics)."""
    return {
        Task.WEATHER.value: cfg.weather_window_days * 86400.0,
        Task.GEOMAGNETIC.value: cfg.geomagnetic_window_days * 86400.0,
        Task.SOIL.value: cfg.soil_window_days * 86400.0,
    }


class ServiceObserver:
    """Feeds `metrics` from one `minertrace.validator.service.Service` (see the module doc).

    `service` is used through its public attributes: engine, chain, clock, settings, netuid,
    validator_hotkey, ctx (metrics, queue, weight_config), counters and lock.
    """

    def __init__(
        self,
        metrics: Metrics,
        service: Any,
        *,
        health_interval_s: float = DEFAULT_HEALTH_INTERVAL_S,
    ) -> None:
        self.metrics = metrics
        self.service = service
        self.health_interval = timedelta(seconds=health_interval_s)
        s = service.settings
        windows = score_windows(service.ctx.weight_config)
        self.probe = HealthProbe(
            metrics,
            service.validator_hotkey,
            windows,
            s.retention_days,
            s.cleanup_frequency_hours,
            s.cycle_interval_seconds,
        )
        metrics.configure(
            hotkey=service.validator_hotkey,
            netuid=service.netuid,
            trace_overhead_threshold_s=s.performance_impact_threshold,
            node_sync_interval_s=s.node_sync_interval_seconds,
            trace_queue_size=s.trace_queue_size,
            score_windows_s=windows,
            retention_window_s=s.retention_days * 86400.0 + s.cleanup_frequency_hours * 3600.0,
        )
        metrics.bind_live(
            clock=service.clock.now,
            queue_depth=lambda: float(len(service.ctx.queue)),
            lock_held=lambda: bool(service.lock.held),
        )
        time_queries(service.engine, metrics)
        self._cycle_seq = 0
        self._epochs_seen = 0
        self._next_probe: datetime | None = None
        self._last_update: int | None = None

    @contextmanager
    def job_scope(self, name: str) -> Iterator[None]:
        """Around one step of the loop: a cycle scope for `cycle`, a query label otherwise."""
        if name == "cycle":
            self._cycle_seq += 1
            with cycle_scope(self._cycle_seq, self.metrics):
                yield
            return
        with step(name):
            yield

    def job_done(
        self, name: str, result: object, error: BaseException | None, seconds: float
    ) -> None:
        """Record what one step did (`result` is the step's return value)."""
        m = self.metrics
        if name == "node_sync":
            if error is not None:
                m.node_sync_failed()
            elif result is not None:
                m.node_synced(
                    at=self.service.clock.now(),
                    replacements=len(getattr(result, "replacements", ())),
                )
        elif name == "stats" and error is None:
            m.stats_refresh_duration.observe(seconds)
        elif name == "retention" and result is not None:
            m.retention_done(
                {
                    "weight_submissions": int(getattr(result, "weight_submissions", 0)),
                    "miner_performance_stats": int(getattr(result, "stats_rows", 0)),
                }
            )
        # A shadow cycle (run --shadow) has no attempts: its counters come from the shadow.
        elif name == "cycle" and result is not None and hasattr(result, "attempts"):
            r: Any = result
            m.cycle_finished(
                str(r.status),
                at=r.computed_at,
                attempts=[str(a.status) for a in r.attempts],
                block_number=r.block_number,
                trace_overhead_s=r.trace_overhead_s,
                count_status=False,
            )

    def cycle_skipped(self, status: str) -> None:
        """A cycle that did not run: `db_unreachable` or `lock_held_elsewhere`."""
        self.metrics.cycle_skipped(status, at=self.service.clock.now())

    async def after_pass(self) -> None:
        """Sync counters and epochs, ping the database, run the health probe when due."""
        svc = self.service
        c = svc.counters
        self.metrics.sync_counters(
            svc.ctx.metrics.snapshot(),
            runs=c.runs,
            failures=c.failures,
            cycle_statuses=c.cycle_statuses,
        )
        shadow = getattr(svc, "shadow", None)
        if shadow is not None:
            self.metrics.sync_shadow(dataclasses.asdict(shadow.metrics))
        for block in c.epochs[self._epochs_seen :]:
            self.metrics.epoch_seen(block)
        self._epochs_seen = len(c.epochs)
        now = svc.clock.now()
        if self._next_probe is not None and now < self._next_probe:
            up = await asyncio.to_thread(self._ping)
            self.metrics.database_checked(up)
            return
        self._next_probe = now + self.health_interval
        t0 = time.perf_counter()
        report = await asyncio.to_thread(self.probe.run_db, svc.engine, now)
        if report.activity is not None:
            self._last_update = report.activity.own_last_update_block
        await self.probe.run_chain(svc.chain, svc.netuid, self._last_update)
        logger.debug("health probe took %.3f s", time.perf_counter() - t0)

    def _ping(self) -> bool:
        try:
            health.ping(self.service.engine)
        except Exception:
            return False
        return True
