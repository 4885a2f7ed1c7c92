"""A simulated clock driven by block production (12 s per block).

`now()` is the chain's genesis time plus 12 s per block; `await sleep(s)` produces
`ceil(s / 12)` blocks, so a loop that sleeps on this clock runs the subnet at full speed.
It satisfies `minertrace.clock.Clock`.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from typing import Protocol

from minertrace.vocabulary import BLOCK_SECONDS


class BlockProducer(Protocol):
    """What the clock drives: a height and a way to produce blocks."""

    @property
    def height(self) -> int:
        """Current best block."""
        ...

    def advance(self, blocks: int) -> object:
        """Produce `blocks` blocks."""
        ...


class SimClock:
    """Time as a function of block height."""

    def __init__(
        self, chain: BlockProducer, genesis: datetime, block_seconds: float = BLOCK_SECONDS
    ) -> None:
        if genesis.tzinfo is None:
            raise ValueError("genesis must be timezone-aware")
        self._chain = chain
        self.genesis = genesis
        self.block_seconds = block_seconds

    def now(self) -> datetime:
        """Genesis time + block_seconds x current height."""
        return self.genesis + timedelta(seconds=self.block_seconds * self._chain.height)

    def blocks_for(self, seconds: float) -> int:
        """Number of blocks a sleep of `seconds` produces."""
        if seconds <= 0:
            return 0
        return math.ceil(seconds / self.block_seconds)

    async def sleep(self, seconds: float) -> None:
        """Produce `ceil(seconds / 12)` blocks, letting other tasks run first.

        Each sleeper advances the chain itself, so two tasks sleeping concurrently add up
        their blocks; the chain is single-threaded and never advanced in the background.
        """
        await asyncio.sleep(0)
        blocks = self.blocks_for(seconds)
        if blocks:
            self._chain.advance(blocks)
