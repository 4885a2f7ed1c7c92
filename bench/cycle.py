"""Benchmark: trace-and-persist of one cycle at 256 and 4,096 UIDs, its floor, and the writes.

A cycle writes in two parts (`minertrace.validator.trace_queue`). Before the submission, what
`run_cycle` stores in `trace_overhead_s` and what delays the weights: build the statement
parameters, INSERT the weight_submissions row (`trace_persist_ms`). After the submission,
with its outcome: UPDATE the outcome and upsert the traced miners' daily rows with the block
(`rows_after_ms`). `total_ms` is the median of the two together. Each size runs `--repeat`
cycles, each with its own scores (so every row changes), against the same period rows: the
steady state, where every cycle after the first updates existing rows. The record is built as
`run_cycle` builds it (replay inputs included) with 48-character hotkeys, as on chain.

The floor, in the same run: the same statements with the same parameters as plain INSERTs into
unindexed, unlogged copies of the two tables (emptied before each cycle):
`plain_insert_ms` for both, `plain_insert_ws_ms` for the weight_submissions row alone (the
floor of `trace_persist_ms` without the build). At the end of each size, what the writes cost
miner_performance_stats: updates, HOT updates, dead tuples, heap size.

`--month DAYS` instead runs the validator service on a simulated subnet (`--miners`, hourly
cycles and statistics refreshes, an epoch every 360 blocks) for DAYS simulated days, counting
every new row version of miner_performance_stats by statement (statement-level triggers), and
prints the versions per miner per hourly cycle by source, with the heap size each day.

Uses DATABASE_URL when set (database `minertrace_bench_cycle` is dropped and recreated), else an
embedded pgserver in a temporary directory. `--json` prints one JSON object per size (or one
for the month); otherwise a table. `--with-stats` then runs bench/stats.py.
Run: `.venv/bin/python bench/cycle.py [--uids 256 4096] [--repeat N] [--json] [--with-stats]`
or `.venv/bin/python bench/cycle.py --month 30 [--miners 64] [--json]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert

from benchdb import bench_engine, fresh_schema, table_stats
from minertrace.config import load_settings
from minertrace.db.tables import node_table, weight_submissions
from minertrace.sim.subnet import SimParams, SimulatedSubnet
from minertrace.store._periods import period_params
from minertrace.store.pipeline import UPSERT_MINERS_SQL
from minertrace.store.records import TraceRecord
from minertrace.store.stats_sql import STAGING_TABLE
from minertrace.store.submissions import INSERT_SUBMISSION_SQL
from minertrace.validator import PendingTrace, SubmissionState, build_record
from minertrace.validator.service import Job, Service
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


def hotkey(uid: int) -> str:
    """A 48-character stand-in for an SS58 hotkey."""
    return f"5H{uid:046d}"


def synthetic_cycle(
    n_uids: int, detailed: bool = True, seed: int = 7
) -> tuple[CycleTrace, CycleInputs]:
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
        nodes=[(u, hotkey(u), f"5C{u // 3:046d}") for u in range(n_uids)],
        active_validator_uids=list(range(0, n_uids, 64)),
    )
    return compute_cycle(inputs, WeightConfig(enable_detailed_pathways=detailed)), inputs


def floor_insert(engine: sa.Engine, record: TraceRecord) -> tuple[float, float]:
    """Seconds of the plain INSERTs of the record's rows into the empty floor tables: the
    weight_submissions row alone, and both tables."""
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE floor_ws, floor_mps"))
    outcome = SubmissionState(status=SubmissionStatus.COMPUTED).outcome()
    params: dict[str, Any] = {
        **(record.miners or {}),
        **period_params(record.periods),
        "detailed": record.detailed,
        "validator_hotkey": record.validator_hotkey,
        "chain": True,
        "wsb": None,
        "now": record.computed_at,
    }
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(_FLOOR_INSERT_WS, {**record.submission, **outcome.params()})
    t1 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(_FLOOR_INSERT_MPS, params)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t0


def _chain_state(engine: sa.Engine, n_uids: int) -> None:
    """node_table with incentives and one recorded epoch, so the rows write folds in the
    chain columns as it does on a validator with chain integration."""
    rng = np.random.default_rng(1)
    with engine.begin() as conn:
        conn.execute(
            insert(node_table),
            [
                {
                    "uid": u,
                    "hotkey": hotkey(u),
                    "incentive": float(v),
                    "validator_permit": u % 64 == 0,
                }
                for u, v in enumerate(rng.random(n_uids))
            ],
        )
        conn.execute(
            insert(weight_submissions).values(
                validator_hotkey="bench",
                netuid=1,
                computed_at=NOW - timedelta(hours=1),
                n_uids=0,
                config={},
                score_rows=[],
                scalars={},
                data_quality={},
                weights_produced=False,
                rank_based_fallback=False,
                status=SubmissionStatus.VERIFIED.value,
                block_number=1,
                consensus_block=2,
            )
        )


def run(engine: sa.Engine, n_uids: int, repeat: int) -> dict[str, Any]:
    """`repeat` steady-state cycles at `n_uids` UIDs (after one that inserts the rows)."""
    fresh_schema(engine)
    with engine.begin() as conn:
        conn.execute(_FLOOR_TABLES)
    _chain_state(engine, n_uids)
    cycles = [synthetic_cycle(n_uids, seed=7 + i) for i in range(repeat + 1)]
    persist, build, after, total, floor_ws, floor = [], [], [], [], [], []
    for i, (trace, inputs) in enumerate(cycles):
        t0 = time.perf_counter()
        record = build_record(
            trace,
            inputs.node_list,
            validator_hotkey="bench",
            netuid=1,
            computed_at=NOW + timedelta(minutes=i),
            computed_block=10 + i,
            inputs=inputs,
        )
        t1 = time.perf_counter()
        item = PendingTrace(record, SubmissionState(status=SubmissionStatus.COMPUTED), chain=True)
        item.write(engine)
        t2 = time.perf_counter()
        # The submission is included: its outcome and the miners' rows, in one transaction.
        item.state.status, item.state.block_number = SubmissionStatus.INCLUDED, 11 + i
        item.state.touch()
        item.write(engine)
        t3 = time.perf_counter()
        assert item.rows_written
        if i:  # the first cycle inserts the period rows; the steady state updates them
            build.append(t1 - t0)
            persist.append(t2 - t0)
            after.append(t3 - t2)
            total.append(t3 - t0)
            ws_only, both = floor_insert(engine, record)
            floor_ws.append(ws_only)
            floor.append(both)

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1e3, 1)

    return {
        "uids": n_uids,
        "cycles": repeat,
        "trace_persist_ms": ms(persist),
        "trace_persist_p90_ms": round(float(np.percentile(persist, 90)) * 1e3, 1),
        "build_ms": ms(build),
        "rows_after_ms": ms(after),
        "total_ms": ms(total),
        "plain_insert_ws_ms": ms(floor_ws),
        "plain_insert_ms": ms(floor),
        **table_stats(engine),
    }


_COUNT_VERSIONS = sa.text(
    """
    CREATE TABLE bench_miners (uid integer PRIMARY KEY);
    CREATE TABLE bench_row_versions (query text, period_type text, n bigint);
    CREATE FUNCTION bench_count_versions() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO bench_row_versions
        SELECT left(current_query(), 4000), r.period_type, count(*)
          FROM new_rows AS r JOIN bench_miners AS b ON b.uid = r.miner_uid
         GROUP BY r.period_type;
        RETURN NULL;
    END $$;
    CREATE TRIGGER bench_count_inserts AFTER INSERT ON miner_performance_stats
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION bench_count_versions();
    CREATE TRIGGER bench_count_updates AFTER UPDATE ON miner_performance_stats
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION bench_count_versions();
    """
)
# The statement behind each row version, by a fragment of its text.
SOURCES = (
    ("cycle rows (after the submission)", "AS s(uid, hotkey, submitted"),
    ("fill from the stored row", "latest AS ("),
    ("period refresh", STAGING_TABLE),
)


def _source(query: str) -> str:
    for name, fragment in SOURCES:
        if fragment in query:
            return name
    return "other: " + " ".join(query.split())[:60]


async def _simulate(engine: sa.Engine, days: float, miners: int) -> dict[str, Any]:
    sim = SimulatedSubnet.create(
        SimParams(n_miners=miners, n_validators=4, seed=0, duration_seconds=days * 86400.0)
    )
    with engine.begin() as conn:
        conn.execute(_COUNT_VERSIONS)
        conn.execute(
            insert(sa.table("bench_miners", sa.column("uid"))),
            [{"uid": int(u)} for u in sim.miner_uids.tolist()],
        )
    heap: list[int] = []

    def on_progress(now: datetime) -> None:
        if (now - sim.start).total_seconds() >= 86400.0 * (len(heap) + 1):
            with engine.connect() as conn:
                size = conn.execute(sa.text("SELECT pg_relation_size('miner_performance_stats')"))
                heap.append(int(size.scalar_one()))

    async def step(now: datetime) -> object:
        return sim.step(engine, now)

    url = engine.url.render_as_string(hide_password=False)
    service = Service(
        engine=engine,
        chain=sim.chain,
        clock=sim.chain.clock,
        settings=load_settings(database_url=url),
        validator_hotkey=sim.validator_hotkey,
        netuid=sim.chain.netuid,
        extra_jobs=[Job("simulator", 600.0, step)],
        progress=on_progress,
    )
    t0 = time.perf_counter()
    counters = await service.run(until=sim.start + timedelta(days=days) - timedelta(seconds=1))
    wall = time.perf_counter() - t0
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT query, period_type, sum(n) FROM bench_row_versions GROUP BY 1, 2")
        ).all()
    cycles = counters.runs["cycle"]
    by_source: dict[str, float] = {}
    for query, period_type, n in rows:
        key = f"{_source(query)} [{period_type}]"
        by_source[key] = by_source.get(key, 0.0) + int(n) / (miners * cycles)
    return {
        "days": days,
        "miners": miners,
        "cycles": cycles,
        "epochs": len(counters.epochs),
        "failures": dict(counters.failures),
        "wall_s": round(wall, 1),
        "versions_per_miner_cycle": round(sum(by_source.values()), 3),
        "by_source": {k: round(v, 3) for k, v in sorted(by_source.items())},
        "heap_bytes_by_day": heap,
        **table_stats(engine),
    }


def run_month(engine: sa.Engine, days: float, miners: int) -> dict[str, Any]:
    """The service over `days` simulated days: row versions by source, table size by day."""
    fresh_schema(engine)
    return asyncio.run(_simulate(engine, days, miners))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uids", type=int, nargs="+", default=list(SIZES), help="subnet sizes")
    parser.add_argument("--repeat", type=int, default=15, help="steady-state cycles per size")
    parser.add_argument("--json", action="store_true", help="one JSON object per size")
    parser.add_argument("--with-stats", action="store_true", help="also run bench/stats.py")
    parser.add_argument("--month", type=float, metavar="DAYS", help="simulate DAYS of service")
    parser.add_argument("--miners", type=int, default=64, help="miners of --month")
    args = parser.parse_args()
    if args.month:
        with bench_engine("minertrace_bench_cycle") as engine:
            month = run_month(engine, args.month, args.miners)
        if args.json:
            print(json.dumps(month), flush=True)
        else:
            Console().print(month)
        return
    results = []
    with bench_engine("minertrace_bench_cycle") as engine:
        for n in args.uids:
            result = run(engine, n, args.repeat)
            results.append(result)
            if args.json:
                print(json.dumps(result), flush=True)
    if not args.json:
        title = f"trace-and-persist per cycle ({args.repeat} cycles, medians)"
        table = Table(title=f"{title}; floor: plain INSERT")
        columns = {
            "uids": "UIDs",
            "trace_persist_ms": "ms",
            "trace_persist_p90_ms": "p90 ms",
            "build_ms": "build ms",
            "plain_insert_ws_ms": "floor ms",
            "rows_after_ms": "rows after ms",
            "total_ms": "total ms",
            "plain_insert_ms": "floor total ms",
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
