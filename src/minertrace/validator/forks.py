"""Forks: a submission whose block was dropped by a reorg is marked `orphaned`.

A weight_submissions row records the block (number, hash) that included its extrinsic. When the
best chain's hash at that height differs, or the height no longer exists, the extrinsic is gone
with the dropped block: the row becomes `orphaned` (one statement for all such rows) and the next
cycle, which looks for orphaned rows, resubmits. Only rows within `lookback_blocks` of the tip
are checked: older blocks are final, and checking them would cost a chain call per height on
every pass.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine

from minertrace.chain.types import Chain
from minertrace.store import mark_orphaned, orphan_candidates

logger = logging.getLogger(__name__)

DEFAULT_LOOKBACK_BLOCKS = 1200


async def detect_orphans(
    engine: Engine,
    chain: Chain,
    validator_hotkey: str,
    *,
    netuid: int | None = None,
    lookback_blocks: int = DEFAULT_LOOKBACK_BLOCKS,
    log: logging.Logger | None = None,
) -> list[int]:
    """Mark this validator's submissions whose block is no longer on the best chain.

    Checks rows with status included/committed/verified/mismatch and a recorded block
    within `lookback_blocks` of the tip; asks the chain once per distinct height. A height
    above the tip (the chain rolled back past it) counts as dropped; a height at or below the
    tip whose hash the chain does not know is left alone. Returns the ids now 'orphaned'.
    """
    log = log or logger
    tip = await chain.current_block()
    candidates = await asyncio.to_thread(
        orphan_candidates, engine, validator_hotkey, netuid, tip - lookback_blocks
    )
    if not candidates:
        return []
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


__all__ = ["DEFAULT_LOOKBACK_BLOCKS", "detect_orphans"]
