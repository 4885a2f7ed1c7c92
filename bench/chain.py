"""Benchmark: one Yuma epoch (Yuma 2 and Yuma 3) at two subnet sizes; prints a table.

Run: `.venv/bin/python bench/chain.py [--repeat N]`. Target: <= 5 ms for 256 UIDs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from minertrace.chain.yuma import YumaParams, epoch

SIZES: tuple[tuple[int, int, float | None], ...] = ((256, 64, 5.0), (4096, 256, None))


def _subnet(
    n: int, validators: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    stake = np.zeros(n)
    stake[:validators] = rng.uniform(1_000, 100_000, validators)
    quality = rng.uniform(0.0, 1.0, n)
    weights = np.zeros((n, n))
    weights[:validators] = np.clip(quality + rng.normal(0.0, 0.1, (validators, n)), 0.0, None)
    permit = np.zeros(n, dtype=bool)
    permit[:validators] = True
    bonds = np.zeros((n, n))
    bonds[:validators] = rng.uniform(0.0, 1.0, (validators, n))
    return stake, weights, permit, bonds


def _median_ms(n: int, validators: int, yuma3: bool, repeat: int) -> float:
    stake, weights, permit, bonds = _subnet(n, validators)
    params = YumaParams(max_allowed_validators=validators, yuma3=yuma3)
    epoch(stake, weights, permit, bonds, params)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        epoch(stake, weights, permit, bonds, params)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> None:
    """Print the median epoch time per size and Yuma version."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    print(f"{'UIDs':>6} {'validators':>10} {'version':>8} {'median ms':>10} {'target ms':>10}")
    for n, validators, target in SIZES:
        for yuma3 in (False, True):
            ms = _median_ms(
                n, validators, yuma3, args.repeat if n <= 1024 else max(5, args.repeat // 5)
            )
            tgt = f"{target:.1f}" if target is not None else "-"
            print(
                f"{n:>6} {validators:>10} {'yuma3' if yuma3 else 'yuma2':>8} {ms:>10.2f} {tgt:>10}"
            )


if __name__ == "__main__":
    main()
