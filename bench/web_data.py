"""A month of hourly cycles for the web benchmark, written fast (no chain, no service loop).

`populate(engine)` writes node_table, a day of real cycles (`compute_cycle` on synthetic score
rows, stored with the validator's own `build_record` / `insert_submission`), then copies that
day to the other days in SQL (INSERT ... SELECT over generate_series) and writes every
miner's daily, weekly, monthly and all_time rows the same way. Seconds, not the hour a
simulated month would take.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import sqlalchemy as sa

from minertrace.db.migrate import upgrade
from minertrace.store import Attempt, Verification, insert_submission
from minertrace.validator.persist import build_record
from minertrace.validator.submit import SubmissionState
from minertrace.vocabulary import SubmissionStatus
from minertrace.weights import CycleInputs, ScoreRow, WeightConfig, compute_cycle

START = datetime(2026, 10, 1, tzinfo=timezone.utc)
VALIDATOR = "bench-validator"
NETUID = 1
VALIDATOR_UIDS = (0, 1, 2, 3)


@dataclass(frozen=True)
class Population:
    """What `populate` wrote."""

    n_uids: int
    days: int
    cycles: int
    period_rows: int


def _nodes(n: int) -> list[tuple[int, str, str]]:
    # A 12-hotkey farm and some pairs, so smoothing has something to cut.
    coldkey = [f"ck-{u}" if u % 7 else f"ck-pair-{u // 14}" for u in range(n)]
    for u in range(40, 52):
        coldkey[u] = "ck-farm"
    return [(u, f"hk-{u:04d}", coldkey[u]) for u in range(n)]


def _rows(rng: np.random.Generator, n: int, hour: int, at: datetime) -> list[ScoreRow]:
    skill = np.linspace(0.2, 0.95, n)

    def scores(noise: float) -> np.ndarray:
        s = np.clip(skill + noise * rng.standard_normal(n), 0, 1)
        s[list(VALIDATOR_UIDS)] = np.nan
        s[rng.random(n) < 0.05] = np.nan
        return s

    rows = [ScoreRow("weather", f"final_weather_scores_{hour}", scores(0.05), at)]
    rows += [ScoreRow("geomagnetic", f"geo_{hour}_{k}", scores(0.1), at) for k in range(3)]
    rows += [
        ScoreRow(f"soil_moisture_region_{r}", f"soil_{hour}", scores(0.1), at) for r in range(4)
    ]
    return rows


_SCORE = sa.text(
    """
    INSERT INTO score_table (task_name, task_id, score, created_at, status)
    VALUES (:task_name, :task_id, CAST(:score AS double precision[]), :created_at, 'completed')
    """
)

_COPY_DAYS = sa.text(
    """
    INSERT INTO weight_submissions (
        validator_hotkey, netuid, computed_at, computed_block, n_uids, config, score_rows,
        scalars, data_quality, stages, weights_produced, no_weights_reason, rank_based_fallback,
        final_weights, submitted_uids, submitted_weights, submitted_u16, status, attempts,
        block_number, block_hash, verified_at, verification, consensus_block, inputs)
    SELECT validator_hotkey, netuid, computed_at + make_interval(days => d.d),
           computed_block + d.d * 7200, n_uids, config, score_rows, scalars, data_quality,
           stages, weights_produced, no_weights_reason, rank_based_fallback, final_weights,
           submitted_uids, submitted_weights, submitted_u16, status, attempts,
           block_number + d.d * 7200, block_hash, verified_at + make_interval(days => d.d),
           verification, consensus_block + d.d * 7200, inputs
      FROM weight_submissions CROSS JOIN generate_series(1, :days - 1) AS d(d)
     ORDER BY d.d, computed_at
    """
)

_PERIODS = sa.text(
    """
    WITH spans AS (
        SELECT 'daily' AS t, s, s + interval '1 day' AS e
          FROM generate_series(CAST(:start AS timestamptz),
                               CAST(:start AS timestamptz) + make_interval(days => :days - 1),
                               interval '1 day') AS s
        UNION ALL
        SELECT 'weekly', s, s + interval '7 days'
          FROM generate_series(date_trunc('week', CAST(:start AS timestamptz), 'UTC'),
                               CAST(:start AS timestamptz) + make_interval(days => :days - 1),
                               interval '7 days') AS s
        UNION ALL
        SELECT 'monthly', s, s + interval '1 month'
          FROM generate_series(date_trunc('month', CAST(:start AS timestamptz), 'UTC'),
                               CAST(:start AS timestamptz) + make_interval(days => :days - 1),
                               interval '1 month') AS s
        UNION ALL
        SELECT 'all_time', CAST('2000-01-01+00' AS timestamptz),
               CAST('9999-01-01+00' AS timestamptz))
    INSERT INTO miner_performance_stats (
        miner_uid, miner_hotkey, period_start, period_end, period_type, submitted_weight,
        raw_calculated_weight, scoring_pathway, incentive, consensus_rank,
        percentile_rank_weather, percentile_rank_geomagnetic, percentile_rank_soil,
        overall_avg_score, total_tasks_attempted, total_tasks_completed, validator_hotkey)
    SELECT n.uid, n.hotkey, sp.s, sp.e, sp.t, w, w * 40, CASE WHEN n.uid % 9 = 0
           THEN 'excellence' ELSE 'diversity' END, w * (0.9 + 0.2 * random()),
           n.uid, 100 * random(), 100 * random(), 100 * random(), random(), 24, 22,
           :validator
      FROM node_table AS n CROSS JOIN spans AS sp
      CROSS JOIN LATERAL (SELECT n.uid / (128.0 * :n) * (0.8 + 0.4 * random()) AS w) AS x
     WHERE NOT n.validator_permit
    """
)


def populate(engine: sa.Engine, *, n_uids: int = 256, days: int = 30, seed: int = 0) -> Population:
    """Write `days` of hourly cycles on `n_uids` UIDs (see the module doc)."""
    upgrade(engine)
    rng = np.random.default_rng(seed)
    nodes = _nodes(n_uids)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO node_table (uid, hotkey, coldkey, validator_permit, incentive) "
                "SELECT * FROM unnest(CAST(:u AS integer[]), CAST(:h AS text[]), "
                "CAST(:c AS text[]), CAST(:p AS boolean[]), CAST(:i AS double precision[]))"
            ),
            {
                "u": [u for u, _, _ in nodes],
                "h": [h for _, h, _ in nodes],
                "c": [c for _, _, c in nodes],
                "p": [u in VALIDATOR_UIDS for u, _, _ in nodes],
                "i": (np.arange(n_uids) / (n_uids * (n_uids - 1) / 2)).tolist(),
            },
        )
        for hour in range(24):
            now = START + timedelta(hours=hour)
            rows = _rows(rng, n_uids, hour, now - timedelta(minutes=20))
            conn.execute(
                _SCORE,
                [
                    {
                        "task_name": r.task_name,
                        "task_id": r.task_id,
                        "score": [None if np.isnan(v) else v for v in r.score.tolist()],
                        "created_at": r.created_at,
                    }
                    for r in rows
                ],
            )
            inputs = CycleInputs(
                weather_results=rows[:1],
                geomagnetic_results=rows[1:4],
                soil_results=rows[4:],
                now=now,
                nodes=nodes,
                active_validator_uids=VALIDATOR_UIDS,
                n_uids=n_uids,
            )
            trace = compute_cycle(inputs, WeightConfig())
            record = build_record(
                trace,
                inputs.node_list,
                validator_hotkey=VALIDATOR,
                netuid=NETUID,
                computed_at=now,
                computed_block=hour * 300,
                inputs=inputs,
            )
            state = SubmissionState(
                status=SubmissionStatus.VERIFIED,
                block_number=hour * 300 + 1,
                block_hash=f"0x{hour:064x}",
                verified_at=now + timedelta(seconds=30),
                verification=Verification(match=True, checked_block=hour * 300 + 2),
                attempts=[Attempt(1, now.isoformat(), "included", block=hour * 300 + 1)],
            )
            insert_submission(conn, record, state.outcome())
        conn.execute(_COPY_DAYS, {"days": days})
        written = conn.execute(
            _PERIODS, {"start": START, "days": days, "n": n_uids, "validator": VALIDATOR}
        ).rowcount
        cycles = conn.execute(sa.text("SELECT count(*) FROM weight_submissions")).scalar_one()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    return Population(n_uids, days, int(cycles), int(written))
