"""Step 3 of a cycle: a `CycleTrace` into weight_submissions and miner_performance_stats.

`build_record` turns a trace into statement parameters (numpy → lists, stage vectors → one JSON
document with NaN as null); `write_record` writes it in the caller's transaction with one
statement per table: an INSERT of the weight_submissions row and, with realtime updates, one
INSERT ... SELECT FROM unnest(...) ... ON CONFLICT upsert of the traced miners' current daily,
weekly, monthly and all_time rows. Only the pipeline columns are written; the period job's
statistics columns and the chain columns (incentive, consensus_rank, consensus_block) are left
alone. A row still carrying another hotkey on the UID is stale and never relabelled.

A *traced miner* is a registered UID (it has a hotkey in the cycle's node list) with at least
one present task. `pathway_details` is built in SQL from the same per-UID vectors, so the cycle
and `fill_pipeline_columns` produce identical rows.

`fill_pipeline_columns` is the realtime-off path: at stats-refresh time it upserts the pipeline
columns of the current period rows from the latest weight_submissions row of the validator
(its stored stage vectors, or only the submitted weights when the row has no stages).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, text

from minertrace.stats.periods import Period, current_periods, period_params
from minertrace.validator._bind import transaction
from minertrace.validator.replay_inputs import inputs_json
from minertrace.validator.submit import ON_CHAIN_STATUSES, SubmissionState
from minertrace.weights import TASKS, CycleInputs, CycleTrace, NodeList

_SHORT = {"weather": "w", "geomagnetic": "g", "soil": "s"}


def json_vector(values: np.ndarray) -> str:
    """A numeric vector as a JSON array, non-finite values as null."""
    if values.dtype.kind != "f":
        return json.dumps(values.tolist())
    finite = np.isfinite(values)
    if finite.all():
        return json.dumps(values.tolist())
    # JSON has no NaN or infinity; an object array lets None stand in without a Python loop.
    out = values.astype(object)
    out[~finite] = None
    return json.dumps(out.tolist())


def stages_json(trace: CycleTrace, hotkeys: list[str | None]) -> str:
    """Every stage vector as one JSON object {stage: [value | null]} plus the UIDs' hotkeys."""
    parts = [
        f"{json.dumps(name)}: {json_vector(np.asarray(vec))}"
        for name, vec in trace.stage_vectors().items()
    ]
    parts.append(f'"hotkey": {json.dumps(hotkeys)}')
    return "{" + ", ".join(parts) + "}"


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


@dataclass(frozen=True)
class TraceRecord:
    """One trace as statement parameters, ready to be written (or queued)."""

    validator_hotkey: str
    netuid: int
    computed_at: datetime
    computed_block: int | None
    submission: dict[str, Any]
    """weight_submissions columns fixed at compute time (JSON columns as text)."""
    miners: dict[str, list[Any]] | None
    """Per traced miner vectors for the stats upsert; None with realtime updates off."""
    periods: tuple[Period, ...]
    expected_u16: dict[int, int]
    """What goes on chain: {uid: u16}, zeros dropped."""
    detailed: bool

    @property
    def traced_uids(self) -> list[int]:
        """UIDs whose stats rows the record writes."""
        return list(self.miners["uids"]) if self.miners is not None else []


def _hotkeys_per_uid(nodes: NodeList, n: int) -> np.ndarray:
    hot = np.full(n, None, dtype=object)
    uids = nodes.uids
    inside = uids < n
    hot[uids[inside]] = np.asarray(nodes.hotkeys, dtype=object)[inside]
    return hot


def _miner_vectors(trace: CycleTrace, hot: np.ndarray) -> dict[str, list[Any]]:
    idx = np.flatnonzero(trace.has_record & (hot != None))  # noqa: E711 (elementwise)
    nan = np.full(trace.n_uids, np.nan)
    submitted = trace.submitted if trace.submitted is not None else nan
    out: dict[str, list[Any]] = {
        "uids": idx.tolist(),
        "hotkeys": hot[idx].tolist(),
        "submitted": submitted[idx].tolist(),
        "raw": trace.raw_weight[idx].tolist(),
        "exc": trace.excellence[idx].tolist(),
        "div": trace.diversity[idx].tolist(),
        "pathway": trace.pathway[idx].astype(np.int64).tolist(),
        "bonus": trace.multi_task_bonus[idx].tolist(),
        "nat": trace.num_active_tasks[idx].astype(np.int64).tolist(),
    }
    for task in TASKS:
        stage, k = trace.tasks[task], _SHORT[task]
        out[f"s{k}"] = stage.score[idx].tolist()
        out[f"p{k}"] = stage.present[idx].tolist()
        out[f"r{k}"] = stage.rank[idx].tolist()
        out[f"q{k}"] = stage.qualified[idx].tolist()
        out[f"c{k}"] = stage.contribution[idx].tolist()
    return out


def skip_reason(trace: CycleTrace) -> str | None:
    """Why nothing is submitted for this trace, or None when it can be submitted."""
    if not trace.weights_produced:
        return f"no weights produced: {trace.no_weights_reason}"
    if not trace.encoding_ok:
        return f"encoding failed: {trace.encoding_error}"
    return None


def build_record(
    trace: CycleTrace,
    nodes: NodeList,
    *,
    validator_hotkey: str,
    netuid: int,
    computed_at: datetime,
    computed_block: int | None,
    detailed: bool = True,
    realtime: bool = True,
    inputs: CycleInputs | None = None,
) -> TraceRecord:
    """The statement parameters of `trace` (see the module doc for what is stored)."""
    hot = _hotkeys_per_uid(nodes, trace.n_uids)
    produced = trace.weights_produced
    submission = {
        "validator_hotkey": validator_hotkey,
        "netuid": netuid,
        "computed_at": computed_at,
        "computed_block": computed_block,
        "n_uids": trace.n_uids,
        "config": json.dumps(_json_safe(trace.config.to_dict())),
        "score_rows": json.dumps(trace.input_rows()),
        "scalars": json.dumps(_json_safe(trace.scalars())),
        "data_quality": json.dumps(trace.data_quality()),
        "stages": stages_json(trace, hot.tolist()) if detailed else None,
        "weights_produced": produced,
        "no_weights_reason": trace.no_weights_reason,
        "rank_based_fallback": trace.rank_based_fallback,
        "final_weights": trace.final.tolist() if trace.final is not None else None,
        "submitted_uids": trace.submitted_uids.tolist() if produced else None,
        "submitted_weights": trace.submitted_weights.tolist() if produced else None,
        "submitted_u16": trace.submitted_u16.tolist() if produced else None,
        "inputs": inputs_json(inputs) if inputs is not None else None,
    }
    expected = dict(zip(trace.emit_uids.tolist(), trace.emit_u16.tolist(), strict=True))
    return TraceRecord(
        validator_hotkey=validator_hotkey,
        netuid=netuid,
        computed_at=computed_at,
        computed_block=computed_block,
        submission=submission,
        miners=_miner_vectors(trace, hot) if realtime else None,
        periods=tuple(current_periods(computed_at)),
        expected_u16=expected,
        detailed=detailed,
    )


_INSERT_SUBMISSION = text(
    """
    INSERT INTO weight_submissions (
        validator_hotkey, netuid, computed_at, computed_block, n_uids, config, score_rows,
        scalars, data_quality, stages, weights_produced, no_weights_reason, rank_based_fallback,
        final_weights, submitted_uids, submitted_weights, submitted_u16,
        status, error, attempts, block_number, block_hash, reveal_epoch, reveal_block,
        verified_at, verification, trace_overhead_s, inputs)
    VALUES (
        :validator_hotkey, :netuid, :computed_at, :computed_block, :n_uids,
        CAST(:config AS jsonb), CAST(:score_rows AS jsonb), CAST(:scalars AS jsonb),
        CAST(:data_quality AS jsonb), CAST(:stages AS jsonb), :weights_produced,
        :no_weights_reason, :rank_based_fallback, CAST(:final_weights AS double precision[]),
        CAST(:submitted_uids AS integer[]), CAST(:submitted_weights AS double precision[]),
        CAST(:submitted_u16 AS integer[]),
        :status, :error, CAST(:attempts AS jsonb), :block_number, :block_hash, :reveal_epoch,
        :reveal_block, :verified_at, CAST(:verification AS jsonb), :trace_overhead_s,
        CAST(:inputs AS jsonb))
    RETURNING id
    """
)

# An orphaned row stays orphaned: a late write of an older in-memory state must not undo it.
_UPDATE_OUTCOME = text(
    """
    UPDATE weight_submissions
       SET status = :status, error = :error, attempts = CAST(:attempts AS jsonb),
           block_number = :block_number, block_hash = :block_hash,
           reveal_epoch = :reveal_epoch, reveal_block = :reveal_block,
           verified_at = :verified_at, verification = CAST(:verification AS jsonb),
           trace_overhead_s = :trace_overhead_s
     WHERE id = :id AND status <> 'orphaned'
    """
)

_NN = "NULLIF({}, 'NaN'::double precision)"

_UNNEST_SOURCE = """
    SELECT * FROM unnest(
        CAST(:uids AS integer[]), CAST(:hotkeys AS text[]),
        CAST(:submitted AS double precision[]), CAST(:raw AS double precision[]),
        CAST(:exc AS double precision[]), CAST(:div AS double precision[]),
        CAST(:pathway AS integer[]),
        CAST(:sw AS double precision[]), CAST(:sg AS double precision[]),
        CAST(:ss AS double precision[]),
        CAST(:pw AS boolean[]), CAST(:pg AS boolean[]), CAST(:ps AS boolean[]),
        CAST(:rw AS double precision[]), CAST(:rg AS double precision[]),
        CAST(:rs AS double precision[]),
        CAST(:qw AS boolean[]), CAST(:qg AS boolean[]), CAST(:qs AS boolean[]),
        CAST(:cw AS double precision[]), CAST(:cg AS double precision[]),
        CAST(:cs AS double precision[]),
        CAST(:bonus AS double precision[]), CAST(:nat AS integer[]))
    AS s(uid, hotkey, submitted, raw, exc, div, pathway, sw, sg, ss, pw, pg, ps,
         rw, rg, rs, qw, qg, qs, cw, cg, cs, bonus, nat)
"""


def _stage(name: str, cast: str) -> str:
    return f"CAST(w.stages -> '{name}' ->> g.i AS {cast})"


_F, _B, _I = "double precision", "boolean", "integer"

# The latest row of the validator; its stage vectors when it has them...
_STORED_SOURCE = f"""
    SELECT g.i AS uid, nt.hotkey,
           {_stage("submitted", _F)} AS submitted, {_stage("raw_weight", _F)} AS raw,
           {_stage("excellence", _F)} AS exc, {_stage("diversity", _F)} AS div,
           {_stage("pathway", _I)} AS pathway,
           {_stage("score_weather", _F)} AS sw, {_stage("score_geomagnetic", _F)} AS sg,
           {_stage("score_soil", _F)} AS ss,
           {_stage("present_weather", _B)} AS pw, {_stage("present_geomagnetic", _B)} AS pg,
           {_stage("present_soil", _B)} AS ps,
           {_stage("rank_weather", _F)} AS rw, {_stage("rank_geomagnetic", _F)} AS rg,
           {_stage("rank_soil", _F)} AS rs,
           {_stage("qualified_weather", _B)} AS qw, {_stage("qualified_geomagnetic", _B)} AS qg,
           {_stage("qualified_soil", _B)} AS qs,
           {_stage("contribution_weather", _F)} AS cw,
           {_stage("contribution_geomagnetic", _F)} AS cg,
           {_stage("contribution_soil", _F)} AS cs,
           {_stage("multi_task_bonus", _F)} AS bonus, {_stage("num_active_tasks", _I)} AS nat
      FROM latest AS w
      CROSS JOIN generate_series(0, w.n_uids - 1) AS g(i)
      JOIN node_table AS nt ON nt.uid = g.i
     WHERE w.stages IS NOT NULL
       AND nt.hotkey IS NOT DISTINCT FROM (w.stages -> 'hotkey' ->> g.i)
       AND ({_stage("present_weather", _B)} OR {_stage("present_geomagnetic", _B)}
            OR {_stage("present_soil", _B)})
    UNION ALL
    SELECT u.uid, nt.hotkey, u.weight, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
      FROM latest AS w
      CROSS JOIN unnest(w.submitted_uids, w.submitted_weights) AS u(uid, weight)
      JOIN node_table AS nt ON nt.uid = u.uid AND nt.hotkey IS NOT NULL
     WHERE w.stages IS NULL
"""
# ... or, without stages, only the submitted weights of the UIDs it sent.

_LATEST = f"""
    SELECT id, n_uids, stages, submitted_uids, submitted_weights,
           CASE WHEN status IN ({", ".join(f"'{s}'" for s in ON_CHAIN_STATUSES)})
                THEN block_number END AS wsb
      FROM weight_submissions
     WHERE validator_hotkey = :validator_hotkey AND netuid = :netuid
     ORDER BY id DESC
     LIMIT 1
"""


def _upsert_sql(source: str, *, latest: bool) -> str:
    def q(task: str) -> str:
        k = _SHORT[task]
        return f"CASE WHEN s.p{k} AND s.q{k} THEN '{task}' END"

    def present(task: str, expr: str) -> str:
        return f"CASE WHEN s.p{_SHORT[task]} THEN {expr} END"

    qualified = f"array_remove(ARRAY[{', '.join(q(t) for t in TASKS)}]::text[], NULL)"
    ranks = ", ".join(f"'{t}', {present(t, _NN.format('s.r' + _SHORT[t]))}" for t in TASKS)
    contribs = ", ".join(f"'{t}', {present(t, 's.c' + _SHORT[t])}" for t in TASKS)
    scores = ", ".join(f"'{t}_score', {present(t, _NN.format('s.s' + _SHORT[t]))}" for t in TASKS)
    details = f"""
        CASE WHEN :detailed AND s.pathway IS NOT NULL THEN jsonb_build_object(
            {scores},
            'percentile_ranks', jsonb_strip_nulls(jsonb_build_object({ranks})),
            'excellence_qualified_tasks', to_jsonb({qualified}),
            'diversity_contributions', jsonb_strip_nulls(jsonb_build_object({contribs})),
            'multi_task_bonus', s.bonus,
            'num_active_tasks', s.nat) END"""
    columns = {
        "submitted_weight": _NN.format("s.submitted"),
        "raw_calculated_weight": _NN.format("s.raw"),
        "excellence_weight": _NN.format("s.exc"),
        "diversity_weight": _NN.format("s.div"),
        "scoring_pathway": "CASE s.pathway WHEN 0 THEN 'none' WHEN 1 THEN 'excellence' "
        "WHEN 2 THEN 'diversity' END",
        "pathway_details": details,
        "weather_weight_contribution": present("weather", "s.cw"),
        "geomagnetic_weight_contribution": present("geomagnetic", "s.cg"),
        "soil_weight_contribution": present("soil", "s.cs"),
        "multi_task_bonus": "s.bonus",
        "percentile_rank_weather": present("weather", _NN.format("s.rw")),
        "percentile_rank_geomagnetic": present("geomagnetic", _NN.format("s.rg")),
        "percentile_rank_soil": present("soil", _NN.format("s.rs")),
        "excellence_qualified_tasks": f"CASE WHEN s.pathway IS NOT NULL THEN {qualified} END",
        "validator_hotkey": "CAST(:validator_hotkey AS text)",
        "weight_submission_block": "(SELECT wsb FROM latest)" if latest else "CAST(:wsb AS bigint)",
    }
    with_latest = f"latest AS ({_LATEST})," if latest else ""
    # Per-miner values are computed once (materialised), then crossed with the four periods.
    per_miner = ", ".join(f"{expr} AS {col}" for col, expr in columns.items())
    return f"""
    WITH {with_latest}
    src AS ({source}),
    t AS MATERIALIZED (SELECT s.uid, s.hotkey, {per_miner} FROM src AS s),
    periods AS (
        SELECT * FROM unnest(CAST(:period_types AS text[]),
                             CAST(:period_starts AS timestamptz[]),
                             CAST(:period_ends AS timestamptz[]))
               AS p(period_type, period_start, period_end)
    )
    INSERT INTO miner_performance_stats AS m (
        miner_uid, miner_hotkey, period_start, period_end, period_type,
        {", ".join(columns)}, calculated_at, updated_at)
    SELECT t.uid, t.hotkey, p.period_start, p.period_end, p.period_type,
           {", ".join(f"t.{c}" for c in columns)}, :now, :now
      FROM t CROSS JOIN periods AS p
    ON CONFLICT (miner_uid, period_start, period_end, period_type) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in columns)}, updated_at = EXCLUDED.updated_at
    WHERE m.miner_hotkey = EXCLUDED.miner_hotkey
    """


_UPSERT_MINERS = text(_upsert_sql(_UNNEST_SOURCE, latest=False))
_FILL_FROM_LATEST = text(_upsert_sql(_STORED_SOURCE, latest=True))

_SET_SUBMISSION_BLOCK = text(
    """
    UPDATE miner_performance_stats AS m
       SET weight_submission_block = :wsb, updated_at = :now
      FROM unnest(CAST(:uids AS integer[]), CAST(:hotkeys AS text[])) AS s(uid, hotkey),
           unnest(CAST(:period_types AS text[]), CAST(:period_starts AS timestamptz[]),
                  CAST(:period_ends AS timestamptz[])) AS p(period_type, period_start, period_end)
     WHERE m.miner_uid = s.uid AND m.miner_hotkey = s.hotkey
       AND m.period_type = p.period_type AND m.period_start = p.period_start
       AND m.period_end = p.period_end
    """
)


def _outcome_params(state: SubmissionState) -> dict[str, Any]:
    cols = state.outcome_columns()
    cols["attempts"] = json.dumps(cols["attempts"])
    cols["verification"] = (
        None if cols["verification"] is None else json.dumps(cols["verification"])
    )
    return cols


def insert_submission(conn: Connection, record: TraceRecord, state: SubmissionState) -> int:
    """INSERT the weight_submissions row with the state known so far; returns its id."""
    params = {**record.submission, **_outcome_params(state)}
    return int(conn.execute(_INSERT_SUBMISSION, params).scalar_one())


def upsert_miner_rows(conn: Connection, record: TraceRecord, wsb: int | None) -> int:
    """Upsert the traced miners' current period rows (one statement); returns rows written."""
    if record.miners is None or not record.miners["uids"]:
        return 0
    params = {
        **record.miners,
        **period_params(record.periods),
        "detailed": record.detailed,
        "validator_hotkey": record.validator_hotkey,
        "wsb": wsb,
        "now": record.computed_at,
    }
    return int(conn.execute(_UPSERT_MINERS, params).rowcount)


def update_outcome(conn: Connection, ws_id: int, state: SubmissionState) -> int:
    """Write the submission state onto row `ws_id` (an orphaned row is left alone)."""
    return int(conn.execute(_UPDATE_OUTCOME, {"id": ws_id, **_outcome_params(state)}).rowcount)


def set_submission_block(conn: Connection, record: TraceRecord, block: int | None) -> int:
    """Set weight_submission_block on the record's miners' current rows (one UPDATE)."""
    if record.miners is None or not record.miners["uids"]:
        return 0
    params = {
        "uids": record.miners["uids"],
        "hotkeys": record.miners["hotkeys"],
        "wsb": block,
        "now": record.computed_at,
        **period_params(record.periods),
    }
    return int(conn.execute(_SET_SUBMISSION_BLOCK, params).rowcount)


def fill_pipeline_columns(
    bind: Engine | Connection,
    *,
    validator_hotkey: str,
    netuid: int,
    now: datetime,
    periods: list[Period] | None = None,
) -> int:
    """Upsert the pipeline columns of the current period rows from the latest cycle's row.

    The realtime-off path (`enable_realtime_updates` false): the service calls it with every
    period statistics refresh, right after `stats.refresh.refresh_all`. One statement. From the
    stored stage vectors when the row has them (every pipeline column, pathway_details
    included, for the UIDs whose hotkey is still the one the cycle saw); from
    submitted_uids / submitted_weights otherwise (submitted_weight only). weight_submission_block
    is the row's block when the row is on chain. Returns the rows written.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    params = {
        "validator_hotkey": validator_hotkey,
        "netuid": netuid,
        "now": now,
        "detailed": True,
        **period_params(periods if periods is not None else current_periods(now)),
    }
    with transaction(bind) as conn:
        return int(conn.execute(_FILL_FROM_LATEST, params).rowcount)


__all__ = [
    "TraceRecord",
    "build_record",
    "fill_pipeline_columns",
    "insert_submission",
    "json_vector",
    "set_submission_block",
    "skip_reason",
    "stages_json",
    "update_outcome",
    "upsert_miner_rows",
]
