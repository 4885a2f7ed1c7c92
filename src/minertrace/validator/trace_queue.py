"""`TraceQueue`: traces (and submission outcomes) waiting for the database, bounded, in memory."""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from sqlalchemy import Engine

from minertrace.validator.metrics import CycleMetrics

logger = logging.getLogger(__name__)


@dataclass
class PendingTrace:
    """One cycle's trace and its submission state, until both are in the database."""

    ws_id: int | None = None


class TraceQueue:
    """A FIFO of `PendingTrace` of at most `maxsize` entries.

    When full, `put` drops the oldest entry (logged at WARNING, counted in
    `metrics.queue_drops`). `flush(engine)` writes entries oldest first and stops at the first
    failure, so a newer cycle's values never get overwritten by an older one's.
    """

    def __init__(
        self, maxsize: int, metrics: CycleMetrics | None = None, log: logging.Logger | None = None
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self.metrics = metrics if metrics is not None else CycleMetrics()
        self.log = log or logger
        self._items: deque[PendingTrace] = deque()
        self.dropped: list[PendingTrace] = field(default_factory=list)  # type: ignore[assignment]

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: PendingTrace) -> PendingTrace | None:
        """Append `item`; returns the entry dropped to make room, if any."""
        raise NotImplementedError

    def flush(self, engine: Engine) -> int:
        """Write entries oldest first; returns how many were completed and removed."""
        raise NotImplementedError
