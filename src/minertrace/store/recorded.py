"""Cycles recorded from outside: a validator's own weights (the `Recorder`) and shadow traces.

Three statements, each set-based:

- :func:`insert_recorded_cycle`: the weight_submissions row of a cycle that another program
  computed (its final weights, optional stage vectors and scalars);
- :func:`upsert_recorded_miners`: the miners' miner_performance_stats rows of the periods
  given (the caller passes today's daily row, as the service's own cycles write), with the
  pipeline columns the caller gave (one ``INSERT ... SELECT FROM unnest ... ON CONFLICT``
  for every miner and period; the miner's
  hotkey comes from node_table when the caller has none, and a row still carrying another
  hotkey on the UID is stale and left alone);
- :func:`update_recorded_submission`: what the validator then sent (UIDs, u16, block or
  error) onto that row, and the block onto the miners' current rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from minertrace.vocabulary import ON_CHAIN_STATUSES

# The miner_performance_stats pipeline columns a caller may give per miner, with their SQL type.
MINER_COLUMNS: dict[str, str] = {
    "submitted_weight": "double precision",
    "raw_calculated_weight": "double precision",
    "excellence_weight": "double precision",
    "diversity_weight": "double precision",
    "scoring_pathway": "text",
    "multi_task_bonus": "double precision",
    "weather_weight_contribution": "double precision",
    "geomagnetic_weight_contribution": "double precision",
    "soil_weight_contribution": "double precision",
    "percentile_rank_weather": "double precision",
    "percentile_rank_geomagnetic": "double precision",
    "percentile_rank_soil": "double precision",
}


@dataclass(frozen=True)
class RecordedCycle:
    """The weight_submissions columns of one recorded cycle (JSON columns as text)."""

    validator_hotkey: str
    netuid: int
    computed_at: datetime
    computed_block: int | None
    n_uids: int
    config_json: str
    score_rows_json: str
    scalars_json: str
    data_quality_json: str
    stages_json: str | None
    weights_produced: bool
    no_weights_reason: str | None
    final_weights: list[float | None]
    status: str
    trace_overhead_s: float | None = None


@dataclass(frozen=True)
class RecordedMiners:
    """Per-miner values for the stats upsert: parallel lists, one entry per miner.

    ``columns`` maps names of :data:`MINER_COLUMNS` to their values (None = not known);
    ``details`` is each miner's ``pathway_details`` JSON text (None = none given).
    """

    uids: list[int]
    hotkeys: list[str | None]
    columns: dict[str, list[Any]]
    details: list[str | None]


@dataclass(frozen=True)
class RecordedSubmission:
    """What the validator sent for a recorded cycle, and what came of it."""

    status: str
    uids: list[int]
    u16: list[int]
    weights: list[float]
    attempts_json: str
    error: str | None = None
    block_number: int | None = None
    block_hash: str | None = None


_INSERT = text(
    """
    INSERT INTO weight_submissions (
        validator_hotkey, netuid, computed_at, computed_block, n_uids, config, score_rows,
        scalars, data_quality, stages, weights_produced, no_weights_reason, rank_based_fallback,
        final_weights, status, trace_overhead_s)
    VALUES (
        :validator_hotkey, :netuid, :computed_at, :computed_block, :n_uids,
        CAST(:config_json AS jsonb), CAST(:score_rows_json AS jsonb),
        CAST(:scalars_json AS jsonb), CAST(:data_quality_json AS jsonb),
        CAST(:stages_json AS jsonb), :weights_produced, :no_weights_reason, false,
        CAST(:final_weights AS double precision[]), :status, :trace_overhead_s)
    RETURNING id
    """
)


def insert_recorded_cycle(conn: Connection, cycle: RecordedCycle) -> int:
    """INSERT the cycle's weight_submissions row; returns its id."""
    params = {k: getattr(cycle, k) for k in cycle.__dataclass_fields__}
    return int(conn.execute(_INSERT, params).scalar_one())


def _upsert_sql() -> str:
    names = list(MINER_COLUMNS)
    binds = ", ".join(f"CAST(:c_{c} AS {t}[])" for c, t in MINER_COLUMNS.items())
    set_cols = [*names, "pathway_details", "validator_hotkey", "weight_submission_block"]
    updates = ", ".join(f"{c} = COALESCE(EXCLUDED.{c}, m.{c})" for c in names)
    return f"""
    WITH src AS (
        SELECT * FROM unnest(CAST(:uids AS integer[]), CAST(:hotkeys AS text[]), {binds},
                             CAST(:details AS jsonb[]))
               AS s(uid, hotkey, {", ".join(names)}, pathway_details)
    ),
    t AS MATERIALIZED (
        SELECT s.*, COALESCE(s.hotkey, nt.hotkey) AS miner_hotkey
          FROM src AS s LEFT JOIN node_table AS nt ON nt.uid = s.uid
         WHERE COALESCE(s.hotkey, nt.hotkey) IS NOT NULL
    ),
    periods AS (
        SELECT * FROM unnest(CAST(:period_types AS text[]),
                             CAST(:period_starts AS timestamptz[]),
                             CAST(:period_ends AS timestamptz[]))
               AS p(period_type, period_start, period_end)
    )
    INSERT INTO miner_performance_stats AS m (
        miner_uid, miner_hotkey, period_start, period_end, period_type,
        {", ".join(set_cols)}, calculated_at, updated_at)
    SELECT t.uid, t.miner_hotkey, p.period_start, p.period_end, p.period_type,
           {", ".join(f"t.{c}" for c in names)}, t.pathway_details,
           CAST(:validator_hotkey AS text), CAST(:wsb AS bigint), :now, :now
      FROM t CROSS JOIN periods AS p
    ON CONFLICT (miner_uid, period_start, period_end, period_type) DO UPDATE SET
        {updates},
        pathway_details = COALESCE(EXCLUDED.pathway_details, m.pathway_details),
        validator_hotkey = EXCLUDED.validator_hotkey,
        weight_submission_block = EXCLUDED.weight_submission_block,
        updated_at = EXCLUDED.updated_at
    WHERE m.miner_hotkey = EXCLUDED.miner_hotkey
    """


_UPSERT = text(_upsert_sql())


def upsert_recorded_miners(
    conn: Connection,
    miners: RecordedMiners,
    periods: dict[str, list[Any]],
    *,
    validator_hotkey: str,
    now: datetime,
    block: int | None = None,
) -> int:
    """Upsert the miners' rows of ``periods`` (one statement); returns rows written.

    ``periods`` are the bind arrays ``period_types``, ``period_starts``, ``period_ends``.
    """
    if not miners.uids:
        return 0
    params: dict[str, Any] = {
        "uids": miners.uids,
        "hotkeys": miners.hotkeys,
        "details": miners.details,
        "validator_hotkey": validator_hotkey,
        "wsb": block,
        "now": now,
        **periods,
    }
    for name in MINER_COLUMNS:
        params[f"c_{name}"] = miners.columns.get(name, [None] * len(miners.uids))
    return int(conn.execute(_UPSERT, params).rowcount)


_ON_CHAIN = ", ".join(f"'{s.value}'" for s in sorted(ON_CHAIN_STATUSES))

# An orphaned row stays orphaned: a late write must not undo the fork detection.
_UPDATE_SUBMISSION = text(
    f"""
    WITH w AS (
        UPDATE weight_submissions
           SET status = :status, error = :error,
               submitted_uids = CAST(:uids AS integer[]),
               submitted_u16 = CAST(:u16 AS integer[]),
               submitted_weights = CAST(:weights AS double precision[]),
               attempts = CAST(:attempts_json AS jsonb),
               block_number = :block_number, block_hash = :block_hash
         WHERE id = :id AND status <> 'orphaned'
        RETURNING id, validator_hotkey, status, block_number, computed_at
    )
    UPDATE miner_performance_stats AS m
       SET weight_submission_block = w.block_number, updated_at = :now
      FROM w,
           unnest(CAST(:period_types AS text[]), CAST(:period_starts AS timestamptz[]),
                  CAST(:period_ends AS timestamptz[])) AS p(period_type, period_start, period_end)
     WHERE w.status IN ({_ON_CHAIN})
       AND m.validator_hotkey = w.validator_hotkey
       AND m.miner_uid = ANY(CAST(:traced AS integer[]))
       AND m.period_type = p.period_type AND m.period_start = p.period_start
       AND m.period_end = p.period_end
    """
)

_ROW_EXISTS = text("SELECT status FROM weight_submissions WHERE id = :id")


def update_recorded_submission(
    conn: Connection,
    ws_id: int,
    submission: RecordedSubmission,
    *,
    traced_uids: list[int],
    periods: dict[str, list[Any]],
    now: datetime,
) -> bool:
    """Write ``submission`` onto row ``ws_id`` and, when it reached the chain, its block onto
    the traced miners' current rows. Returns False when the row is gone or orphaned."""
    params: dict[str, Any] = {
        "id": ws_id,
        "status": submission.status,
        "error": submission.error,
        "uids": submission.uids,
        "u16": submission.u16,
        "weights": submission.weights,
        "attempts_json": submission.attempts_json,
        "block_number": submission.block_number,
        "block_hash": submission.block_hash,
        "traced": traced_uids,
        "now": now,
        **periods,
    }
    conn.execute(_UPDATE_SUBMISSION, params)
    status = conn.execute(_ROW_EXISTS, {"id": ws_id}).scalar()
    return status is not None and status == submission.status


__all__ = [
    "MINER_COLUMNS",
    "RecordedCycle",
    "RecordedMiners",
    "RecordedSubmission",
    "insert_recorded_cycle",
    "update_recorded_submission",
    "upsert_recorded_miners",
]
