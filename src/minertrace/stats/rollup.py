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

    numpy's SIMD quicksort of the runs laid side by side is about five times faster than a
    timsort merge of them; which of two equal values (+0 and -0) comes first changes no
    percentile (`union_percentiles`).
    """
    parts = [p for p in parts if p.shape[1]]
    if not parts:
        return np.zeros((width, 0))
    if len(parts) == 1:
        return parts[0]
    merged = np.sort(np.concatenate(parts, axis=1), axis=1)
    finite_cols = int(np.isfinite(merged).sum(axis=1).max(initial=0))
    return np.ascontiguousarray(merged[:, :finite_cols])


def roll_up(
    base: Totals, units: list[DayCells], values: NDArray[np.float64] | None = None
) -> Totals:
    """`base` followed by `units`, in order, with the values merged (or `values`, when the
    caller merged them already)."""
    out = base
    for unit in units:
        out = add_unit(out, unit)
    if values is None:
        values = merged_values([base.values, *(u.dense for u in units)], base.count.size)
    return replace(out, values=values)


def union_percentiles(
    base: NDArray[np.float64],
    base_n: NDArray[np.int64],
    tail: NDArray[np.float64],
    tail_n: NDArray[np.int64],
) -> NDArray[np.float64]:
    """`percentile_cont` (QUANTILES) of each miner's base values united with its tail values.

    Both are sorted per miner and +Infinity-padded. The k-th smallest of the union takes j
    values from the tail and k + 1 - j from the base, j the smallest with tail[j] >= base[k - j]:
    a binary search on j for every miner and quantile at once, about log2(tail) steps.
    """
    width = base_n.size
    n = base_n + tail_n
    miners = np.arange(width)
    # The search only reads base[0 .. base_n - 1] and tail[0 .. tail_n - 1]; a matrix without
    # columns gets one (+Infinity) so that the clipped indices stay valid.
    a_rows = base if base.shape[1] else np.full((width, 1), np.inf)
    b_rows = tail if tail.shape[1] else np.full((width, 1), np.inf)
    steps = int(tail.shape[1]).bit_length() + 1

    # Every quantile's two order statistics (floor and ceil of x) at once: miners x 10.
    x = np.array(QUANTILES, dtype=np.float64)[None, :] * (n - 1).astype(np.float64)[:, None]
    below = np.floor(x)
    above = np.ceil(x)
    k = np.clip(np.concatenate([below, above], axis=1), 0, None).astype(np.int64)
    rows = miners[:, None]
    lo = np.maximum(0, k + 1 - base_n[:, None])
    hi = np.minimum(k + 1, tail_n[:, None])
    a_last, b_last = a_rows.shape[1] - 1, b_rows.shape[1] - 1
    for _ in range(steps):
        active = lo < hi
        if not active.any():
            break
        j = (lo + hi) // 2
        more = active & (
            b_rows[rows, np.clip(j, 0, b_last)] < a_rows[rows, np.clip(k - j, 0, a_last)]
        )
        lo = np.where(more, j + 1, lo)
        hi = np.where(active & ~more, j, hi)
    i = k + 1 - lo
    from_base = np.where(i > 0, a_rows[rows, np.clip(i - 1, 0, a_last)], -np.inf)
    from_tail = np.where(lo > 0, b_rows[rows, np.clip(lo - 1, 0, b_last)], -np.inf)
    value = np.maximum(from_base, from_tail)
    low, high = value[:, : len(QUANTILES)], value[:, len(QUANTILES) :]
    # PostgreSQL: x = q * (n - 1); lo + ((x - floor(x)) * (hi - lo)), in float8.
    with np.errstate(invalid="ignore"):
        out: NDArray[np.float64] = np.where(
            (n > 0)[:, None], low + ((x - below) * (high - low)), np.nan
        )
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
