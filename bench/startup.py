"""Benchmark of command start-up: `minertrace --help` and `minertrace weights compute --help`
against `python -c "import numpy"` on the same machine (issue 12's goal: within 3x).

Each command runs as a fresh process `--repeat` times (after one warm-up run, so the
filesystem cache is warm for all three); the median wall time of each is printed.
Run: `.venv/bin/python bench/startup.py [--repeat N] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

_CLI = "from minertrace.cli import main; import sys; sys.argv[0] = 'minertrace'; main()"
COMMANDS: dict[str, list[str]] = {
    "help_s": [sys.executable, "-c", _CLI, "--help"],
    "compute_help_s": [sys.executable, "-c", _CLI, "weights", "compute", "--help"],
    "python_numpy_s": [sys.executable, "-c", "import numpy"],
}


def timed(cmd: list[str]) -> float:
    """Wall seconds of one run of `cmd` (its output discarded; a failure raises)."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(repeat: int) -> dict[str, float]:
    """Median wall seconds of each command, runs interleaved so load affects all alike."""
    for cmd in COMMANDS.values():
        timed(cmd)
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeat):
        for name, cmd in COMMANDS.items():
            samples[name].append(timed(cmd))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    """Parse the flags, measure, print a table or one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    figures = measure(args.repeat)
    if args.json:
        print(json.dumps({**{k: round(v, 4) for k, v in figures.items()}, "repeat": args.repeat}))
        return
    base = figures["python_numpy_s"]
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"{'command':<34}{'median s':>10}{'x numpy':>10}")
    for name, label in (
        ("python_numpy_s", 'python -c "import numpy"'),
        ("help_s", "minertrace --help"),
        ("compute_help_s", "minertrace weights compute --help"),
    ):
        print(f"{label:<34}{figures[name]:>10.3f}{figures[name] / base:>10.2f}")


if __name__ == "__main__":
    main()
