"""Benchmark of `compute_cycle`: median time per cycle, printed as a table.

256 / 1,024 / 4,096 UIDs, each with 100 weather, 24 geomagnetic and 200 soil rows, with and
without detailed pathways, from score rows given as Python lists (what a DB driver returns)
and as float64 numpy arrays. Run: `.venv/bin/python bench/weights.py [--repeat N]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import replace
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


def medians_ms(inputs: CycleInputs, configs: list[WeightConfig], repeat: int) -> list[float]:
    """Median per config; runs are interleaved so that load from other processes hits all."""
    for config in configs:
        compute_cycle(inputs, config)
    times: list[list[float]] = [[] for _ in configs]
    for _ in range(repeat):
        for i, config in enumerate(configs):
            t0 = time.perf_counter()
            trace = compute_cycle(inputs, config)
            if config.enable_detailed_pathways:
                assert trace.miners is not None
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) * 1e3 for t in times]


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
    args = parser.parse_args()
    full = WeightConfig()
    lean = replace(full, enable_detailed_pathways=False)
    print(
        f"machine: {_cpu_model()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    print(f"rows per UID: {ROWS}; median of {args.repeat} runs")
    header = f"{'UIDs':>6} {'input':>7} {'trace ms':>9} {'no-trace ms':>12} {'trace cost':>10}"
    print(header)
    print("-" * len(header))
    for n_uids in (256, 1024, 4096):
        for as_lists in (False, True):
            inputs = synthetic_inputs(n_uids, as_lists)
            repeat = max(5, args.repeat // (n_uids // 256))
            with_trace, without = medians_ms(inputs, [full, lean], repeat)
            cost = (with_trace - without) / without * 100
            kind = "lists" if as_lists else "arrays"
            print(f"{n_uids:>6} {kind:>7} {with_trace:>9.2f} {without:>12.2f} {cost:>9.1f}%")


if __name__ == "__main__":
    main()
