"""Chain integration: after each epoch, what the chain made of the weights.

Run right after an epoch when `enable_chain_integration` is on. Two statements
(`minertrace.store.write_epoch_stats` and `minertrace.store.mark_in_force`):

1. the miners' current period rows (the daily, weekly, monthly and all_time rows of
   `minertrace.stats.periods.current_periods(now)`) get `incentive`, `consensus_rank` and
   `consensus_block` (the epoch's block). consensus_rank is RANK() by incentive, descending,
   among the UIDs without a validator permit: 1 = highest, equal incentives share a rank, zero
   incentive is ranked too; a UID with a permit gets its incentive and a NULL rank. Only rows
   whose miner_hotkey is the UID's current hotkey are written (a row of a replaced hotkey is
   stale and about to be deleted). Rows are not created here: the cycle (or the period job)
   creates them, and the next epoch fills them.
2. `consensus_block` is set on this validator's weight_submissions row whose weights were in
   force in that epoch: the latest row (by the block its weights took effect) that is
   `included`/`verified`/`mismatch` with block_number <= epoch block, or `committed`/`verified`
   with reveal_block <= epoch block (commit-reveal: the weights apply at the reveal), provided
   its consensus_block is still NULL. A row superseded by a newer submission before any epoch
   ran never had its weights in force and keeps NULL, so
   `consensus_block - block_number` is the consensus delay of every row that has one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from minertrace.chain.types import Chain, NeuronInfo
from minertrace.stats.periods import period_for
from minertrace.store import mark_in_force, transaction, write_epoch_stats
from minertrace.vocabulary import PeriodType

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpochReport:
    """What `apply_epoch_results` wrote."""

    epoch_block: int
    stats_rows_updated: int
    submission_ids: list[int]
    """weight_submissions rows that got this consensus_block."""


def write_epoch_results(
    conn_or_engine: Engine | Connection,
    neurons: Sequence[NeuronInfo],
    *,
    netuid: int,
    validator_hotkey: str,
    epoch_block: int,
    now: datetime,
) -> EpochReport:
    """The database half of `apply_epoch_results`: both statements in one transaction."""
    periods = [period_for(PeriodType.DAILY, now)]
    with transaction(conn_or_engine) as conn:
        updated = write_epoch_stats(conn, neurons, periods, epoch_block=epoch_block, now=now)
        ids = mark_in_force(conn, validator_hotkey, netuid, epoch_block)
    return EpochReport(epoch_block=epoch_block, stats_rows_updated=updated, submission_ids=ids)


async def apply_epoch_results(
    engine: Engine,
    chain: Chain,
    netuid: int,
    validator_hotkey: str,
    now: datetime,
    *,
    neurons: Sequence[NeuronInfo] | None = None,
    epoch_block: int | None = None,
    log: logging.Logger | None = None,
) -> EpochReport:
    """Record the last epoch's incentive, consensus rank and block (see the module doc).

    `neurons` and `epoch_block` default to `chain.neurons(netuid)` and
    `chain.last_epoch_block(netuid)`; pass the metagraph a node sync just fetched to save a
    chain call. The database work runs on the sync Engine in a worker thread.
    """
    log = log or logger
    if neurons is None:
        neurons = await chain.neurons(netuid)
    if epoch_block is None:
        epoch_block = await chain.last_epoch_block(netuid)
    report = await asyncio.to_thread(
        write_epoch_results,
        engine,
        neurons,
        netuid=netuid,
        validator_hotkey=validator_hotkey,
        epoch_block=epoch_block,
        now=now,
    )
    log.info(
        "epoch at block %d: %d stats rows updated, consensus_block set on submissions %s",
        report.epoch_block,
        report.stats_rows_updated,
        report.submission_ids,
    )
    return report


__all__ = ["EpochReport", "apply_epoch_results", "write_epoch_results"]
