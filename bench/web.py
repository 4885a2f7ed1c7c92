"""Web latency: p95 of /api/v1/miners/{uid} and of the miner page, next to trivial routes.

256 UIDs with 30 days of hourly cycles (bench/web_data.py), served by uvicorn in its own
process on a local port over a read-only engine, requested with one keep-alive HTTP client.
Goals: miners/{uid} p95 <= 20 ms, miner page p95 <= 100 ms. Prints a table, or JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from benchdb import bench_engine
from web_data import populate

GOALS_MS = {"api miners/{uid}": 20.0, "miner page": 100.0}

# The server runs in its own process, as `minertrace serve` does: in the client's process the
# two would take turns on one interpreter lock and every figure would include the client.
SERVER = """
import os, uvicorn
from minertrace.validator.replay import replay_request
from minertrace.web import create_app, read_only_engine
app = create_app(read_only_engine(os.environ["BENCH_DB_URL"]), replay=replay_request)
uvicorn.run(app, host="127.0.0.1", port=int(os.environ["BENCH_PORT"]), log_level="warning")
"""


def _wait_for(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(base + "/favicon.ico", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the web server did not start")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(base: str, paths: list[str], repeat: int) -> dict[str, float]:
    """p50 / p95 / max latency (ms) of GETs cycling through `paths` (after a warm-up)."""
    times = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for p in paths[:10]:
            client.get(p).raise_for_status()
        for i in range(repeat):
            path = paths[i % len(paths)]
            t0 = time.perf_counter()
            r = client.get(path)
            times.append(time.perf_counter() - t0)
            r.raise_for_status()
    ms = np.array(times) * 1e3
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "max_ms": float(ms.max()),
        "requests": repeat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300, help="requests per route")
    parser.add_argument("--uids", type=int, default=256)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    with bench_engine("minertrace_bench_web") as engine:
        t0 = time.perf_counter()
        pop = populate(engine, n_uids=args.uids, days=args.days)
        fill_s = time.perf_counter() - t0
        port = _free_port()
        env = {
            **os.environ,
            "BENCH_DB_URL": engine.url.render_as_string(hide_password=False),
            "BENCH_PORT": str(port),
        }
        server = subprocess.Popen([sys.executable, "-c", SERVER], env=env)
        base = f"http://127.0.0.1:{port}"
        _wait_for(base, server)
        miners = list(range(4, args.uids))
        rng = np.random.default_rng(1)
        pick = rng.choice(miners, size=min(100, len(miners)), replace=False).tolist()
        routes = {
            "trivial (favicon, no database)": ["/favicon.ico"],
            "trivial (api health, one query)": ["/api/v1/health"],
            "api miners/{uid}": [f"/api/v1/miners/{u}" for u in pick],
            "miner page": [f"/miners/{u}" for u in pick],
        }
        try:
            results = {name: measure(base, paths, args.repeat) for name, paths in routes.items()}
        finally:
            server.terminate()
            server.wait(20)
    report = {
        "uids": pop.n_uids,
        "days": pop.days,
        "cycles": pop.cycles,
        "period_rows": pop.period_rows,
        "populate_s": fill_s,
        "cpu": platform.processor() or platform.machine(),
        "routes": results,
        "goals_ms": GOALS_MS,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    table = Table(
        title=f"web latency: {pop.n_uids} UIDs, {pop.cycles} cycles ({pop.days} days hourly), "
        f"{args.repeat} requests per route; data written in {fill_s:.1f} s"
    )
    for col in ("route", "p50 ms", "p95 ms", "max ms", "goal (p95)"):
        table.add_column(col, justify="left" if col == "route" else "right")
    for name, r in results.items():
        goal = GOALS_MS.get(name)
        verdict = (
            "" if goal is None else f"<= {goal:.0f}: " + ("yes" if r["p95_ms"] <= goal else "NO")
        )
        table.add_row(
            name, f"{r['p50_ms']:.2f}", f"{r['p95_ms']:.2f}", f"{r['max_ms']:.1f}", verdict
        )
    Console().print(table)


if __name__ == "__main__":
    main()
