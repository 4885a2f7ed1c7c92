"""What a cycle writes: the trace as statement parameters, and a submission's outcome.

Both are built by `minertrace.validator` and consumed by `minertrace.store.submissions` and
`minertrace.store.pipeline`; they live here so the store never imports the validator.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from minertrace.store._periods import PeriodWindow
from minertrace.store.arrays import PgArray
from minertrace.vocabulary import SubmissionStatus


@dataclass(frozen=True)
class Attempt:
    """One `set_weights` attempt, as stored in `weight_submissions.attempts`.

    `status` is the chain's receipt status ('included', 'committed', 'rejected', 'timeout',
    ...) or 'error' when the call raised; `landed_block` is set when a timed-out plain
    submission was found on chain anyway.
    """

    attempt: int
    at: str
    status: str
    block: int | None = None
    error: str | None = None
    message: str = ""
    block_number: int | None = None
    landed_block: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object (`block` and `landed_block` only when known)."""
        out = asdict(self)
        for key in ("block", "landed_block"):
            if out[key] is None:
                del out[key]
        return out


@dataclass(frozen=True)
class Verification:
    """The read-back of a submission: did the chain hold the weights that were sent?

    `match` is None for a commit superseded by a later reveal before it could be read back.
    """

    match: bool | None
    checked_block: int | None
    differing_uids: list[int] = field(default_factory=list)
    expected_count: int = 0
    chain_count: int = 0
    superseded: bool = False

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object (a superseded commit keeps only match/superseded/block)."""
        if self.superseded:
            return {"match": None, "superseded": True, "checked_block": self.checked_block}
        return {
            "match": self.match,
            "differing_uids": list(self.differing_uids),
            "expected_count": self.expected_count,
            "chain_count": self.chain_count,
            "checked_block": self.checked_block,
        }


@dataclass(frozen=True)
class Outcome:
    """The weight_submissions columns a submission's life sets after compute time."""

    status: SubmissionStatus
    error: str | None
    attempts: tuple[Attempt, ...]
    block_number: int | None
    block_hash: str | None
    reveal_epoch: int | None
    reveal_block: int | None
    verified_at: datetime | None
    verification: Verification | None
    trace_overhead_s: float | None

    def params(self) -> dict[str, Any]:
        """The bind parameters (JSON columns as text)."""
        return {
            "status": self.status.value,
            "error": self.error,
            "attempts": json.dumps([a.to_json() for a in self.attempts]),
            "block_number": self.block_number,
            "block_hash": self.block_hash,
            "reveal_epoch": self.reveal_epoch,
            "reveal_block": self.reveal_block,
            "verified_at": self.verified_at,
            "verification": None
            if self.verification is None
            else json.dumps(self.verification.to_json()),
            "trace_overhead_s": self.trace_overhead_s,
        }


@dataclass(frozen=True)
class TraceRecord:
    """One trace as statement parameters, ready to be written (or queued)."""

    validator_hotkey: str
    netuid: int
    computed_at: datetime
    computed_block: int | None
    submission: dict[str, Any]
    """weight_submissions columns fixed at compute time (JSON columns as text)."""
    miners: dict[str, Any] | None
    """Per traced miner vectors for the stats upsert (`PgArray`s, the hotkeys as a list);
    None with realtime updates off."""
    periods: tuple[PeriodWindow, ...]
    expected_u16: dict[int, int]
    """What goes on chain: {uid: u16}, zeros dropped."""
    detailed: bool

    @property
    def traced_uids(self) -> list[int]:
        """UIDs whose stats rows the record writes."""
        if self.miners is None:
            return []
        uids = self.miners["uids"]
        return uids.tolist() if isinstance(uids, PgArray) else list(uids)
