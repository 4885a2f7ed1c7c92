"""The per-entry work of a period refresh, in numpy: cells and exact percentiles.

A score matrix has one row per run (in run order) and one column per miner, NaN where the
miner has no entry. Two reductions need every entry:

- the *cells*: per miner and group of runs (segment, task, UTC day, finality) the attempted
  and completed counts, sum, best entry, and the run numbers of the latest entry and of the
  latest completed one; everything else rolls up from them in SQL;
- the *distribution*: per miner and period the count of attempted entries and the
  percentiles, computed exactly as PostgreSQL's `percentile_cont` (same float8 operations in
  the same order, so bit for bit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

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
    last_completed_seq: NDArray[np.int64]
    """0 when the cell has no completed entry."""


@dataclass(frozen=True)
class Distribution:
    """Per (period, miner): attempted entries and the QUANTILES (NaN without entries)."""

    pid: NDArray[np.int64]
    uid: NDArray[np.int64]
    count: NDArray[np.int64]
    percentiles: NDArray[np.float64]
    """Shape (rows, len(QUANTILES))."""


def compute_cells(
    seg: NDArray[np.int64],
    task: NDArray[np.int64],
    day: NDArray[np.int64],
    final: NDArray[np.bool_],
    matrix: NDArray[np.float64],
    first_uid: int,
) -> Cells:
    """The cells of the miners in `matrix`'s columns (column j is UID first_uid + j).

    Sums run over the entries in run order.
    """
    width = matrix.shape[1]
    if not seg.size or not width:
        none = np.zeros(0, dtype=np.int64)
        return Cells(
            none,
            none,
            none,
            none,
            none.astype(bool),
            none,
            none,
            none.astype(np.float64),
            none.astype(np.float64),
            none,
            none,
        )
    keys = np.stack([seg, task, day, final.astype(np.int64)], axis=1)
    groups, group_of = np.unique(keys, axis=0, return_inverse=True)
    order = np.argsort(group_of.reshape(-1), kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(group_of.reshape(-1)[order]) != 0])
    values = matrix[order]
    seq = (order + 1).astype(np.int64)[:, None]
    finite = np.isfinite(values)
    done = finite & (values > 0)
    attempted = np.add.reduceat(finite, starts, axis=0, dtype=np.int64)
    g, u = np.nonzero(attempted)

    def reduce(ufunc: np.ufunc, data: NDArray[Any]) -> NDArray[Any]:
        out: NDArray[Any] = ufunc.reduceat(data, starts, axis=0)[g, u]
        return out

    return Cells(
        uid=u.astype(np.int64) + first_uid,
        seg=groups[g, 0],
        task=groups[g, 1],
        day=groups[g, 2],
        final=groups[g, 3].astype(bool),
        attempted=attempted[g, u],
        completed=np.add.reduceat(done, starts, axis=0, dtype=np.int64)[g, u],
        total=reduce(np.add, np.where(finite, values, 0.0)),
        best=reduce(np.maximum, np.where(finite, values, -np.inf)),
        latest_seq=reduce(np.maximum, np.where(finite, seq, 0)),
        last_completed_seq=reduce(np.maximum, np.where(done, seq, 0)),
    )


def _percentiles(
    ordered: NDArray[np.float64], n: NDArray[np.int64], out: NDArray[np.float64]
) -> None:
    """`percentile_cont` of each column's first n[j] sorted values into out (NaN if n is 0)."""
    columns = np.arange(ordered.shape[1])
    for i, q in enumerate(QUANTILES):
        # PostgreSQL: x = q * (n - 1); lo + ((x - floor(x)) * (hi - lo)), in float8.
        x = np.float64(q) * (n - 1).astype(np.float64)
        below = np.floor(x)
        above = np.ceil(x)
        if not ordered.shape[0]:
            out[:, i] = np.nan
            continue
        low = ordered[np.clip(below, 0, None).astype(np.int64), columns]
        high = ordered[np.clip(above, 0, None).astype(np.int64), columns]
        # Miners without entries compute on +Infinity; masked to NaN.
        with np.errstate(invalid="ignore"):
            out[:, i] = np.where(n > 0, low + ((x - below) * (high - low)), np.nan)


def compute_distribution(
    seg: NDArray[np.int64],
    matrix: NDArray[np.float64],
    first_uid: int,
    seg_lo: list[int],
    seg_hi: list[int],
) -> Distribution:
    """Count and percentiles of each miner's attempted entries in each period.

    Period k is the runs with seg_lo[k] <= seg <= seg_hi[k]; segments grow with the run order,
    so that is one range of rows. Non-finite entries become +Infinity and sort last, so a
    miner's n attempted entries are the first n of its sorted column.
    """
    width = matrix.shape[1]
    pids, counts, percentiles = [], [], []
    for pid, (lo, hi) in enumerate(zip(seg_lo, seg_hi, strict=True)):
        block = matrix[np.searchsorted(seg, lo, "left") : np.searchsorted(seg, hi, "right")]
        finite = np.isfinite(block)
        n = finite.sum(axis=0).astype(np.int64)
        ordered = np.sort(np.where(finite, block, np.inf), axis=0)
        rows = np.empty((width, len(QUANTILES)))
        _percentiles(ordered, n, rows)
        pids.append(np.full(width, pid, dtype=np.int64))
        counts.append(n)
        percentiles.append(rows)
    return Distribution(
        pid=np.concatenate(pids) if pids else np.zeros(0, dtype=np.int64),
        uid=np.tile(np.arange(width, dtype=np.int64) + first_uid, len(pids)),
        count=np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64),
        percentiles=np.concatenate(percentiles) if percentiles else np.zeros((0, 5)),
    )


__all__ = ["Cells", "Distribution", "compute_cells", "compute_distribution"]
