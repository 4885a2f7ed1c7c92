"""Rolling units (`minertrace.stats.day_cells`) up into a period's per-miner statistics.

`Totals` is what a period needs per miner, in the form that adds one unit at a time in run
order: counts add, sums add cell after cell (the full refresh's `cumsum` over the same cells in
the same order, so the same bits), best is a running maximum, latest and the trailing
failures are those of the last unit with an entry (with a completion). The period's sorted
entries are a `Totals`' `values` (a dense, +Infinity-padded matrix) merged with the few entries
after it: the k-th smallest of the union is found by a binary search over all miners at once
(`union_percentiles`), never by merging.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from minertrace.stats.day_cells import RUN_SPAN, DayCells
from minertrace.store.arrays import PgArray, int_array
from minertrace.store.stats_sql import QUANTILES, TASKS


@dataclass(frozen=True)
class Totals:
    """Per miner (rows) and task (columns, where 2-D): a period's roll-up so far."""

    attempted: NDArray[np.int64]
    completed: NDArray[np.int64]
    scored: NDArray[np.int64]
    total: NDArray[np.float64]
    best: NDArray[np.float64]
    latest: NDArray[np.float64]
    latest_key: NDArray[np.int64]
    """day * RUN_SPAN + run of the task's latest entry (0 without one)."""
    count: NDArray[np.int64]
    failures: NDArray[np.int64]
    last_at: NDArray[np.int64]
    task_runs: NDArray[np.int64]
    values: NDArray[np.float64]
    """Sorted attempted entries per miner, padded with +Infinity (shape width x capacity)."""

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes) + 11 * 8 * int(self.count.size)


def empty_totals(width: int) -> Totals:
    """The roll-up of no unit."""
    ints = np.zeros((width, 3), dtype=np.int64)
    return Totals(
        attempted=ints,
        completed=ints,
        scored=ints,
        total=np.zeros((width, 3)),
        best=np.full((width, 3), -np.inf),
        latest=np.full((width, 3), np.nan),
        latest_key=ints,
        count=np.zeros(width, dtype=np.int64),
        failures=np.zeros(width, dtype=np.int64),
        last_at=np.full(width, -1, dtype=np.int64),
        task_runs=np.zeros(3, dtype=np.int64),
        values=np.zeros((width, 0)),
    )


def add_unit(t: Totals, u: DayCells) -> Totals:
    """`t` followed by unit `u` (counters only: `values` is left as it is)."""
    attempted = t.attempted.copy()
    completed = t.completed.copy()
    scored = t.scored.copy()
    total = t.total.copy()
    best = t.best.copy()
    latest = t.latest.copy()
    latest_key = t.latest_key.copy()
    for task in range(3):
        for final in range(2):
            slot = 2 * task + final
            attempted[:, task] += u.attempted[:, slot]
            completed[:, task] += u.completed[:, slot]
            if final:
                scored[:, task] += u.completed[:, slot]
            # The full refresh adds the period's cells in this order, one after the other.
            total[:, task] = total[:, task] + u.total[:, slot]
            best[:, task] = np.maximum(best[:, task], u.best[:, slot])
        runs = u.latest_run[:, 2 * task : 2 * task + 2]
        newest = runs.argmax(axis=1)
        picked = np.arange(runs.shape[0])
        has = runs[picked, newest] > 0
        latest[:, task] = np.where(has, u.latest[picked, 2 * task + newest], latest[:, task])
        latest_key[:, task] = np.where(
            has, u.day * RUN_SPAN + runs[picked, newest], latest_key[:, task]
        )
    n = u.count
    done = u.completed.sum(axis=1) > 0
    return replace(
        t,
        attempted=attempted,
        completed=completed,
        scored=scored,
        total=total,
        best=best,
        latest=latest,
        latest_key=latest_key,
        count=t.count + n,
        failures=np.where(done, u.failures, t.failures + u.failures),
        last_at=np.where(n > 0, u.last_at, t.last_at),
        task_runs=t.task_runs + u.task_runs,
    )


def merged_values(parts: list[NDArray[np.float64]], width: int) -> NDArray[np.float64]:
    """Dense sorted matrices (+Infinity-padded) merged into one, trimmed to the longest row.

    A stable sort of sorted runs laid side by side is a timsort merge, about linear.
    """
    parts = [p for p in parts if p.shape[1]]
    if not parts:
        return np.zeros((width, 0))
    if len(parts) == 1:
        return parts[0]
    merged = np.sort(np.concatenate(parts, axis=1), axis=1, kind="stable")
    finite_cols = int(np.isfinite(merged).sum(axis=1).max(initial=0))
    return np.ascontiguousarray(merged[:, :finite_cols])


def roll_up(base: Totals, units: list[DayCells]) -> Totals:
    """`base` followed by `units`, in order, with the values merged."""
    out = base
    for unit in units:
        out = add_unit(out, unit)
    values = merged_values([base.values, *(u.dense_values() for u in units)], base.count.size)
    return replace(out, values=values)


def _count_below(
    rows: NDArray[np.float64], lengths: NDArray[np.int64], keys: NDArray[np.float64]
) -> NDArray[np.int64]:
    """For each (miner, key): how many of the miner's first `lengths` values are below the key.

    One binary search over every miner and key at once (`rows` sorted, `keys` miners x k).
    """
    lo = np.zeros(keys.shape, dtype=np.int64)
    if not rows.shape[1]:
        return lo
    hi = np.broadcast_to(lengths[:, None], keys.shape).copy()
    miners = np.arange(rows.shape[0])[:, None]
    last = rows.shape[1] - 1
    for _ in range(rows.shape[1].bit_length() + 1):
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        go = active & (rows[miners, np.minimum(mid, last)] < keys)
        lo = np.where(go, mid + 1, lo)
        hi = np.where(active & ~go, mid, hi)
    return lo


def union_percentiles(
    base: NDArray[np.float64],
    base_n: NDArray[np.int64],
    tail: NDArray[np.float64],
    tail_n: NDArray[np.int64],
) -> NDArray[np.float64]:
    """`percentile_cont` (QUANTILES) of each miner's base values united with its tail values.

    Both are sorted per miner and +Infinity-padded. Tail value j of a miner sits at position
    j + (base values below it) in the union; the union's i-th value is then the tail value at
    that position, or else base value i - (tail values before i).
    """
    width = base_n.size
    n = base_n + tail_n
    columns = np.arange(tail.shape[1])[None, :]
    pos = np.where(
        columns < tail_n[:, None],
        _count_below(base, base_n, tail) + columns,
        np.iinfo(np.int64).max,
    )
    miners = np.arange(width)
    tail_last = max(tail.shape[1] - 1, 0)
    base_last = max(base.shape[1] - 1, 0)
    padded_tail = tail if tail.shape[1] else np.full((width, 1), np.inf)
    padded_pos = pos if tail.shape[1] else np.full((width, 1), -1, dtype=np.int64)
    padded_base = base if base.shape[1] else np.full((width, 1), np.inf)

    def kth(i: NDArray[np.int64]) -> NDArray[np.float64]:
        before = (pos < i[:, None]).sum(axis=1)
        j = np.minimum(before, tail_last)
        at_tail = (before < tail_n) & (padded_pos[miners, j] == i)
        from_base = padded_base[miners, np.clip(i - before, 0, base_last)]
        out: NDArray[np.float64] = np.where(at_tail, padded_tail[miners, j], from_base)
        return out

    out = np.empty((width, len(QUANTILES)))
    for k, q in enumerate(QUANTILES):
        # PostgreSQL: x = q * (n - 1); lo + ((x - floor(x)) * (hi - lo)), in float8.
        x = np.float64(q) * (n - 1).astype(np.float64)
        below = np.floor(x)
        above = np.ceil(x)
        low = kth(np.clip(below, 0, None).astype(np.int64))
        high = kth(np.clip(above, 0, None).astype(np.int64))
        with np.errstate(invalid="ignore"):
            out[:, k] = np.where(n > 0, low + ((x - below) * (high - low)), np.nan)
    return out


def activity_params(
    pid: NDArray[np.int64],
    uid: NDArray[np.int64],
    last_at: NDArray[np.int64],
    task_runs: NDArray[np.int64],
) -> dict[str, PgArray]:
    """The latest entry times (per period and miner with entries) and the periods' runs per
    task (rows in period order), as the compute statement's parameters."""
    return {
        "active_pid": int_array(pid),
        "active_uid": int_array(uid),
        "active_us": int_array(last_at, "int8"),
        **{f"runs_{task}": int_array(task_runs[:, i], "int8") for i, task in enumerate(TASKS)},
    }


__all__ = [
    "Totals",
    "activity_params",
    "add_unit",
    "empty_totals",
    "merged_values",
    "roll_up",
    "union_percentiles",
]
