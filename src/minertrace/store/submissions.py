"""weight_submissions: the life of a cycle's row, from compute to verification or orphaning.

Insert at compute time (`insert_submission`), the outcome after each attempt
(`update_outcome`), commit-reveal verification (`committed_rows`, `write_verifications`),
forks (`orphan_candidates`, `mark_orphaned`), the epoch's `consensus_block`
(`mark_in_force`), retention (`delete_submissions_before`) and the demo's `top_miners`.
Every call is one statement; the status names come from `minertrace.vocabulary`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, delete, select, text

from minertrace.db.tables import weight_submissions
from minertrace.store._bind import transaction
from minertrace.store.records import Outcome, TraceRecord, Verification
from minertrace.vocabulary import ON_CHAIN_STATUSES, PeriodType, SubmissionStatus

_S = SubmissionStatus
ORPHANABLE_STATUSES: tuple[SubmissionStatus, ...] = tuple(sorted(ON_CHAIN_STATUSES))
"""Statuses of a row whose block a reorg can drop."""


def _names(statuses: tuple[SubmissionStatus, ...]) -> list[str]:
    return [s.value for s in statuses]


INSERT_SUBMISSION_SQL = """
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
"""The cycle's INSERT of its weight_submissions row (public for bench/cycle.py's floor)."""
_INSERT_SUBMISSION = text(INSERT_SUBMISSION_SQL)

# An orphaned row stays orphaned: a late write of an older in-memory state must not undo it.
_UPDATE_OUTCOME = text(
    """
    UPDATE weight_submissions
       SET status = :status, error = :error, attempts = CAST(:attempts AS jsonb),
           block_number = :block_number, block_hash = :block_hash,
           reveal_epoch = :reveal_epoch, reveal_block = :reveal_block,
           verified_at = :verified_at, verification = CAST(:verification AS jsonb),
           trace_overhead_s = :trace_overhead_s
     WHERE id = :id AND status <> :orphaned
    """
)


@dataclass(frozen=True)
class CommittedRow:
    """A 'committed' row waiting for verification after its reveal."""

    id: int
    block_number: int | None
    reveal_block: int
    expected_u16: dict[int, int]
    """{uid: u16} that was committed, zeros dropped."""


@dataclass(frozen=True)
class ChainBlock:
    """A row's recorded inclusion block."""

    id: int
    block_number: int
    block_hash: str


@dataclass(frozen=True)
class VerificationUpdate:
    """The verification result to store on a row that is not in the trace queue."""

    id: int
    status: SubmissionStatus
    verified_at: datetime
    verification: Verification


@dataclass(frozen=True)
class TopMiner:
    """One miner of the validator's latest cycle with weights, by submitted weight."""

    cycle_id: int
    uid: int
    hotkey: str | None
    weight: float
    u16: int
    scoring_pathway: str | None
    incentive: float | None
    consensus_rank: int | None


_W = weight_submissions.c
_COMMITTED = (
    select(_W.id, _W.block_number, _W.reveal_block, _W.submitted_uids, _W.submitted_u16)
    .where(
        _W.validator_hotkey == bindparam("hotkey"),
        _W.netuid == bindparam("netuid"),
        _W.status == bindparam("committed"),
        _W.verification.is_(None),
        _W.reveal_block <= bindparam("last_epoch"),
    )
    .order_by(_W.reveal_block, _W.block_number, _W.id)
)

_SET_VERIFIED = text(
    """
    UPDATE weight_submissions AS w
       SET status = v.status, verified_at = v.verified_at, verification = v.verification
      FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[]),
                  CAST(:verified_ats AS timestamptz[]), CAST(:verifications AS jsonb[]))
           AS v(id, status, verified_at, verification)
     WHERE w.id = v.id AND w.status = :committed
    RETURNING w.id
    """
)

_ORPHAN_CANDIDATES = text(
    """
    SELECT id, block_number, block_hash
      FROM weight_submissions
     WHERE validator_hotkey = :hotkey
       AND (CAST(:netuid AS integer) IS NULL OR netuid = :netuid)
       AND status = ANY(CAST(:statuses AS text[]))
       AND block_number IS NOT NULL AND block_hash IS NOT NULL
       AND block_number >= :since_block
     ORDER BY id
    """
)

# The hash is compared again so a row re-recorded meanwhile is left alone.
_ORPHAN = text(
    """
    UPDATE weight_submissions AS w
       SET status = :orphaned,
           error = 'orphaned: block ' || w.block_number || ' hash ' || w.block_hash
                   || ' is no longer on the best chain'
      FROM unnest(CAST(:ids AS bigint[]), CAST(:hashes AS text[])) AS o(id, block_hash)
     WHERE w.id = o.id AND w.block_hash = o.block_hash
       AND w.status = ANY(CAST(:statuses AS text[]))
    RETURNING w.id
    """
)

# Plain weights apply at their block, commit-reveal weights at the reveal.
_IN_FORCE = text(
    """
    WITH in_force AS (
        SELECT id, consensus_block
          FROM weight_submissions
         WHERE validator_hotkey = :hotkey
           AND netuid = :netuid
           AND ((reveal_block IS NULL AND status = ANY(CAST(:plain AS text[]))
                 AND block_number <= :epoch_block)
             OR (reveal_block IS NOT NULL AND status = ANY(CAST(:revealed AS text[]))
                 AND reveal_block <= :epoch_block))
         ORDER BY COALESCE(reveal_block, block_number) DESC, id DESC
         LIMIT 1
    )
    UPDATE weight_submissions AS w
       SET consensus_block = :epoch_block
      FROM in_force
     WHERE w.id = in_force.id AND in_force.consensus_block IS NULL
    RETURNING w.id
    """
)

_DELETE_BEFORE = delete(weight_submissions).where(_W.computed_at < bindparam("cutoff"))

_TOP = text(
    """
    WITH w AS (
        SELECT id, submitted_uids, submitted_weights, submitted_u16
          FROM weight_submissions
         WHERE validator_hotkey = :hotkey AND weights_produced
         ORDER BY computed_at DESC, id DESC
         LIMIT 1
    ), s AS (
        SELECT w.id, u.uid, u.weight, u.u16
          FROM w, unnest(w.submitted_uids, w.submitted_weights, w.submitted_u16)
               AS u(uid, weight, u16)
    )
    SELECT s.id AS cycle_id, s.uid, n.hotkey, s.weight, s.u16, m.scoring_pathway,
           coalesce(m.incentive, n.incentive) AS incentive, m.consensus_rank
      FROM s
      JOIN node_table AS n ON n.uid = s.uid
      LEFT JOIN LATERAL (
            SELECT scoring_pathway, incentive, consensus_rank
              FROM miner_performance_stats AS p
             WHERE p.miner_uid = s.uid AND p.miner_hotkey = n.hotkey
               AND p.period_type = :daily
             ORDER BY p.period_start DESC
             LIMIT 1) AS m ON true
     ORDER BY s.weight DESC, s.uid
     LIMIT :limit
    """
)


def insert_submission(conn: Connection, record: TraceRecord, outcome: Outcome) -> int:
    """INSERT the weight_submissions row with the outcome known so far; returns its id."""
    # A record built without replay inputs (`build_record(inputs=None)`) stores NULL.
    params = {"inputs": None, **record.submission, **outcome.params()}
    return int(conn.execute(_INSERT_SUBMISSION, params).scalar_one())


def update_outcome(conn: Connection, ws_id: int, outcome: Outcome) -> int:
    """Write the outcome onto row `ws_id` (an orphaned row is left alone); returns 0 or 1."""
    params = {"id": ws_id, "orphaned": _S.ORPHANED.value, **outcome.params()}
    return int(conn.execute(_UPDATE_OUTCOME, params).rowcount)


def committed_rows(
    bind: Engine | Connection, hotkey: str, netuid: int, last_epoch: int
) -> list[CommittedRow]:
    """The validator's unverified 'committed' rows revealed by `last_epoch`, oldest first."""
    params = {
        "hotkey": hotkey,
        "netuid": netuid,
        "last_epoch": last_epoch,
        "committed": _S.COMMITTED.value,
    }
    with transaction(bind) as conn:
        rows = conn.execute(_COMMITTED, params).all()
    return [
        CommittedRow(
            id=int(r.id),
            block_number=r.block_number,
            reveal_block=int(r.reveal_block),
            expected_u16={
                int(u): int(v)
                for u, v in zip(r.submitted_uids or [], r.submitted_u16 or [], strict=True)
                if v
            },
        )
        for r in rows
    ]


def write_verifications(bind: Engine | Connection, updates: list[VerificationUpdate]) -> list[int]:
    """Store verification results on rows still 'committed' (one UPDATE); returns their ids."""
    if not updates:
        return []
    params = {
        "ids": [u.id for u in updates],
        "statuses": [u.status.value for u in updates],
        "verified_ats": [u.verified_at for u in updates],
        "verifications": [json.dumps(u.verification.to_json()) for u in updates],
        "committed": _S.COMMITTED.value,
    }
    with transaction(bind) as conn:
        return sorted(int(i) for i in conn.execute(_SET_VERIFIED, params).scalars())


def orphan_candidates(
    bind: Engine | Connection, hotkey: str, netuid: int | None, since_block: int
) -> list[ChainBlock]:
    """The validator's on-chain rows with a recorded block at or after `since_block`."""
    params = {
        "hotkey": hotkey,
        "netuid": netuid,
        "statuses": _names(ORPHANABLE_STATUSES),
        "since_block": since_block,
    }
    with transaction(bind) as conn:
        rows = conn.execute(_ORPHAN_CANDIDATES, params)
        return [ChainBlock(int(r.id), int(r.block_number), str(r.block_hash)) for r in rows]


def mark_orphaned(bind: Engine | Connection, rows: list[tuple[int, str]]) -> list[int]:
    """Set status 'orphaned' on the (id, recorded block_hash) rows, in one UPDATE."""
    if not rows:
        return []
    params = {
        "ids": [i for i, _ in rows],
        "hashes": [h for _, h in rows],
        "statuses": _names(ORPHANABLE_STATUSES),
        "orphaned": _S.ORPHANED.value,
    }
    with transaction(bind) as conn:
        return sorted(int(i) for (i,) in conn.execute(_ORPHAN, params))


def mark_in_force(conn: Connection, hotkey: str, netuid: int, epoch_block: int) -> list[int]:
    """Set `consensus_block` on the validator's row whose weights were in force at
    `epoch_block`, unless it already has one; returns the id updated (or nothing)."""
    params = {
        "hotkey": hotkey,
        "netuid": netuid,
        "epoch_block": epoch_block,
        "plain": _names((_S.INCLUDED, _S.VERIFIED, _S.MISMATCH, _S.OBSERVED)),
        "revealed": _names((_S.COMMITTED, _S.VERIFIED, _S.MISMATCH)),
    }
    return [int(i) for (i,) in conn.execute(_IN_FORCE, params)]


def delete_submissions_before(conn: Connection, cutoff: datetime) -> int:
    """Delete rows computed before `cutoff`; returns the rows deleted."""
    return int(conn.execute(_DELETE_BEFORE, {"cutoff": cutoff}).rowcount)


def top_miners(bind: Engine | Connection, validator_hotkey: str, limit: int = 10) -> list[TopMiner]:
    """The miners with the largest submitted weight in the validator's latest cycle."""
    params = {"hotkey": validator_hotkey, "limit": limit, "daily": PeriodType.DAILY.value}
    with transaction(bind) as conn:
        return [TopMiner(**r) for r in conn.execute(_TOP, params).mappings()]
