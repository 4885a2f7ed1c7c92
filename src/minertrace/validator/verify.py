"""Commit-reveal verification: after the reveal epoch, read the weights back and compare.

A commit cannot be read back before its reveal, so `run_cycle` leaves such rows 'committed';
the service calls `verify_pending(ctx)` on its first pass, after each new epoch or cycle, and
again after a database failure. Candidates are the queued entries and the
stored rows that are 'committed', not yet verified, and revealed by the chain's last epoch.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass

from minertrace.store import (
    Verification,
    VerificationUpdate,
    committed_rows,
    write_verifications,
)
from minertrace.validator.cycle import CycleContext, flush, short_error
from minertrace.validator.submit import compare_weights, find_validator
from minertrace.validator.trace_queue import PendingTrace
from minertrace.vocabulary import SubmissionStatus


@dataclass
class _Candidate:
    key: tuple[int, int, int]
    expected: dict[int, int]
    ws_id: int | None = None
    item: PendingTrace | None = None


def _queued_candidates(ctx: CycleContext, last_epoch: int) -> list[_Candidate]:
    return [
        _Candidate(
            (it.state.reveal_block, it.state.block_number or 0, it.ws_id or 0),
            it.record.expected_u16,
            it.ws_id,
            it,
        )
        for it in ctx.queue
        if it.state.status is SubmissionStatus.COMMITTED
        and it.state.verification is None
        and it.state.reveal_block is not None
        and it.state.reveal_block <= last_epoch
    ]


async def _stored_candidates(ctx: CycleContext, last_epoch: int) -> list[_Candidate]:
    queued_ids = {it.ws_id for it in ctx.queue if it.ws_id is not None}
    try:
        rows = await asyncio.to_thread(
            committed_rows, ctx.engine, ctx.validator_hotkey, ctx.netuid, last_epoch
        )
    except Exception as exc:
        ctx.metrics.persist_failures += 1
        ctx.log.warning("verify_pending: committed rows not readable: %s", short_error(exc))
        return []
    return [
        _Candidate((r.reveal_block, r.block_number or 0, r.id), r.expected_u16, r.id)
        for r in rows
        if r.id not in queued_ids
    ]


def _judge(
    ctx: CycleContext,
    cand: _Candidate,
    latest: _Candidate,
    held: dict[int, int],
    checked_block: int,
) -> tuple[SubmissionStatus, Verification]:
    if cand is not latest:
        return SubmissionStatus.COMMITTED, Verification(
            match=None, checked_block=checked_block, superseded=True
        )
    result = dataclasses.replace(compare_weights(cand.expected, held), checked_block=checked_block)
    if result.match:
        ctx.metrics.verified += 1
        return SubmissionStatus.VERIFIED, result
    ctx.metrics.mismatches += 1
    ctx.log.warning(
        "revealed weights differ from the commit on UIDs %s", result.differing_uids[:20]
    )
    return SubmissionStatus.MISMATCH, result


async def verify_pending(ctx: CycleContext) -> list[int]:
    """Verify this validator's commit-reveal submissions whose reveal epoch has run.

    Candidates are the 'committed' rows (and queued entries) with no verification yet whose
    reveal_block is at or before the chain's last epoch block. The latest of them (by reveal
    block) is compared with the chain's weights for the validator → 'verified', or 'mismatch'
    with the differing UIDs in `verification`. Older candidates were replaced on chain by a
    later reveal before they could be read back: they stay 'committed' and get
    `verification = {"match": null, "superseded": true}`. Returns the ids of the rows updated
    (queued entries are updated in memory and written by the flush at the end). Never raises.
    """
    try:
        last_epoch = await ctx.chain.last_epoch_block(ctx.netuid)
    except Exception as exc:
        ctx.log.warning("verify_pending: chain unavailable: %s", short_error(exc))
        return []
    candidates = _queued_candidates(ctx, last_epoch) + await _stored_candidates(ctx, last_epoch)
    if not candidates:
        return []
    candidates.sort(key=lambda c: c.key)
    latest = candidates[-1]
    try:
        me = find_validator(await ctx.chain.neurons(ctx.netuid), ctx.validator_hotkey)
        if me is None:
            ctx.log.warning("cannot verify commits: %s is not registered", ctx.validator_hotkey)
            return []
        held = await ctx.chain.weights_of(ctx.netuid, me.uid)
        checked_block = await ctx.chain.current_block()
    except Exception as exc:
        ctx.log.warning("verify_pending: weights read-back failed: %s", short_error(exc))
        return []
    now = ctx.clock.now()
    updates: list[VerificationUpdate] = []
    for cand in candidates:
        status, result = _judge(ctx, cand, latest, held, checked_block)
        if cand.item is not None:
            cand.item.state.status = status
            cand.item.state.verification = result
            cand.item.state.verified_at = now
            cand.item.state.touch()
        elif cand.ws_id is not None:
            updates.append(VerificationUpdate(cand.ws_id, status, now, result))
    ids: list[int] = []
    if updates:
        try:
            ids = await asyncio.to_thread(write_verifications, ctx.engine, updates)
        except Exception as exc:
            ctx.metrics.persist_failures += 1
            ctx.log.warning(
                "verification results not written (retried next time): %s", short_error(exc)
            )
    await flush(ctx)
    ids.extend(c.ws_id for c in candidates if c.item is not None and c.ws_id is not None)
    return sorted(ids)


__all__ = ["verify_pending"]
