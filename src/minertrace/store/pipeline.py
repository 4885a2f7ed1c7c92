"""The pipeline columns of miner_performance_stats: what a cycle traced for each miner.

`upsert_miner_rows` writes a cycle's traced miners into their current daily rows with one
INSERT ... SELECT FROM unnest(...) ... ON CONFLICT statement, once the submission's outcome is
known (`minertrace.validator.trace_queue`): the pipeline columns, weight_submission_block,
and the last epoch's chain columns (incentive, consensus_rank, consensus_block) from durable
state — node_table and the latest consensus_block `mark_in_force` recorded — so an epoch adds
no write of its own (the period refresh folds them into the daily row the same way). The
period job's statistics columns are left alone. A row still carrying another hotkey on the
UID is stale and never relabelled; a row whose values would not change is not rewritten.
`pathway_details` is built in SQL from the same per-UID vectors, so the cycle and
`fill_pipeline_columns` (the realtime-off path and the crash rebuild, from a stored
weight_submissions row) produce identical rows.
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


# (column, stage vector, SQL type) of the per-miner values read back from a stored row.
_STAGE_COLUMNS = (
    ("submitted", "submitted", "double precision"),
    ("raw", "raw_weight", "double precision"),
    ("exc", "excellence", "double precision"),
    ("div", "diversity", "double precision"),
    ("pathway", "pathway", "integer"),
    *((f"s{SHORT[t]}", f"score_{t}", "double precision") for t in TASKS),
    *((f"p{SHORT[t]}", f"present_{t}", "boolean") for t in TASKS),
    *((f"r{SHORT[t]}", f"rank_{t}", "double precision") for t in TASKS),
    *((f"q{SHORT[t]}", f"qualified_{t}", "boolean") for t in TASKS),
    *((f"c{SHORT[t]}", f"contribution_{t}", "double precision") for t in TASKS),
    ("bonus", "multi_task_bonus", "double precision"),
    ("nat", "num_active_tasks", "integer"),
)

_EXPAND = "jsonb_array_elements_text(w.stages -> '{}')"

# The latest row of the validator; its stage vectors when it has them... Each vector is
# expanded once (ROWS FROM zips them by position): indexing the toasted jsonb per element
# would decompress the whole document once per value, quadratic in the UIDs.
_STORED_SOURCE = f"""
    SELECT CAST(v.i - 1 AS integer) AS uid, nt.hotkey,
           {", ".join(f"CAST(v.{c} AS {kind}) AS {c}" for c, _, kind in _STAGE_COLUMNS)}
      FROM latest AS w
      CROSS JOIN LATERAL ROWS FROM (
           jsonb_array_elements_text(w.stages -> 'hotkey'),
           {", ".join(_EXPAND.format(name) for _, name, _ in _STAGE_COLUMNS)}
      ) WITH ORDINALITY AS v(hk, {", ".join(c for c, _, _ in _STAGE_COLUMNS)}, i)
      JOIN node_table AS nt ON nt.uid = v.i - 1
     WHERE w.stages IS NOT NULL
       AND v.i <= w.n_uids
       AND nt.hotkey IS NOT DISTINCT FROM v.hk
       AND (CAST(v.pw AS boolean) OR CAST(v.pg AS boolean) OR CAST(v.ps AS boolean))
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


# The last epoch's chain columns, from durable state: the epoch block is the latest
# consensus_block `mark_in_force` recorded (any validator's: the epoch is the subnet's, and the
# period refresh reads the same); incentive is node_table's (the node sync that follows every
# epoch writes it); consensus_rank is RANK() by incentive, descending, among the UIDs without a
# validator permit. Empty (nothing written) with `:chain` false or before the first epoch.
_RANKED = """
    epoch AS (
        SELECT max(consensus_block) AS block FROM weight_submissions WHERE :chain
    ),
    ranked AS (
        SELECT nt.uid, nt.hotkey, nt.incentive, e.block AS epoch_block,
               CASE WHEN NOT nt.validator_permit
                    THEN rank() OVER (PARTITION BY nt.validator_permit
                                      ORDER BY nt.incentive DESC NULLS LAST) END AS crank
          FROM node_table AS nt
          JOIN epoch AS e ON e.block IS NOT NULL
         WHERE nt.hotkey IS NOT NULL
    )"""


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
    # Joined on the UID alone (an integer sort or hash, not a collated text sort); a node row
    # with another hotkey gives nothing.
    chain = {
        c: f"CASE WHEN r.hotkey = s.hotkey THEN r.{e} END"
        for c, e in (
            ("incentive", "incentive"),
            ("consensus_rank", "crank"),
            ("consensus_block", "epoch_block"),
        )
    }
    # Per-miner values are computed once (materialised), then crossed with the periods.
    per_miner = ", ".join(f"{expr} AS {col}" for col, expr in {**columns, **chain}.items())
    # The chain columns are kept unless this write has an epoch's values for the miner.
    new = {
        **{c: f"EXCLUDED.{c}" for c in columns},
        **{
            c: f"CASE WHEN EXCLUDED.consensus_block IS NOT NULL THEN EXCLUDED.{c} ELSE m.{c} END"
            for c in chain
        },
    }
    return f"""
    WITH {with_latest}
    src AS ({source}),
    {_RANKED},
    t AS MATERIALIZED (
        SELECT s.uid, s.hotkey, {per_miner}
          FROM src AS s
          LEFT JOIN ranked AS r ON r.uid = s.uid
    ),
    periods AS (
        SELECT * FROM unnest(CAST(:period_types AS text[]),
                             CAST(:period_starts AS timestamptz[]),
                             CAST(:period_ends AS timestamptz[]))
               AS p(period_type, period_start, period_end)
    )
    INSERT INTO miner_performance_stats AS m (
        miner_uid, miner_hotkey, period_start, period_end, period_type,
        {", ".join(new)}, calculated_at, updated_at)
    SELECT t.uid, t.hotkey, p.period_start, p.period_end, p.period_type,
           {", ".join(f"t.{c}" for c in new)}, :now, :now
      FROM t CROSS JOIN periods AS p
    ON CONFLICT (miner_uid, period_start, period_end, period_type) DO UPDATE SET
        {", ".join(f"{c} = {e}" for c, e in new.items())}, updated_at = EXCLUDED.updated_at
    WHERE m.miner_hotkey = EXCLUDED.miner_hotkey
      AND ({", ".join(f"m.{c}" for c in new)}) IS DISTINCT FROM ({", ".join(new.values())})
    """


UPSERT_MINERS_SQL = _upsert_sql(_UNNEST_SOURCE, latest=False)
"""The cycle's upsert of its traced miners' rows (public for bench/cycle.py's floor)."""
_UPSERT_MINERS = text(UPSERT_MINERS_SQL)
_FILL_FROM_LATEST = text(_upsert_sql(_STORED_SOURCE, latest=True))

_LATEST_ROW = text(
    """
    SELECT id, computed_at FROM weight_submissions
     WHERE validator_hotkey = :validator_hotkey AND netuid = :netuid
     ORDER BY id DESC
     LIMIT 1
    """
)


def upsert_miner_rows(
    conn: Connection, record: TraceRecord, wsb: int | None, *, chain: bool = True
) -> int:
    """Upsert the traced miners' current period rows (one statement); returns rows written.

    `wsb` is the weight_submission_block written on every row; with `chain`, the last
    recorded epoch's chain columns too (see `_RANKED`).
    """
    if record.miners is None or not record.miners["uids"]:
        return 0
    params = {
        **record.miners,
        **period_params(record.periods),
        "detailed": record.detailed,
        "validator_hotkey": record.validator_hotkey,
        "chain": chain,
        "wsb": wsb,
        "now": record.computed_at,
    }
    return int(conn.execute(_UPSERT_MINERS, params).rowcount)


def latest_submission(
    bind: Engine | Connection, validator_hotkey: str, netuid: int
) -> tuple[int, datetime] | None:
    """(id, computed_at) of the validator's latest weight_submissions row, or None."""
    params = {"validator_hotkey": validator_hotkey, "netuid": netuid}
    with transaction(bind) as conn:
        row = conn.execute(_LATEST_ROW, params).one_or_none()
    return None if row is None else (int(row.id), row.computed_at)


def fill_pipeline_columns(
    bind: Engine | Connection,
    *,
    validator_hotkey: str,
    netuid: int,
    now: datetime,
    periods: Sequence[PeriodWindow],
    chain: bool = True,
) -> int:
    """Upsert the pipeline columns of the current period rows from the latest cycle's row.

    Two callers: the realtime-off path (`enable_realtime_updates` false), where the service
    calls it before every period statistics refresh with today's period; and
    `minertrace.validator.reconcile`, which rebuilds the rows of a cycle whose process died
    before writing them (period: the row's day, `now`: its computed_at). One statement. From
    the stored stage vectors when the row has them (every pipeline column, pathway_details
    included, for the UIDs whose hotkey is still the one the cycle saw); from submitted_uids
    / submitted_weights otherwise (submitted_weight only). weight_submission_block is the
    row's block when the row is on chain; with `chain`, the last recorded epoch's chain
    columns as the cycle writes them. Rows that would not change are not written. Returns
    the rows written.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    params = {
        "validator_hotkey": validator_hotkey,
        "netuid": netuid,
        "now": now,
        "detailed": True,
        "chain": chain,
        **period_params(periods),
    }
    with transaction(bind) as conn:
        return int(conn.execute(_FILL_FROM_LATEST, params).rowcount)
