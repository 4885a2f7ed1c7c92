"""The pipeline columns of miner_performance_stats: what a cycle traced for each miner.

`upsert_miner_rows` writes a cycle's traced miners into their current daily, weekly, monthly
and all_time rows with one INSERT ... SELECT FROM unnest(...) ... ON CONFLICT statement. Only
the pipeline columns are written; the period job's statistics columns and the chain columns
(incentive, consensus_rank, consensus_block) are left alone. A row still carrying another
hotkey on the UID is stale and never relabelled. `pathway_details` is built in SQL from the
same per-UID vectors, so the cycle and `fill_pipeline_columns` (the realtime-off path, from
the latest stored weight_submissions row) produce identical rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Engine, text

from minertrace.store._bind import transaction
from minertrace.store._periods import PeriodWindow, period_params
from minertrace.store.records import TraceRecord
from minertrace.vocabulary import ON_CHAIN_STATUSES, TASK_NAMES, Pathway, Task

TASKS = TASK_NAMES
SHORT = {Task.WEATHER.value: "w", Task.GEOMAGNETIC.value: "g", Task.SOIL.value: "s"}
"""The one-letter key of each task in the per-miner vectors (`TraceRecord.miners`)."""
# The weight engine's pathway codes (trace.pathway) and their stored names.
_PATHWAY_CODES = ((0, Pathway.NONE), (1, Pathway.EXCELLENCE), (2, Pathway.DIVERSITY))

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
           CASE WHEN status IN ({", ".join(f"'{s.value}'" for s in sorted(ON_CHAIN_STATUSES))})
                THEN block_number END AS wsb
      FROM weight_submissions
     WHERE validator_hotkey = :validator_hotkey AND netuid = :netuid
     ORDER BY id DESC
     LIMIT 1
"""


def _upsert_sql(source: str, *, latest: bool) -> str:
    def q(task: str) -> str:
        k = SHORT[task]
        return f"CASE WHEN s.p{k} AND s.q{k} THEN '{task}' END"

    def present(task: str, expr: str) -> str:
        return f"CASE WHEN s.p{SHORT[task]} THEN {expr} END"

    qualified = f"array_remove(ARRAY[{', '.join(q(t) for t in TASKS)}]::text[], NULL)"
    ranks = ", ".join(f"'{t}', {present(t, _NN.format('s.r' + SHORT[t]))}" for t in TASKS)
    contribs = ", ".join(f"'{t}', {present(t, 's.c' + SHORT[t])}" for t in TASKS)
    scores = ", ".join(f"'{t}_score', {present(t, _NN.format('s.s' + SHORT[t]))}" for t in TASKS)
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
        "scoring_pathway": "CASE s.pathway "
        + " ".join(f"WHEN {code} THEN '{name.value}'" for code, name in _PATHWAY_CODES)
        + " END",
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
      AND ({", ".join(f"m.{c}" for c in columns)})
          IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in columns)})
    """


UPSERT_MINERS_SQL = _upsert_sql(_UNNEST_SOURCE, latest=False)
"""The cycle's upsert of its traced miners' rows (public for bench/cycle.py's floor)."""
_UPSERT_MINERS = text(UPSERT_MINERS_SQL)
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
    periods: Sequence[PeriodWindow],
) -> int:
    """Upsert the pipeline columns of the current period rows from the latest cycle's row.

    The realtime-off path (`enable_realtime_updates` false): the service calls it with every
    period statistics refresh, right after `minertrace.stats.refresh_all`, with the current
    periods. One statement. From the stored stage vectors when the row has them (every
    pipeline column, pathway_details included, for the UIDs whose hotkey is still the one the
    cycle saw); from submitted_uids / submitted_weights otherwise (submitted_weight only).
    weight_submission_block is the row's block when the row is on chain. Returns the rows
    written.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    params = {
        "validator_hotkey": validator_hotkey,
        "netuid": netuid,
        "now": now,
        "detailed": True,
        **period_params(periods),
    }
    with transaction(bind) as conn:
        return int(conn.execute(_FILL_FROM_LATEST, params).rowcount)
