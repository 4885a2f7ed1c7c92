"""Benchmark: trace-and-persist of one cycle at 256 and 4,096 UIDs, and its floor.

Measures what `run_cycle` stores in `trace_overhead_s`: from the end of `compute_cycle` to the
end of the persist transaction (build the statement parameters, INSERT the weight_submissions
row, upsert the traced miners' daily rows). Each size runs `--repeat` cycles, each with its own
scores (so every row changes), against the same period rows: the steady state, where every
cycle after the first updates existing rows.

The floor, in the same run: the same statements with the same parameters as plain INSERTs into
unindexed, unlogged copies of the two tables (emptied before each cycle), so the gap between
the two is what the indexes, the WAL and the upsert cost. At the end of each size, what the
writes cost miner_performance_stats: updates, HOT updates, dead tuples, heap size.

Uses DATABASE_URL when set (database `minertrace_bench_cycle` is dropped and recreated), else an
embedded pgserver in a temporary directory. `--json` prints one JSON object per size; otherwise
a table. `--with-stats` then runs bench/stats.py.
Run: `.venv/bin/python bench/cycle.py [--uids 256 4096] [--repeat N] [--json] [--with-stats]`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from benchdb import bench_engine, fresh_schema, table_stats
from minertrace.store._periods import period_params
from minertrace.store.pipeline import UPSERT_MINERS_SQL
from minertrace.store.records import TraceRecord
from minertrace.store.submissions import INSERT_SUBMISSION_SQL
from minertrace.validator import PendingTrace, SubmissionState, build_record
from minertrace.vocabulary import SubmissionStatus
from minertrace.weights import CycleInputs, CycleTrace, ScoreRow, WeightConfig, compute_cycle

SIZES = (256, 4096)
ROWS = {"weather": 100, "geomagnetic": 24, "soil": 200}
NOW = datetime(2025, 7, 27, 12, 0, tzinfo=timezone.utc)

_FLOOR_TABLES = sa.text(
    """
    CREATE UNLOGGED TABLE floor_ws
        (LIKE weight_submissions INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING STORAGE);
    CREATE UNLOGGED TABLE floor_mps
        (LIKE miner_performance_stats INCLUDING DEFAULTS INCLUDING STORAGE);
    """
)
_FLOOR_INSERT_WS = sa.text(
    INSERT_SUBMISSION_SQL.replace("INSERT INTO weight_submissions", "INSERT INTO floor_ws")
)
_FLOOR_INSERT_MPS = sa.text(
    UPSERT_MINERS_SQL.split("ON CONFLICT")[0].replace(
        "INSERT INTO miner_performance_stats", "INSERT INTO floor_mps"
    )
)


def synthetic_trace(n_uids: int, detailed: bool = True, seed: int = 7) -> CycleTrace:
    """A realistic cycle: sparse participation with NaN gaps, a few validators."""
    rng = np.random.default_rng(seed)
    takes = {t: rng.random(n_uids) < s for t, s in (("weather", 0.7), ("geo", 0.5), ("soil", 0.6))}

    def rows(task: str, name: str, count: int, span: timedelta) -> list[ScoreRow]:
        out = []
        for j in range(count):
            score = rng.random(n_uids)
            score[~takes[task] | (rng.random(n_uids) < 0.2)] = np.nan
            task_id = f"final_weather_scores_{j}" if task == "weather" else f"{task}_{j}"
            out.append(ScoreRow(name, task_id, score, NOW - span * (j + 1) / count))
        return out

    inputs = CycleInputs(
        weather_results=rows("weather", "weather", ROWS["weather"], timedelta(days=14)),
        geomagnetic_results=rows("geo", "geomagnetic", ROWS["geomagnetic"], timedelta(hours=23)),
        soil_results=rows("soil", "soil_moisture_region_1", ROWS["soil"], timedelta(hours=23)),
        now=NOW,
        nodes=[(u, f"hk{u}", f"ck{u // 3}") for u in range(n_uids)],
        active_validator_uids=list(range(0, n_uids, 64)),
    )
    return compute_cycle(inputs, WeightConfig(enable_detailed_pathways=detailed))


def floor_insert(engine: sa.Engine, record: TraceRecord) -> float:
    """Seconds of the plain INSERTs of the record's rows into the empty floor tables."""
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE floor_ws, floor_mps"))
    outcome = SubmissionState(status=SubmissionStatus.COMPUTED).outcome()
    params: dict[str, Any] = {
        **(record.miners or {}),
        **period_params(record.periods),
        "detailed": record.detailed,
        "validator_hotkey": record.validator_hotkey,
        "wsb": None,
        "now": record.computed_at,
    }
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(_FLOOR_INSERT_WS, {**record.submission, **outcome.params()})
        conn.execute(_FLOOR_INSERT_MPS, params)
    return time.perf_counter() - t0


def run(engine: sa.Engine, n_uids: int, repeat: int) -> dict[str, Any]:
    """`repeat` steady-state cycles at `n_uids` UIDs (after one that inserts the rows)."""
    fresh_schema(engine)
    with engine.begin() as conn:
        conn.execute(_FLOOR_TABLES)
    nodes = CycleInputs(
        [], [], [], NOW, nodes=[(u, f"hk{u}", f"ck{u // 3}") for u in range(n_uids)]
    )
    traces = [synthetic_trace(n_uids, seed=7 + i) for i in range(repeat + 1)]
    persist, build, floor = [], [], []
    for i, trace in enumerate(traces):
        t0 = time.perf_counter()
        record = build_record(
            trace,
            nodes.node_list,
            validator_hotkey="bench",
            netuid=1,
            computed_at=NOW + timedelta(minutes=i),
            computed_block=i,
        )
        t1 = time.perf_counter()
        PendingTrace(record, SubmissionState(status=SubmissionStatus.COMPUTED)).write(engine)
        t2 = time.perf_counter()
        if i:  # the first cycle inserts the period rows; the steady state updates them
            persist.append(t2 - t0)
            build.append(t1 - t0)
            floor.append(floor_insert(engine, record))

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1e3, 1)

    return {
        "uids": n_uids,
        "cycles": repeat,
        "trace_persist_ms": ms(persist),
        "trace_persist_p90_ms": round(float(np.percentile(persist, 90)) * 1e3, 1),
        "build_ms": ms(build),
        "plain_insert_ms": ms(floor),
        **table_stats(engine),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uids", type=int, nargs="+", default=list(SIZES), help="subnet sizes")
    parser.add_argument("--repeat", type=int, default=15, help="steady-state cycles per size")
    parser.add_argument("--json", action="store_true", help="one JSON object per size")
    parser.add_argument("--with-stats", action="store_true", help="also run bench/stats.py")
    args = parser.parse_args()
    results = []
    with bench_engine("minertrace_bench_cycle") as engine:
        for n in args.uids:
            result = run(engine, n, args.repeat)
            results.append(result)
            if args.json:
                print(json.dumps(result), flush=True)
    if not args.json:
        table = Table(title=f"trace-and-persist per cycle ({args.repeat} cycles, medians)")
        columns = {
            "uids": "UIDs",
            "trace_persist_ms": "ms",
            "trace_persist_p90_ms": "p90 ms",
            "build_ms": "build ms",
            "plain_insert_ms": "floor ms",
            "updates": "updates",
            "hot_updates": "HOT",
            "dead_tuples": "dead",
            "heap_bytes": "heap bytes",
        }
        for label in columns.values():
            table.add_column(label, justify="right")
        for r in results:
            table.add_row(*(f"{r[c]:,}" for c in columns))
        Console().print(table)
    if args.with_stats:
        import stats as stats_bench

        stats_bench.main([] if not args.json else ["--json"])


if __name__ == "__main__":
    main()
