"""Benchmark: period statistics refresh for 256 miners over 30 days of score rows.

Realistic volume: weather 2 rows/day (initial + final), geomagnetic 24/day, soil moisture
~200/day (several regions), each a 256-entry FLOAT8[] with some NaN. Target: refresh <= 1 s.

Uses DATABASE_URL when set (the database is dropped and recreated as `minertrace_bench_stats`),
else an embedded pgserver in a temporary directory. Prints a table.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from benchdb import bench_engine
from minertrace.db.tables import metadata, node_table, score_table
from minertrace.stats import cleanup, current_periods, refresh_all, refresh_period_stats

MINERS = 256
DAYS = 30
PER_DAY = {"weather": 2, "geomagnetic": 24, "soil": 200}
REPEATS = 3
TARGET_S = 1.0


def populate(engine: sa.Engine, now: datetime) -> int:
    rng = np.random.default_rng(0)
    skill = rng.uniform(0.1, 0.9, MINERS)
    start = now - timedelta(days=DAYS)
    rows = []
    for day in range(DAYS):
        day_start = start + timedelta(days=day)
        for task, n in PER_DAY.items():
            for k in range(n):
                at = day_start + timedelta(seconds=(k + 0.5) * 86400 / n)
                scores = np.clip(skill + rng.normal(0, 0.1, MINERS), -0.2, 1.0)
                scores[rng.random(MINERS) < 0.15] = np.nan
                if task == "weather":
                    name, task_id = "weather", f"{('initial', 'final')[k]}_weather_scores_{day}"
                elif task == "geomagnetic":
                    name, task_id = "geomagnetic", f"geo_{day}_{k}"
                else:
                    name, task_id = f"soil_moisture_region_{k % 8}", f"soil_{day}_{k}"
                rows.append(
                    {
                        "task_name": name,
                        "task_id": task_id,
                        "score": scores.tolist(),
                        "created_at": at,
                        "status": "completed",
                    }
                )
    with engine.begin() as conn:
        conn.execute(
            node_table.insert(), [{"uid": u, "hotkey": f"hotkey-{u}"} for u in range(MINERS)]
        )
        for i in range(0, len(rows), 1000):
            conn.execute(score_table.insert(), rows[i : i + 1000])
        conn.execute(sa.text("ANALYZE"))
    return len(rows)


def timed(fn: object, repeats: int = REPEATS) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    console = Console()
    with bench_engine("minertrace_bench_stats") as engine:
        metadata.create_all(engine)
        n_rows = populate(engine, now)
        table = Table(
            title=f"stats refresh: {MINERS} miners, {DAYS} days, {n_rows} score rows "
            f"({n_rows * MINERS:,} entries)"
        )
        for col in ("operation", "median s", "min s", "target s", "ok"):
            table.add_column(col, justify="right" if col != "operation" else "left")
        cases: list[tuple[str, object, float | None]] = []
        for period in current_periods(now):
            cases.append(
                (
                    f"refresh {period.period_type}",
                    lambda p=period: refresh_period_stats(engine, p, now),
                    None,
                )
            )
        cases.append(("refresh_all (4 periods)", lambda: refresh_all(engine, now), TARGET_S))
        cases.append(("retention cleanup (30 d)", lambda: cleanup(engine, now, 30), None))
        for label, fn, target in cases:
            times = timed(fn)
            ok = "" if target is None else ("yes" if statistics.median(times) <= target else "NO")
            table.add_row(
                label,
                f"{statistics.median(times):.3f}",
                f"{min(times):.3f}",
                "" if target is None else f"{target:.1f}",
                ok,
            )
        console.print(table)


if __name__ == "__main__":
    main()
