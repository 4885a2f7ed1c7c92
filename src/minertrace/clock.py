"""Clocks: time is an input, so every loop can run at simulated speed.

The weight engine and Yuma never read a clock; the validator service asks one of these.
`LocalChain` provides a simulated clock (12 s per block) that satisfies the same protocol.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """A source of time for the service loops."""

    def now(self) -> datetime:
        """Current time, timezone-aware (UTC)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` on this clock."""
        ...


class SystemClock:
    """Wall-clock time and real sleeping."""

    def now(self) -> datetime:
        """Current UTC time."""
        return datetime.now(timezone.utc)

    async def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        await asyncio.sleep(max(0.0, seconds))


class PacedClock:
    """A simulated clock paced against wall time: `speed` simulated seconds per wall second.

    Sleeping waits for real first (so SIGINT interrupts it), then sleeps on the inner clock,
    which for a LocalChain's clock produces the blocks.
    """

    def __init__(self, inner: Clock, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.inner = inner
        self.speed = speed

    def now(self) -> datetime:
        """The inner clock's time."""
        return self.inner.now()

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds / speed` of wall time, then advance the inner clock by `seconds`."""
        await asyncio.sleep(max(0.0, seconds) / self.speed)
        await self.inner.sleep(seconds)


__all__ = ["Clock", "PacedClock", "SystemClock"]
