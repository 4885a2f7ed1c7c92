"""Benchmark: trace-and-persist overhead of one cycle, for 256 and 4,096 UIDs.

Measures what `run_cycle` stores in `trace_overhead_s`: from the end of `compute_cycle` to the
end of the persist transaction (build the statement parameters, INSERT the weight_submissions
row, upsert the traced miners' four current period rows), with the parameter-building share
shown separately. Each configuration runs `--repeat` cycles against the same period rows (the
steady state: every cycle after the first updates existing rows). Target: <= 50 ms for 256 UIDs
(the plan's warning threshold is 100 ms).

Uses DATABASE_URL when set (database `minertrace_bench_cycle` is dropped and recreated), else an
embedded pgserver in a temporary directory. `--with-stats` then runs bench/stats.py's
period-statistics refresh benchmark (its own database). Prints tables.
Run: `.venv/bin/python bench/cycle.py [--repeat N] [--with-stats]`.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import datetime, timedelta, timezone

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from benchdb import bench_engine
from minertrace.db.tables import metadata
from minertrace.validator import PendingTrace, SubmissionState, build_record
from minertrace.vocabulary import SubmissionStatus
from minertrace.weights import CycleInputs, CycleTrace, ScoreRow, WeightConfig, compute_cycle

SIZES = (256, 4096)
ROWS = {"weather": 100, "geomagnetic": 24, "soil": 200}
TARGET_256_S = 0.050
NOW = datetime(2025, 7, 27, 12, 0, tzinfo=timezone.utc)


def synthetic_trace(n_uids: int, detailed: bool, seed: int = 7) -> CycleTrace:
    """A realistic cycle: sparse participation with NaN gaps, a few validators."""
    rng = np.random.default_rng(seed)
    takes = {t: rng.random(n_uids) < s for t, s in (("weather", 0.7), ("geo", 0.5), ("soil", 0.6))}

    def rows(task: str, name: str, count: int, span: timedelta) -> list[ScoreRow]:
        out = []
        for j in range(count):
            score = rng.random(n_uids)
            score[~takes[task] | (rng.random(n_uids) < 0.2)] = np.nan
            task_id = f"final_weather_scores_{j}" if task == "weather" else f"{task}_{j}"
            out.append(ScoreRow(name, task_id, score.tolist(), NOW - span * (j + 1) / count))
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


def run(engine: sa.Engine, n_uids: int, detailed: bool, realtime: bool, repeat: int) -> list[float]:
    """Per cycle: [overhead_s, build_s] pairs flattened as two lists."""
    trace = synthetic_trace(n_uids, detailed)
    nodes = CycleInputs([], [], [], NOW, nodes=[(u, f"hk{u}", f"ck{u}") for u in range(n_uids)])
    overheads, builds = [], []
    for i in range(repeat + 1):
        t0 = time.perf_counter()
        record = build_record(
            trace,
            nodes.node_list,
            validator_hotkey="bench",
            netuid=1,
            computed_at=NOW + timedelta(minutes=i),
            computed_block=i,
            detailed=detailed,
            realtime=realtime,
        )
        t1 = time.perf_counter()
        PendingTrace(record, SubmissionState(status=SubmissionStatus.COMPUTED)).write(engine)
        t2 = time.perf_counter()
        if i:  # the first cycle inserts the period rows; the steady state updates them
            overheads.append(t2 - t0)
            builds.append(t1 - t0)
    return overheads + builds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="cycles per configuration")
    parser.add_argument("--with-stats", action="store_true", help="also run bench/stats.py")
    args = parser.parse_args()
    console = Console()
    cpu = platform.processor() or platform.machine()
    with bench_engine("minertrace_bench_cycle") as engine:
        metadata.create_all(engine)
        table = Table(title=f"trace-and-persist overhead per cycle ({args.repeat} cycles; {cpu})")
        for col in ("UIDs", "details", "realtime", "median ms", "p90 ms", "build ms", "target"):
            table.add_column(col, justify="right")
        for n in SIZES:
            for detailed, realtime in ((True, True), (False, True), (True, False)):
                with engine.begin() as conn:
                    conn.execute(sa.text("TRUNCATE weight_submissions, miner_performance_stats"))
                both = run(engine, n, detailed, realtime, args.repeat)
                over, build = both[: args.repeat], both[args.repeat :]
                med = statistics.median(over)
                p90 = float(np.percentile(over, 90))
                target = ""
                if n == 256 and detailed and realtime:
                    target = f"<= {TARGET_256_S * 1e3:.0f} ms: " + (
                        "yes" if med <= TARGET_256_S else "NO"
                    )
                table.add_row(
                    f"{n:,}",
                    "on" if detailed else "off",
                    "on" if realtime else "off",
                    f"{med * 1e3:.1f}",
                    f"{p90 * 1e3:.1f}",
                    f"{statistics.median(build) * 1e3:.1f}",
                    target,
                )
        console.print(table)
    if args.with_stats:
        import stats as stats_bench

        stats_bench.main()


if __name__ == "__main__":
    main()
