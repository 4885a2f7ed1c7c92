"""Chain integration: after each epoch, what the chain made of the weights.

Run right after an epoch (and the node sync that follows it) when `enable_chain_integration`
is on. One statement, `minertrace.store.mark_in_force`: `consensus_block` is set on this
validator's weight_submissions row whose weights were in force in that epoch: the latest row
(by the block its weights took effect) that is `included`/`verified`/`mismatch` with
block_number <= epoch block, or `committed`/`verified` with reveal_block <= epoch block
(commit-reveal: the weights apply at the reveal), provided its consensus_block is still NULL.
A row superseded by a newer submission before any epoch ran never had its weights in force and
keeps NULL, so `consensus_block - block_number` is the consensus delay of every row that has
one.

The miners' chain columns (`incentive`, `consensus_rank`, `consensus_block`) are not written
here: the next write of each miner's daily row — the next cycle's (after its submission), the
period refresh's, or `fill_pipeline_columns` — takes them from this durable state: node_table's
incentive (the node sync just wrote it), RANK() by incentive among the UIDs without a
validator permit, and the latest consensus_block recorded here. So an epoch adds no row
version. Until that write (at most one cycle or refresh interval, an hour by default) the
stats rows show the previous epoch's values; node_table already holds the new incentive, and
this row's consensus_block the new epoch. Without a recorded epoch (chain integration off, or
no submission ever in force) the rows get no chain columns.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from minertrace.chain.types import Chain
from minertrace.store import mark_in_force, transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpochReport:
    """What `apply_epoch_results` wrote."""

    epoch_block: int
    submission_ids: list[int]
    """weight_submissions rows that got this consensus_block."""


def write_epoch_results(
    conn_or_engine: Engine | Connection, *, netuid: int, validator_hotkey: str, epoch_block: int
) -> EpochReport:
    """The database half of `apply_epoch_results`: `mark_in_force`, one statement."""
    with transaction(conn_or_engine) as conn:
        ids = mark_in_force(conn, validator_hotkey, netuid, epoch_block)
    return EpochReport(epoch_block=epoch_block, submission_ids=ids)


async def apply_epoch_results(
    engine: Engine,
    chain: Chain,
    netuid: int,
    validator_hotkey: str,
    now: datetime,
    *,
    epoch_block: int | None = None,
    log: logging.Logger | None = None,
) -> EpochReport:
    """Record which submission was in force at the last epoch (see the module doc).

    `epoch_block` defaults to `chain.last_epoch_block(netuid)`; `now` is the time of the
    epoch check (logged). The database work runs on the sync Engine in a worker thread.
    """
    log = log or logger
    if epoch_block is None:
        epoch_block = await chain.last_epoch_block(netuid)
    report = await asyncio.to_thread(
        write_epoch_results,
        engine,
        netuid=netuid,
        validator_hotkey=validator_hotkey,
        epoch_block=epoch_block,
    )
    log.info(
        "epoch at block %d (seen %s): consensus_block set on submissions %s",
        report.epoch_block,
        now.isoformat(),
        report.submission_ids,
    )
    return report


__all__ = ["EpochReport", "apply_epoch_results", "write_epoch_results"]
