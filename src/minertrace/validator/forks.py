"""Forks: a submission whose block was dropped by a reorg is marked `orphaned`.

A weight_submissions row records the block (number, hash) that included its extrinsic. When the
best chain's hash at that height differs, or the height no longer exists, the extrinsic is gone
with the dropped block: the row becomes `orphaned` (one UPDATE for all such rows) and the next
cycle, which looks for orphaned rows, resubmits. Only rows within `lookback_blocks` of the tip
are checked: older blocks are final, and checking them would cost a chain call per height on
every pass.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Connection, Engine, text

from minertrace.chain.types import Chain
from minertrace.validator._bind import transaction

logger = logging.getLogger(__name__)

DEFAULT_LOOKBACK_BLOCKS = 1200
ORPHANABLE_STATUSES = ("included", "committed", "verified", "mismatch")

_CANDIDATES = text(
    """
    SELECT id, block_number, block_hash
      FROM weight_submissions
     WHERE validator_hotkey = :hotkey
       AND (CAST(:netuid AS integer) IS NULL OR netuid = :netuid)
       AND status = ANY(CAST(:statuses AS text[]))
       AND block_number IS NOT NULL AND block_hash IS NOT NULL
       AND block_number >= :since_block
     ORDER BY id
    """
)

# The hash is compared again so a row re-recorded meanwhile is left alone.
_ORPHAN = text(
    """
    UPDATE weight_submissions AS w
       SET status = 'orphaned',
           error = 'orphaned: block ' || w.block_number || ' hash ' || w.block_hash
                   || ' is no longer on the best chain'
      FROM unnest(CAST(:ids AS bigint[]), CAST(:hashes AS text[])) AS o(id, block_hash)
     WHERE w.id = o.id AND w.block_hash = o.block_hash
       AND w.status = ANY(CAST(:statuses AS text[]))
    RETURNING w.id
    """
)


def _candidates(
    engine: Engine | Connection, hotkey: str, netuid: int | None, since_block: int
) -> list[tuple[int, int, str]]:
    with transaction(engine) as conn:
        rows = conn.execute(
            _CANDIDATES,
            {
                "hotkey": hotkey,
                "netuid": netuid,
                "statuses": list(ORPHANABLE_STATUSES),
                "since_block": since_block,
            },
        )
        return [(int(r.id), int(r.block_number), str(r.block_hash)) for r in rows]


def mark_orphaned(conn_or_engine: Engine | Connection, rows: list[tuple[int, str]]) -> list[int]:
    """Set status 'orphaned' on the (id, recorded block_hash) rows, in one UPDATE."""
    if not rows:
        return []
    with transaction(conn_or_engine) as conn:
        result = conn.execute(
            _ORPHAN,
            {
                "ids": [i for i, _ in rows],
                "hashes": [h for _, h in rows],
                "statuses": list(ORPHANABLE_STATUSES),
            },
        )
        return sorted(int(i) for (i,) in result)


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
        _candidates, engine, validator_hotkey, netuid, tip - lookback_blocks
    )
    if not candidates:
        return []
    heights = sorted({height for _, height, _ in candidates})
    hashes = await asyncio.gather(*(chain.block_hash(h) for h in heights))
    best = dict(zip(heights, hashes, strict=True))
    dropped: list[tuple[int, str]] = []
    for row_id, height, recorded in candidates:
        current = best[height]
        if current is None and height <= tip:
            log.warning("no hash known for block %d; submission %d not checked", height, row_id)
        elif current != recorded:
            dropped.append((row_id, recorded))
    ids = await asyncio.to_thread(mark_orphaned, engine, dropped)
    orphaned = set(ids)
    for row_id, height, recorded in candidates:
        if row_id in orphaned:
            log.warning(
                "submission %d orphaned: block %d hash %s replaced by %s",
                row_id,
                height,
                recorded,
                best[height],
            )
    return ids
