"""The per-entry work of a period refresh, in numpy: cells and exact percentiles.

A score matrix has one row per miner and one column per run (runs grouped as the cells are),
NaN where the miner has no entry; each miner's entries are contiguous, so the reductions and
sorts run over contiguous memory. Two reductions need every entry:

- the *cells*: per miner and group of runs (segment, task, UTC day, finality) the attempted
  and completed counts, sum, best entry, and the run number of the latest entry; the rest
  rolls up from them in SQL;
- the *distribution*: per miner and period the count of attempted entries, the trailing
  failures, and the percentiles, computed exactly as PostgreSQL's `percentile_cont` (same
  float8 operations in the same order, so bit for bit).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from minertrace.store.score_matrix import ScoreRuns
from minertrace.store.stats_sql import QUANTILES


@dataclass(frozen=True)
class Cells:
    """One entry per (miner, group of runs) with at least one attempted entry."""

    uid: NDArray[np.int64]
    seg: NDArray[np.int64]
    task: NDArray[np.int64]
    day: NDArray[np.int64]
    final: NDArray[np.bool_]
    attempted: NDArray[np.int64]
    completed: NDArray[np.int64]
    total: NDArray[np.float64]
    best: NDArray[np.float64]
    latest_seq: NDArray[np.int64]


@dataclass(frozen=True)
class Distribution:
    """Per (period, miner): attempted entries, trailing failures, the QUANTILES (NaN if none)."""

    pid: NDArray[np.int64]
    uid: NDArray[np.int64]
    count: NDArray[np.int64]
    failures: NDArray[np.int64]
    """Attempted entries after the latest completed one in run order (all without one)."""
    percentiles: NDArray[np.float64]
    """Shape (rows, len(QUANTILES))."""


def compute_cells(runs: ScoreRuns, matrix: NDArray[np.float64], first_uid: int) -> Cells:
    """The cells of the miners in `matrix`'s rows (row i is UID first_uid + i).

    `runs` are grouped (`minertrace.store.score_matrix`), so each group is a block of columns.
    """
    width = matrix.shape[0]
    if not len(runs) or not width:
        none = np.zeros(0, dtype=np.int64)
        flat = none.astype(np.float64)
        return Cells(none, none, none, none, none.astype(bool), none, none, flat, flat, none)
    keys = np.stack([runs.seg, runs.task, runs.day, runs.final.astype(np.int64)], axis=1)
    starts = np.flatnonzero(np.r_[True, (np.diff(keys, axis=0) != 0).any(axis=1)])
    seq = runs.seq[None, :]
    finite = np.isfinite(matrix)
    done = finite & (matrix > 0)

    def reduce(ufunc: np.ufunc, data: NDArray[Any], **kwargs: Any) -> NDArray[Any]:
        out: NDArray[Any] = ufunc.reduceat(data, starts, axis=1, **kwargs)
        return out

    attempted = reduce(np.add, finite.view(np.uint8), dtype=np.int64)
    u, g = np.nonzero(attempted)
    group = keys[starts[g]]
    return Cells(
        uid=u.astype(np.int64) + first_uid,
        seg=group[:, 0],
        task=group[:, 1],
        day=group[:, 2],
        final=group[:, 3].astype(bool),
        attempted=attempted[u, g],
        completed=reduce(np.add, done.view(np.uint8), dtype=np.int64)[u, g],
        total=reduce(np.add, np.where(finite, matrix, 0.0))[u, g],
        best=reduce(np.maximum, np.where(finite, matrix, -np.inf))[u, g],
        latest_seq=reduce(np.maximum, np.where(finite, seq, 0))[u, g],
    )


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
    by segment first). Each segment is sorted once per miner; a period's sorted values are then
    a merge of its segments' sorted runs (a stable sort is a run-merging timsort, about linear).
    Non-finite entries become +Infinity and sort last, so a miner's n attempted entries are the
    first n of its sorted values.
    """
    width = matrix.shape[0]
    seg = runs.seg
    finite = np.isfinite(matrix)
    done = finite & (matrix > 0)
    by_miner = np.where(finite, matrix, np.inf)
    bounds = np.flatnonzero(np.r_[True, np.diff(seg) != 0, True])
    for a, b in itertools.pairwise(bounds):
        by_miner[:, a:b].sort(axis=1)
    pids, counts, failures, percentiles = [], [], [], []
    for pid, (lo, hi) in enumerate(zip(seg_lo, seg_hi, strict=True)):
        a, b = np.searchsorted(seg, lo, "left"), np.searchsorted(seg, hi, "right")
        n = finite[:, a:b].sum(axis=1).astype(np.int64)
        seq = runs.seq[None, a:b]
        last_done = np.where(done[:, a:b], seq, 0).max(axis=1, initial=0)
        failures.append((finite[:, a:b] & (seq > last_done[:, None])).sum(axis=1, dtype=np.int64))
        pieces = np.unique(seg[a:b]).size
        ordered = by_miner[:, a:b] if pieces <= 1 else np.sort(by_miner[:, a:b], 1, "stable")
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
        percentiles=np.concatenate(percentiles) if percentiles else np.zeros((0, 5)),
    )


__all__ = ["Cells", "Distribution", "compute_cells", "compute_distribution"]
