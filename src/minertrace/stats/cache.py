"""The incremental refresh's process-local state: what one refresh leaves for the next.

Day cells by their token (the current day's with the fingerprint they were extended to) and,
per period, the roll-up of its complete days, within `MEMORY_BUDGET`. Everything here can be
rebuilt from `stats_day_cells`; `CACHE.clear()` forgets it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Final

from minertrace.stats.day_cells import DayCells
from minertrace.stats.rollup import Totals
from minertrace.store.day_cells import DayFingerprint, StoredDay

MEMORY_BUDGET: Final = 512 * 1024 * 1024
"""Bytes of cached roll-ups (mostly sorted entries) kept between refreshes; a period whose
roll-up is larger is rebuilt from the day cells at every refresh instead of being cached."""
KEPT_DAYS: Final = 16
"""Days of cells kept in the process after a refresh (the trend window and the current day)."""


class StatsCache:
    """Process-local: day cells by token, and per period the roll-up of its complete days."""

    def __init__(self) -> None:
        self.days: dict[int, DayCells] = {}
        self.current: dict[tuple[str, int], tuple[StoredDay, DayCells, DayFingerprint]] = {}
        self.totals: OrderedDict[tuple[Any, ...], tuple[tuple[int, ...], Totals]] = OrderedDict()

    def clear(self) -> None:
        """Forget everything (the next refresh reads the day cells from the database)."""
        self.days.clear()
        self.current.clear()
        self.totals.clear()

    def keep_totals(self, key: tuple[Any, ...], tokens: tuple[int, ...], totals: Totals) -> None:
        """Keep a period's roll-up (of the day cells `tokens`), the least recently kept ones
        going first when the roll-ups pass `MEMORY_BUDGET`; one larger than it is not kept."""
        if totals.nbytes > MEMORY_BUDGET:
            self.totals.pop(key, None)
            return
        self.totals[key] = (tokens, totals)
        self.totals.move_to_end(key)
        while sum(t.nbytes for _, t in self.totals.values()) > MEMORY_BUDGET:
            self.totals.popitem(last=False)


CACHE: Final = StatsCache()

__all__ = ["CACHE", "KEPT_DAYS", "MEMORY_BUDGET", "StatsCache"]
