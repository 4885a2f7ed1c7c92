"""The per (period, UID) statistics columns, from the roll-ups, in numpy.

Both refresh paths (full and incremental) produce the same sparse arrays (per-task rows,
distributions, latest entry times); this module turns them into one value per period and UID
for each column the compute statement writes (`minertrace.store.stats_sql.MINER_COLUMNS`),
with PostgreSQL's float8 operations in PostgreSQL's order (so the bits are those the SQL used
to compute), and ranks them:

- `*_avg_score` = sum / attempted, `*_success_rate` = completed / attempted;
- `overall_avg_score` = (avg_w * scored_w + avg_g * scored_g + avg_s * scored_s) / scored, a
  term being 0 for a task without entries;
- `*_rank` and `overall_rank`: `rank()` descending among the registered miners with a value
  (ties share a rank, the next skips; NaN sorts first, as in PostgreSQL).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from minertrace.store.arrays import PgArray, float8_array, int_array
from minertrace.store.stats_sql import MINER_COLUMNS, QUANTILES, TASKS


def _ranks(values: NDArray[np.float64], member: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Per row (period): each member's rank by value, descending (NaN elsewhere)."""
    out = np.full(values.shape, np.nan)
    for p in range(values.shape[0]):
        mine = values[p, member[p]]
        nan = np.isnan(mine)
        ordered = np.sort(mine[~nan])
        greater = ordered.size - np.searchsorted(ordered, values[p], side="right")
        rank = np.where(np.isnan(values[p]), 1, 1 + int(nan.sum()) + greater)
        out[p] = np.where(member[p], rank, np.nan)
    return out


def miner_columns(
    params: dict[str, PgArray], periods: int, width: int, registered: NDArray[np.int64]
) -> dict[str, PgArray]:
    """The compute statement's `col_*` parameters (one entry per period and UID 0 .. width-1).

    `params` holds the sparse `task_*`, `dist_*` and `active_*` arrays of either refresh path;
    `registered` the UIDs with a hotkey (the miners that are ranked).
    """

    def get(name: str) -> NDArray[Any]:
        return params[name].values

    size = periods * width
    member = np.zeros(width, dtype=bool)
    member[registered[registered < width]] = True
    members = np.broadcast_to(member, (periods, width))
    cols: dict[str, NDArray[Any]] = {}
    at = get("task_pid").astype(np.int64) * width + get("task_uid").astype(np.int64)
    task = get("task_task")
    terms = []
    scored_sum = np.zeros(size, dtype=np.int64)
    for code, name in enumerate(TASKS):
        pick = task == code
        where = at[pick]
        dense: dict[str, NDArray[Any]] = {}
        for field in ("attempted", "completed", "scored"):
            dense[field] = np.zeros(size, dtype=np.int64)
            dense[field][where] = get(f"task_{field}")[pick]
        for field in ("total", "best", "latest"):
            dense[field] = np.full(size, np.nan)
            dense[field][where] = get(f"task_{field}")[pick]
        has = dense["attempted"] > 0
        attempted = dense["attempted"].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            avg = np.where(has, dense["total"] / attempted, np.nan)
            rate = np.where(has, dense["completed"].astype(np.float64) / attempted, np.nan)
        cols[f"{name}_tasks_attempted"] = dense["attempted"]
        cols[f"{name}_tasks_completed"] = dense["completed"]
        cols[f"{name}_tasks_scored"] = dense["scored"]
        cols[f"{name}_avg_score"] = avg
        cols[f"{name}_success_rate"] = rate
        cols[f"{name}_rank"] = _ranks(
            avg.reshape(periods, width), members & has.reshape(periods, width)
        ).reshape(-1)
        cols[f"{name}_best_score"] = dense["best"]
        cols[f"{name}_latest_score"] = dense["latest"]
        terms.append(np.where(has, avg * dense["scored"].astype(np.float64), 0.0))
        scored_sum += dense["scored"]
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = np.where(
            scored_sum > 0, (terms[0] + terms[1] + terms[2]) / scored_sum.astype(np.float64), np.nan
        )
    known = scored_sum.reshape(periods, width) > 0
    cols["overall_avg"] = overall
    cols["overall_rank"] = _ranks(overall.reshape(periods, width), members & known).reshape(-1)
    dist_at = get("dist_pid").astype(np.int64) * width + get("dist_uid").astype(np.int64)
    for field in ("n", "failures"):
        cols[f"dist_{field}" if field == "n" else "failures"] = np.zeros(size, dtype=np.int64)
        cols[f"dist_{field}" if field == "n" else "failures"][dist_at] = get(f"dist_{field}")
    for q in QUANTILES:
        key = f"dist_p{round(q * 100)}"
        cols[key] = np.full(size, np.nan)
        cols[key][dist_at] = get(key)
    cols["last_active_us"] = np.full(size, np.nan)
    active_at = get("active_pid").astype(np.int64) * width + get("active_uid").astype(np.int64)
    cols["last_active_us"][active_at] = get("active_us").astype(np.float64)
    out = {
        "col_pid": int_array(np.repeat(np.arange(periods), width)),
        "col_uid": int_array(np.tile(np.arange(width), periods)),
    }
    for name, kind in MINER_COLUMNS:
        values = cols[name]
        out[f"col_{name}"] = (
            int_array(values, "int8") if kind == "int8" else float8_array(values, nulls=True)
        )
    return out


__all__ = ["miner_columns"]
