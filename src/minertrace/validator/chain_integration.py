"""Chain integration: after each epoch, what the chain made of the weights.

Run right after an epoch when `enable_chain_integration` is on. Two statements:

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

from sqlalchemy import Connection, Engine, text

from minertrace.chain.types import Chain, NeuronInfo
from minertrace.stats.periods import current_periods, period_params
from minertrace.validator._bind import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpochReport:
    """What `apply_epoch_results` wrote."""

    epoch_block: int
    stats_rows_updated: int
    submission_ids: list[int]
    """weight_submissions rows that got this consensus_block."""


_STATS = text(
    """
    WITH n AS (
        SELECT *
          FROM unnest(CAST(:uids AS integer[]), CAST(:hotkeys AS text[]),
                      CAST(:incentives AS double precision[]), CAST(:permits AS boolean[]))
               AS n(uid, hotkey, incentive, permit)
    ), ranked AS (
        SELECT uid, hotkey, incentive,
               CASE WHEN NOT permit
                    THEN rank() OVER (PARTITION BY permit ORDER BY incentive DESC) END AS crank
          FROM n
    ), periods AS (
        SELECT *
          FROM unnest(CAST(:period_types AS text[]), CAST(:period_starts AS timestamptz[]),
                      CAST(:period_ends AS timestamptz[]))
               AS p(period_type, period_start, period_end)
    )
    UPDATE miner_performance_stats AS m
       SET incentive = r.incentive,
           consensus_rank = r.crank,
           consensus_block = :epoch_block,
           updated_at = :now
      FROM ranked AS r, periods AS p
     WHERE m.miner_uid = r.uid
       AND m.miner_hotkey = r.hotkey
       AND m.period_type = p.period_type
       AND m.period_start = p.period_start
       AND m.period_end = p.period_end
    """
)

_SUBMISSION = text(
    """
    WITH in_force AS (
        SELECT id, consensus_block
          FROM weight_submissions
         WHERE validator_hotkey = :hotkey
           AND netuid = :netuid
           AND ((reveal_block IS NULL AND status IN ('included', 'verified', 'mismatch')
                 AND block_number <= :epoch_block)
             OR (reveal_block IS NOT NULL AND status IN ('committed', 'verified', 'mismatch')
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
    periods = current_periods(now)
    with transaction(conn_or_engine) as conn:
        updated = conn.execute(
            _STATS,
            {
                "uids": [n.uid for n in neurons],
                "hotkeys": [n.hotkey for n in neurons],
                "incentives": [n.incentive for n in neurons],
                "permits": [n.validator_permit for n in neurons],
                **period_params(periods),
                "epoch_block": epoch_block,
                "now": now,
            },
        ).rowcount
        ids = [
            int(i)
            for (i,) in conn.execute(
                _SUBMISSION,
                {"hotkey": validator_hotkey, "netuid": netuid, "epoch_block": epoch_block},
            )
        ]
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
