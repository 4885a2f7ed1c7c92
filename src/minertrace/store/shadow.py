"""Shadow mode's reads and writes of weight_submissions.

- :func:`previous_scalars`: the scalars of a validator's latest cycle (the state that rules
  carrying one across cycles read back);
- :func:`traces_up_to`: a validator's latest traces computed at or before a block, oldest
  first, with what each would have submitted;
- :func:`last_observed_block`: the block of the latest weights already observed, so a
  restarted watcher does not record them twice;
- :func:`mark_observed`: the comparison onto the trace's row (status 'observed', the block,
  the verification) and the block onto its miners' current period rows, in one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from minertrace.vocabulary import SubmissionStatus


@dataclass(frozen=True)
class TraceRow:
    """One stored trace: its id, the block it was computed at, and its expected u16 row."""

    id: int
    computed_block: int
    expected: dict[int, int]
    status: str


_PREVIOUS = text(
    """
    SELECT scalars FROM weight_submissions
     WHERE validator_hotkey = :hotkey AND netuid = :netuid
     ORDER BY id DESC
     LIMIT 1
    """
)


def previous_scalars(conn: Connection, hotkey: str, netuid: int) -> dict[str, Any] | None:
    """The scalars of the validator's latest weight_submissions row (None: no row yet)."""
    row = conn.execute(_PREVIOUS, {"hotkey": hotkey, "netuid": netuid}).first()
    return dict(row[0] or {}) if row is not None else None


_TRACES = text(
    """
    SELECT id, computed_block, submitted_uids, submitted_u16, status
      FROM (SELECT id, computed_block, submitted_uids, submitted_u16, status
              FROM weight_submissions
             WHERE validator_hotkey = :hotkey AND netuid = :netuid
               AND computed_block IS NOT NULL AND computed_block <= :block
             ORDER BY computed_block DESC, id DESC
             LIMIT :limit) AS t
     ORDER BY computed_block, id
    """
)


def traces_up_to(
    conn: Connection, hotkey: str, netuid: int, block: int, limit: int = 16
) -> list[TraceRow]:
    """The validator's ``limit`` latest traces computed at or before ``block``, oldest first."""
    rows = conn.execute(
        _TRACES, {"hotkey": hotkey, "netuid": netuid, "block": block, "limit": limit}
    ).all()
    return [
        TraceRow(
            id=int(r.id),
            computed_block=int(r.computed_block),
            expected={
                int(u): int(v)
                for u, v in zip(r.submitted_uids or [], r.submitted_u16 or [], strict=True)
                if v
            },
            status=str(r.status),
        )
        for r in rows
    ]


_LAST_OBSERVED = text(
    """
    SELECT max(block_number) FROM weight_submissions
     WHERE validator_hotkey = :hotkey AND netuid = :netuid AND status = :observed
    """
)


def last_observed_block(conn: Connection, hotkey: str, netuid: int) -> int | None:
    """Block of the latest observation recorded for the validator (None: none yet)."""
    params = {"hotkey": hotkey, "netuid": netuid, "observed": SubmissionStatus.OBSERVED.value}
    value = conn.execute(_LAST_OBSERVED, params).scalar()
    return int(value) if value is not None else None


_MARK = text(
    """
    WITH w AS (
        UPDATE weight_submissions
           SET status = :observed, block_number = :block, block_hash = :block_hash,
               verified_at = :now, verification = CAST(:verification AS jsonb),
               consensus_block = CASE WHEN block_number IS DISTINCT FROM :block THEN NULL
                                      ELSE consensus_block END
         WHERE id = :id AND status <> 'orphaned'
        RETURNING id, validator_hotkey, submitted_uids, block_number
    )
    UPDATE miner_performance_stats AS m
       SET weight_submission_block = w.block_number, updated_at = :now
      FROM w,
           unnest(CAST(:period_types AS text[]), CAST(:period_starts AS timestamptz[]),
                  CAST(:period_ends AS timestamptz[])) AS p(period_type, period_start, period_end)
     WHERE m.validator_hotkey = w.validator_hotkey
       AND m.miner_uid = ANY(w.submitted_uids)
       AND m.period_type = p.period_type AND m.period_start = p.period_start
       AND m.period_end = p.period_end
    """
)


def mark_observed(
    conn: Connection,
    ws_id: int,
    *,
    block: int,
    block_hash: str | None,
    verification_json: str,
    now: datetime,
    periods: dict[str, list[Any]],
) -> None:
    """Record an observation on row ``ws_id`` (an orphaned row is left alone).

    A later weight update matched to the same trace replaces the earlier one; the row's
    ``consensus_block`` is then cleared, for the next epoch to set it for the new weights.

    ``periods`` are the bind arrays ``period_types``, ``period_starts``, ``period_ends`` of the
    miners' rows to stamp with the block.
    """
    conn.execute(
        _MARK,
        {
            "id": ws_id,
            "observed": SubmissionStatus.OBSERVED.value,
            "block": block,
            "block_hash": block_hash,
            "verification": verification_json,
            "now": now,
            **periods,
        },
    )


__all__ = [
    "TraceRow",
    "last_observed_block",
    "mark_observed",
    "previous_scalars",
    "traces_up_to",
]
