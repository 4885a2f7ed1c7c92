"""Benchmark: the period statistics refresh, full and after one more hour of score rows.

Default: 256 miners over 30 days at a realistic volume (weather 2 rows a day, initial and
final; geomagnetic 24; soil moisture ~200 over 8 regions), each row a 256-entry FLOAT8[] with
some NaN. Measures, for the four current periods:

- `refresh_all_ms`: a cold `refresh_all` (no day cells stored, empty process cache: every
  score entry read, every day's cells computed and stored), median of `--repeat` runs;
- `full_ms`: `refresh_all(..., incremental=False)`, the full recompute without the cells;
- each period alone (incremental, warm);
- `incremental_ms`: one more hour of score rows, then the refresh the service runs, in the
  same process as the refreshes before it (so with warm caches: the current day's cells and
  the complete days' roll-ups in memory, as in the service), median over `--repeat` hours;
  `incremental_cold_process_ms` is such a refresh after the process cache is cleared, as a
  CLI `stats refresh` runs it (the complete days come from stats_day_cells);
- the retention cleanup.

At the end, what the refreshes cost miner_performance_stats: updates, HOT updates, dead
tuples, heap size.

`--scale` adds the load test of bench/scale.py (4,096 miners x 90 days, a full refresh, its
peak memory). Uses DATABASE_URL when set (the database is dropped and recreated as
`minertrace_bench_stats`), else an embedded pgserver in a temporary directory. `--json` prints
one JSON object per run; otherwise a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from benchdb import bench_engine, fresh_schema, table_stats
from minertrace.db.tables import node_table, score_table, stats_day_cells
from minertrace.stats import cleanup, current_periods, refresh_all, refresh_period_stats
from minertrace.stats.cache import CACHE

MINERS = 256
DAYS = 30
PER_DAY = {"weather": 2, "geomagnetic": 24, "soil": 200}
REPEATS = 3
NOW = datetime(2025, 7, 27, 12, 30, tzinfo=timezone.utc)


def score_rows(
    start: datetime, days: float, skill: np.ndarray, rng: np.random.Generator
) -> list[dict[str, Any]]:
    """The score rows of `days` days from `start` (a fraction of a day: its first hours)."""
    rows = []
    for day in range(int(np.ceil(days))):
        day_start = start + timedelta(days=day)
        for task, n in PER_DAY.items():
            for k in range(n):
                at = day_start + timedelta(seconds=(k + 0.5) * 86400 / n)
                if at >= start + timedelta(days=days):
                    continue
                scores = np.clip(skill + rng.normal(0, 0.1, skill.size), -0.2, 1.0)
                scores[rng.random(skill.size) < 0.15] = np.nan
                tag = f"{day_start:%Y%m%d}_{k}"
                if task == "weather":
                    name, task_id = "weather", f"{('initial', 'final')[k]}_weather_scores_{tag}"
                elif task == "geomagnetic":
                    name, task_id = "geomagnetic", f"geo_{tag}"
                else:
                    name, task_id = f"soil_moisture_region_{k % 8}", f"soil_{tag}"
                rows.append(
                    {
                        "task_name": name,
                        "task_id": task_id,
                        "score": scores.tolist(),
                        "created_at": at,
                        "status": "completed",
                    }
                )
    return rows


def insert(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as conn:
        for i in range(0, len(rows), 1000):
            conn.execute(score_table.insert(), rows[i : i + 1000])


def timed(fn: Callable[[int], object], repeats: int) -> list[float]:
    """Seconds of `fn(k)` for k = 0 .. repeats-1."""
    out = []
    for k in range(repeats):
        t0 = time.perf_counter()
        fn(k)
        out.append(time.perf_counter() - t0)
    return out


def run(engine: sa.Engine, miners: int, days: int, repeats: int) -> dict[str, Any]:
    fresh_schema(engine)
    rng = np.random.default_rng(0)
    skill = rng.uniform(0.1, 0.9, miners)
    rows = score_rows(NOW - timedelta(days=days), days, skill, rng)
    with engine.begin() as conn:
        conn.execute(
            node_table.insert(), [{"uid": u, "hotkey": f"hotkey-{u}"} for u in range(miners)]
        )
    insert(engine, rows)
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))

    def at(k: int) -> datetime:
        return NOW + timedelta(seconds=k)

    def timed_cold(k: int) -> float:
        with engine.begin() as conn:
            conn.execute(stats_day_cells.delete())
        CACHE.clear()
        t0 = time.perf_counter()
        refresh_all(engine, at(k))
        return time.perf_counter() - t0

    full_cold = [timed_cold(k) for k in range(repeats)]
    full = timed(lambda k: refresh_all(engine, at(k), incremental=False), repeats)
    per_period = {
        p.period_type: timed(lambda k, p=p: refresh_period_stats(engine, p, at(k)), repeats)
        for p in current_periods(NOW)
    }
    # One more hour of score rows, then the refresh the service would run (warm caches, as
    # in the service: the previous refresh ran in this process). Median of `repeats` hours.
    refresh_all(engine, at(repeats))
    hourly = []
    for k in range(repeats):
        hour = score_rows(NOW + timedelta(hours=k), 1 / 24, skill, rng)
        for row in hour:
            row["task_id"] += f"_h{k}"
        insert(engine, hour)
        t0 = time.perf_counter()
        refresh_all(engine, NOW + timedelta(hours=k + 1))
        hourly.append(time.perf_counter() - t0)
    # The same refresh from a fresh process (as `minertrace stats refresh` runs it): the
    # complete days' cells come from stats_day_cells, the current day from score_table.
    CACHE.clear()
    t0 = time.perf_counter()
    refresh_all(engine, NOW + timedelta(hours=repeats, seconds=1))
    incremental_cold_process = time.perf_counter() - t0
    retention = timed(lambda k: cleanup(engine, at(k) + timedelta(hours=1), 30), 1)

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1e3, 1)

    return {
        "miners": miners,
        "days": days,
        "score_rows": len(rows),
        "refresh_all_ms": ms(full_cold),
        "full_ms": ms(full),
        "incremental_ms": ms(hourly),
        "incremental_cold_process_ms": round(incremental_cold_process * 1e3, 1),
        "hour_rows": len(hour),
        **{f"refresh_{kind}_ms": ms(times) for kind, times in per_period.items()},
        "retention_ms": ms(retention),
        **table_stats(engine),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--miners", type=int, default=MINERS)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--repeat", type=int, default=REPEATS)
    parser.add_argument("--scale", action="store_true", help="also 4,096 miners x 90 days")
    parser.add_argument("--json", action="store_true", help="one JSON object per run")
    args = parser.parse_args(argv)
    results = []
    with bench_engine("minertrace_bench_stats") as engine:
        results.append(run(engine, args.miners, args.days, args.repeat))
        if args.json:
            print(json.dumps(results[-1]), flush=True)
        if args.scale:
            import scale

            fresh_schema(engine)
            big = scale.run(engine, 4096, 90, cycles=1)
            results.append({"miners": big.pop("uids"), **big})
            if args.json:
                print(json.dumps(results[-1]), flush=True)
    if args.json:
        return
    console = Console()
    for result in results:
        table = Table(
            title=f"period statistics: {result['miners']:,} miners, {result['days']} days"
        )
        table.add_column("measure")
        table.add_column("value", justify="right")
        for key, value in result.items():
            table.add_row(key, "" if value is None else f"{value:,}")
        console.print(table)


if __name__ == "__main__":
    main()
