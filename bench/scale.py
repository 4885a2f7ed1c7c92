"""Load test at scale: 90 days of score rows for 4,096 UIDs, then cycles and refreshes over them.

The score table grows by (24 geomagnetic + 2 weather + 9 soil) rows a day, each a FLOAT8[]
of one entry per UID (NaN where the miner did not take part). This script generates `--days`
of them for `--uids` UIDs (default 90 x 4,096: 3,150 rows, 12.9 M entries), then measures:

1. the first `refresh_all` of the four periods over the whole history (no day cells yet: every
   day is computed from score_table and stored), with the peak resident memory of the server
   backend that ran it and of this process;
2. `--cycles` simulated hours: each adds the hour's score rows, runs a weight cycle through the
   production path (the cycle's reads, `compute_cycle`, `build_record`, the trace queue's
   write) and a refresh (incremental, in this process, as the service runs it); the medians
   of the read, compute, trace-and-persist and refresh times;
3. at the end, what the writes cost `miner_performance_stats`: updates (and HOT updates), dead
   tuples and heap size.

Uses DATABASE_URL when set (database `minertrace_bench_scale` is dropped and recreated), else
an embedded pgserver in a temporary directory. `--json` prints one JSON object; otherwise a
table. Run: `.venv/bin/python bench/scale.py [--uids N] [--days D] [--cycles C] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from benchdb import bench_engine, fresh_schema, table_stats
from minertrace.chain.types import SubnetHyperparameters
from minertrace.db.tables import node_table
from minertrace.stats import refresh_all
from minertrace.store import read_cycle_inputs
from minertrace.store.arrays import float8_array
from minertrace.validator.cycle import cycle_inputs
from minertrace.validator.persist import build_record
from minertrace.validator.submit import SubmissionState
from minertrace.validator.trace_queue import PendingTrace
from minertrace.vocabulary import SubmissionStatus
from minertrace.weights import compute_cycle

NOW = datetime(2025, 7, 27, 0, 0, tzinfo=timezone.utc)
GEOMAGNETIC_PER_DAY = 24
SOIL_REGIONS = 9
# A soil region's run every 24 h; weather: the initial scores at 06:00, the final at 18:00.
WEATHER_HOURS = {6: "initial", 18: "final"}


def hour_rows(hour: datetime, skill: np.ndarray, rng: np.random.Generator) -> list[dict[str, Any]]:
    """The score rows created in the hour starting at `hour` (UTC)."""
    n = skill.size
    out: list[dict[str, Any]] = []

    def scores(take: float) -> Any:
        values = np.clip(skill + rng.normal(0.0, 0.1, n), -0.2, 1.0)
        values[rng.random(n) > take] = np.nan
        return float8_array(values)

    tag = hour.strftime("%Y%m%d%H")
    out.append(
        {
            "task_name": "geomagnetic",
            "task_id": f"geo_{tag}",
            "score": scores(0.8),
            "created_at": hour + timedelta(minutes=5),
        }
    )
    kind = WEATHER_HOURS.get(hour.hour)
    if kind is not None:
        out.append(
            {
                "task_name": "weather",
                "task_id": f"{kind}_weather_scores_{tag}",
                "score": scores(0.7),
                "created_at": hour + timedelta(minutes=20),
            }
        )
    if hour.hour < SOIL_REGIONS:
        out.append(
            {
                "task_name": f"soil_moisture_region_{hour.hour}",
                "task_id": f"soil_{tag}",
                "score": scores(0.6),
                "created_at": hour + timedelta(minutes=40),
            }
        )
    return out


_INSERT = sa.text(
    "INSERT INTO score_table (task_name, task_id, score, created_at, status) "
    "VALUES (:task_name, :task_id, CAST(:score AS double precision[]), :created_at, 'completed')"
)


def insert_hours(engine: sa.Engine, start: datetime, hours: int, skill: np.ndarray) -> int:
    """Insert `hours` hours of score rows from `start`; returns the row count."""
    rng = np.random.default_rng(int(start.timestamp()))
    rows: list[dict[str, Any]] = []
    count = 0
    with engine.begin() as conn:
        for h in range(hours):
            rows.extend(hour_rows(start + timedelta(hours=h), skill, rng))
            if len(rows) >= 200:
                conn.execute(_INSERT, rows)
                count += len(rows)
                rows = []
        if rows:
            conn.execute(_INSERT, rows)
            count += len(rows)
    return count


def backend_peak_mb(conn: sa.Connection) -> float | None:
    """Peak resident memory (VmHWM) of this connection's server process, when it is local."""
    pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def run(engine: sa.Engine, uids: int, days: int, cycles: int) -> dict[str, Any]:
    fresh_schema(engine)
    rng = np.random.default_rng(0)
    skill = rng.uniform(0.1, 0.9, uids)
    start = NOW - timedelta(days=days)
    with engine.begin() as conn:
        conn.execute(
            node_table.insert(),
            [
                {"uid": u, "hotkey": f"hotkey-{u}", "coldkey": f"coldkey-{u // 4}"}
                for u in range(uids)
            ],
        )
    t0 = time.perf_counter()
    rows = insert_hours(engine, start, days * 24, skill)
    generate_s = time.perf_counter() - t0
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))

    # A fresh connection, so its peak memory is the refresh's own.
    with engine.connect() as conn:
        t0 = time.perf_counter()
        with conn.begin():
            refresh_all(conn, NOW)
        refresh_s = time.perf_counter() - t0
        server_peak = backend_peak_mb(conn)

    hp = SubnetHyperparameters(max_weight_limit=0.05, min_allowed_weights=1)
    reads_s, compute_s, persist_s, incremental_s = [], [], [], []
    for c in range(cycles):
        hour = NOW + timedelta(hours=c)
        insert_hours(engine, hour, 1, skill)
        now = hour + timedelta(minutes=50)
        t0 = time.perf_counter()
        reads = read_cycle_inputs(engine, now, 1_000 + c)
        inputs = cycle_inputs(reads, now, hp)
        t1 = time.perf_counter()
        trace = compute_cycle(inputs)
        t2 = time.perf_counter()
        record = build_record(
            trace,
            inputs.node_list,
            validator_hotkey="bench",
            netuid=1,
            computed_at=now,
            computed_block=1_000 + c,
        )
        # done: the rows a cycle writes after its submission are written here too.
        PendingTrace(record, SubmissionState(status=SubmissionStatus.COMPUTED), done=True).write(
            engine
        )
        t3 = time.perf_counter()
        refresh_all(engine, now)
        t4 = time.perf_counter()
        reads_s.append(t1 - t0)
        compute_s.append(t2 - t1)
        persist_s.append(t3 - t2)
        incremental_s.append(t4 - t3)

    def ms(values: list[float]) -> float | None:
        return round(statistics.median(values) * 1e3, 1) if values else None

    return {
        "uids": uids,
        "days": days,
        "score_rows": rows,
        "entries": rows * uids,
        "generate_s": round(generate_s, 1),
        "refresh_all_ms": round(refresh_s * 1e3, 1),
        "server_peak_rss_mb": None if server_peak is None else round(server_peak, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cycles": cycles,
        "cycle_reads_ms": ms(reads_s),
        "compute_ms": ms(compute_s),
        "trace_persist_ms": ms(persist_s),
        "hourly_refresh_ms": ms(incremental_s),
        **table_stats(engine),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uids", type=int, default=4096)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--cycles", type=int, default=3, help="simulated hours after the load")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with bench_engine("minertrace_bench_scale") as engine:
        result = run(engine, args.uids, args.days, args.cycles)
    if args.json:
        print(json.dumps(result))
        return
    table = Table(title=f"scale: {args.uids:,} UIDs x {args.days} days")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, "" if value is None else f"{value:,}")
    Console().print(table)


if __name__ == "__main__":
    main()
