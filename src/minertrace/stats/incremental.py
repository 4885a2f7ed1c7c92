"""The incremental period refresh: the periods rolled up from per-day cells, not from every entry.

Each UTC day with score rows has its cells in `stats_day_cells` (`minertrace.stats.day_cells`),
with the fingerprint of the rows they came from. A refresh:

1. asks for every day of its window the count and fingerprint of the score rows (one query
   over the rows' versions, no score array) and compares them with the stored cells: only the
   days that differ (the current day each hour, a day that got a late, updated or deleted row,
   every day when the width of the UIDs grew) are read from `score_table`, reduced and stored;
   the cells of days without rows any more are deleted;
2. rolls each period up in run order: the days before the current one (a `Totals`, kept in a
   process-local cache per period and extended by one day at the day's end), then the current
   day and any later one. On the current day the full refresh cuts its segments at `now`; when
   rows exist after `now` the day is read as its two sides (not stored), otherwise its stored
   cells are the side before `now`;
3. finds the percentiles of the days before (sorted, cached) united with the rest by a binary
   search (`minertrace.stats.rollup.union_percentiles`).

The result is the compute statement's parameters, equal bit for bit to those of the full
refresh (`minertrace.stats.refresh`). Periods whose bounds are not UTC midnights (other than
`now`) fall back to the full refresh.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection

from minertrace.stats.cache import CACHE, KEPT_DAYS
from minertrace.stats.day_cells import (
    DAY_ZERO,
    ONE_DAY,
    DayCells,
    chunks,
    compute_days,
    extend,
    pack,
    unpack,
)
from minertrace.stats.periods import Period
from minertrace.stats.rollup import (
    Totals,
    activity_params,
    add_unit,
    empty_totals,
    merged_values,
    roll_up,
    union_percentiles,
)
from minertrace.store.arrays import PgArray, float8_array, int_array
from minertrace.store.day_cells import (
    FINGERPRINT_MODULUS,
    DayFingerprint,
    StoredDay,
    day_fingerprints,
    delete_cells,
    read_payloads,
    read_tail_runs,
    stored_days,
    tail_fingerprint,
    write_cells,
)
from minertrace.store.stats_sql import QUANTILES

logger = logging.getLogger(__name__)


def day_number(t: datetime) -> int:
    """The UTC day of `t`, counted from 2000-01-01."""
    return (t.astimezone(timezone.utc) - DAY_ZERO) // ONE_DAY


def _at_midnight(t: datetime) -> bool:
    return t.astimezone(timezone.utc) == DAY_ZERO + day_number(t) * ONE_DAY


@dataclass(frozen=True)
class _Unit:
    """A unit of the refresh: its cells' source and the instants [start, end) it lies in."""

    day: int
    start: datetime
    end: datetime
    token: int
    """Of the stored cells (0 for a side of a split day, computed by this refresh)."""
    cells: DayCells | None = None


class _RewrittenError(Exception):
    """A day's stored cells were replaced while this refresh ran (a concurrent refresh)."""


def _matches(stored: StoredDay | None, found: DayFingerprint | None, width: int) -> bool:
    return (
        stored is not None
        and found is not None
        and stored.runs == found.runs
        and stored.fingerprint == found.fingerprint
        and stored.width >= width
    )


def _load(conn: Connection, units: list[_Unit], width: int) -> dict[int, DayCells]:
    """The cells of `units` by token: from the process cache, else from the database."""
    missing = sorted({u.day for u in units if u.cells is None and u.token not in CACHE.days})
    for payload in read_payloads(conn, missing):
        cells = unpack(payload)
        CACHE.days[cells.token] = cells
    out: dict[int, DayCells] = {}
    for u in units:
        if u.cells is None and u.token not in CACHE.days:
            raise _RewrittenError(u.day)
        cells = u.cells if u.cells is not None else CACHE.days[u.token]
        out[u.token if u.cells is None else id(u)] = cells.narrowed(width)
    return out


def _cells(unit: _Unit, loaded: dict[int, DayCells]) -> DayCells:
    return loaded[unit.token if unit.cells is None else id(unit)]


def _extend_current(
    conn: Connection,
    identity: str,
    current: int,
    held: tuple[StoredDay, DayCells, DayFingerprint],
    found: DayFingerprint,
    width: int,
) -> None:
    """When the current day only gained rows after those its held cells came from (the hourly
    case), read just those and extend the cells; otherwise leave them (then the day is
    recomputed whole if its fingerprint changed)."""
    key, cells, before = held
    if key.width != width or (key.runs, key.fingerprint) == (found.runs, found.fingerprint):
        return
    end = DAY_ZERO + (current + 1) * ONE_DAY
    count, fingerprint = tail_fingerprint(conn, before.last_created, end)
    if (
        key.runs + count != found.runs
        or (key.fingerprint + fingerprint - found.fingerprint) % FINGERPRINT_MODULUS
    ):
        return
    tail = read_tail_runs(conn, before.last_created, end, key.runs, width)
    grown = extend(cells, tail)
    CACHE.days[grown.token] = grown
    CACHE.current[(identity, current)] = (
        StoredDay(found.runs, found.fingerprint, width, grown.token),
        grown,
        found,
    )


def _units(
    conn: Connection, plan: dict[str, Any], now: datetime, width: int, block: int
) -> tuple[list[_Unit], int]:
    """Every unit of the window, in run order, after bringing the stored cells up to date."""
    bounds = plan["bounds"]
    split = now if now in bounds and not _at_midnight(now) else None
    current = day_number(now)
    start, end = plan["scan_start"], plan["scan_end"]
    prints = day_fingerprints(conn, start, end, split)
    identity, stored = stored_days(
        conn, day_number(start), day_number(end - timedelta(microseconds=1)) + 1
    )
    gone = sorted(d for d in stored if d not in prints)
    delete_cells(conn, gone)
    split_day = (
        current if split is not None and current in prints and prints[current].after_split else None
    )
    # The current day changes every hour: its cells stay in the process (keyed by the
    # database and the fingerprint) and are stored once the day is over.
    held = CACHE.current.get((identity, current))
    if held is not None and current != split_day and current in prints:
        _extend_current(conn, identity, current, held, prints[current], width)
        held = CACHE.current.get((identity, current))
    if held is not None and _matches(held[0], prints.get(current), width):
        stored.setdefault(current, held[0])
        CACHE.days.setdefault(held[0].token, held[1])
    stale = sorted(
        d for d, f in prints.items() if d != split_day and not _matches(stored.get(d), f, width)
    )
    fresh: dict[int, DayCells] = {}
    for chunk in chunks(stale, prints, width, block):
        cells = [c for _, c in compute_days(conn, chunk, prints, width, None, block)]
        write_cells(conn, [(pack(c), prints[c.day]) for c in cells if c.day != current])
        fresh.update((c.day, c) for c in cells)
    for c in fresh.values():
        CACHE.days[c.token] = c
    if current in fresh:
        found = prints[current]
        CACHE.current.clear()
        CACHE.current[(identity, current)] = (
            StoredDay(found.runs, found.fingerprint, width, fresh[current].token),
            fresh[current],
            found,
        )
    if stale:
        logger.info("computed the statistics cells of %d day(s) from score_table", len(stale))
    units: list[_Unit] = []
    for day in sorted(prints):
        day_start = DAY_ZERO + day * ONE_DAY
        if day == split_day:
            assert split is not None
            for half, side in compute_days(conn, [day], prints, width, split, block):
                edges = (day_start, split) if half == 0 else (split, day_start + ONE_DAY)
                units.append(_Unit(day, *edges, 0, side))
            continue
        token = fresh[day].token if day in fresh else stored[day].token
        stop = split if split is not None and day == current else day_start + ONE_DAY
        units.append(_Unit(day, day_start, stop, token))
    return units, current


def _base(
    conn: Connection,
    period: Period,
    members: list[_Unit],
    width: int,
    built: list[tuple[tuple[int, ...], Totals]],
) -> tuple[tuple[Any, ...], tuple[int, ...], Totals]:
    """The roll-up of the period's complete days: cached, extended by the days since, or built
    (its sorted entries merged from a roll-up of this refresh over a subset of its days, when
    there is one: the monthly one inside all_time's, say)."""
    key = (period.period_type, period.start, period.end, width)
    tokens = tuple(u.token for u in members)
    cached = CACHE.totals.get(key)
    if cached is not None and cached[0] == tokens:
        return key, tokens, cached[1]
    if cached is not None and tokens[: len(cached[0])] == cached[0]:
        rest = members[len(cached[0]) :]
        loaded = _load(conn, rest, width)
        return key, tokens, roll_up(cached[1], [_cells(u, loaded) for u in rest])
    loaded = _load(conn, members, width)
    cells = [_cells(u, loaded) for u in members]
    inside = [b for b in built if set(b[0]) <= set(tokens)]
    if not inside:
        return key, tokens, roll_up(empty_totals(width), cells)
    sub_tokens, sub = max(inside, key=lambda b: len(b[0]))
    taken = set(sub_tokens)
    values = merged_values(
        [
            sub.values,
            *(c.dense for u, c in zip(members, cells, strict=True) if u.token not in taken),
        ],
        width,
    )
    return key, tokens, roll_up(empty_totals(width), cells, values)


def _trend_points(
    units: list[_Unit], loaded: dict[int, DayCells], start: datetime, end: datetime
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    """Per day of [start, end) and miner: the day's entries' sum and count, as the full refresh
    adds them (the day's cells in order), for the miners with entries."""
    days: dict[int, list[DayCells]] = {}
    for u in units:
        if u.start >= start and u.end <= end:
            days.setdefault(u.day, []).append(_cells(u, loaded))
    out_day, out_uid, out_total, out_n = [], [], [], []
    for day, cells in days.items():
        totals = np.concatenate([c.total for c in cells], axis=1)
        attempted = sum(c.count for c in cells)
        assert isinstance(attempted, np.ndarray)
        keep = np.flatnonzero(attempted > 0)
        out_uid.append(keep)
        out_day.append(np.full(keep.size, day, dtype=np.int64))
        out_total.append(np.cumsum(totals[keep], axis=1)[:, -1])
        out_n.append(attempted[keep])
    if not out_uid:
        none = np.zeros(0, dtype=np.int64)
        return none, np.zeros(0), none
    return (
        np.stack([np.concatenate(out_day), np.concatenate(out_uid)]),
        np.concatenate(out_total),
        np.concatenate(out_n),
    )


def incremental_params(
    conn: Connection,
    periods: list[Period],
    plan: dict[str, Any],
    now: datetime,
    width: int,
    block: int,
) -> dict[str, PgArray] | None:
    """The compute statement's array parameters from the day cells, or None when they do not
    apply (a period bound off UTC midnight, or no miners): then the caller refreshes in full.

    `plan` is the refresh's segment plan (`bounds`, `scan_start`, `scan_end`, trend windows);
    `width` is 1 + the highest UID with a hotkey.
    """
    if any(b != now and not _at_midnight(b) for b in plan["bounds"]):
        return None
    if not width:
        return None
    try:
        return _params(conn, periods, plan, now, width, block)
    except _RewrittenError as exc:
        logger.warning(
            "the cells of day %d changed during the refresh; refreshing in full", exc.args[0]
        )
        return None


def _params(
    conn: Connection,
    periods: list[Period],
    plan: dict[str, Any],
    now: datetime,
    width: int,
    block: int,
) -> dict[str, PgArray]:
    units, current = _units(conn, plan, now, width, block)
    used: set[Any] = set()
    built: list[tuple[tuple[int, ...], Totals]] = []
    trends: dict[tuple[datetime, datetime], Any] = {}
    parts: dict[str, list[NDArray[Any]]] = {}
    task_runs = np.zeros((len(periods), 3), dtype=np.int64)

    def put(name: str, values: NDArray[Any]) -> None:
        parts.setdefault(name, []).append(values)

    trend_window = list(zip(plan["trend_starts"], plan["trend_ends"], strict=True))
    tail_and_trend = [
        u
        for u in units
        if u.day >= current or any(u.start >= a and u.end <= b for a, b in trend_window)
    ]
    loaded = _load(conn, tail_and_trend, width)
    uids = np.arange(width, dtype=np.int64)
    for pid, period in enumerate(periods):
        members = [u for u in units if u.start >= period.start and u.end <= period.end]
        complete = [u for u in members if u.day < current]
        key, tokens, base = _base(conn, period, complete, width, built)
        built.append((tokens, base))
        used.add(key)
        CACHE.keep_totals(key, tokens, base)
        tail = [_cells(u, loaded) for u in members if u.day >= current]
        totals = base
        for cells in tail:
            totals = add_unit(totals, cells)
        tail_values = merged_values([c.dense for c in tail], width)
        percentiles = union_percentiles(
            base.values, base.count, tail_values, totals.count - base.count
        )
        task_runs[pid] = totals.task_runs
        for task in range(3):
            keep = np.flatnonzero(totals.attempted[:, task] > 0)
            put("pid", np.full(keep.size, pid, dtype=np.int64))
            put("uid", keep)
            put("task", np.full(keep.size, task, dtype=np.int64))
            for name in ("attempted", "completed", "scored", "latest_key"):
                put(name, getattr(totals, name)[keep, task])
            for name in ("total", "best", "latest"):
                put(name, getattr(totals, name)[keep, task])
        window = trend_window[pid]
        if window not in trends:
            trends[window] = _trend_points(units, loaded, *window)
        points, point_total, point_n = trends[window]
        put("point_pid", np.full(point_n.size, pid, dtype=np.int64))
        put("point_day", points[0] if point_n.size else point_n)
        put("point_uid", points[1] if point_n.size else point_n)
        put("point_total", point_total)
        put("point_attempted", point_n)
        put("dist_pid", np.full(width, pid, dtype=np.int64))
        put("dist_uid", uids)
        put("dist_n", totals.count)
        put("dist_failures", totals.failures)
        put("dist_p", percentiles)
        active = np.flatnonzero(totals.last_at >= 0)
        put("active_pid", np.full(active.size, pid, dtype=np.int64))
        put("active_uid", active)
        put("active_us", totals.last_at[active])
    for key in [k for k in CACHE.totals if k not in used]:
        del CACHE.totals[key]
    keep_from = current - KEPT_DAYS
    for token in [t for t, c in CACHE.days.items() if c.day < keep_from]:
        del CACHE.days[token]

    def cat(name: str) -> NDArray[Any]:
        return np.concatenate(parts[name]) if parts.get(name) else np.zeros(0)

    percentiles = np.concatenate(parts["dist_p"]) if parts.get("dist_p") else np.zeros((0, 5))
    return {
        **{
            f"task_{name}": int_array(cat(name).astype(np.int64), kind)
            for name, kind in (
                ("pid", "int4"),
                ("uid", "int4"),
                ("task", "int4"),
                ("attempted", "int8"),
                ("completed", "int8"),
                ("scored", "int8"),
            )
        },
        "task_latest_seq": int_array(cat("latest_key").astype(np.int64), "int8"),
        "task_total": float8_array(cat("total")),
        "task_best": float8_array(cat("best")),
        "task_latest": float8_array(cat("latest")),
        "point_pid": int_array(cat("point_pid").astype(np.int64)),
        "point_uid": int_array(cat("point_uid").astype(np.int64)),
        "point_day": int_array(cat("point_day").astype(np.int64)),
        "point_total": float8_array(cat("point_total")),
        "point_attempted": int_array(cat("point_attempted").astype(np.int64), "int8"),
        "dist_pid": int_array(cat("dist_pid").astype(np.int64)),
        "dist_uid": int_array(cat("dist_uid").astype(np.int64)),
        "dist_n": int_array(cat("dist_n").astype(np.int64), "int8"),
        "dist_failures": int_array(cat("dist_failures").astype(np.int64), "int8"),
        **{
            f"dist_p{round(q * 100)}": float8_array(percentiles[:, i], nulls=True)
            for i, q in enumerate(QUANTILES)
        },
        **activity_params(
            cat("active_pid").astype(np.int64),
            cat("active_uid").astype(np.int64),
            cat("active_us").astype(np.int64),
            task_runs,
        ),
    }


__all__ = ["day_number", "incremental_params"]
