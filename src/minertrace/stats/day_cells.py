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

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection

from minertrace.stats.cells import compute_cells
from minertrace.store.day_cells import DayFingerprint, DayPayload, DayRuns, read_day_runs
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


def compute_units(runs: DayRuns) -> list[tuple[int, DayCells]]:
    """The cells of every unit of `runs` (ordered by day, side, task, final, seq), each with
    its side of the split (0 before, 1 at or after).

    One pass over the whole matrix (`compute_cells` groups by unit, task and finality), so the
    cost does not grow with the number of days in the block.
    """
    width, total_runs = runs.matrix.shape
    key = runs.day * 2 + runs.half
    starts = np.flatnonzero(np.r_[True, np.diff(key) != 0])
    sizes = np.diff(np.r_[starts, total_runs])
    units = starts.size
    unit_of_run = np.repeat(np.arange(units), sizes)
    zeros = np.zeros(total_runs, dtype=np.int64)
    matrix = runs.matrix
    cells = compute_cells(
        ScoreRuns(runs.seq, unit_of_run, runs.task, zeros, runs.final, runs.at_us), matrix
    )
    group_unit = cells.keys[:, 0]
    group_slot = cells.keys[:, 1] * 2 + cells.keys[:, 3]

    def spread(values: NDArray[Any], fill: float, kind: type) -> NDArray[Any]:
        out: NDArray[Any] = np.full((width, units, SLOTS), fill, dtype=kind)
        out[:, group_unit, group_slot] = values
        return out

    def per_unit(values: NDArray[Any], ufunc: np.ufunc, **kwargs: Any) -> NDArray[Any]:
        out: NDArray[Any] = ufunc.reduceat(values, starts, axis=1, **kwargs)
        return out

    finite = np.isfinite(matrix)
    done = finite & (matrix > 0)
    seq = runs.seq[None, :]
    last_done = per_unit(np.where(done, seq, 0), np.maximum)
    trailing = finite & (seq > last_done[:, unit_of_run])
    failures = per_unit(trailing.view(np.uint8), np.add, dtype=np.int64)
    last = per_unit(np.where(finite, seq, 0), np.maximum)
    # created_at by (day, run number): the run numbers restart every day.
    day_index = np.unique(runs.day, return_inverse=True)[1].reshape(-1)
    span = int(runs.seq.max(initial=0)) + 1
    at_by_run = np.full(int(day_index.max(initial=0) + 1) * span, -1, dtype=np.int64)
    at_by_run[day_index * span + runs.seq] = runs.at_us
    last_at = np.where(last > 0, at_by_run[day_index[starts][None, :] * span + last], -1)
    task_runs = np.bincount(unit_of_run * 3 + runs.task, minlength=units * 3).reshape(units, 3)
    slots = {
        "attempted": spread(cells.attempted, 0, np.int64),
        "completed": spread(cells.completed, 0, np.int64),
        "latest_run": spread(cells.latest_seq, 0, np.int64),
        "total": spread(cells.total, 0.0, np.float64),
        "best": spread(cells.best, -np.inf, np.float64),
        "latest": spread(cells.latest, np.nan, np.float64),
    }
    out: list[tuple[int, DayCells]] = []
    for u, (a, size) in enumerate(zip(starts, sizes, strict=True)):
        block = finite[:, a : a + size]
        n = block.sum(axis=1)
        ordered = np.sort(np.where(block, matrix[:, a : a + size], np.inf), axis=1)
        cells_u = DayCells(
            day=int(runs.day[a]),
            token=secrets.randbits(63),
            **{name: np.ascontiguousarray(values[:, u]) for name, values in slots.items()},
            failures=np.ascontiguousarray(failures[:, u]),
            last_at=np.ascontiguousarray(last_at[:, u]),
            task_runs=task_runs[u].astype(np.int64),
            values=ordered[np.arange(size)[None, :] < n[:, None]],
        )
        out.append((int(runs.half[a]), cells_u))
    return out


def extend(cells: DayCells, tail: DayRuns) -> DayCells:
    """`cells` (a whole day so far) followed by `tail`, runs of the same day that all come
    after the day's other runs (numbered on from them): the cells of the whole day, the same
    bits as computed from all its runs at once (each sum goes on adding in run order)."""
    if not tail.seq.size:
        return cells
    more = compute_units(tail)[0][1]
    total = cells.total.copy()
    entries = np.where(np.isfinite(tail.matrix), tail.matrix, 0.0)
    for j, slot in enumerate(tail.task * 2 + tail.final):
        total[:, slot] = total[:, slot] + entries[:, j]
    newer = more.latest_run > 0
    done = more.completed.sum(axis=1) > 0
    count = cells.count + more.count
    ordered = np.sort(np.concatenate([cells.dense, more.dense], axis=1), axis=1)
    return DayCells(
        day=cells.day,
        token=secrets.randbits(63),
        attempted=cells.attempted + more.attempted,
        completed=cells.completed + more.completed,
        latest_run=np.where(newer, more.latest_run, cells.latest_run),
        total=total,
        best=np.maximum(cells.best, more.best),
        latest=np.where(newer, more.latest, cells.latest),
        failures=np.where(done, more.failures, cells.failures + more.failures),
        last_at=np.where(more.count > 0, more.last_at, cells.last_at),
        task_runs=cells.task_runs + more.task_runs,
        values=ordered[np.arange(ordered.shape[1])[None, :] < count[:, None]],
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
        out.extend(compute_units(runs))
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
    "compute_units",
    "extend",
    "pack",
    "unpack",
]
