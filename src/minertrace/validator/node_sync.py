"""Node sync: the chain's metagraph into node_table, and what a hotkey change voids.

One transaction per sync (`minertrace.store.write_metagraph`): the UIDs whose hotkey changed
(deregistration and re-registration) or that left the metagraph lose their stats rows and
their score entries (set to NaN), so an old miner's scores never feed the new miner's weight;
then the metagraph is upserted (only the rows whose values changed are rewritten).

After the commit, `minertrace.store.delete_stale_rows` removes any stats row whose
(miner_uid, miner_hotkey) no longer matches node_table (the bulk cleanup).

With a `MetagraphMemory` (the service keeps one), a sync whose metagraph has the UIDs and
hotkeys it last wrote needs none of that: it compares the new metagraph with the last one
column by column (numpy arrays) and writes only the rows whose values changed, with the sync
time (`minertrace.store.update_node_values`; most syncs between two epochs change nothing or
a validator's `last_update`), and skips the bulk cleanup. The first sync of a memory, every
`full` sync (the service's sync right after each epoch), a sync after a failed one, and any
sync where a UID or hotkey changed run the whole transaction above, so a row changed behind
the service's back (another process, a restore) is rewritten at the next epoch at the latest.

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
from minertrace.store import (
    HotkeyReplacement,
    delete_stale_rows,
    node_columns,
    update_node_values,
    write_metagraph,
)

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
    unchanged: bool = False
    """The metagraph equalled the last one written (`MetagraphMemory`): only the sync time
    was written."""


class MetagraphMemory:
    """The metagraph a sync last wrote, as one numpy array per node_table column.

    `sync_nodes` compares each new metagraph with it; `forget()` makes the next sync write in
    full (a failed write forgets too).
    """

    def __init__(self) -> None:
        self._columns: dict[str, np.ndarray] | None = None

    @staticmethod
    def arrays(neurons: Sequence[NeuronInfo]) -> dict[str, np.ndarray]:
        """The node_table columns of `neurons` as arrays (text columns as object arrays)."""
        columns = node_columns(neurons)
        return {name: np.asarray(columns[name], dtype=_DTYPES[name]) for name in _DTYPES}

    def changed_rows(self, arrays: dict[str, np.ndarray]) -> np.ndarray | None:
        """Indices of the rows of `arrays` whose values differ from the last metagraph
        written; None when it must be written in full (nothing remembered, or a UID or a
        hotkey differs)."""
        last = self._columns
        if last is None or last["uids"].shape != arrays["uids"].shape:
            return None
        if (last["uids"] != arrays["uids"]).any() or (last["hotkeys"] != arrays["hotkeys"]).any():
            return None
        differ = np.zeros(arrays["uids"].shape, dtype=np.bool_)
        for name, new in arrays.items():
            old = last[name]
            unequal = old != new
            if new.dtype.kind == "f":
                unequal &= ~(np.isnan(old) & np.isnan(new))
            differ |= unequal
        return np.flatnonzero(differ)

    def remember(self, arrays: dict[str, np.ndarray]) -> None:
        """Record `arrays` as the metagraph now in node_table."""
        self._columns = arrays

    def forget(self) -> None:
        """Make the next sync write in full."""
        self._columns = None


_DTYPES: dict[str, type] = {
    "uids": np.int64,
    "hotkeys": object,
    "coldkeys": object,
    "ips": object,
    "ip_types": object,
    "ports": np.int64,
    "incentives": np.float64,
    "stakes": np.float64,
    "vtrusts": np.float64,
    "consensus": np.float64,
    "dividends": np.float64,
    "permits": np.bool_,
    "last_updates": np.int64,
}


def _check_metagraph(neurons: Sequence[NeuronInfo]) -> None:
    if not neurons:
        raise EmptyMetagraphError("the chain returned an empty metagraph; node sync refused")
    uids = np.fromiter((n.uid for n in neurons), dtype=np.int64, count=len(neurons))
    if (uids < 0).any():
        raise MetagraphError(f"negative UIDs in the metagraph: {uids[uids < 0].tolist()}")
    values, counts = np.unique(uids, return_counts=True)
    if (counts > 1).any():
        raise MetagraphError(f"duplicate UIDs in the metagraph: {values[counts > 1].tolist()}")


_MAX_UID = 65535
_MAX_BLOCK = 2**63 - 1


def _text_ok(value: object) -> bool:
    """True for text PostgreSQL can store: a str without NUL and valid as UTF-8."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _int_in(value: object, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= high


def storable_neurons(neurons: Sequence[NeuronInfo], log: logging.Logger) -> list[NeuronInfo]:
    """The metagraph with what node_table cannot hold repaired, one warning per UID.

    One neuron with a broken field must not fail the whole sync: an unstorable hotkey or
    coldkey becomes NULL (a hotkey change to "unknown", so the UID's old rows are voided), a
    bad axon address or port the chain's defaults, a block number out of range 0; a UID
    that is not 0..65535 cannot be placed and is left out.
    """
    out: list[NeuronInfo] = []
    for n in neurons:
        if not _int_in(n.uid, _MAX_UID):
            log.warning("metagraph: neuron with uid %r left out (not a UID)", n.uid)
            continue
        fixes: dict[str, object] = {}
        for name in ("hotkey", "coldkey"):
            if not _text_ok(getattr(n, name)):
                fixes[name] = None
        if not _text_ok(n.axon_ip):
            fixes["axon_ip"] = "0.0.0.0"
        if not _int_in(n.axon_port, _MAX_UID):
            fixes["axon_port"] = 0
        for name in ("last_update", "block_at_registration"):
            if not _int_in(getattr(n, name), _MAX_BLOCK):
                fixes[name] = 0
        if fixes:
            log.warning(
                "metagraph: uid %d has unstorable %s; stored as %s",
                n.uid,
                ", ".join(sorted(fixes)),
                ", ".join(f"{k}={v!r}" for k, v in sorted(fixes.items())),
            )
            n = dataclasses.replace(n, **fixes)  # type: ignore[arg-type]
        out.append(n)
    return out


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
    neurons = storable_neurons(neurons, log)
    _check_metagraph(neurons)
    return _write_checked(conn_or_engine, neurons, now, log)


def _write_checked(
    conn_or_engine: Engine | Connection,
    neurons: Sequence[NeuronInfo],
    now: datetime,
    log: logging.Logger,
) -> NodeSyncReport:
    """`apply_metagraph` of a metagraph already repaired and checked."""
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
    memory: MetagraphMemory | None = None,
    full: bool = False,
) -> NodeSyncReport:
    """Fetch the metagraph of `netuid` from `chain` and sync node_table with it.

    Runs `apply_metagraph` (one transaction) and then, with `cleanup_stale`, the bulk
    cleanup of stats rows whose (miner_uid, miner_hotkey) no longer matches node_table. The
    database work runs on the sync Engine in a worker thread. A cleanup failure is logged
    and does not undo the sync. With `memory` and not `full`, a metagraph with the UIDs and
    hotkeys last written gets only its changed rows and the sync time (see the module doc).
    """
    log = log or logger
    neurons = await chain.neurons(netuid)
    if memory is None:
        # Both transactions run in one worker-thread hop: on a busy machine each hop waits
        # for the event loop and a thread, which cost more than the sync's statements.
        return await asyncio.to_thread(_apply_and_clean, engine, neurons, now, log, cleanup_stale)
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now.isoformat()}: pass a timezone-aware time")
    storable = storable_neurons(neurons, log)
    _check_metagraph(storable)
    arrays = MetagraphMemory.arrays(storable)
    changed = None if full else memory.changed_rows(arrays)
    memory.forget()
    if changed is not None:
        rows = [storable[i] for i in changed.tolist()]
        written = await asyncio.to_thread(update_node_values, engine, rows, now)
        memory.remember(arrays)
        return NodeSyncReport(
            n_neurons=len(storable),
            inserted_uids=written.inserted_uids,
            updated_uids=written.updated_uids,
            unchanged=not rows,
        )
    report = await asyncio.to_thread(
        _apply_and_clean, engine, storable, now, log, cleanup_stale, checked=True
    )
    memory.remember(arrays)
    return report


def _apply_and_clean(
    engine: Engine,
    neurons: Sequence[NeuronInfo],
    now: datetime,
    log: logging.Logger,
    cleanup_stale: bool,
    *,
    checked: bool = False,
) -> NodeSyncReport:
    if checked:  # repaired and checked by the caller, whose warnings were logged
        report = _write_checked(engine, neurons, now, log)
    else:
        report = apply_metagraph(engine, neurons, now=now, log=log)
    if not cleanup_stale:
        return report
    try:
        stale = delete_stale_rows(engine)
    except Exception:
        log.exception("stale stats cleanup failed; it will run again at the next sync")
        return report
    return dataclasses.replace(report, stale_rows_deleted=stale)
