"""`minertrace status`: what an operator needs at a glance, and what is wrong, in words.

`gather_status` reads the database (`minertrace.store.health`) and, when a metrics URL is
given, the running service's `/metrics` (the trace queue, the lock, the database as the
service sees it, the chain's block and activity cutoff); `StatusReport.problems` lists what
needs attention. Without the service's metrics the chain position is estimated from the
latest cycle's block and the time since (12 s a block).
"""

from __future__ import annotations

import math
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from minertrace.store import health
from minertrace.vocabulary import BLOCK_SECONDS, SubmissionStatus

DEFAULT_ACTIVITY_CUTOFF = 5000
DEFAULT_MARGIN_BLOCKS = 1000
_BAD_STATUSES = {SubmissionStatus.FAILED.value, SubmissionStatus.MISMATCH.value}


@dataclass
class ServiceReading:
    """Values read from the service's /metrics (None: not exposed or not reachable)."""

    url: str
    reachable: bool
    error: str | None = None
    values: dict[str, float] = field(default_factory=dict)

    def get(self, name: str) -> float | None:
        """A sample's value, None when absent or NaN."""
        v = self.values.get(name)
        return None if v is None or math.isnan(v) else v


def read_metrics(url: str, timeout: float = 3.0) -> ServiceReading:
    """Scrape `url` once; unlabelled samples by name (labelled ones as name{k="v",...})."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            body = resp.read().decode()
    except Exception as exc:
        return ServiceReading(url, False, f"{type(exc).__name__}: {exc}")
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            values[f"{s.name}{{{labels}}}" if labels else s.name] = float(s.value)
    return ServiceReading(url, True, values=values)


@dataclass
class StatusReport:
    """Everything `minertrace status` shows; `problems` empty means all is well."""

    now: datetime
    validator_hotkey: str | None
    last_cycle: health.CycleRow | None
    last_submission: health.CycleRow | None
    current_block: int | None
    current_block_estimated: bool
    last_update_block: int | None
    activity_cutoff: int
    blocks_until_cutoff: int | None
    gaps: list[health.TaskGap]
    node_sync_at: datetime | None
    lock: health.LockHolder | None
    tables: list[health.TableSize]
    service: ServiceReading | None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing needs attention."""
        return not self.problems

    def age(self, at: datetime | None) -> float | None:
        """Seconds from `at` to the report's `now`."""
        return None if at is None else (self.now - at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (datetimes as ISO strings)."""

        def clean(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list):
                return [clean(v) for v in value]
            return value

        out = clean(asdict(self))
        out["ok"] = self.ok
        out["node_sync_age_s"] = self.age(self.node_sync_at)
        out["gaps"] = [
            dict(g, age_s=self.age(x.newest)) for g, x in zip(out["gaps"], self.gaps, strict=True)
        ]
        return dict(out)


@dataclass(frozen=True)
class StatusLimits:
    """The settings `status` judges by."""

    cycle_interval_s: float
    node_sync_interval_s: float
    score_windows_s: dict[str, float]
    retention_days: float
    cleanup_hours: float
    activity_cutoff: int = DEFAULT_ACTIVITY_CUTOFF
    margin_blocks: int = DEFAULT_MARGIN_BLOCKS


def gather_status(
    engine: Engine,
    now: datetime,
    limits: StatusLimits,
    *,
    validator_hotkey: str | None = None,
    lock_key: int | None = None,
    service: ServiceReading | None = None,
) -> StatusReport:
    """Read everything and judge it (see the module doc). Database errors propagate."""
    act = health.last_activity(engine, validator_hotkey)
    hotkey = validator_hotkey or (act.last_cycle.validator_hotkey if act.last_cycle else None)
    if hotkey is not None and hotkey != validator_hotkey:
        act = health.last_activity(engine, hotkey)
    holder = health.lock_holder(engine, lock_key) if lock_key is not None else None
    report = StatusReport(
        now=now,
        validator_hotkey=hotkey,
        last_cycle=act.last_cycle,
        last_submission=act.last_submission,
        current_block=None,
        current_block_estimated=False,
        last_update_block=act.own_last_update_block
        or (act.last_submission.block_number if act.last_submission else None),
        activity_cutoff=limits.activity_cutoff,
        blocks_until_cutoff=None,
        gaps=health.task_gaps(engine, now, limits.score_windows_s),
        node_sync_at=act.node_sync_at,
        lock=holder,
        tables=health.table_sizes(engine),
        service=service,
    )
    _chain_position(report, service)
    _judge(report, limits, lock_checked=lock_key is not None)
    return report


def _chain_position(report: StatusReport, service: ServiceReading | None) -> None:
    live_block = service.get("minertrace_chain_block") if service else None
    cutoff = service.get("minertrace_activity_cutoff_blocks") if service else None
    since = service.get("minertrace_blocks_since_weights_set") if service else None
    if cutoff is not None:
        report.activity_cutoff = int(cutoff)
    if live_block is not None and since is not None:
        report.current_block = int(live_block)
        report.blocks_until_cutoff = report.activity_cutoff - int(since)
        return
    last = report.last_cycle
    if last is not None and last.computed_block is not None:
        elapsed = max(0.0, (report.now - last.computed_at).total_seconds())
        report.current_block = last.computed_block + int(elapsed // BLOCK_SECONDS)
        report.current_block_estimated = True
    if report.current_block is not None and report.last_update_block is not None:
        report.blocks_until_cutoff = report.activity_cutoff - (
            report.current_block - report.last_update_block
        )


def duration_text(seconds: float) -> str:
    """`seconds` in the largest unit that reads well (s, min, h, days)."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _judge(report: StatusReport, limits: StatusLimits, lock_checked: bool) -> None:
    p, n = report.problems, report.notes
    last = report.last_cycle
    if last is None:
        p.append("no weight cycle recorded yet: is `minertrace run` running?")
    else:
        age = report.age(last.computed_at) or 0.0
        if age > 2 * limits.cycle_interval_s:
            p.append(
                f"the last cycle ran {duration_text(age)} ago (cycles are due every "
                f"{duration_text(limits.cycle_interval_s)}): is the service running?"
            )
        if last.status in _BAD_STATUSES:
            p.append(f"the last cycle ended {last.status}: {last.error or 'no error recorded'}")
        elif last.status == SubmissionStatus.SKIPPED.value:
            n.append(f"the last cycle submitted nothing: {last.error or 'no reason recorded'}")
    if report.blocks_until_cutoff is not None:
        if report.blocks_until_cutoff <= 0:
            p.append(
                f"weights last set more than the activity cutoff ({report.activity_cutoff} "
                "blocks) ago: the chain no longer counts this validator's weights"
            )
        elif report.blocks_until_cutoff < limits.margin_blocks:
            p.append(
                f"only {report.blocks_until_cutoff} blocks left before the activity cutoff "
                f"(margin {limits.margin_blocks})"
            )
    for gap in report.gaps:
        gap_age = report.age(gap.newest)
        if gap_age is None:
            p.append(f"no {gap.task} score rows at all")
        elif gap_age > gap.window_seconds:
            p.append(
                f"no new {gap.task} score rows for {duration_text(gap_age)} (its window is "
                f"{duration_text(gap.window_seconds)}): the cycle gets no {gap.task} scores"
            )
    sync_age = report.age(report.node_sync_at)
    if sync_age is None:
        p.append("the metagraph was never synced (node_table is empty)")
    elif sync_age > 3 * limits.node_sync_interval_s:
        p.append(f"the metagraph was last synced {duration_text(sync_age)} ago")
    if lock_checked and report.lock is None:
        p.append(
            f"no process holds the weight-setting lock of hotkey {report.validator_hotkey}: "
            "no service is setting weights"
        )
    _judge_service(report)
    _judge_tables(report, limits)


def _judge_service(report: StatusReport) -> None:
    svc = report.service
    if svc is None:
        return
    if not svc.reachable:
        report.problems.append(f"the service's metrics at {svc.url} are unreachable ({svc.error})")
        return
    if svc.get("minertrace_database_up") == 0:
        report.problems.append("the service cannot reach its database")
    if svc.get("minertrace_lock_held") == 0:
        report.problems.append("the service does not hold its hotkey's weight-setting lock")
    drops = svc.get("minertrace_trace_queue_drops_total") or 0
    if drops > 0:
        report.problems.append(f"{drops:.0f} traces were dropped from the full trace queue")
    depth = svc.get("minertrace_trace_queue_depth") or 0
    if depth > 1:
        report.notes.append(f"{depth:.0f} traces wait in memory for the database")


def _judge_tables(report: StatusReport, limits: StatusLimits) -> None:
    from minertrace.observe.probe import DEFAULT_UIDS, expected_max_rows

    sizes = {t.table: t for t in report.tables}
    nodes = sizes.get("node_table")
    expected = expected_max_rows(
        retention_days=limits.retention_days,
        cleanup_hours=limits.cleanup_hours,
        cycle_interval_s=limits.cycle_interval_s,
        n_uids=nodes.estimated_rows if nodes and nodes.estimated_rows else DEFAULT_UIDS,
    )
    for table, limit in expected.items():
        t = sizes.get(table)
        if t is not None and t.estimated_rows is not None and t.estimated_rows > limit:
            report.problems.append(
                f"{table} holds about {t.estimated_rows} rows, more than retention should "
                f"allow ({limit:.0f}): is retention running?"
            )
