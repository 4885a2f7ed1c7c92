"""The service loop's bookkeeping: its jobs, what it counts, and the time of each step."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

JobAction = Callable[[datetime], Awaitable[object]]


@dataclass
class Job:
    """A step the loop runs every `interval` seconds of clock time."""

    name: str
    interval: float
    action: JobAction
    next_due: datetime | None = None
    """None = due at the first pass."""
    writes_submissions: bool = False
    """An extra job that may write weight_submissions rows makes the next fork check read
    them again (see `forks.ForkWatch`); the demo's simulator writes none."""

    def due(self, now: datetime) -> bool:
        """Whether the job should run at `now`."""
        return self.next_due is None or now >= self.next_due


@dataclass
class ServiceCounters:
    """What the loop did, by step: runs and failures (a failure never stops the loop)."""

    runs: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    cycle_statuses: Counter[str] = field(default_factory=Counter)
    epochs: list[int] = field(default_factory=list)
    """Epoch blocks the service noticed (and synced after)."""
    skipped_cycles_no_lock: int = 0
    skipped_cycles_db_down: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall seconds spent in each step (a step run inside another counts under its own name
    only: node_sync excludes the orphans check it runs)."""

    def snapshot(self) -> dict[str, object]:
        """Plain-dict view for logs."""
        return {
            "runs": dict(self.runs),
            "failures": dict(self.failures),
            "cycle_statuses": dict(self.cycle_statuses),
            "epochs": len(self.epochs),
            "skipped_cycles_no_lock": self.skipped_cycles_no_lock,
            "skipped_cycles_db_down": self.skipped_cycles_db_down,
        }


class StepTimes:
    """Adds each step's wall seconds to `into[name]`, a step run inside another (node sync's
    fork check) counted under its own name only."""

    def __init__(self, into: dict[str, float]) -> None:
        self._into = into
        self._nested: list[float] = []

    def begin(self) -> float:
        """Start timing a step; returns the start to pass to `end`."""
        self._nested.append(0.0)
        return time.perf_counter()

    def end(self, name: str, start: float) -> float:
        """Stop timing the step begun at `start`; returns its wall seconds (inner steps
        included)."""
        elapsed = time.perf_counter() - start
        self._into[name] = self._into.get(name, 0.0) + elapsed - self._nested.pop()
        if self._nested:
            self._nested[-1] += elapsed
        return elapsed


__all__ = ["Job", "JobAction", "ServiceCounters", "StepTimes"]
