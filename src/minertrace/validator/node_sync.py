"""Node sync: the chain's metagraph into node_table, and what a hotkey change voids.

One transaction per sync (`minertrace.store.write_metagraph`): the UIDs whose hotkey changed
(deregistration and re-registration) or that left the metagraph lose their stats rows and
their score entries (set to NaN), so an old miner's scores never feed the new miner's weight;
then the whole metagraph is upserted.

After the commit, `minertrace.store.delete_stale_rows` removes any stats row whose
(miner_uid, miner_hotkey) no longer matches node_table (the bulk cleanup).

Decisions:
- A node row whose hotkey was NULL (a Gaia layout pre-creates empty UID rows) gaining a hotkey
  is a registration, not a replacement: nothing is known of a previous miner to void.
- A UID that disappears from the metagraph (the subnet shrank) is treated as a replacement by
  nobody: its score entries become NaN, its stats rows are deleted and its node row is removed,
  so that node_table's max uid + 1 stays the subnet's size and a later miner on that UID starts
  clean. An empty metagraph is refused (`EmptyMetagraphError`) rather than read as "every UID
  vanished".
- `trust` is not reported by the chain any more (spec/chain.md); node sync leaves the column
  alone rather than write a value the chain does not hold. `protocol` is likewise not in the
  Chain protocol's NeuronInfo and is left alone.
- Score entries written for the new hotkey before the sync noticed the change cannot be told
  apart from the old miner's and are voided too; syncing right after each epoch keeps that
  window short.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, Engine

from minertrace.chain.types import Chain, NeuronInfo
from minertrace.store import HotkeyReplacement, delete_stale_rows, write_metagraph

logger = logging.getLogger(__name__)


class EmptyMetagraphError(ValueError):
    """The chain returned no neurons; syncing would void every UID, so it is refused."""


class MetagraphError(ValueError):
    """The metagraph is malformed (duplicate or negative UIDs)."""


@dataclass(frozen=True)
class NodeSyncReport:
    """What one sync changed."""

    n_neurons: int
    inserted_uids: list[int] = field(default_factory=list)
    updated_uids: list[int] = field(default_factory=list)
    replacements: list[HotkeyReplacement] = field(default_factory=list)
    removed_uids: list[int] = field(default_factory=list)
    stats_rows_deleted: int = 0
    score_rows_voided: int = 0
    """score_table rows in which at least one entry was set to NaN."""
    stale_rows_deleted: int | None = None
    """Rows deleted by the bulk cleanup (None when it did not run)."""


def _check_metagraph(neurons: Sequence[NeuronInfo]) -> None:
    if not neurons:
        raise EmptyMetagraphError("the chain returned an empty metagraph; node sync refused")
    uids = np.fromiter((n.uid for n in neurons), dtype=np.int64, count=len(neurons))
    if (uids < 0).any():
        raise MetagraphError(f"negative UIDs in the metagraph: {uids[uids < 0].tolist()}")
    values, counts = np.unique(uids, return_counts=True)
    if (counts > 1).any():
        raise MetagraphError(f"duplicate UIDs in the metagraph: {values[counts > 1].tolist()}")


def apply_metagraph(
    conn_or_engine: Engine | Connection,
    neurons: Sequence[NeuronInfo],
    *,
    now: datetime,
    log: logging.Logger | None = None,
) -> NodeSyncReport:
    """Write a metagraph into node_table and void what replaced or vanished hotkeys leave.

    Everything runs in one transaction (the caller's, when given a Connection): the
    change detection under row locks, the set-based stats deletion and score voiding for all
    changed UIDs at once, and the single batched upsert. Each replacement is logged at INFO.
    Raises `EmptyMetagraphError` / `MetagraphError` before writing anything.
    """
    log = log or logger
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now.isoformat()}: pass a timezone-aware time")
    _check_metagraph(neurons)
    written = write_metagraph(conn_or_engine, neurons, now)
    changed = written.replacements
    stats_deleted = written.stats_rows_deleted
    voided = written.score_rows_voided
    for c in changed:
        if c.new_hotkey is None:
            log.info(
                "uid %d left the metagraph (hotkey %s): its rows were voided", c.uid, c.old_hotkey
            )
        else:
            log.info("uid %d hotkey replaced: %s -> %s", c.uid, c.old_hotkey, c.new_hotkey)
    if changed:
        log.info(
            "hotkey changes on %d uids: %d stats rows deleted, %d score rows voided",
            len(changed),
            stats_deleted,
            voided,
        )
    return NodeSyncReport(
        n_neurons=len(neurons),
        inserted_uids=written.inserted_uids,
        updated_uids=written.updated_uids,
        replacements=changed,
        removed_uids=written.removed_uids,
        stats_rows_deleted=stats_deleted,
        score_rows_voided=voided,
    )


async def sync_nodes(
    engine: Engine,
    chain: Chain,
    netuid: int,
    *,
    now: datetime,
    log: logging.Logger | None = None,
    cleanup_stale: bool = True,
) -> NodeSyncReport:
    """Fetch the metagraph of `netuid` from `chain` and sync node_table with it.

    Runs `apply_metagraph` (one transaction) and then, with `cleanup_stale`, the bulk
    cleanup of stats rows whose (miner_uid, miner_hotkey) no longer matches node_table. The
    database work runs on the sync Engine in a worker thread. A cleanup failure is logged
    and does not undo the sync.
    """
    log = log or logger
    neurons = await chain.neurons(netuid)
    report = await asyncio.to_thread(apply_metagraph, engine, neurons, now=now, log=log)
    if not cleanup_stale:
        return report
    try:
        stale = await asyncio.to_thread(delete_stale_rows, engine)
    except Exception:
        log.exception("stale stats cleanup failed; it will run again at the next sync")
        return report
    return dataclasses.replace(report, stale_rows_deleted=stale)
