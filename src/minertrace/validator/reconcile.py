"""Crash consistency: every submission a dead process left open gets a final status.

A cycle writes its weight_submissions row 'computed', then 'submitting', then its outcome. A
SIGKILL between two writes leaves the row in between for ever. On start and after every pass
that ran a cycle, the service reads this validator's unsettled rows (not the ones its own
trace queue still holds) and settles each against the chain, from the validator's
`last_update` and the weight row it holds now (`decide`, pure):

- plain weights: the newest row computed at or before `last_update` whose weights are the
  ones the chain holds is 'verified' (included in block `last_update`); a row computed after
  `last_update` never reached the chain ('failed'); any other row was superseded on chain or
  never included ('failed', saying so);
- commit-reveal: a commit cannot be read back before its reveal, so the outcome is unknown
  ('failed', saying so);
- a validator the metagraph no longer holds: 'failed'.

A cycle writes its traced miners' daily rows after the submission, with its outcome
(`minertrace.validator.trace_queue`). So once per process, after settling, the validator's
latest row — unless this process's queue holds it — has its miners' rows rebuilt from its
stored stage vectors (`minertrace.store.fill_pipeline_columns`, the day of its computed_at):
the rows a dead process did not write. The statement skips rows that would not change, so
after a clean stop it writes nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import datetime

from minertrace.chain.types import NeuronInfo
from minertrace.stats.periods import period_for
from minertrace.store import (
    Settlement,
    UnsettledRow,
    fill_pipeline_columns,
    latest_submission,
    settle,
    unsettled_rows,
)
from minertrace.validator.cycle import CycleContext, short_error
from minertrace.validator.submit import compare_weights, find_validator
from minertrace.vocabulary import PeriodType, SubmissionStatus

_AFTER_CRASH = "the process ended before recording the outcome"


def decide(
    rows: Sequence[UnsettledRow],
    me: NeuronInfo | None,
    held: dict[int, int],
    checked_block: int,
    commit_reveal: bool,
    now: datetime,
) -> list[Settlement]:
    """The final status of each unsettled row, from the chain's view of the validator."""
    failed = SubmissionStatus.FAILED
    if me is None:
        why = f"{_AFTER_CRASH}; the validator is no longer registered"
        return [Settlement(r.id, failed, why) for r in rows]
    if commit_reveal:
        why = f"{_AFTER_CRASH}; a commit cannot be read back before its reveal (outcome unknown)"
        return [Settlement(r.id, failed, why) for r in rows]
    last_update = me.last_update
    landed = [
        r
        for r in rows
        if r.computed_block is not None
        and r.computed_block <= last_update
        and r.expected_u16
        and compare_weights(r.expected_u16, held).match
    ]
    winner = landed[-1] if landed else None
    out: list[Settlement] = []
    for r in rows:
        if r is winner:
            verification = dataclasses.replace(
                compare_weights(r.expected_u16, held), checked_block=checked_block
            )
            out.append(
                Settlement(
                    r.id,
                    SubmissionStatus.VERIFIED,
                    f"{_AFTER_CRASH}; reconciled: the chain holds these weights since block "
                    f"{last_update}",
                    block_number=last_update,
                    verified_at=now,
                    verification=verification,
                )
            )
        elif r.computed_block is None or r.computed_block > last_update:
            out.append(
                Settlement(
                    r.id,
                    failed,
                    f"{_AFTER_CRASH}; not submitted: the validator's last weights (block "
                    f"{last_update}) predate this cycle",
                )
            )
        else:
            out.append(
                Settlement(
                    r.id,
                    failed,
                    f"{_AFTER_CRASH}; not on chain at block {checked_block}: superseded or "
                    "never included",
                )
            )
    return out


async def reconcile_unsettled(ctx: CycleContext) -> list[int]:
    """Settle this validator's rows left 'computed' or 'submitting'; returns their ids.

    Rows held by this process's trace queue are left to it; a shadow service settles nothing.
    Then, once per process, the latest row's miner rows are rebuilt (see the module doc).
    Chain or database failures are logged and retried at the next call; never raises.
    """
    if ctx.settings.shadow:
        # A shadow service submits nothing: its 'computed' rows wait for `shadow` to observe.
        return []
    ids = await _settle_unsettled(ctx)
    if not ctx.rows_checked:
        await _rebuild_latest_rows(ctx)
    return ids


async def _settle_unsettled(ctx: CycleContext) -> list[int]:
    queued = {it.ws_id for it in ctx.queue if it.ws_id is not None}
    try:
        rows = await asyncio.to_thread(unsettled_rows, ctx.engine, ctx.validator_hotkey, ctx.netuid)
    except Exception as exc:
        ctx.log.warning("reconcile: unsettled submissions not readable: %s", short_error(exc))
        return []
    rows = [r for r in rows if r.id not in queued]
    if not rows:
        return []
    try:
        hp = await ctx.chain.hyperparameters(ctx.netuid)
        me = find_validator(await ctx.chain.neurons(ctx.netuid), ctx.validator_hotkey)
        held = await ctx.chain.weights_of(ctx.netuid, me.uid) if me is not None else {}
        checked_block = await ctx.chain.current_block()
    except Exception as exc:
        ctx.log.warning("reconcile: chain unavailable (retried later): %s", short_error(exc))
        return []
    settlements = decide(rows, me, held, checked_block, hp.commit_reveal_enabled, ctx.clock.now())
    try:
        ids = await asyncio.to_thread(settle, ctx.engine, settlements)
    except Exception as exc:
        ctx.log.warning("reconcile: outcomes not written (retried later): %s", short_error(exc))
        return []
    for s in settlements:
        if s.id in ids:
            ctx.log.warning(
                "submission %d left open by a previous run: %s (%s)", s.id, s.status, s.error
            )
    return ids


def _rebuild(ctx: CycleContext) -> int:
    latest = latest_submission(ctx.engine, ctx.validator_hotkey, ctx.netuid)
    if latest is None or any(it.ws_id == latest[0] for it in ctx.queue):
        return 0
    computed_at = latest[1]
    return fill_pipeline_columns(
        ctx.engine,
        validator_hotkey=ctx.validator_hotkey,
        netuid=ctx.netuid,
        now=computed_at,
        periods=[period_for(PeriodType.DAILY, computed_at)],
        chain=ctx.settings.enable_chain_integration,
    )


async def _rebuild_latest_rows(ctx: CycleContext) -> None:
    if not ctx.settings.enable_realtime_updates:
        # The stats job fills the rows from the latest stored row on its own schedule.
        ctx.rows_checked = True
        return
    try:
        written = await asyncio.to_thread(_rebuild, ctx)
    except Exception as exc:
        ctx.log.warning("reconcile: miner rows not rebuilt (retried later): %s", short_error(exc))
        return
    ctx.rows_checked = True
    if written:
        # After a crash these are the rows the dead process did not write; after a clean stop,
        # rows an epoch or a node sync since the last cycle brought up to date.
        ctx.log.info("reconcile: %d miner rows of the latest cycle rewritten", written)


__all__ = ["decide", "reconcile_unsettled"]
