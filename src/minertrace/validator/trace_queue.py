"""`TraceQueue`: traces (and submission outcomes) waiting for the database, bounded, in memory.

Every cycle's trace goes through the queue: `put`, then `flush`. When the database is up the
entry is written at once and leaves the queue once its submission has finished and the last
state is written; when it is down the entry waits, and the submission goes ahead. Entries are
written oldest first and a flush stops at the first failure, so a newer cycle's values are
never overwritten by an older one's.

An entry is written in two parts. Before the submission only its weight_submissions row (the
durable trace). The traced miners' daily rows are derived data (the row's stage vectors hold
them): they are written once the submission's outcome is known, in the same transaction as
that outcome, so the row write carries `weight_submission_block` and never delays the
weights. A process that dies between the two leaves its row 'computed' or 'submitting' (or,
within the last write of a cycle, settled without its miners' rows);
`minertrace.validator.reconcile` rebuilds the rows from the stored row on start.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine

from minertrace.store import (
    TraceRecord,
    insert_submission,
    update_outcome,
    upsert_miner_rows,
)
from minertrace.validator.metrics import CycleMetrics
from minertrace.validator.submit import SubmissionState
from minertrace.vocabulary import ON_CHAIN_STATUSES, SubmissionStatus

logger = logging.getLogger(__name__)


ROWS_READY: frozenset[SubmissionStatus] = ON_CHAIN_STATUSES | {SubmissionStatus.FAILED}
"""Outcomes with which an entry's miner rows are written (the block, if any, is final)."""


@dataclass(eq=False)
class PendingTrace:
    """One cycle's trace and its submission state, until both are in the database.

    `ws_id` is set once the weight_submissions row exists; `written_version` is the
    `state.version` last written; `done` is set when the cycle no longer changes the state;
    `rows_written` once the traced miners' rows are written (with the first outcome in
    `ROWS_READY`, or when the entry is done); `chain` adds the last epoch's chain columns to
    those rows (`enable_chain_integration`).
    """

    record: TraceRecord
    state: SubmissionState
    ws_id: int | None = None
    written_version: int = -1
    rows_written: bool = False
    done: bool = False
    failed_writes: int = 0
    chain: bool = False

    @property
    def rows_due(self) -> bool:
        """The miner rows are to be written now: the submission's outcome is known."""
        return not self.rows_written and (self.done or self.state.status in ROWS_READY)

    @property
    def up_to_date(self) -> bool:
        """The row exists and holds the latest state (and the miner rows, once due)."""
        return (
            self.ws_id is not None
            and self.written_version == self.state.version
            and not self.rows_due
        )

    def write(self, engine: Engine) -> None:
        """Write what is missing of this entry in one transaction."""
        version = self.state.version
        rows = self.rows_due
        state = self.state
        block = state.block_number if state.on_chain else None
        outcome = state.outcome()
        with engine.begin() as conn:
            ws_id = self.ws_id
            if ws_id is None:
                ws_id = insert_submission(conn, self.record, outcome)
            elif version != self.written_version:
                update_outcome(conn, ws_id, outcome)
            if rows:
                upsert_miner_rows(conn, self.record, block, chain=self.chain)
        self.ws_id = ws_id
        self.written_version = version
        self.rows_written = self.rows_written or rows


class TraceQueue:
    """A FIFO of `PendingTrace` of at most `maxsize` entries.

    When full, `put` drops the oldest entry (logged at WARNING, counted in
    `metrics.queue_drops`). `flush(engine)` writes entries oldest first and stops at the first
    failure (logged, counted in `metrics.persist_failures`); it is safe to call from several
    threads (one flush at a time).
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
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[PendingTrace]:
        return iter(list(self._items))

    def put(self, item: PendingTrace) -> PendingTrace | None:
        """Append `item`; returns the entry dropped to make room, if any."""
        with self._lock:
            dropped = None
            if len(self._items) >= self.maxsize:
                dropped = self._items.popleft()
                self.metrics.queue_drops += 1
                self.log.warning(
                    "trace queue full (%d): dropped the trace of the cycle computed at %s "
                    "(%d dropped so far)",
                    self.maxsize,
                    dropped.record.computed_at.isoformat(),
                    self.metrics.queue_drops,
                )
            self._items.append(item)
            return dropped

    def flush(self, engine: Engine) -> int:
        """Write entries oldest first; returns how many were completed and removed.

        Never raises: a database error stops the flush (the entry stays queued).
        """
        with self._lock:
            completed = 0
            while self._items:
                item = self._items[0]
                if not item.up_to_date:
                    late = item.ws_id is None and item.failed_writes > 0
                    try:
                        item.write(engine)
                    except Exception as exc:
                        item.failed_writes += 1
                        self.metrics.persist_failures += 1
                        self.log.warning(
                            "trace of the cycle computed at %s not written (%d waiting): %s",
                            item.record.computed_at.isoformat(),
                            len(self._items),
                            _short(exc),
                        )
                        return completed
                    if late:
                        self.metrics.traces_written_late += 1
                        self.log.info(
                            "trace of the cycle computed at %s written late as row %d",
                            item.record.computed_at.isoformat(),
                            item.ws_id,
                        )
                if not item.done:
                    return completed
                self._items.popleft()
                self.metrics.traces_written += 1
                completed += 1
            return completed


def _short(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"[:300]


__all__ = ["ROWS_READY", "PendingTrace", "TraceQueue"]
