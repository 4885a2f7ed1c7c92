"""The per-entry work of a period refresh, in numpy: cells and exact percentiles.

A score matrix has one row per miner and one column per run (runs grouped as the cells are),
NaN where the miner has no entry; each miner's entries are contiguous, so the reductions and
sorts run over contiguous memory. Everything that needs every entry happens here:

- the *cells*: per miner and group of runs (segment, task, UTC day, finality) the attempted
  and completed counts, sum, best entry and the run number of the latest entry, rolled up
  into per (period, miner, task) rows and per (period, miner, day) trend points;
- the *distribution*: per miner and period the count of attempted entries, the trailing
  failures, and the percentiles, computed exactly as PostgreSQL's `percentile_cont` (same
  float8 operations in the same order, so bit for bit).

The SQL (`minertrace.store.stats_sql`) ranks and combines these small arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minertrace.store.score_matrix import ScoreRuns
from minertrace.store.stats_sql import QUANTILES


@dataclass(frozen=True)
class Cells:
    """Per miner (rows) and group of runs (columns): the reductions of the group's entries.

    A group is the runs of one (segment, task, UTC day, finality), `keys[g]`.
    """

    keys: NDArray[np.int64]
    attempted: NDArray[np.int64]
    completed: NDArray[np.int64]
    total: NDArray[np.float64]
    best: NDArray[np.float64]
    latest_seq: NDArray[np.int64]
    """0 when the miner has no entry in the group."""
    latest: NDArray[np.float64]
    """The entry of that latest run (NaN without one)."""


@dataclass(frozen=True)
class TaskRows:
    """Per (period, miner, task) with entries: the task columns' inputs."""

    pid: NDArray[np.int64]
    uid: NDArray[np.int64]
    task: NDArray[np.int64]
    attempted: NDArray[np.int64]
    completed: NDArray[np.int64]
    scored: NDArray[np.int64]
    total: NDArray[np.float64]
    best: NDArray[np.float64]
    latest_seq: NDArray[np.int64]
    latest: NDArray[np.float64]


@dataclass(frozen=True)
class TrendPoints:
    """Per (period, miner, UTC day in the trend window) with entries: sum and count."""

    pid: NDArray[np.int64]
    uid: NDArray[np.int64]
    day: NDArray[np.int64]
    total: NDArray[np.float64]
    attempted: NDArray[np.int64]


@dataclass(frozen=True)
class Distribution:
    """Per (period, miner): attempted entries, trailing failures, the QUANTILES (NaN if none)."""

    pid: NDArray[np.int64]
    uid: NDArray[np.int64]
    count: NDArray[np.int64]
    failures: NDArray[np.int64]
    """Attempted entries after the latest completed one in run order (all without one)."""
    last_at: NDArray[np.int64]
    """created_at of the latest entry, microseconds since the Unix epoch (-1 without one)."""
    percentiles: NDArray[np.float64]
    """Shape (rows, len(QUANTILES))."""


def _group_sums(values: NDArray[np.float64], starts: NDArray[np.intp]) -> NDArray[np.float64]:
    """Per row, the sum of each block of columns starting at `starts`, added in column order.

    numpy's own reductions pick pairwise or sequential summation by memory layout, so their
    last bit would depend on how many miners a block holds; this order does not.
    """
    sizes = np.diff(np.r_[starts, values.shape[1]])
    out = np.zeros((values.shape[0], starts.size))
    for k in range(int(sizes.max(initial=0))):
        live = sizes > k
        out[:, live] += values[:, starts[live] + k]
    return out


def _row_sums(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per row, the sum of the columns in column order (cumsum never reorders)."""
    if not values.shape[1]:
        return np.zeros(values.shape[0])
    out: NDArray[np.float64] = np.cumsum(values, axis=1)[:, -1]
    return out


def compute_cells(runs: ScoreRuns, matrix: NDArray[np.float64]) -> Cells:
    """The cells of the miners in `matrix`'s rows.

    `runs` are grouped (`minertrace.store.score_matrix`), so each group is a block of columns.
    """
    if not len(runs):
        none = np.zeros((matrix.shape[0], 0), dtype=np.int64)
        flat = none.astype(np.float64)
        return Cells(np.zeros((0, 4), dtype=np.int64), none, none, flat, flat, none, flat)
    keys = np.stack([runs.seg, runs.task, runs.day, runs.final.astype(np.int64)], axis=1)
    starts = np.flatnonzero(np.r_[True, (np.diff(keys, axis=0) != 0).any(axis=1)])
    seq = runs.seq[None, :]
    finite = np.isfinite(matrix)
    # Runs inside a group are in run order: the latest entry is the group's last finite column.
    columns = np.arange(matrix.shape[1])[None, :]
    rows = np.arange(matrix.shape[0])[:, None]

    def reduce(ufunc: np.ufunc, data: NDArray[Any], **kwargs: Any) -> NDArray[Any]:
        out: NDArray[Any] = ufunc.reduceat(data, starts, axis=1, **kwargs)
        return out

    last = reduce(np.maximum, np.where(finite, columns, -1))
    return Cells(
        keys=keys[starts],
        attempted=reduce(np.add, finite.view(np.uint8), dtype=np.int64),
        completed=reduce(np.add, (finite & (matrix > 0)).view(np.uint8), dtype=np.int64),
        total=_group_sums(np.where(finite, matrix, 0.0), starts),
        best=reduce(np.maximum, np.where(finite, matrix, -np.inf)),
        latest_seq=reduce(np.maximum, np.where(finite, seq, 0)),
        latest=np.where(last >= 0, matrix[rows, np.maximum(last, 0)], np.nan),
    )


def _cat(parts: list[NDArray[Any]], dtype: Any) -> NDArray[Any]:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def roll_up_tasks(cells: Cells, first_uid: int, seg_lo: list[int], seg_hi: list[int]) -> TaskRows:
    """Each period's cells summed per miner and task (period k: segments lo[k] .. hi[k])."""
    seg, task, final = cells.keys[:, 0], cells.keys[:, 1], cells.keys[:, 3].astype(bool)
    uids = np.arange(cells.attempted.shape[0], dtype=np.int64) + first_uid
    parts: dict[str, list[NDArray[Any]]] = {f: [] for f in TaskRows.__dataclass_fields__}
    for pid, (lo, hi) in enumerate(zip(seg_lo, seg_hi, strict=True)):
        for code in range(3):
            pick = (seg >= lo) & (seg <= hi) & (task == code)
            attempted = cells.attempted[:, pick].sum(axis=1)
            keep = attempted > 0
            parts["pid"].append(np.full(int(keep.sum()), pid, dtype=np.int64))
            parts["uid"].append(uids[keep])
            parts["task"].append(np.full(int(keep.sum()), code, dtype=np.int64))
            parts["attempted"].append(attempted[keep])
            parts["completed"].append(cells.completed[keep][:, pick].sum(axis=1))
            parts["scored"].append(cells.completed[keep][:, pick & final].sum(axis=1))
            parts["total"].append(_row_sums(cells.total[keep][:, pick]))
            parts["best"].append(cells.best[keep][:, pick].max(axis=1, initial=-np.inf))
            seqs = cells.latest_seq[keep][:, pick]
            newest = seqs.argmax(axis=1) if seqs.shape[1] else np.zeros(seqs.shape[0], int)
            picked = np.arange(seqs.shape[0])
            parts["latest_seq"].append(seqs.max(axis=1, initial=0))
            parts["latest"].append(cells.latest[keep][:, pick][picked, newest])
    kinds = {"total": np.float64, "best": np.float64, "latest": np.float64}
    return TaskRows(**{f: _cat(v, kinds.get(f, np.int64)) for f, v in parts.items()})


def trend_points(
    cells: Cells, first_uid: int, trend_lo: list[int], trend_hi: list[int]
) -> TrendPoints:
    """Per period, miner and UTC day of the trend window (segments lo[k] .. hi[k]): sums."""
    seg, day = cells.keys[:, 0], cells.keys[:, 2]
    uids = np.arange(cells.attempted.shape[0], dtype=np.int64) + first_uid
    parts: dict[str, list[NDArray[Any]]] = {f: [] for f in TrendPoints.__dataclass_fields__}
    for pid, (lo, hi) in enumerate(zip(trend_lo, trend_hi, strict=True)):
        window = (seg >= lo) & (seg <= hi)
        for d in np.unique(day[window]):
            pick = window & (day == d)
            attempted = cells.attempted[:, pick].sum(axis=1)
            keep = attempted > 0
            parts["pid"].append(np.full(int(keep.sum()), pid, dtype=np.int64))
            parts["uid"].append(uids[keep])
            parts["day"].append(np.full(int(keep.sum()), d, dtype=np.int64))
            parts["total"].append(_row_sums(cells.total[keep][:, pick]))
            parts["attempted"].append(attempted[keep])
    kinds = {"total": np.float64}
    return TrendPoints(**{f: _cat(v, kinds.get(f, np.int64)) for f, v in parts.items()})


def _percentiles(
    ordered: NDArray[np.float64], n: NDArray[np.int64], out: NDArray[np.float64]
) -> None:
    """`percentile_cont` of each row's first n[j] sorted values into out (NaN if n is 0)."""
    miners = np.arange(ordered.shape[0])
    for i, q in enumerate(QUANTILES):
        # PostgreSQL: x = q * (n - 1); lo + ((x - floor(x)) * (hi - lo)), in float8.
        x = np.float64(q) * (n - 1).astype(np.float64)
        below = np.floor(x)
        above = np.ceil(x)
        if not ordered.shape[1]:
            out[:, i] = np.nan
            continue
        low = ordered[miners, np.clip(below, 0, None).astype(np.int64)]
        high = ordered[miners, np.clip(above, 0, None).astype(np.int64)]
        # Miners without entries compute on +Infinity; masked to NaN.
        with np.errstate(invalid="ignore"):
            out[:, i] = np.where(n > 0, low + ((x - below) * (high - low)), np.nan)


def compute_distribution(
    runs: ScoreRuns,
    matrix: NDArray[np.float64],
    first_uid: int,
    seg_lo: list[int],
    seg_hi: list[int],
) -> Distribution:
    """Count, trailing failures and percentiles of each miner's entries in each period.

    Period k is the runs with seg_lo[k] <= seg <= seg_hi[k], a range of rows (rows are grouped
    by segment first), sorted per miner (numpy's SIMD quicksort: which of two equal values, +0
    and -0 included, comes first changes no percentile).
    Non-finite entries become +Infinity and sort last, so a miner's n attempted entries are the
    first n of its sorted values.
    """
    width = matrix.shape[0]
    seg = runs.seg
    finite = np.isfinite(matrix)
    done = finite & (matrix > 0)
    by_miner = np.where(finite, matrix, np.inf)
    at_by_seq = np.full(int(runs.seq.max(initial=0)) + 1, -1, dtype=np.int64)
    at_by_seq[runs.seq] = runs.at_us
    pids, counts, failures, last_at, percentiles = [], [], [], [], []
    for pid, (lo, hi) in enumerate(zip(seg_lo, seg_hi, strict=True)):
        a, b = np.searchsorted(seg, lo, "left"), np.searchsorted(seg, hi, "right")
        n = finite[:, a:b].sum(axis=1).astype(np.int64)
        seq = runs.seq[None, a:b]
        last_done = np.where(done[:, a:b], seq, 0).max(axis=1, initial=0)
        failures.append((finite[:, a:b] & (seq > last_done[:, None])).sum(axis=1, dtype=np.int64))
        last = np.where(finite[:, a:b], seq, 0).max(axis=1, initial=0)
        last_at.append(np.where(last > 0, at_by_seq[last], -1))
        ordered = np.sort(by_miner[:, a:b], axis=1)
        rows = np.empty((width, len(QUANTILES)))
        _percentiles(ordered, n, rows)
        pids.append(np.full(width, pid, dtype=np.int64))
        counts.append(n)
        percentiles.append(rows)
    return Distribution(
        pid=np.concatenate(pids) if pids else np.zeros(0, dtype=np.int64),
        uid=np.tile(np.arange(width, dtype=np.int64) + first_uid, len(pids)),
        count=np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64),
        failures=np.concatenate(failures) if failures else np.zeros(0, dtype=np.int64),
        last_at=np.concatenate(last_at) if last_at else np.zeros(0, dtype=np.int64),
        percentiles=np.concatenate(percentiles) if percentiles else np.zeros((0, 5)),
    )


__all__ = [
    "Cells",
    "Distribution",
    "TaskRows",
    "TrendPoints",
    "compute_cells",
    "compute_distribution",
    "roll_up_tasks",
    "trend_points",
]
