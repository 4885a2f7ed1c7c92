"""The service's periodic health probe: database, tables, data gaps, chain position → `Metrics`.

`HealthProbe.run_db(engine, now)` (sync, run in a worker thread) pings the database and reads
`minertrace.store.health`; `HealthProbe.run_chain(chain, ...)` reads the current block and the
activity cutoff. Both feed the `Metrics` they were given and return what they read; neither
raises for an unreachable database or chain (that is a reading, `database_up` 0).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from minertrace.chain.types import Chain
from minertrace.observe.metrics import Metrics
from minertrace.store import health
from minertrace.vocabulary import PERIOD_TYPES, PeriodType

# Rows a daily/weekly/monthly period keeps per miner over `days`: the periods that end within
# them, plus the current one and one partly covered.
_PERIOD_DAYS = {PeriodType.DAILY: 1.0, PeriodType.WEEKLY: 7.0, PeriodType.MONTHLY: 28.0}
DEFAULT_UIDS = 256


def expected_max_rows(
    *,
    retention_days: float,
    cleanup_hours: float,
    cycle_interval_s: float,
    n_uids: int,
    validators: int = 1,
) -> dict[str, float]:
    """Rows weight_submissions and miner_performance_stats should not exceed while retention
    runs: what `retention_days` plus one cleanup interval can accumulate, with one row per
    cycle per validator and one row per miner per period (all_time rows are never removed)."""
    kept_s = retention_days * 86400.0 + cleanup_hours * 3600.0
    cycles = math.ceil(kept_s / cycle_interval_s) + 1
    per_miner = 1.0 + sum(math.ceil(kept_s / 86400.0 / days) + 1 for days in _PERIOD_DAYS.values())
    assert len(_PERIOD_DAYS) + 1 == len(PERIOD_TYPES)
    return {
        "weight_submissions": float(cycles * validators),
        "miner_performance_stats": float(per_miner * n_uids * validators),
    }


@dataclass
class DbHealth:
    """What one database probe read (`up` False: nothing else was read)."""

    up: bool
    error: str | None = None
    tables: list[health.TableSize] = field(default_factory=list)
    gaps: list[health.TaskGap] = field(default_factory=list)
    activity: health.LastActivity | None = None
    oldest: dict[str, datetime | None] = field(default_factory=dict)


@dataclass
class HealthProbe:
    """Settings-derived constants of the probe; `metrics` receives the readings."""

    metrics: Metrics
    validator_hotkey: str
    score_windows_s: dict[str, float]
    retention_days: float
    cleanup_hours: float
    cycle_interval_s: float

    def run_db(self, engine: Engine, now: datetime) -> DbHealth:
        """Ping, then table sizes, data gaps, the latest activity and the oldest rows."""
        t0 = time.perf_counter()
        try:
            health.ping(engine)
        except Exception as exc:
            self.metrics.database_checked(False)
            return DbHealth(False, f"{type(exc).__name__}: {str(exc).strip()[:200]}")
        self.metrics.database_checked(True)
        try:
            report = DbHealth(
                True,
                tables=health.table_sizes(engine),
                gaps=health.task_gaps(engine, now, self.score_windows_s),
                activity=health.last_activity(engine, self.validator_hotkey),
                oldest=health.oldest_retained(engine),
            )
        except Exception as exc:
            return DbHealth(True, f"{type(exc).__name__}: {str(exc).strip()[:200]}")
        self.metrics.health_duration.observe(time.perf_counter() - t0)
        self._feed(report)
        return report

    def _feed(self, report: DbHealth) -> None:
        m = self.metrics
        sizes = {t.table: t for t in report.tables}
        nodes = sizes.get("node_table")
        n_uids = nodes.estimated_rows if nodes and nodes.estimated_rows else DEFAULT_UIDS
        limits = expected_max_rows(
            retention_days=self.retention_days,
            cleanup_hours=self.cleanup_hours,
            cycle_interval_s=self.cycle_interval_s,
            n_uids=n_uids,
        )
        m.table_stats(
            (t.table, t.total_bytes, t.estimated_rows, limits.get(t.table)) for t in report.tables
        )
        m.score_gaps((g.task, g.newest, g.rows_in_window) for g in report.gaps)
        m.oldest_rows(report.oldest)

    async def run_chain(self, chain: Chain, netuid: int, last_update: int | None) -> int | None:
        """Read the current block and activity cutoff; returns the block (None: unreachable).

        `last_update` is the validator's last_update_block as node sync stored it.
        """
        try:
            block = await chain.current_block()
            hp = await chain.hyperparameters(netuid)
        except Exception:
            return None
        self.metrics.chain_position(
            block=block, last_update=last_update, activity_cutoff=int(hp.activity_cutoff)
        )
        return block
