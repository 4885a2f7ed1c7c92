"""node_table: the cycle's node reads, and a metagraph written in with what it voids.

`write_metagraph` is the database half of a node sync, in the caller's transaction:

1. one query finds, under row locks, every UID whose hotkey changed and every UID no longer in
   the metagraph;
2. for all of those UIDs at once, their miner_performance_stats rows of another hotkey are
   deleted and their entries in every score_table row set to NaN (one UPDATE that rebuilds each
   affected array);
3. node rows of vanished UIDs are deleted and the metagraph is upserted in one
   `INSERT ... ON CONFLICT (uid) DO UPDATE`, which writes only new rows and rows whose chain
   values differ from the table's (compared in SQL, so a restarted service or a row changed
   by another process is written all the same); `last_updated` is the time of the sync that
   last wrote the row, and every sync also stamps the highest UID's row, so
   max(last_updated) stays the latest sync.

A node row whose hotkey was NULL gaining a hotkey is a registration, not a replacement.

`update_node_values` is the database work of a sync that knows the metagraph's UIDs and
hotkeys equal what it last wrote (`minertrace.validator.node_sync.MetagraphMemory`): the rows
whose values changed, and the sync time on the highest UID's row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    Connection,
    Engine,
    Integer,
    any_,
    bindparam,
    delete,
    func,
    select,
    text,
)

from minertrace.chain.types import NeuronInfo
from minertrace.db.tables import node_table
from minertrace.store import gaia_scores
from minertrace.store._bind import transaction

ACTIVE_VALIDATOR_WINDOW_BLOCKS = 500


@dataclass(frozen=True)
class NodeRecord:
    """One node_table row as the weight engine needs it."""

    uid: int
    hotkey: str | None
    coldkey: str | None


@dataclass(frozen=True)
class HotkeyReplacement:
    """A UID whose hotkey changed; `new_hotkey` is None when the UID left the metagraph.

    `old_hotkey` is None only for a vanished UID whose node row never had a hotkey.
    """

    uid: int
    old_hotkey: str | None
    new_hotkey: str | None


@dataclass(frozen=True)
class MetagraphWrite:
    """What `write_metagraph` changed."""

    inserted_uids: list[int]
    updated_uids: list[int]
    replacements: list[HotkeyReplacement]
    removed_uids: list[int]
    stats_rows_deleted: int
    score_rows_voided: int
    """score_table rows in which at least one entry was set to NaN."""


_N = node_table.c
_NODES = select(_N.uid, _N.hotkey, _N.coldkey).order_by(_N.uid)
_ACTIVE_VALIDATORS = (
    select(_N.uid)
    .where(_N.validator_permit, _N.last_update_block >= bindparam("since_block"))
    .order_by(_N.uid)
)
_SUBNET_SIZE = select(func.max(_N.uid))

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

# A sync is rederived from the chain at the next one, so its own transaction does not wait
# for the WAL flush (asynchronous commit loses at most the last syncs on a server crash,
# never atomicity); that wait was most of a sync's time.
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")

_STAMP = text(
    """
    UPDATE node_table SET last_updated = CAST(:now AS timestamptz)
     WHERE uid = (SELECT max(uid) FROM node_table)
    """
)

_DELETE_NODES = delete(node_table).where(_N.uid == any_(bindparam("uids", type_=ARRAY(Integer))))

# Only new rows and rows whose chain values differ are written: most syncs change a few UIDs
# (an epoch's incentives, a validator's last update), and a conflicting row that is merely
# locked (ON CONFLICT ... WHERE false) still costs WAL and a flushed commit. The row of
# :stamp_uid is written in any case, so that max(last_updated) is the latest sync even when
# nothing changed (health reads it); `changed` tells the report which rows really differed.
_UPSERT_NODES = text(
    """
    WITH src AS (
        SELECT i.*, (o.uid IS NULL
                     OR (o.hotkey, o.coldkey, o.ip, o.ip_type, o.port, o.incentive, o.stake,
                         o.vtrust, o.consensus, o.dividends, o.validator_permit,
                         o.last_update_block)
                        IS DISTINCT FROM
                        (i.hotkey, i.coldkey, i.ip, i.ip_type, i.port, i.incentive, i.stake,
                         i.vtrust, i.consensus, i.dividends, i.validator_permit,
                         i.last_update_block)) AS changed
          FROM unnest(
                 CAST(:uids AS integer[]), CAST(:hotkeys AS text[]),
                 CAST(:coldkeys AS text[]), CAST(:ips AS text[]), CAST(:ip_types AS text[]),
                 CAST(:ports AS integer[]), CAST(:incentives AS double precision[]),
                 CAST(:stakes AS double precision[]), CAST(:vtrusts AS double precision[]),
                 CAST(:consensus AS double precision[]),
                 CAST(:dividends AS double precision[]), CAST(:permits AS boolean[]),
                 CAST(:last_updates AS bigint[]))
               AS i(uid, hotkey, coldkey, ip, ip_type, port, incentive, stake, vtrust,
                    consensus, dividends, validator_permit, last_update_block)
          LEFT JOIN node_table AS o ON o.uid = i.uid
    ),
    written AS (
        INSERT INTO node_table AS n (
            uid, hotkey, coldkey, ip, ip_type, port, incentive, stake, vtrust,
            consensus, dividends, validator_permit, last_update_block, last_updated)
        SELECT uid, hotkey, coldkey, ip, ip_type, port, incentive, stake, vtrust,
               consensus, dividends, validator_permit, last_update_block,
               CAST(:now AS timestamptz)
          FROM src
         WHERE changed OR uid = :stamp_uid
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
    )
    SELECT w.uid, w.inserted FROM written AS w JOIN src USING (uid) WHERE src.changed
    """
)


def read_nodes(conn_or_engine: Engine | Connection) -> list[NodeRecord]:
    """(uid, hotkey, coldkey) of every node_table row, in UID order."""
    with transaction(conn_or_engine) as conn:
        return [NodeRecord(r.uid, r.hotkey, r.coldkey) for r in conn.execute(_NODES)]


def read_active_validators(
    conn_or_engine: Engine | Connection,
    current_block: int,
    *,
    window_blocks: int = ACTIVE_VALIDATOR_WINDOW_BLOCKS,
) -> list[int]:
    """UIDs with a validator permit whose last weight update is >= current_block - window."""
    with transaction(conn_or_engine) as conn:
        rows = conn.execute(_ACTIVE_VALIDATORS, {"since_block": current_block - window_blocks})
        return [int(uid) for (uid,) in rows]


def subnet_size(conn: Connection) -> int | None:
    """max(uid) + 1 over node_table, or None while node_table is empty."""
    top = conn.execute(_SUBNET_SIZE).scalar()
    return None if top is None else int(top) + 1


def node_columns(neurons: Sequence[NeuronInfo]) -> dict[str, list[Any]]:
    """The node_table columns of `neurons`, one list per column (the upsert's parameters)."""
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
    }


def write_metagraph(
    conn_or_engine: Engine | Connection, neurons: Sequence[NeuronInfo], now: datetime
) -> MetagraphWrite:
    """Write `neurons` into node_table and void what replaced or vanished hotkeys leave.

    One transaction (the caller's, when given a Connection; an own one commits
    asynchronously); at most six statements whatever the number of UIDs. `updated_uids` are
    the existing rows whose values changed. The caller checks the metagraph (non-empty,
    unique UIDs) first.
    """
    columns: dict[str, object] = {**node_columns(neurons), "now": now}
    with transaction(conn_or_engine) as conn:
        if isinstance(conn_or_engine, Engine):
            conn.execute(_ASYNC_COMMIT)
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
            if gaia_scores.owns_score_table(conn):  # never rewrite Gaia's score rows
                voided = conn.execute(_VOID_SCORES, {"uids": changed_uids}).rowcount
        if removed:
            conn.execute(_DELETE_NODES, {"uids": removed})
        upserted = conn.execute(
            _UPSERT_NODES, {**columns, "stamp_uid": max(n.uid for n in neurons)}
        ).all()
    return MetagraphWrite(
        inserted_uids=sorted(int(r.uid) for r in upserted if r.inserted),
        updated_uids=sorted(int(r.uid) for r in upserted if not r.inserted),
        replacements=changed,
        removed_uids=removed,
        stats_rows_deleted=stats_deleted,
        score_rows_voided=voided,
    )


def update_node_values(
    engine: Engine, neurons: Sequence[NeuronInfo], now: datetime
) -> MetagraphWrite:
    """Write the chain values of `neurons` and stamp `now` as the latest sync, nothing else.

    For a sync that knows the metagraph's UIDs and hotkeys equal what it last wrote and passes
    only the neurons whose values changed (none: the stamp alone). The rows are compared with
    the table as in `write_metagraph` and only those that differ are written; one
    transaction, committed asynchronously, of one or two statements.
    """
    with engine.begin() as conn:
        conn.execute(_ASYNC_COMMIT)
        conn.execute(_STAMP, {"now": now})
        upserted = (
            conn.execute(
                _UPSERT_NODES, {**node_columns(neurons), "now": now, "stamp_uid": -1}
            ).all()
            if neurons
            else []
        )
    return MetagraphWrite(
        inserted_uids=sorted(int(r.uid) for r in upserted if r.inserted),
        updated_uids=sorted(int(r.uid) for r in upserted if not r.inserted),
        replacements=[],
        removed_uids=[],
        stats_rows_deleted=0,
        score_rows_voided=0,
    )
