"""Node sync: the chain's metagraph into node_table, and what a hotkey change voids.

One transaction per sync:

1. one query finds, under row locks, every UID whose hotkey changed (deregistration and
   re-registration) and every UID that is no longer in the metagraph;
2. for all of those UIDs at once: their miner_performance_stats rows whose hotkey is not the
   new one are deleted, and their entries in every score_table row are set to NaN (one UPDATE
   that rebuilds each affected array), so an old miner's scores never feed the new miner's
   weight;
3. node rows of vanished UIDs are deleted (see below), and the whole metagraph is upserted in
   one `INSERT ... ON CONFLICT (uid) DO UPDATE`.

After the commit, `minertrace.stats.retention.delete_stale_rows` removes any stats row whose
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
from sqlalchemy import Connection, Engine, text

from minertrace.chain.types import Chain, NeuronInfo
from minertrace.stats.retention import delete_stale_rows
from minertrace.validator._bind import transaction

logger = logging.getLogger(__name__)


class EmptyMetagraphError(ValueError):
    """The chain returned no neurons; syncing would void every UID, so it is refused."""


class MetagraphError(ValueError):
    """The metagraph is malformed (duplicate or negative UIDs)."""


@dataclass(frozen=True)
class HotkeyReplacement:
    """A UID whose hotkey changed; `new_hotkey` is None when the UID left the metagraph.

    `old_hotkey` is None only for a vanished UID whose node row never had a hotkey.
    """

    uid: int
    old_hotkey: str | None
    new_hotkey: str | None


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


_CHANGED = text(
    """
    SELECT n.uid, n.hotkey AS old_hotkey, i.hotkey AS new_hotkey
      FROM node_table AS n
      LEFT JOIN unnest(CAST(:uids AS integer[]), CAST(:hotkeys AS text[])) AS i(uid, hotkey)
        ON i.uid = n.uid
     WHERE i.uid IS NULL
        OR (n.hotkey IS NOT NULL AND i.hotkey IS DISTINCT FROM n.hotkey)
     ORDER BY n.uid
       FOR UPDATE OF n
    """
)

# A vanished UID comes with a NULL new hotkey, so every one of its rows goes.
_DELETE_STATS = text(
    """
    DELETE FROM miner_performance_stats AS m
     USING unnest(CAST(:uids AS integer[]), CAST(:hotkeys AS text[])) AS c(uid, hotkey)
     WHERE m.miner_uid = c.uid
       AND m.miner_hotkey IS DISTINCT FROM c.hotkey
    """
)

# Rebuilds each array with the given UIDs' entries (index uid + 1) set to NaN. Only rows
# holding a real entry for one of those UIDs are rewritten (NaN = NaN in PostgreSQL, and an
# out-of-range subscript is NULL), so the statement touches exactly the voided rows.
_VOID_SCORES = text(
    """
    UPDATE score_table AS s
       SET score = (
             SELECT array_agg(
                      CASE WHEN o.i - 1 = ANY(CAST(:uids AS integer[]))
                           THEN CAST('NaN' AS double precision) ELSE o.v END
                      ORDER BY o.i)
               FROM unnest(s.score) WITH ORDINALITY AS o(v, i))
     WHERE EXISTS (
             SELECT 1 FROM unnest(CAST(:uids AS integer[])) AS u(uid)
              WHERE s.score[u.uid + 1] <> CAST('NaN' AS double precision))
    """
)

_DELETE_NODES = text("DELETE FROM node_table WHERE uid = ANY(CAST(:uids AS integer[]))")

_UPSERT_NODES = text(
    """
    INSERT INTO node_table AS n (
        uid, hotkey, coldkey, ip, ip_type, port, incentive, stake, vtrust,
        consensus, dividends, validator_permit, last_update_block, last_updated)
    SELECT i.*, CAST(:now AS timestamptz)
      FROM unnest(
             CAST(:uids AS integer[]), CAST(:hotkeys AS text[]), CAST(:coldkeys AS text[]),
             CAST(:ips AS text[]), CAST(:ip_types AS text[]), CAST(:ports AS integer[]),
             CAST(:incentives AS double precision[]), CAST(:stakes AS double precision[]),
             CAST(:vtrusts AS double precision[]), CAST(:consensus AS double precision[]),
             CAST(:dividends AS double precision[]), CAST(:permits AS boolean[]),
             CAST(:last_updates AS bigint[])) AS i
    ON CONFLICT (uid) DO UPDATE SET
        hotkey = EXCLUDED.hotkey,
        coldkey = EXCLUDED.coldkey,
        ip = EXCLUDED.ip,
        ip_type = EXCLUDED.ip_type,
        port = EXCLUDED.port,
        incentive = EXCLUDED.incentive,
        stake = EXCLUDED.stake,
        vtrust = EXCLUDED.vtrust,
        consensus = EXCLUDED.consensus,
        dividends = EXCLUDED.dividends,
        validator_permit = EXCLUDED.validator_permit,
        last_update_block = EXCLUDED.last_update_block,
        last_updated = EXCLUDED.last_updated
    RETURNING n.uid, (n.xmax = 0) AS inserted
    """
)


def _check_metagraph(neurons: Sequence[NeuronInfo]) -> None:
    if not neurons:
        raise EmptyMetagraphError("the chain returned an empty metagraph; node sync refused")
    uids = np.fromiter((n.uid for n in neurons), dtype=np.int64, count=len(neurons))
    if (uids < 0).any():
        raise MetagraphError(f"negative UIDs in the metagraph: {uids[uids < 0].tolist()}")
    values, counts = np.unique(uids, return_counts=True)
    if (counts > 1).any():
        raise MetagraphError(f"duplicate UIDs in the metagraph: {values[counts > 1].tolist()}")


def _node_columns(neurons: Sequence[NeuronInfo], now: datetime) -> dict[str, object]:
    return {
        "uids": [n.uid for n in neurons],
        "hotkeys": [n.hotkey for n in neurons],
        "coldkeys": [n.coldkey for n in neurons],
        "ips": [n.axon_ip for n in neurons],
        "ip_types": ["6" if ":" in n.axon_ip else "4" for n in neurons],
        "ports": [n.axon_port for n in neurons],
        "incentives": [n.incentive for n in neurons],
        "stakes": [n.stake for n in neurons],
        "vtrusts": [n.validator_trust for n in neurons],
        "consensus": [n.consensus for n in neurons],
        "dividends": [n.dividends for n in neurons],
        "permits": [n.validator_permit for n in neurons],
        "last_updates": [n.last_update for n in neurons],
        "now": now,
    }


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
    columns = _node_columns(neurons, now)
    with transaction(conn_or_engine) as conn:
        changed = [
            HotkeyReplacement(r.uid, r.old_hotkey, r.new_hotkey)
            for r in conn.execute(
                _CHANGED, {"uids": columns["uids"], "hotkeys": columns["hotkeys"]}
            )
        ]
        stats_deleted = 0
        voided = 0
        removed = [c.uid for c in changed if c.new_hotkey is None]
        if changed:
            changed_uids = [c.uid for c in changed]
            stats_deleted = conn.execute(
                _DELETE_STATS,
                {"uids": changed_uids, "hotkeys": [c.new_hotkey for c in changed]},
            ).rowcount
            voided = conn.execute(_VOID_SCORES, {"uids": changed_uids}).rowcount
        if removed:
            conn.execute(_DELETE_NODES, {"uids": removed})
        upserted = conn.execute(_UPSERT_NODES, columns).all()
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
        inserted_uids=sorted(int(r.uid) for r in upserted if r.inserted),
        updated_uids=sorted(int(r.uid) for r in upserted if not r.inserted),
        replacements=changed,
        removed_uids=removed,
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
