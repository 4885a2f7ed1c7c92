"""`Recorder`: the hook a validator that keeps its own loop calls to have its cycles traced.

A validator calls :meth:`Recorder.record_cycle` with what it computed and
:meth:`Recorder.record_submission` with what it sent; minertrace stores both in the same
tables as its own cycles. Weights first: neither call raises, both only build the row and put
it in a bounded in-memory queue (oldest dropped when full, counted), and a background thread
writes the queue oldest first, stopping at the first database failure and retrying later. The
time a call takes is compared with ``performance_impact_threshold`` (a warning and
``metrics.slow_records`` above it).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from numpy.typing import NDArray
from sqlalchemy import Engine, create_engine

from minertrace.db.urls import sync_url
from minertrace.recorder.build import (
    CUSTOM_RULES,
    build_cycle,
    build_miners,
    build_submission,
    weight_vector,
)
from minertrace.stats.periods import period_for, period_params
from minertrace.store.recorded import (
    RecordedCycle,
    RecordedMiners,
    RecordedSubmission,
    insert_recorded_cycle,
    update_recorded_submission,
    upsert_recorded_miners,
)
from minertrace.vocabulary import PeriodType

logger = logging.getLogger(__name__)


@dataclass
class RecorderMetrics:
    """Counters of one `Recorder` (never reset)."""

    cycles: int = 0
    submissions: int = 0
    rejected: int = 0
    """Calls whose input could not be recorded (logged with the reason)."""
    queue_drops: int = 0
    rows_written: int = 0
    write_failures: int = 0
    slow_records: int = 0
    """Calls that took longer than ``performance_impact_threshold``."""
    last_overhead_s: float | None = None


@dataclass(eq=False)
class CycleHandle:
    """A recorded cycle, to pass to :meth:`Recorder.record_submission`.

    ``ws_id`` is the weight_submissions id once the row is written (None before).
    """

    computed_at: datetime
    n_uids: int
    cycle: RecordedCycle
    miners: RecordedMiners
    ws_id: int | None = None
    submission: RecordedSubmission | None = None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0
    written_version: int = -1

    @property
    def up_to_date(self) -> bool:
        """The row exists and holds the latest submission."""
        return self.ws_id is not None and self.written_version == self.version


class Recorder:
    """Records a validator's own cycles. Thread-safe; every public method never raises.

    ``bind`` is a SQLAlchemy Engine or a database URL. ``clock`` gives the recording time
    (UTC now by default). With ``background`` off no thread is started and rows are written
    only by :meth:`flush`.
    """

    def __init__(
        self,
        bind: Engine | str,
        *,
        validator_hotkey: str,
        netuid: int,
        queue_size: int = 64,
        performance_impact_threshold: float = 0.1,
        retry_seconds: float = 5.0,
        background: bool = True,
        clock: Callable[[], datetime] | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._owns_engine = not isinstance(bind, Engine)
        self.engine = bind if isinstance(bind, Engine) else create_engine(sync_url(bind))
        self.validator_hotkey = validator_hotkey
        self.netuid = netuid
        self.queue_size = queue_size
        self.threshold = performance_impact_threshold
        self.retry_seconds = retry_seconds
        self.metrics = RecorderMetrics()
        self.log = log or logger
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._queue: deque[CycleHandle] = deque()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(
                target=self._run, name="minertrace-recorder", daemon=True
            )
            self._thread.start()

    # ------------------------------------------------------------------ the two hooks

    def record_cycle(
        self,
        weights: Mapping[int, float] | Sequence[float] | NDArray[Any],
        *,
        uids: Sequence[int] | NDArray[Any] | None = None,
        n_uids: int | None = None,
        stages: Mapping[str, Any] | None = None,
        miners: Mapping[int, Mapping[str, Any]] | None = None,
        hotkeys: Sequence[str | None] | None = None,
        scalars: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        score_rows: Sequence[Mapping[str, Any]] | None = None,
        rules: str = CUSTOM_RULES,
        computed_at: datetime | None = None,
        block: int | None = None,
    ) -> CycleHandle | None:
        """Record one cycle the validator computed; returns its handle (None if rejected).

        ``weights``: the final weights, a {uid: weight} mapping, a vector indexed by UID or
        values aligned with ``uids``. ``stages``: named per-UID vectors (same length) shown by
        explain. ``miners``: per-UID details; keys named like the miner_performance_stats
        pipeline columns (``raw_calculated_weight``, ``scoring_pathway``, ...) fill them, other
        keys go to ``pathway_details``. ``hotkeys``: per-UID hotkeys (default: node_table's).
        """
        t0 = time.perf_counter()
        try:
            at = computed_at or self._clock()
            final = weight_vector(weights, uids, n_uids)
            built, dropped = build_cycle(
                final,
                validator_hotkey=self.validator_hotkey,
                netuid=self.netuid,
                computed_at=at,
                computed_block=block,
                stages=stages,
                scalars=scalars,
                config=config,
                score_rows=score_rows,
                rules=rules,
                overhead_s=None,
            )
            handle = CycleHandle(at, final.shape[0], built, build_miners(final, miners, hotkeys))
            if dropped:
                self.log.warning(
                    "recorder: stages not recorded (not %d numbers): %s",
                    final.shape[0],
                    ", ".join(dropped[:10]),
                )
        except Exception as exc:
            self._reject("cycle", exc)
            return None
        overhead = self._observe(t0)
        handle.cycle = _with_overhead(handle.cycle, overhead)
        self._put(handle)
        self.metrics.cycles += 1
        return handle

    def record_submission(
        self,
        cycle: CycleHandle | None,
        uids: Sequence[int] | NDArray[Any],
        u16: Sequence[int] | NDArray[Any],
        *,
        block: int | None = None,
        block_hash: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record what the validator sent for ``cycle``: the UIDs and u16 values, and the
        block that included them or the error. Calling it again (a retry) replaces the
        outcome and adds an attempt."""
        t0 = time.perf_counter()
        if cycle is None:
            self._reject("submission", ValueError("no cycle handle (its record_cycle failed)"))
            return
        try:
            sub = build_submission(
                uids,
                u16,
                block=block,
                block_hash=block_hash,
                error=error,
                at=self._clock(),
                attempts=cycle.attempts,
            )
        except Exception as exc:
            self._reject("submission", exc)
            return
        with self._lock:
            cycle.submission = sub
            cycle.attempts = json.loads(sub.attempts_json)
            cycle.version += 1
        self._observe(t0)
        self._put(cycle)
        self.metrics.submissions += 1

    # ------------------------------------------------------------------ writing

    def flush(self) -> bool:
        """Write the queue now, oldest first; True when it is empty. Never raises."""
        with self._write_lock:
            while True:
                with self._lock:
                    if not self._queue:
                        return True
                    item = self._queue[0]
                    version = item.version
                try:
                    self._write(item, version)
                except Exception as exc:
                    self.metrics.write_failures += 1
                    self.log.warning(
                        "recorder: the cycle computed at %s is not written yet (%d waiting): %s",
                        item.computed_at.isoformat(),
                        len(self._queue),
                        _short(exc),
                    )
                    return False
                with self._lock:
                    if (
                        item.written_version == item.version
                        and self._queue
                        and (self._queue[0] is item)
                    ):
                        self._queue.popleft()

    def close(self, timeout: float = 5.0) -> bool:
        """Stop the writer thread after a last flush; True when nothing is left unwritten."""
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        done = self.flush()
        if self._owns_engine:
            self.engine.dispose()
        return done

    def __len__(self) -> int:
        return len(self._queue)

    def _write(self, item: CycleHandle, version: int) -> None:
        # As the service's own cycles: today's row; the period refresh carries it further.
        periods = period_params([period_for(PeriodType.DAILY, item.computed_at)])
        sub = item.submission
        with self.engine.begin() as conn:
            if item.ws_id is None:
                ws_id = insert_recorded_cycle(conn, item.cycle)
                upsert_recorded_miners(
                    conn,
                    item.miners,
                    periods,
                    validator_hotkey=self.validator_hotkey,
                    now=item.computed_at,
                )
            else:
                ws_id = item.ws_id
            if sub is not None:
                update_recorded_submission(
                    conn,
                    ws_id,
                    sub,
                    traced_uids=item.miners.uids,
                    periods=periods,
                    now=self._clock(),
                )
        item.ws_id = ws_id
        item.written_version = version
        self.metrics.rows_written += 1

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.retry_seconds)
            self._wake.clear()
            if not self._closed:
                self.flush()

    def _put(self, item: CycleHandle) -> None:
        with self._lock:
            if any(queued is item for queued in self._queue):
                self._wake.set()
                return
            if len(self._queue) >= self.queue_size:
                dropped = self._queue.popleft()
                self.metrics.queue_drops += 1
                self.log.warning(
                    "recorder: queue full (%d), dropped the cycle computed at %s",
                    self.queue_size,
                    dropped.computed_at.isoformat(),
                )
            self._queue.append(item)
        self._wake.set()

    def _observe(self, t0: float) -> float:
        overhead = time.perf_counter() - t0
        self.metrics.last_overhead_s = overhead
        if overhead > self.threshold:
            self.metrics.slow_records += 1
            self.log.warning(
                "recorder: recording took %.3f s (threshold %.3f s)", overhead, self.threshold
            )
        return overhead

    def _reject(self, what: str, exc: BaseException) -> None:
        self.metrics.rejected += 1
        self.log.warning("recorder: %s not recorded: %s", what, _short(exc))


def _with_overhead(cycle: RecordedCycle, overhead: float) -> RecordedCycle:
    return replace(cycle, trace_overhead_s=overhead)


def _short(exc: BaseException) -> str:
    text_ = str(exc).strip()
    first = text_.splitlines()[0] if text_ else ""
    return f"{type(exc).__name__}: {first}"[:300]
