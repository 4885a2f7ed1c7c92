"""Helpers shared by the write-path and crash tests (no tests here): a small traced cycle with
awkward values, its record, and a simulated crash after the trace insert."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import Engine, text

from minertrace.store.records import TraceRecord
from minertrace.validator.persist import build_record
from minertrace.weights import CycleInputs, CycleTrace, ScoreRow, WeightConfig, compute_cycle

NOW = datetime(2025, 7, 16, 15, 30, tzinfo=timezone.utc)
N = 48


def make_trace() -> tuple[CycleTrace, CycleInputs]:
    """A cycle with gaps, zeros, a NaN-only UID, an unregistered UID and awkward floats."""
    rng = np.random.default_rng(3)

    def rows(name: str, prefix: str, count: int, span: timedelta) -> list[ScoreRow]:
        out = []
        for j in range(count):
            score = rng.random(N)
            score[rng.random(N) < 0.3] = np.nan
            score[5] = np.nan
            score[7] = 1.0  # an integral float must stay a float in the stored JSON
            score[9] = 1e-7
            out.append(ScoreRow(name, f"{prefix}_{j}", score.tolist(), NOW - span * (j + 1)))
        return out

    inputs = CycleInputs(
        weather_results=rows("weather", "final_weather_scores", 3, timedelta(days=1)),
        geomagnetic_results=rows("geomagnetic", "geo", 12, timedelta(hours=1)),
        soil_results=rows("soil_moisture_region_1", "soil", 12, timedelta(hours=1)),
        now=NOW,
        nodes=[(u, f"hk{u}", f"ck{u // 3}") for u in range(N) if u != 11],
        active_validator_uids=[0],
    )
    return compute_cycle(inputs, WeightConfig()), inputs


def record_of(trace: CycleTrace, inputs: CycleInputs) -> TraceRecord:
    return build_record(
        trace,
        inputs.node_list,
        validator_hotkey="val",
        netuid=1,
        computed_at=NOW,
        computed_block=100,
    )


@contextmanager
def outcome_writes_blocked(engine: Engine) -> Iterator[None]:
    """Every UPDATE of weight_submissions fails while inside (the process 'died' after the
    insert, whatever the chain did next)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                CREATE FUNCTION block_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'outcome write blocked (simulated crash)'; END $$;
                CREATE TRIGGER block_outcome BEFORE UPDATE ON weight_submissions
                   FOR EACH ROW EXECUTE FUNCTION block_outcome();
                """
            )
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER block_outcome ON weight_submissions"))
            conn.execute(text("DROP FUNCTION block_outcome()"))
