"""Miner and validator views: the latest cycle per UID, hotkey lookup, period rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from minertrace.vocabulary import ON_CHAIN_STATUSES

MINERS_MAX = 4096
HISTORY_MAX = 2000

_ON_CHAIN = tuple(sorted(s.value for s in ON_CHAIN_STATUSES))


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


__all__ = [
    "HISTORY_MAX",
    "MINERS_MAX",
    "HotkeyMatch",
    "MinerRow",
    "PeriodRow",
    "ValidatorRow",
    "find_hotkey",
    "list_miners",
    "list_validators",
    "miner_history",
    "uid_known",
]
