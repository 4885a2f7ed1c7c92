"""Forks: a submission whose block was dropped by a reorg is marked `orphaned`.

A weight_submissions row records the block (number, hash) that included its extrinsic. When the
best chain's hash at that height differs, or the height no longer exists, the extrinsic is gone
with the dropped block: the row becomes `orphaned` (one statement for all such rows) and the next
cycle, which looks for orphaned rows, resubmits. Only rows within `lookback_blocks` of the tip
are checked: older blocks are final, and checking them would cost a chain call per height on
every pass.

With a `ForkWatch` (the service keeps one) most checks need no database read: a block's hash
commits to every block below it, so when the hash of the tip seen at the last full check is
unchanged, no block at or below that tip was replaced, and rows recorded above it exist only
if something wrote submissions since (the caller then calls `ForkWatch.touch`). Such a check
costs two `block_hash` calls; any other runs in full.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import Engine

from minertrace.chain.types import Chain
from minertrace.store import ChainBlock, mark_orphaned, orphan_candidates

logger = logging.getLogger(__name__)

DEFAULT_LOOKBACK_BLOCKS = 1200


@dataclass
class ForkWatch:
    """What the last full fork check saw: the tip (height, hash) it checked against.

    `touch()` after anything that may have written weight_submissions (a cycle, a flush of
    the trace queue, a settlement, a verification, a shadow observation): the next check
    then reads the candidates again.
    """

    checked: tuple[int, str] | None = None
    dirty: bool = True
    full_checks: int = 0
    """How many checks ran in full (read the candidates)."""

    def touch(self) -> None:
        """Make the next check a full one."""
        self.dirty = True

    async def unchanged(self, chain: Chain, tip: int) -> bool:
        """True when nothing was written since the last full check and its tip's block is
        still on the best chain; then the tip seen now becomes the one to compare with."""
        if self.dirty or self.checked is None:
            return False
        height, digest = self.checked
        if height > tip or await chain.block_hash(height) != digest:
            return False
        now = await chain.block_hash(tip)
        if now is None:
            return False
        self.checked = (tip, now)
        return True


async def detect_orphans(
    engine: Engine,
    chain: Chain,
    validator_hotkey: str,
    *,
    netuid: int | None = None,
    lookback_blocks: int = DEFAULT_LOOKBACK_BLOCKS,
    log: logging.Logger | None = None,
    watch: ForkWatch | None = None,
) -> list[int]:
    """Mark this validator's submissions whose block is no longer on the best chain.

    Checks rows with status included/committed/verified/mismatch and a recorded block
    within `lookback_blocks` of the tip; asks the chain once per distinct height. A height
    above the tip (the chain rolled back past it) counts as dropped; a height at or below the
    tip whose hash the chain does not know is left alone. Returns the ids now 'orphaned'.
    With `watch`, a check it finds unchanged (see the module doc) returns [] at once.
    """
    log = log or logger
    tip = await chain.current_block()
    tip_hash: str | None = None
    if watch is not None:
        if await watch.unchanged(chain, tip):
            return []
        # Read before the candidates' hashes: a reorg after this read changes it, so the
        # next check runs in full.
        tip_hash = await chain.block_hash(tip)
        watch.checked = None
        watch.full_checks += 1
    candidates = await asyncio.to_thread(
        orphan_candidates, engine, validator_hotkey, netuid, tip - lookback_blocks
    )
    ids = await _mark_dropped(engine, chain, candidates, tip, log) if candidates else []
    if watch is not None and tip_hash is not None:
        watch.checked = (tip, tip_hash)
        watch.dirty = False
    return ids


async def _mark_dropped(
    engine: Engine, chain: Chain, candidates: list[ChainBlock], tip: int, log: logging.Logger
) -> list[int]:
    heights = sorted({c.block_number for c in candidates})
    hashes = await asyncio.gather(*(chain.block_hash(h) for h in heights))
    best = dict(zip(heights, hashes, strict=True))
    dropped: list[tuple[int, str]] = []
    for c in candidates:
        current = best[c.block_number]
        if current is None and c.block_number <= tip:
            log.warning(
                "no hash known for block %d; submission %d not checked", c.block_number, c.id
            )
        elif current != c.block_hash:
            dropped.append((c.id, c.block_hash))
    ids = await asyncio.to_thread(mark_orphaned, engine, dropped)
    orphaned = set(ids)
    for c in candidates:
        if c.id in orphaned:
            log.warning(
                "submission %d orphaned: block %d hash %s replaced by %s",
                c.id,
                c.block_number,
                c.block_hash,
                best[c.block_number],
            )
    return ids


__all__ = ["DEFAULT_LOOKBACK_BLOCKS", "ForkWatch", "detect_orphans"]
