"""One UTC day's (or half-day's) score entries reduced to the cells the periods roll up from.

A *unit* is the runs of one UTC day, or of one side of the refresh's `now` on the current day
when rows exist after it (the full refresh cuts its segments there). Per miner and *slot*
(task, final) a unit holds what `minertrace.stats.cells.compute_cells` computes for the
matching group of runs, with the same operations in the same order (so the roll-ups are bit
for bit those of the full refresh); per miner the trailing failures and the time of its
latest entry; and every attempted entry, sorted within the miner (for the percentiles).

Run numbers are per day (1 = the day's first run in the order (created_at, task_name,
task_id)); `day * RUN_SPAN + run` orders runs across days as the full refresh's global
numbering does.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection

from minertrace.stats.cells import compute_cells
from minertrace.store.day_cells import DayFingerprint, DayPayload, read_day_runs
from minertrace.store.score_matrix import ScoreRuns

SLOTS: Final = 6
"""(task, final) pairs: slot = 2 * task + final, tasks in `stats_sql.TASKS` order."""
DAY_ZERO: Final = datetime(2000, 1, 1, tzinfo=timezone.utc)
"""Day 0 of the day numbers."""
ONE_DAY: Final = timedelta(days=1)
RUN_SPAN: Final = 1 << 24
"""More runs than a day can hold: day * RUN_SPAN + run orders runs across days."""

_SLOT = np.dtype(
    [
        ("attempted", "<i4"),
        ("completed", "<i4"),
        ("latest_run", "<i4"),
        ("total", "<f8"),
        ("best", "<f8"),
        ("latest", "<f8"),
    ]
)
_MINER = np.dtype([("failures", "<i4"), ("last_at", "<i8")])


@dataclass(frozen=True)
class DayCells:
    """The cells of one unit for UIDs 0 .. width - 1 (arrays: one row per miner)."""

    day: int
    token: int
    attempted: NDArray[np.int64]
    """Shape (width, SLOTS), as are the next five."""
    completed: NDArray[np.int64]
    latest_run: NDArray[np.int64]
    """The day's run number of the slot's latest entry (0 without one)."""
    total: NDArray[np.float64]
    best: NDArray[np.float64]
    latest: NDArray[np.float64]
    failures: NDArray[np.int64]
    """Attempted entries after the unit's last completed one (all of them without one)."""
    last_at: NDArray[np.int64]
    """Time of the miner's latest entry, microseconds since the Unix epoch (-1 without one)."""
    task_runs: NDArray[np.int64]
    """Runs per task (with or without entries)."""
    values: NDArray[np.float64]
    """Every attempted entry, sorted within each miner, miner after miner."""

    @property
    def width(self) -> int:
        return int(self.attempted.shape[0])

    @property
    def count(self) -> NDArray[np.int64]:
        """Attempted entries per miner."""
        out: NDArray[np.int64] = self.attempted.sum(axis=1)
        return out

    @cached_property
    def dense(self) -> NDArray[np.float64]:
        """The sorted entries as (width, max count), padded with +Infinity."""
        n = self.count
        out = np.full((self.width, int(n.max(initial=0))), np.inf)
        out[np.arange(out.shape[1])[None, :] < n[:, None]] = self.values
        return out

    def narrowed(self, width: int) -> DayCells:
        """The same cells for UIDs 0 .. width - 1 (width <= self.width)."""
        if width == self.width:
            return self
        keep = int(self.count[:width].sum())
        return DayCells(
            self.day,
            self.token,
            self.attempted[:width],
            self.completed[:width],
            self.latest_run[:width],
            self.total[:width],
            self.best[:width],
            self.latest[:width],
            self.failures[:width],
            self.last_at[:width],
            self.task_runs,
            self.values[:keep],
        )


def compute_unit(
    day: int,
    task: NDArray[np.int64],
    final: NDArray[np.bool_],
    seq: NDArray[np.int64],
    at_us: NDArray[np.int64],
    matrix: NDArray[np.float64],
) -> DayCells:
    """The cells of one unit's runs, ordered by (task, final, seq); `matrix` miners x runs."""
    width = matrix.shape[0]
    zeros = np.zeros(seq.size, dtype=np.int64)
    cells = compute_cells(ScoreRuns(seq, zeros, task, zeros, final, at_us), matrix)
    slots = cells.keys[:, 1] * 2 + cells.keys[:, 3]

    def spread(values: NDArray[Any], fill: float, kind: type) -> NDArray[Any]:
        out: NDArray[Any] = np.full((width, SLOTS), fill, dtype=kind)
        out[:, slots] = values
        return out

    finite = np.isfinite(matrix)
    done = finite & (matrix > 0)
    last_done = np.where(done, seq[None, :], 0).max(axis=1, initial=0)
    failures = (finite & (seq[None, :] > last_done[:, None])).sum(axis=1, dtype=np.int64)
    last = np.where(finite, seq[None, :], 0).max(axis=1, initial=0)
    at_by_seq = np.full(int(seq.max(initial=0)) + 1, -1, dtype=np.int64)
    at_by_seq[seq] = at_us
    n = finite.sum(axis=1)
    ordered = np.sort(np.where(finite, matrix, np.inf), axis=1)
    values = ordered[np.arange(matrix.shape[1])[None, :] < n[:, None]]
    return DayCells(
        day=day,
        token=secrets.randbits(63),
        attempted=spread(cells.attempted, 0, np.int64),
        completed=spread(cells.completed, 0, np.int64),
        latest_run=spread(cells.latest_seq, 0, np.int64),
        total=spread(cells.total, 0.0, np.float64),
        best=spread(cells.best, -np.inf, np.float64),
        latest=spread(cells.latest, np.nan, np.float64),
        failures=failures,
        last_at=np.where(last > 0, at_by_seq[last], -1),
        task_runs=np.bincount(task, minlength=3).astype(np.int64),
        values=values,
    )


def pack(cells: DayCells) -> DayPayload:
    """The cells as a `stats_day_cells` row's columns."""
    slots = np.empty((cells.width, SLOTS), dtype=_SLOT)
    for name in _SLOT.names or ():
        slots[name] = getattr(cells, name)
    miners = np.empty(cells.width, dtype=_MINER)
    miners["failures"] = cells.failures
    miners["last_at"] = cells.last_at
    return DayPayload(
        day=cells.day,
        token=cells.token,
        width=cells.width,
        task_runs=[int(x) for x in cells.task_runs],
        slot_cells=slots.tobytes(),
        miner_cells=miners.tobytes(),
        sorted_values=cells.values.astype("<f8").tobytes(),
    )


def unpack(payload: DayPayload) -> DayCells:
    """The cells stored in a `stats_day_cells` row."""
    slots = np.frombuffer(payload.slot_cells, dtype=_SLOT).reshape(payload.width, SLOTS)
    miners = np.frombuffer(payload.miner_cells, dtype=_MINER)
    return DayCells(
        day=payload.day,
        token=payload.token,
        attempted=slots["attempted"].astype(np.int64),
        completed=slots["completed"].astype(np.int64),
        latest_run=slots["latest_run"].astype(np.int64),
        total=slots["total"].astype(np.float64),
        best=slots["best"].astype(np.float64),
        latest=slots["latest"].astype(np.float64),
        failures=miners["failures"].astype(np.int64),
        last_at=miners["last_at"].astype(np.int64),
        task_runs=np.asarray(payload.task_runs, dtype=np.int64),
        values=np.frombuffer(payload.sorted_values, dtype="<f8").astype(np.float64),
    )


def chunks(
    days: list[int], prints: dict[int, DayFingerprint], width: int, block: int
) -> list[list[int]]:
    """Days in groups whose runs x width fit `block` entries (at least one day each)."""
    out: list[list[int]] = []
    entries = 0
    for day in days:
        size = prints[day].runs * width
        if out and entries + size <= block:
            out[-1].append(day)
            entries += size
        else:
            out.append([day])
            entries = size
    return out


def compute_days(
    conn: Connection,
    days: list[int],
    prints: dict[int, DayFingerprint],
    width: int,
    split: datetime | None,
    block: int,
) -> list[tuple[int, DayCells]]:
    """The units of `days` from score_table, in order, each with its side of `split` (0 before,
    1 at or after; all 0 without a split)."""
    out: list[tuple[int, DayCells]] = []
    for chunk in chunks(days, prints, width, block):
        start = DAY_ZERO + chunk[0] * ONE_DAY
        end = DAY_ZERO + (chunk[-1] + 1) * ONE_DAY
        runs = read_day_runs(conn, chunk, start, end, split, width)
        key = runs.day * 2 + runs.half
        edges = np.flatnonzero(np.r_[True, np.diff(key) != 0, True])
        for a, b in itertools.pairwise(edges):
            cells = compute_unit(
                int(runs.day[a]),
                runs.task[a:b],
                runs.final[a:b],
                runs.seq[a:b],
                runs.at_us[a:b],
                np.ascontiguousarray(runs.matrix[:, a:b]),
            )
            out.append((int(runs.half[a]), cells))
        del runs
    return out


__all__ = [
    "DAY_ZERO",
    "ONE_DAY",
    "RUN_SPAN",
    "SLOTS",
    "DayCells",
    "chunks",
    "compute_days",
    "compute_unit",
    "pack",
    "unpack",
]
