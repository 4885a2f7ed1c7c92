"""The typed parts of an explanation: a stage, a reason, the cycle and the chain's view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from minertrace.vocabulary import SubmissionStatus, Task
from minertrace.weights.config import WeightConfig

StageValue = float | int | bool | str | None


@dataclass(frozen=True)
class Stage:
    """One step of the path, for one miner."""

    name: str
    label: str
    value: StageValue


@dataclass(frozen=True)
class Reason:
    """Why the weight is zero (or a note on what reduced it): a code and a sentence."""

    code: str
    message: str


@dataclass(frozen=True)
class Verification:
    """The read-back of the weights the chain holds for the cycle's validator."""

    match: bool | None
    differing_uids: tuple[int, ...] = ()
    superseded: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        out: dict[str, Any] = {"match": self.match, "differing_uids": list(self.differing_uids)}
        if self.superseded:
            out["superseded"] = True
        return out


@dataclass(frozen=True)
class CycleInfo:
    """One weight cycle (a weight_submissions row) as explain shows it."""

    id: int
    validator_hotkey: str
    netuid: int
    computed_at: datetime
    computed_block: int | None
    n_uids: int
    status: SubmissionStatus
    error: str | None
    attempts: int
    block_number: int | None
    block_hash: str | None
    reveal_epoch: int | None
    reveal_block: int | None
    verified_at: datetime | None
    verification: Verification | None
    consensus_block: int | None
    weights_produced: bool
    no_weights_reason: str | None
    rank_based_fallback: bool
    curve_midpoint: float | None
    max_weight: float | None
    zeroed_validators: tuple[int, ...]
    dropped_unregistered: tuple[int, ...]
    p85: dict[Task, float | None]
    valid_count: dict[Task, int | None]
    config: WeightConfig
    """The cycle's stored configuration (the defaults when none or an unreadable one is
    stored); every number in the reasons' text comes from it."""
    rules: str = "gaia"
    """The weight rules that produced the cycle (`minertrace.weights.rules`)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (datetimes as ISO 8601 text)."""
        return {
            "id": self.id,
            "validator_hotkey": self.validator_hotkey,
            "netuid": self.netuid,
            "computed_at": self.computed_at.isoformat(),
            "computed_block": self.computed_block,
            "n_uids": self.n_uids,
            "status": self.status.value,
            "error": self.error,
            "attempts": self.attempts,
            "block_number": self.block_number,
            "block_hash": self.block_hash,
            "reveal_epoch": self.reveal_epoch,
            "reveal_block": self.reveal_block,
            "verified_at": _iso(self.verified_at),
            "verification": None if self.verification is None else self.verification.to_dict(),
            "consensus_block": self.consensus_block,
            "weights_produced": self.weights_produced,
            "no_weights_reason": self.no_weights_reason,
            "rank_based_fallback": self.rank_based_fallback,
            "curve_midpoint": self.curve_midpoint,
            "max_weight": self.max_weight,
            "zeroed_validators": list(self.zeroed_validators),
            "dropped_unregistered": list(self.dropped_unregistered),
            "p85": {t.value: v for t, v in self.p85.items()},
            "valid_count": {t.value: v for t, v in self.valid_count.items()},
            "config": self.config.to_dict(),
            "rules": self.rules,
        }


@dataclass(frozen=True)
class ChainInfo:
    """What the chain made of the weights: the miner's last recorded epoch results."""

    incentive: float | None = None
    consensus_rank: int | None = None
    consensus_block: int | None = None
    weight_submission_block: int | None = None
    period: str | None = None
    """The stats row these values come from, e.g. `daily from 2026-01-01T00:00:00+00:00`."""
    node_incentive: float | None = None
    last_active_time: datetime | None = None
    consensus_delay_blocks: int | None = None
    """Blocks from the weights' inclusion to the epoch, when that epoch ran after it."""
    last_score_entry_at: datetime | None = None
    """Only read when the miner had no score in any window."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (datetimes as ISO 8601 text)."""
        return {
            "incentive": self.incentive,
            "consensus_rank": self.consensus_rank,
            "consensus_block": self.consensus_block,
            "weight_submission_block": self.weight_submission_block,
            "period": self.period,
            "node_incentive": self.node_incentive,
            "last_active_time": _iso(self.last_active_time),
            "consensus_delay_blocks": self.consensus_delay_blocks,
            "last_score_entry_at": _iso(self.last_score_entry_at),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
