"""Benchmark of `minertrace demo`: wall time of the command, and where the time goes.

Each of `--runs` rounds, in a fresh temporary data directory (no DATABASE_URL, so the
embedded PostgreSQL is created there):

1. `minertrace demo --seed S --days D --miners M` as a fresh process: the wall time of the
   first run in a new data directory (`demo_s`: initdb included, as on a first `make demo`);
2. the same command again in that directory (`demo_rerun_s`: the server's files exist, as on
   every later run);
3. an instrumented run of the same steps in one process (`--child`), in another fresh
   directory: imports, embedded server start (initdb included), schema reset (drop, create,
   migrate), the simulation with the seconds of each service step (`ServiceCounters.seconds`),
   the top-miners read, and the close (server stop).

Medians over the rounds are printed (a table, or one JSON object with `--json`: `demo_s`,
`demo_rerun_s`, `days`, `miners`, `seed`, `runs`, `phases`, `steps`, `same_table`,
`loadavg`). `same_table` says whether every run printed the same top-miners table; `table`
is its SHA-256 (compare it before and after a change). Run:
`.venv/bin/python bench/demo.py [--runs 3] [--json]`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_CLI = "from minertrace.cli import main; import sys; sys.argv[0] = 'minertrace'; main()"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["COLUMNS"] = "120"
    return env


def top_table(stdout: str) -> str:
    """The top-miners table of the demo's output (the lines from its top border to its
    bottom border), which holds no timing."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("┏"))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("└"))
    return "\n".join(lines[start : end + 1])


def cli_run(data_dir: Path, args: argparse.Namespace) -> tuple[float, str]:
    """Wall seconds of one `minertrace demo` process, and its top-miners table."""
    cmd = [sys.executable, "-c", _CLI, "demo", "--data-dir", str(data_dir)]
    cmd += ["--seed", str(args.seed), "--days", str(args.days), "--miners", str(args.miners)]
    start = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=_env())
    return time.perf_counter() - start, top_table(done.stdout)


def child_run(data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The instrumented run in a fresh process; its phases and steps, and its wall time."""
    cmd = [sys.executable, __file__, "--child", str(data_dir)]
    cmd += ["--seed", str(args.seed), "--days", str(args.days), "--miners", str(args.miners)]
    start = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=_env())
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    figures["phases"]["process_s"] = time.perf_counter() - start
    return figures


def child(data_dir: Path, args: argparse.Namespace) -> None:
    """The demo's steps in this process, timed; one JSON line on stdout."""
    t0 = time.perf_counter()
    import asyncio
    import logging

    from minertrace.cli._support import cli_settings
    from minertrace.validator.demo import (
        demo_lock,
        open_demo_database,
        reset_demo_schema,
        run_demo,
    )

    phases: dict[str, float] = {"import_s": time.perf_counter() - t0}
    settings = cli_settings(database_url=None, data_dir=data_dir, weight_rules="gaia")
    logging.getLogger("minertrace").setLevel(logging.ERROR)
    t = time.perf_counter()
    db = open_demo_database(settings)
    phases["server_start_s"] = time.perf_counter() - t
    with demo_lock(db):
        t = time.perf_counter()
        reset_demo_schema(db)
        phases["schema_s"] = time.perf_counter() - t
        t = time.perf_counter()
        result = asyncio.run(
            run_demo(db, settings, days=args.days, miners=args.miners, validators=4, seed=args.seed)
        )
        phases["simulate_s"] = time.perf_counter() - t
    t = time.perf_counter()
    db.close()
    phases["close_s"] = time.perf_counter() - t
    phases["top_read_s"] = phases["simulate_s"] - result.wall_seconds
    phases["simulate_s"] = result.wall_seconds
    # Older code without per-step seconds gives the simulation as one figure.
    steps = dict(getattr(result.counters, "seconds", {}))
    steps["loop_other"] = result.wall_seconds - sum(steps.values())
    print(json.dumps({"phases": phases, "steps": steps, "runs": dict(result.counters.runs)}))


def _median_dict(samples: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for s in samples for k in s})
    return {k: round(statistics.median(s.get(k, 0.0) for s in samples), 3) for k in keys}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """The rounds; medians of each figure."""
    first: list[float] = []
    rerun: list[float] = []
    tables: set[str] = set()
    phases: list[dict[str, float]] = []
    steps: list[dict[str, float]] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="minertrace-bench-demo-") as tmp:
            wall, table = cli_run(Path(tmp) / "cli", args)
            first.append(wall)
            tables.add(table)
            wall, table = cli_run(Path(tmp) / "cli", args)
            rerun.append(wall)
            tables.add(table)
            if not args.no_breakdown:
                figures = child_run(Path(tmp) / "child", args)
                phases.append(figures["phases"])
                steps.append(figures["steps"])
    return {
        "demo_s": round(statistics.median(first), 3),
        "demo_rerun_s": round(statistics.median(rerun), 3),
        "demo_s_all": [round(x, 3) for x in first],
        "demo_rerun_s_all": [round(x, 3) for x in rerun],
        "days": args.days,
        "miners": args.miners,
        "seed": args.seed,
        "runs": args.runs,
        "phases": _median_dict(phases) if phases else {},
        "steps": _median_dict(steps) if steps else {},
        "same_table": len(tables) == 1,
        "table": hashlib.sha256(sorted(tables)[0].encode()).hexdigest()[:16],
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


def print_table(figures: dict[str, Any]) -> None:
    """The figures for a terminal."""
    print(
        f"minertrace demo, {figures['days']:g} days, {figures['miners']} miners, seed "
        f"{figures['seed']}: median of {figures['runs']} (load average "
        f"{figures['loadavg'][0]}, {figures['cpus']} CPUs)"
    )
    print(f"  first run in a new data directory  {figures['demo_s']:7.2f} s")
    print(f"  run again in the same directory    {figures['demo_rerun_s']:7.2f} s")
    for title, key in (("phases (instrumented run)", "phases"), ("simulation steps", "steps")):
        if figures[key]:
            print(title)
            for name, value in sorted(figures[key].items(), key=lambda kv: -kv[1]):
                print(f"  {name:<32}{value:8.3f} s")
    print(f"top-miners table {figures['table']} (same in every run: {figures['same_table']})")


def main() -> None:
    """Parse the flags; run the rounds (or, with --child, one instrumented demo)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds (fresh directory each)")
    parser.add_argument("--days", type=float, default=2.0)
    parser.add_argument("--miners", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the instrumented run")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args)
        return
    figures = measure(args)
    if args.json:
        print(json.dumps(figures))
    else:
        print_table(figures)


if __name__ == "__main__":
    main()
