"""weight_submissions rows a crash left unsettled, and their settlement (one statement each).

A row is unsettled while its status is 'computed' or 'submitting': the process that wrote it
ended (SIGKILL, power loss) between two writes. `minertrace.validator.reconcile` decides each
row's outcome from the chain; `settle` stores it, only on rows still unsettled, so a late
write of the live process is never overwritten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, text

from minertrace.store._bind import transaction
from minertrace.store.records import Verification
from minertrace.vocabulary import SubmissionStatus

UNSETTLED_STATUSES: tuple[SubmissionStatus, ...] = (
    SubmissionStatus.COMPUTED,
    SubmissionStatus.SUBMITTING,
)
"""Statuses a finished cycle never leaves a row in."""

_UNSETTLED = text(
    """
    SELECT id, status, computed_block, submitted_uids, submitted_u16
      FROM weight_submissions
     WHERE validator_hotkey = :hotkey AND netuid = :netuid
       AND status = ANY(CAST(:statuses AS text[]))
     ORDER BY id
    """
)

_SETTLE = text(
    """
    UPDATE weight_submissions AS w
       SET status = s.status, error = s.error, block_number = s.block_number,
           verified_at = s.verified_at, verification = s.verification
      FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[]), CAST(:errors AS text[]),
                  CAST(:blocks AS bigint[]), CAST(:verified_ats AS timestamptz[]),
                  CAST(:verifications AS jsonb[]))
           AS s(id, status, error, block_number, verified_at, verification)
     WHERE w.id = s.id AND w.status = ANY(CAST(:unsettled AS text[]))
    RETURNING w.id
    """
)


@dataclass(frozen=True)
class UnsettledRow:
    """A row left 'computed' or 'submitting', with what it meant to send."""

    id: int
    status: SubmissionStatus
    computed_block: int | None
    expected_u16: dict[int, int]
    """{uid: u16} of the submission, zeros dropped (empty when nothing was to be sent)."""


@dataclass(frozen=True)
class Settlement:
    """The final outcome given to an unsettled row."""

    id: int
    status: SubmissionStatus
    error: str | None
    block_number: int | None = None
    verified_at: datetime | None = None
    verification: Verification | None = None


def unsettled_rows(bind: Engine | Connection, hotkey: str, netuid: int) -> list[UnsettledRow]:
    """The validator's unsettled rows, oldest first."""
    params = {
        "hotkey": hotkey,
        "netuid": netuid,
        "statuses": [s.value for s in UNSETTLED_STATUSES],
    }
    with transaction(bind) as conn:
        rows = conn.execute(_UNSETTLED, params).all()
    return [
        UnsettledRow(
            id=int(r.id),
            status=SubmissionStatus(r.status),
            computed_block=None if r.computed_block is None else int(r.computed_block),
            expected_u16={
                int(u): int(v)
                for u, v in zip(r.submitted_uids or [], r.submitted_u16 or [], strict=True)
                if v
            },
        )
        for r in rows
    ]


def settle(bind: Engine | Connection, settlements: list[Settlement]) -> list[int]:
    """Store the outcomes on the rows still unsettled (one UPDATE); returns their ids."""
    if not settlements:
        return []
    params = {
        "ids": [s.id for s in settlements],
        "statuses": [s.status.value for s in settlements],
        "errors": [s.error for s in settlements],
        "blocks": [s.block_number for s in settlements],
        "verified_ats": [s.verified_at for s in settlements],
        "verifications": [
            None if s.verification is None else json.dumps(s.verification.to_json())
            for s in settlements
        ],
        "unsettled": [s.value for s in UNSETTLED_STATUSES],
    }
    with transaction(bind) as conn:
        return sorted(int(i) for i in conn.execute(_SETTLE, params).scalars())


__all__ = ["UNSETTLED_STATUSES", "Settlement", "UnsettledRow", "settle", "unsettled_rows"]
