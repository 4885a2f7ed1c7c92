"""Steps 4 and 5 of a cycle: submit the weights through the `Chain`, then check them.

`submit_weights` waits out the rate limit on the clock (from the subnet's weights_rate_limit
and the validator's last_update), then calls `set_weights`; rejections, timeouts and chain
exceptions are retried with exponential backoff (base * 2^(k-1)) up to `max_attempts`. Every
attempt is appended to `SubmissionState.attempts` and `on_attempt` is awaited after each, so
the caller can record it at once.

A timed-out plain submission may still have landed: before retrying, the validator's
last_update and weight row are read back, and when last_update moved and the row equals what
was sent, the submission is taken as included in block last_update. Under commit-reveal a
commit cannot be read back before its reveal, so a timeout is simply retried (a second commit
of the same weights is harmless).

`verify_weights` compares the chain's weight row of the validator with the u16 vector sent.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from minertrace.chain.types import (
    Chain,
    NeuronInfo,
    SubmissionReceipt,
    SubnetHyperparameters,
)
from minertrace.chain.types import SubmissionStatus as ReceiptStatus
from minertrace.clock import Clock
from minertrace.store import Attempt, Outcome, Verification
from minertrace.validator.metrics import CycleMetrics
from minertrace.vocabulary import BLOCK_SECONDS, ON_CHAIN_STATUSES, SubmissionStatus

logger = logging.getLogger(__name__)
# A rate-limit wait longer than this many rounds means last_update is not moving as expected.
_MAX_RATE_LIMIT_WAITS = 3


@dataclass
class SubmissionState:
    """The life of one cycle's submission, as written to its weight_submissions row.

    `version` grows with every change so a writer knows whether the row is up to date.
    """

    status: SubmissionStatus
    error: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    block_number: int | None = None
    block_hash: str | None = None
    reveal_epoch: int | None = None
    reveal_block: int | None = None
    verified_at: datetime | None = None
    verification: Verification | None = None
    trace_overhead_s: float | None = None
    version: int = 0

    def touch(self) -> None:
        """Mark the state changed (to be written)."""
        self.version += 1

    @property
    def on_chain(self) -> bool:
        """True when the extrinsic (plain or commit) was included."""
        return self.status in ON_CHAIN_STATUSES and self.block_number is not None

    def outcome(self) -> Outcome:
        """The weight_submissions columns this state sets, as an immutable snapshot."""
        return Outcome(
            status=self.status,
            error=self.error,
            attempts=tuple(self.attempts),
            block_number=self.block_number,
            block_hash=self.block_hash,
            reveal_epoch=self.reveal_epoch,
            reveal_block=self.reveal_block,
            verified_at=self.verified_at,
            verification=self.verification,
            trace_overhead_s=self.trace_overhead_s,
        )


@dataclass(frozen=True)
class Submitter:
    """Who submits and how: the validator, the subnet, and the retry policy."""

    chain: Chain
    clock: Clock
    hotkey: str
    netuid: int
    version_key: int = 0
    max_attempts: int = 5
    backoff_seconds: float = BLOCK_SECONDS
    block_seconds: float = BLOCK_SECONDS
    log: logging.Logger = logger


def find_validator(neurons: list[NeuronInfo], hotkey: str) -> NeuronInfo | None:
    """The metagraph entry of `hotkey`, or None when it is not registered."""
    return next((n for n in neurons if n.hotkey == hotkey), None)


def rate_limit_wait_blocks(last_update: int, current_block: int, hp: SubnetHyperparameters) -> int:
    """Blocks to wait so an extrinsic included in the next block passes the rate limit.

    A last_update of 0 means the validator never set weights (no limit applies).
    """
    if last_update <= 0:
        return 0
    return max(0, last_update + hp.weights_rate_limit - (current_block + 1))


async def wait_rate_limit(s: Submitter, hp: SubnetHyperparameters) -> NeuronInfo | None:
    """Sleep on the clock until the rate limit allows a submission; returns the validator."""
    me: NeuronInfo | None = None
    for _ in range(_MAX_RATE_LIMIT_WAITS):
        me = find_validator(await s.chain.neurons(s.netuid), s.hotkey)
        if me is None:
            return None
        wait = rate_limit_wait_blocks(me.last_update, await s.chain.current_block(), hp)
        if wait == 0:
            return me
        s.log.info(
            "rate limit: last update at block %d, waiting %d blocks before setting weights",
            me.last_update,
            wait,
        )
        await s.clock.sleep(wait * s.block_seconds)
    return me


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def _landed(
    s: Submitter, before: NeuronInfo | None, uids: list[int], u16: list[int]
) -> tuple[int, str | None] | None:
    """After a timeout: (block, hash) when the weights are on chain anyway, else None."""
    if before is None:
        return None
    me = find_validator(await s.chain.neurons(s.netuid), s.hotkey)
    if me is None or me.last_update <= before.last_update:
        return None
    held = await s.chain.weights_of(s.netuid, me.uid)
    if compare_weights(dict(zip(uids, u16, strict=True)), held).match:
        return me.last_update, await s.chain.block_hash(me.last_update)
    return None


async def submit_weights(
    s: Submitter,
    uids: list[int],
    u16: list[int],
    state: SubmissionState,
    *,
    on_attempt: Callable[[], Awaitable[object]] | None = None,
    metrics: CycleMetrics | None = None,
) -> SubmissionState:
    """Submit `uids`/`u16` and record the outcome in `state` (status included, committed or
    failed). Never raises: chain exceptions are recorded as failed attempts."""
    metrics = metrics if metrics is not None else CycleMetrics()
    for attempt in range(1, s.max_attempts + 1):
        entry, receipt, me, commit_reveal = await _attempt(s, attempt, uids, u16, metrics)
        if receipt is not None:
            if receipt.ok:
                state.attempts.append(entry)
                _accept(state, receipt)
                _count(metrics, state)
                s.log.info(
                    "weights %s in block %s after %d attempt(s)",
                    state.status,
                    state.block_number,
                    attempt,
                )
                state.touch()
                if on_attempt is not None:
                    await on_attempt()
                return state
            if receipt.status is ReceiptStatus.TIMEOUT and not commit_reveal:
                landed = await _safe_landed(s, me, uids, u16)
                if landed is not None:
                    state.attempts.append(dataclasses.replace(entry, landed_block=landed[0]))
                    state.status, state.error = SubmissionStatus.INCLUDED, None
                    state.block_number, state.block_hash = landed
                    _count(metrics, state)
                    s.log.info("timed-out submission landed in block %d", landed[0])
                    state.touch()
                    if on_attempt is not None:
                        await on_attempt()
                    return state
            s.log.warning(
                "set_weights attempt %d/%d: %s %s %s",
                attempt,
                s.max_attempts,
                receipt.status.value,
                entry.error,
                receipt.message,
            )
        state.attempts.append(entry)
        state.error = _error_summary(entry)
        last = attempt == s.max_attempts
        state.status = SubmissionStatus.FAILED if last else SubmissionStatus.SUBMITTING
        state.touch()
        if on_attempt is not None:
            await on_attempt()
        if attempt < s.max_attempts:
            await s.clock.sleep(s.backoff_seconds * 2 ** (attempt - 1))
    metrics.submissions_failed += 1
    s.log.error(
        "weights not submitted after %d attempts; last error: %s", s.max_attempts, state.error
    )
    return state


async def _attempt(
    s: Submitter, attempt: int, uids: list[int], u16: list[int], metrics: CycleMetrics
) -> tuple[Attempt, SubmissionReceipt | None, NeuronInfo | None, bool]:
    """One `set_weights` call after the rate-limit wait: the attempt's record, the receipt
    (None when the chain raised), the validator's entry before the call, commit-reveal on."""
    at: str | None = None
    block: int | None = None
    me: NeuronInfo | None = None
    commit_reveal = False
    try:
        hp = await s.chain.hyperparameters(s.netuid)
        commit_reveal = hp.commit_reveal_enabled
        me = await wait_rate_limit(s, hp)
        at = s.clock.now().isoformat()
        block = await s.chain.current_block()
        metrics.submission_attempts += 1
        receipt = await s.chain.set_weights(s.hotkey, s.netuid, uids, u16, s.version_key)
    except Exception as exc:  # a chain failure is one failed attempt, never a crash
        s.log.warning("set_weights attempt %d raised %s", attempt, _describe(exc))
        entry = Attempt(
            attempt=attempt,
            at=at if at is not None else s.clock.now().isoformat(),
            status="error",
            block=block,
            error=_describe(exc),
        )
        return entry, None, me, commit_reveal
    entry = Attempt(
        attempt=attempt,
        at=at,
        status=receipt.status.value,
        block=block,
        error=receipt.error.value if receipt.error else None,
        message=receipt.message,
        block_number=receipt.block_number,
    )
    return entry, receipt, me, commit_reveal


async def _safe_landed(
    s: Submitter, me: NeuronInfo | None, uids: list[int], u16: list[int]
) -> tuple[int, str | None] | None:
    try:
        return await _landed(s, me, uids, u16)
    except Exception as exc:
        s.log.warning("could not check whether a timed-out submission landed: %s", _describe(exc))
        return None


def _error_summary(entry: Attempt) -> str:
    return ": ".join(str(part) for part in (entry.status, entry.error, entry.message) if part)


def _accept(state: SubmissionState, receipt: SubmissionReceipt) -> None:
    state.error = None
    state.block_number = receipt.block_number
    state.block_hash = receipt.block_hash
    if receipt.status is ReceiptStatus.COMMITTED:
        state.status = SubmissionStatus.COMMITTED
        state.reveal_epoch = receipt.reveal_epoch
        state.reveal_block = receipt.reveal_block
    else:
        state.status = SubmissionStatus.INCLUDED


def _count(metrics: CycleMetrics, state: SubmissionState) -> None:
    if state.status is SubmissionStatus.COMMITTED:
        metrics.submissions_committed += 1
    else:
        metrics.submissions_included += 1


def compare_weights(expected: dict[int, int], held: dict[int, int]) -> Verification:
    """Compare the u16 row sent with the row the chain holds (zeros = absent).

    `checked_block` is left None; the caller that read `held` knows the block.
    """
    uids = sorted(set(expected) | set(held))
    differing = [u for u in uids if expected.get(u, 0) != held.get(u, 0)]
    return Verification(
        match=not differing,
        checked_block=None,
        differing_uids=differing,
        expected_count=sum(1 for v in expected.values() if v),
        chain_count=sum(1 for v in held.values() if v),
    )


async def verify_weights(
    chain: Chain, netuid: int, validator_uid: int, expected: dict[int, int]
) -> Verification:
    """Read the validator's weights back and compare them with `expected` ({uid: u16})."""
    held = await chain.weights_of(netuid, validator_uid)
    result = compare_weights(expected, held)
    return dataclasses.replace(result, checked_block=await chain.current_block())


def apply_verification(state: SubmissionState, result: Verification, at: datetime) -> None:
    """Set status verified/mismatch and the verification columns from a comparison."""
    state.status = SubmissionStatus.VERIFIED if result.match else SubmissionStatus.MISMATCH
    state.verification = result
    state.verified_at = at
    state.touch()


__all__ = [
    "SubmissionState",
    "Submitter",
    "apply_verification",
    "compare_weights",
    "find_validator",
    "rate_limit_wait_blocks",
    "submit_weights",
    "verify_weights",
    "wait_rate_limit",
]
