"""Statistics periods as bind parameters, without depending on `minertrace.stats`.

`minertrace.stats.periods.Period` satisfies `PeriodWindow`; the store only needs its three
fields, so the dependency points from `stats` to `store` and never back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol


class PeriodWindow(Protocol):
    """One statistics window `[start, end)` of a period type."""

    @property
    def period_type(self) -> str:
        """'daily', 'weekly', 'monthly' or 'all_time'."""

    @property
    def start(self) -> datetime:
        """First instant (inclusive)."""

    @property
    def end(self) -> datetime:
        """Last instant (exclusive)."""


def period_params(periods: Sequence[PeriodWindow]) -> dict[str, list[Any]]:
    """The periods as three parallel arrays, the bind parameters of a set-based statement
    that unnests `:period_types`, `:period_starts` and `:period_ends` together."""
    return {
        "period_types": [str(p.period_type) for p in periods],
        "period_starts": [p.start for p in periods],
        "period_ends": [p.end for p in periods],
    }
