"""Benchmark of `compute_cycle`: median time per cycle, printed as a table.

256 / 1,024 / 4,096 UIDs, each with 100 weather, 24 geomagnetic and 200 soil rows, with and
without detailed pathways, from score rows given as Python lists (what a DB driver returns)
and as float64 numpy arrays. Per-miner records are built on first access of `trace.miners`;
their cost is timed separately and shown in the last two columns.
Run: `.venv/bin/python bench/weights.py [--repeat N] [--cpu]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

import numpy as np

from minertrace.weights import CycleInputs, ScoreRow, WeightConfig, compute_cycle

ROWS = {"weather": 100, "geomagnetic": 24, "soil": 200}


def synthetic_inputs(n_uids: int, as_lists: bool, seed: int = 7) -> CycleInputs:
    """A realistic cycle: sparse participation, NaN gaps, coldkey groups, a few validators."""
    rng = np.random.default_rng(seed)
    now = datetime(2025, 7, 27, 12, 0, tzinfo=timezone.utc)
    takes = {
        task: rng.random(n_uids) < share
        for task, share in (("weather", 0.7), ("geomagnetic", 0.5), ("soil", 0.6))
    }

    def rows(task: str, count: int, span: timedelta) -> list[ScoreRow]:
        out = []
        for j in range(count):
            score = rng.random(n_uids)
            score[~takes[task] | (rng.random(n_uids) < 0.2)] = np.nan
            values: object = (
                [None if np.isnan(x) else x for x in score.tolist()] if as_lists else score
            )
            name = task if task != "soil" else f"soil_moisture_region_{j % 10}"
            task_id = f"final_weather_scores_{j}" if task == "weather" else f"{task}_{j}"
            out.append(ScoreRow(name, task_id, values, now - span * (j / count)))
        return out

    nodes = [(u, f"hk{u}", f"ck{u // 4 if u % 9 == 0 else u}") for u in range(n_uids)]
    return CycleInputs(
        weather_results=rows("weather", ROWS["weather"], timedelta(days=15)),
        geomagnetic_results=rows("geomagnetic", ROWS["geomagnetic"], timedelta(days=1)),
        soil_results=rows("soil", ROWS["soil"], timedelta(days=1)),
        now=now,
        nodes=nodes,
        active_validator_uids=list(range(0, n_uids, max(1, n_uids // 5))),
    )


def medians_ms(
    inputs: CycleInputs,
    full: WeightConfig,
    lean: WeightConfig,
    repeat: int,
    clock: Callable[[], float] = time.perf_counter,
) -> Timing:
    """Medians in ms; the measurements are interleaved so that load from other processes hits
    them alike. Records are materialised right after their cycle."""
    for config in (full, lean):
        compute_cycle(inputs, config)
    cycle: list[float] = []
    records: list[float] = []
    to_json: list[float] = []
    lean_t: list[float] = []
    for i in range(repeat):
        # Alternate which config runs first, so that neither always inherits the other's
        # garbage or cold caches.
        if i % 2:
            t0 = clock()
            compute_cycle(inputs, lean)
            lean_t.append(clock() - t0)
        t0 = clock()
        trace = compute_cycle(inputs, full)
        t1 = clock()
        miners = trace.miners
        t2 = clock()
        trace.to_json_dict()
        t3 = clock()
        assert miners
        cycle.append(t1 - t0)
        records.append(t2 - t1)
        to_json.append(t3 - t2)
        del trace, miners  # freed here, outside the timed calls
        if not i % 2:
            t0 = clock()
            compute_cycle(inputs, lean)
            lean_t.append(clock() - t0)
    return Timing(
        trace=statistics.median(cycle) * 1e3,
        lean=statistics.median(lean_t) * 1e3,
        records=statistics.median(records) * 1e3,
        to_json=statistics.median(to_json) * 1e3,
    )


@dataclass(frozen=True)
class Timing:
    """Median milliseconds of one benchmark row."""

    trace: float
    lean: float
    records: float
    to_json: float
    """`to_json_dict()`; it does not use `trace.miners`, so this is its cost on a fresh trace."""


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time with the process's CPU clock instead of the wall clock: on a shared, busy "
        "machine it leaves out the time other processes ran",
    )
    args = parser.parse_args()
    clock = time.process_time if args.cpu else time.perf_counter
    full = WeightConfig()
    lean = replace(full, enable_detailed_pathways=False)
    print(
        f"machine: {_cpu_model()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    print(
        f"rows per UID: {ROWS}; median of {args.repeat} runs; "
        f"{'CPU' if args.cpu else 'wall'}-clock times"
    )
    if hasattr(os, "getloadavg"):
        print(f"load average at the start: {os.getloadavg()[0]:.2f}")
    header = (
        f"{'UIDs':>6} {'input':>7} {'trace ms':>9} {'no-trace ms':>12} {'trace cost':>10} "
        f"{'records ms':>11} {'+ records':>10} {'to_json ms':>11} {'json/trace':>10} "
        f"{'lists/arrays':>12}"
    )
    print(header)
    print("-" * len(header))
    for n_uids in (256, 1024, 4096):
        array_trace = 0.0
        for as_lists in (False, True):
            inputs = synthetic_inputs(n_uids, as_lists)
            repeat = max(5, args.repeat // (n_uids // 256))
            t = medians_ms(inputs, full, lean, repeat, clock)
            cost = (t.trace - t.lean) / t.lean * 100
            with_records = (t.trace + t.records - t.lean) / t.lean * 100
            kind = "lists" if as_lists else "arrays"
            if not as_lists:
                array_trace = t.trace
            ratio = f"{t.trace / array_trace:.2f}x" if as_lists else ""
            print(
                f"{n_uids:>6} {kind:>7} {t.trace:>9.2f} {t.lean:>12.2f} {cost:>9.1f}% "
                f"{t.records:>11.2f} {with_records:>9.1f}% {t.to_json:>11.2f} "
                f"{t.to_json / t.trace:>10.2f} {ratio:>12}"
            )
    print(
        "trace cost: compute_cycle with detailed pathways vs without; records ms: materialising "
        "trace.miners\n(built on first access); + records: the trace cost including them; "
        "to_json ms: to_json_dict() (it builds its per-miner records itself, from the vectors); "
        "json/trace: to_json ms over trace ms;\n"
        "lists/arrays: trace ms of the Python-list path over the numpy path at the same size."
    )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load is not None:
        print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
