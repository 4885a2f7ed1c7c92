"""What `Recorder.record_cycle` + `record_submission` cost the validator's weight step.

Prints the median time of the two calls (the part a validator waits for: building the rows
and queueing them; the writing happens in the recorder's thread) for subnets of 256, 1,024 and
4,096 UIDs, with and without a stage vector. No database is needed: the recorder is given an
engine it never reaches, as a validator with its database down would.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from sqlalchemy import create_engine

from minertrace.recorder import Recorder

REPEATS = 50


def main() -> None:
    engine = create_engine("postgresql+psycopg://bench@127.0.0.1:1/unreachable")
    rng = np.random.default_rng(0)
    print(f"{'uids':>6} {'stages':>7} {'median ms':>10} {'max ms':>8}")
    for n in (256, 1024, 4096):
        weights = rng.random(n)
        u16 = np.rint(weights / weights.max() * 65535).astype(np.int64)
        for stages in (0, 1):
            rec = Recorder(
                engine, validator_hotkey="bench", netuid=1, background=False, queue_size=REPEATS + 1
            )
            times = []
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                handle = rec.record_cycle(weights, stages={"ema": weights} if stages else None)
                rec.record_submission(handle, np.arange(n), u16, block=1)
                times.append(time.perf_counter() - t0)
            print(
                f"{n:>6} {stages:>7} {statistics.median(times) * 1e3:>10.2f} "
                f"{max(times) * 1e3:>8.2f}"
            )
    engine.dispose()


if __name__ == "__main__":
    main()
