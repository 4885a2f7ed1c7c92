"""Read-only views for the HTTP API, the dashboard and replay. Set-based, parameters bound.

Every function takes a Connection (the caller picks the transaction: the web app's is read
only) and returns typed rows. Stage vectors are large JSON documents: each query extracts the
few vectors it needs once (a materialised CTE) and expands them with `WITH ORDINALITY`, so a
document is decompressed once per request, never once per UID. Lists are capped at the
`*_MAX` page sizes whatever the caller asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from minertrace.vocabulary import ON_CHAIN_STATUSES

CYCLES_MAX = 500
MINERS_MAX = 4096
HISTORY_MAX = 2000
TIMELINE_MAX_DAYS = 366

_ON_CHAIN = tuple(sorted(s.value for s in ON_CHAIN_STATUSES))


@dataclass(frozen=True)
class CycleSummary:
    """One weight_submissions row in a list."""

    id: int
    validator_hotkey: str
    netuid: int
    computed_at: datetime
    computed_block: int | None
    n_uids: int
    status: str
    weights_produced: bool
    attempts: int
    block_number: int | None
    verified: bool | None
    consensus_block: int | None
    replayable: bool


_SUMMARY_COLUMNS = """
    id, validator_hotkey, netuid, computed_at, computed_block, n_uids, status, weights_produced,
    jsonb_array_length(attempts) AS attempts, block_number,
    CAST(verification ->> 'match' AS boolean) AS verified, consensus_block,
    inputs IS NOT NULL AS replayable
"""

_CYCLES = text(
    f"""
    SELECT {_SUMMARY_COLUMNS}
      FROM weight_submissions
     WHERE (CAST(:validator AS text) IS NULL OR validator_hotkey = :validator)
       AND (CAST(:status AS text) IS NULL OR status = :status)
       AND (CAST(:before_id AS bigint) IS NULL OR id < :before_id)
       AND (CAST(:since AS timestamptz) IS NULL OR computed_at >= :since)
       AND (CAST(:until AS timestamptz) IS NULL OR computed_at < :until)
     ORDER BY id DESC
     LIMIT :limit
    """
)


def list_cycles(
    conn: Connection,
    *,
    validator: str | None = None,
    status: str | None = None,
    before_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
) -> list[CycleSummary]:
    """Cycles newest first; page with `before_id` (the last id of the previous page)."""
    params = {
        "validator": validator,
        "status": status,
        "before_id": before_id,
        "since": since,
        "until": until,
        "limit": max(1, min(limit, CYCLES_MAX)),
    }
    return [CycleSummary(**r) for r in conn.execute(_CYCLES, params).mappings()]


@dataclass(frozen=True)
class CycleDetail:
    """One cycle without its stage vectors."""

    summary: CycleSummary
    error: str | None
    block_hash: str | None
    reveal_epoch: int | None
    reveal_block: int | None
    verified_at: datetime | None
    verification: dict[str, Any] | None
    attempt_log: list[dict[str, Any]]
    no_weights_reason: str | None
    rank_based_fallback: bool
    scalars: dict[str, Any]
    data_quality: dict[str, Any]
    config: dict[str, Any]
    score_rows: list[dict[str, Any]]
    submitted_uids: list[int]
    submitted_weights: list[float]
    submitted_u16: list[int]
    has_stages: bool
    trace_overhead_s: float | None


_CYCLE = text(
    f"""
    SELECT {_SUMMARY_COLUMNS}, error, block_hash, reveal_epoch, reveal_block, verified_at,
           verification, attempts AS attempt_log, no_weights_reason, rank_based_fallback,
           scalars, data_quality, config, score_rows,
           coalesce(submitted_uids, '{{}}') AS submitted_uids,
           coalesce(submitted_weights, '{{}}') AS submitted_weights,
           coalesce(submitted_u16, '{{}}') AS submitted_u16,
           stages IS NOT NULL AS has_stages, trace_overhead_s
      FROM weight_submissions
     WHERE id = coalesce(CAST(:id AS bigint), (SELECT max(id) FROM weight_submissions))
    """
)
_SUMMARY_FIELDS = tuple(CycleSummary.__dataclass_fields__)


def get_cycle(conn: Connection, cycle_id: int | None) -> CycleDetail | None:
    """Cycle `cycle_id` (None: the latest), or None when there is no such cycle."""
    row = conn.execute(_CYCLE, {"id": cycle_id}).mappings().first()
    if row is None:
        return None
    data = dict(row)
    summary = CycleSummary(**{k: data.pop(k) for k in _SUMMARY_FIELDS})
    return CycleDetail(summary=summary, **data)


_STAGES = text(
    """
    WITH w AS MATERIALIZED (SELECT n_uids, stages FROM weight_submissions WHERE id = :id)
    SELECT s.key AS name,
           CASE WHEN CAST(:uids AS integer[]) IS NULL THEN s.value
                ELSE (SELECT coalesce(jsonb_agg(s.value -> u.uid ORDER BY u.ord), '[]')
                        FROM unnest(CAST(:uids AS integer[])) WITH ORDINALITY AS u(uid, ord))
           END AS vector
      FROM w, jsonb_each(w.stages) AS s
     WHERE jsonb_typeof(s.value) = 'array'
    """
)


def cycle_stages(
    conn: Connection, cycle_id: int, uids: list[int] | None = None
) -> dict[str, list[Any]] | None:
    """{stage: vector} of a cycle (only `uids`' elements, in that order, when given).

    None when the cycle stored no stage vectors (or does not exist). The vector `hotkey` is
    the hotkey each UID had in the cycle's node list.
    """
    rows = conn.execute(_STAGES, {"id": cycle_id, "uids": uids}).all()
    return {r.name: r.vector for r in rows} or None


_STAGE_MAX = text(
    """
    WITH w AS MATERIALIZED (SELECT stages FROM weight_submissions WHERE id = :id)
    SELECT s.key AS name, max(CAST(e.value #>> '{}' AS double precision)) AS top
      FROM w, jsonb_each(w.stages) AS s, jsonb_array_elements(s.value) AS e
     WHERE s.key = ANY(CAST(:names AS text[])) AND jsonb_typeof(s.value) = 'array'
       AND jsonb_typeof(e.value) = 'number'
     GROUP BY s.key
    """
)


def stage_maxima(conn: Connection, cycle_id: int, names: list[str]) -> dict[str, float]:
    """The largest value of each named stage vector of a cycle (absent when all null)."""
    rows = conn.execute(_STAGE_MAX, {"id": cycle_id, "names": names}).all()
    return {r.name: float(r.top) for r in rows if r.top is not None}


@dataclass(frozen=True)
class MinerRow:
    """A UID in the latest cycle (of one validator, or of any)."""

    uid: int
    hotkey: str | None
    coldkey: str | None
    validator_permit: bool | None
    pathway: str | None
    submitted_weight: float | None
    u16: int | None
    incentive: float | None
    consensus_rank: int | None
    coldkey_group_size: int | None
    coldkey_multiplier: float | None


def _stage_at(name: str, cast: str) -> str:
    return f"CAST(NULLIF(c.{name} -> n.uid, 'null') #>> '{{}}' AS {cast})"


_MINERS = text(
    f"""
    WITH c AS MATERIALIZED (
        SELECT id, n_uids, stages -> 'pathway' AS pathway, stages -> 'u16' AS u16,
               stages -> 'coldkey_group_size' AS gsize,
               stages -> 'coldkey_multiplier' AS gmult,
               submitted_uids, submitted_weights
          FROM weight_submissions
         WHERE (CAST(:validator AS text) IS NULL OR validator_hotkey = :validator)
         ORDER BY computed_at DESC, id DESC
         LIMIT 1),
    sub AS (SELECT u.uid, u.weight FROM c, unnest(c.submitted_uids, c.submitted_weights)
                                            AS u(uid, weight)),
    stats AS (
        SELECT DISTINCT ON (miner_uid) miner_uid, miner_hotkey, incentive, consensus_rank,
               scoring_pathway
          FROM miner_performance_stats
         ORDER BY miner_uid, (period_type = 'daily') DESC, period_start DESC)
    SELECT n.uid, n.hotkey, n.coldkey, n.validator_permit,
           coalesce(CASE {_stage_at("pathway", "integer")}
                    WHEN 0 THEN 'none' WHEN 1 THEN 'excellence' WHEN 2 THEN 'diversity' END,
                    s.scoring_pathway) AS pathway,
           sub.weight AS submitted_weight, {_stage_at("u16", "integer")} AS u16,
           coalesce(s.incentive, n.incentive) AS incentive, s.consensus_rank,
           {_stage_at("gsize", "integer")} AS coldkey_group_size,
           {_stage_at("gmult", "double precision")} AS coldkey_multiplier
      FROM node_table AS n
      LEFT JOIN c ON true
      LEFT JOIN sub ON sub.uid = n.uid
      LEFT JOIN stats AS s ON s.miner_uid = n.uid AND s.miner_hotkey = n.hotkey
     WHERE (CAST(:hotkey AS text) IS NULL OR n.hotkey = :hotkey)
     ORDER BY n.uid
     LIMIT :limit OFFSET :offset
    """
)


def list_miners(
    conn: Connection,
    *,
    validator: str | None = None,
    hotkey: str | None = None,
    limit: int = MINERS_MAX,
    offset: int = 0,
) -> list[MinerRow]:
    """Registered UIDs (node_table) with their values in the latest cycle, by UID."""
    params = {
        "validator": validator,
        "hotkey": hotkey,
        "limit": max(1, min(limit, MINERS_MAX)),
        "offset": max(0, offset),
    }
    return [MinerRow(**r) for r in conn.execute(_MINERS, params).mappings()]


@dataclass(frozen=True)
class HotkeyMatch:
    """A UID that carries (or carried) a hotkey."""

    uid: int
    hotkey: str
    current: bool
    last_seen: datetime | None


_HOTKEY = text(
    """
    SELECT uid, hotkey, bool_or(current) AS current, max(last_seen) AS last_seen FROM (
        SELECT uid, hotkey, true AS current, last_updated AS last_seen
          FROM node_table WHERE hotkey = :hotkey
        UNION ALL
        SELECT miner_uid, miner_hotkey, false, max(period_end)
          FROM miner_performance_stats WHERE miner_hotkey = :hotkey GROUP BY miner_uid,
               miner_hotkey) AS m
     GROUP BY uid, hotkey
     ORDER BY bool_or(current) DESC, max(last_seen) DESC NULLS LAST, uid
     LIMIT 100
    """
)


def find_hotkey(conn: Connection, hotkey: str) -> list[HotkeyMatch]:
    """UIDs whose current (node_table) or recorded (period rows) hotkey is `hotkey`."""
    return [HotkeyMatch(**r) for r in conn.execute(_HOTKEY, {"hotkey": hotkey}).mappings()]


def uid_known(conn: Connection, uid: int) -> bool:
    """Whether `uid` is in node_table or has period rows."""
    q = text(
        "SELECT EXISTS (SELECT FROM node_table WHERE uid = :uid) "
        "OR EXISTS (SELECT FROM miner_performance_stats WHERE miner_uid = :uid)"
    )
    return bool(conn.execute(q, {"uid": uid}).scalar())


@dataclass(frozen=True)
class PeriodRow:
    """One miner_performance_stats row, the columns the history plots use."""

    period_type: str
    period_start: datetime
    period_end: datetime
    miner_hotkey: str
    submitted_weight: float | None
    raw_calculated_weight: float | None
    scoring_pathway: str | None
    incentive: float | None
    consensus_rank: int | None
    percentile_rank_weather: float | None
    percentile_rank_geomagnetic: float | None
    percentile_rank_soil: float | None
    overall_avg_score: float | None
    total_tasks_attempted: int
    total_tasks_completed: int
    validator_hotkey: str | None


_HISTORY = text(
    f"""
    SELECT {", ".join(PeriodRow.__dataclass_fields__)}
      FROM miner_performance_stats
     WHERE miner_uid = :uid
       AND (CAST(:period AS text) IS NULL OR period_type = :period)
       AND (CAST(:since AS timestamptz) IS NULL OR period_end > :since)
       AND (CAST(:until AS timestamptz) IS NULL OR period_start < :until)
     ORDER BY period_type, period_start
     LIMIT :limit
    """
)


def miner_history(
    conn: Connection,
    uid: int,
    *,
    period: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = HISTORY_MAX,
) -> list[PeriodRow]:
    """A UID's period rows overlapping [since, until), oldest first per period type."""
    params = {
        "uid": uid,
        "period": period,
        "since": since,
        "until": until,
        "limit": max(1, min(limit, HISTORY_MAX)),
    }
    return [PeriodRow(**r) for r in conn.execute(_HISTORY, params).mappings()]


@dataclass(frozen=True)
class ValidatorRow:
    """One validator hotkey seen in weight_submissions."""

    validator_hotkey: str
    cycles: int
    statuses: dict[str, int]
    first_cycle_at: datetime
    last_cycle_at: datetime
    last_submission_id: int | None
    last_submission_at: datetime | None
    last_submission_block: int | None
    consensus_cosine: float | None


_VALIDATORS = text(
    """
    WITH per AS (
        SELECT validator_hotkey, count(*) AS cycles, min(computed_at) AS first_cycle_at,
               max(computed_at) AS last_cycle_at
          FROM weight_submissions GROUP BY validator_hotkey),
    st AS (
        SELECT validator_hotkey, jsonb_object_agg(status, n) AS statuses
          FROM (SELECT validator_hotkey, status, count(*) AS n
                  FROM weight_submissions GROUP BY validator_hotkey, status) AS x
         GROUP BY validator_hotkey),
    last AS (
        SELECT DISTINCT ON (validator_hotkey) validator_hotkey, id, computed_at, block_number,
               submitted_uids, submitted_weights
          FROM weight_submissions
         WHERE status = ANY(CAST(:on_chain AS text[]))
         ORDER BY validator_hotkey, computed_at DESC, id DESC)
    SELECT per.validator_hotkey, per.cycles, st.statuses, per.first_cycle_at,
           per.last_cycle_at, last.id AS last_submission_id,
           last.computed_at AS last_submission_at, last.block_number AS last_submission_block,
           cos.value AS consensus_cosine
      FROM per JOIN st USING (validator_hotkey)
      LEFT JOIN last USING (validator_hotkey)
      LEFT JOIN LATERAL (
          SELECT sum(coalesce(u.w, 0) * coalesce(n.incentive, 0))
                 / NULLIF(sqrt(sum(coalesce(u.w, 0) ^ 2)) * sqrt(sum(coalesce(n.incentive, 0) ^ 2)),
                          0) AS value
            FROM node_table AS n
            FULL JOIN unnest(last.submitted_uids, last.submitted_weights) AS u(uid, w)
                   ON u.uid = n.uid) AS cos ON last.id IS NOT NULL
     ORDER BY per.last_cycle_at DESC
    """
)


def list_validators(conn: Connection) -> list[ValidatorRow]:
    """Every validator hotkey with its cycles, statuses, last submission and agreement.

    `consensus_cosine` is the cosine similarity between the validator's latest on-chain
    weights and the incentive node_table holds (the chain's last synced epoch).
    """
    rows = conn.execute(_VALIDATORS, {"on_chain": list(_ON_CHAIN)}).mappings()
    return [ValidatorRow(**r) for r in rows]


@dataclass(frozen=True)
class TimelineBucket:
    """Cycles of one day by status."""

    day: datetime
    statuses: dict[str, int]


_TIMELINE = text(
    """
    SELECT day, jsonb_object_agg(status, n) AS statuses FROM (
        SELECT date_trunc('day', computed_at, 'UTC') AS day, status, count(*) AS n
          FROM weight_submissions
         WHERE computed_at >= (SELECT max(computed_at) FROM weight_submissions)
                              - make_interval(days => :days)
           AND (CAST(:validator AS text) IS NULL OR validator_hotkey = :validator)
         GROUP BY 1, 2) AS x
     GROUP BY day ORDER BY day
    """
)


def cycle_timeline(
    conn: Connection, *, days: int = 30, validator: str | None = None
) -> list[TimelineBucket]:
    """Cycles per UTC day and status over the `days` before the latest cycle."""
    params = {"days": max(1, min(days, TIMELINE_MAX_DAYS)), "validator": validator}
    return [TimelineBucket(**r) for r in conn.execute(_TIMELINE, params).mappings()]


@dataclass(frozen=True)
class ReplaySource:
    """What replay reads for one cycle: its stored inputs, config and results."""

    id: int
    n_uids: int
    config: dict[str, Any]
    score_rows: list[dict[str, Any]]
    inputs: dict[str, Any] | None
    stages: dict[str, Any] | None
    final_weights: list[float] | None
    submitted_uids: list[int] | None
    submitted_weights: list[float] | None
    submitted_u16: list[int] | None


_REPLAY = text(
    """
    SELECT id, n_uids, config, score_rows, inputs, stages, final_weights, submitted_uids,
           submitted_weights, submitted_u16
      FROM weight_submissions WHERE id = :id
    """
)


def replay_source(conn: Connection, cycle_id: int) -> ReplaySource | None:
    """The stored inputs and results of cycle `cycle_id`, or None when there is none."""
    row = conn.execute(_REPLAY, {"id": cycle_id}).mappings().first()
    return None if row is None else ReplaySource(**row)


@dataclass(frozen=True)
class StoredScoreRow:
    """A score row looked up by (task_name, task_id); `score` None when it is gone."""

    task_name: str
    task_id: str | None
    score: list[float | None] | None
    created_at: datetime | None
    found: bool


_SCORE_ROWS = text(
    """
    SELECT r.task_name, r.task_id, s.score, s.created_at, s.task_name IS NOT NULL AS found
      FROM unnest(CAST(:names AS text[]), CAST(:ids AS text[])) WITH ORDINALITY
           AS r(task_name, task_id, ord)
      LEFT JOIN score_table AS s
             ON s.task_name = r.task_name AND s.task_id IS NOT DISTINCT FROM r.task_id
     ORDER BY r.ord
    """
)


def score_rows_by_key(conn: Connection, keys: list[tuple[str, str | None]]) -> list[StoredScoreRow]:
    """The score rows with these (task_name, task_id) keys, in the given order (one query)."""
    if not keys:
        return []
    params = {"names": [k[0] for k in keys], "ids": [k[1] for k in keys]}
    return [StoredScoreRow(**r) for r in conn.execute(_SCORE_ROWS, params).mappings()]


__all__ = [
    "CYCLES_MAX",
    "HISTORY_MAX",
    "MINERS_MAX",
    "CycleDetail",
    "CycleSummary",
    "HotkeyMatch",
    "MinerRow",
    "PeriodRow",
    "ReplaySource",
    "StoredScoreRow",
    "TimelineBucket",
    "ValidatorRow",
    "cycle_stages",
    "cycle_timeline",
    "find_hotkey",
    "get_cycle",
    "list_cycles",
    "list_miners",
    "list_validators",
    "miner_history",
    "replay_source",
    "score_rows_by_key",
    "stage_maxima",
    "uid_known",
]
