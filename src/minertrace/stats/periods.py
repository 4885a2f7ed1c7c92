"""Period boundaries for `miner_performance_stats`: calendar-aligned in UTC, end exclusive.

- daily: [00:00 of the day, 00:00 of the next day)
- weekly: [00:00 of the Monday, 00:00 of the next Monday) (ISO weeks)
- monthly: [00:00 of the 1st, 00:00 of the 1st of the next month)
- all_time: [2000-01-01, 9999-01-01), fixed so that every refresh hits the same row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal, cast

from minertrace.store import period_params
from minertrace.vocabulary import PERIOD_TYPES as _PERIOD_NAMES
from minertrace.vocabulary import PeriodType as PeriodKind

PeriodType = Literal["daily", "weekly", "monthly", "all_time"]
PERIOD_TYPES: tuple[PeriodType, ...] = cast("tuple[PeriodType, ...]", _PERIOD_NAMES)

ALL_TIME_START = datetime(2000, 1, 1, tzinfo=timezone.utc)
# Far enough that no score row can be after it, yet still a Python datetime.
ALL_TIME_END = datetime(9999, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Period:
    """One statistics window: `start <= t < end`, both UTC."""

    period_type: PeriodType
    start: datetime
    end: datetime

    def contains(self, t: datetime) -> bool:
        """Whether `t` lies in the period (end exclusive)."""
        return self.start <= _utc(t) < self.end


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t.isoformat()}: pass a timezone-aware time")
    return t.astimezone(timezone.utc)


def _midnight(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def _check_type(period_type: str) -> PeriodType:
    if period_type not in PERIOD_TYPES:
        raise ValueError(
            f"unknown period type {period_type!r}; expected one of {', '.join(PERIOD_TYPES)}"
        )
    return period_type


def period_for(period_type: str, at: datetime) -> Period:
    """The period of `period_type` that contains the instant `at` (timezone-aware)."""
    kind = _check_type(period_type)
    t = _utc(at)
    if kind == PeriodKind.ALL_TIME.value:
        if not ALL_TIME_START <= t < ALL_TIME_END:
            raise ValueError(f"{t.isoformat()} lies outside the all_time period")
        return Period(kind, ALL_TIME_START, ALL_TIME_END)
    day = _midnight(t)
    if kind == PeriodKind.DAILY.value:
        return Period(kind, day, day + timedelta(days=1))
    if kind == PeriodKind.WEEKLY.value:
        monday = day - timedelta(days=day.weekday())
        return Period(kind, monday, monday + timedelta(days=7))
    first = day.replace(day=1)
    if first.month == 12:
        following = first.replace(year=first.year + 1, month=1)
    else:
        following = first.replace(month=first.month + 1)
    return Period(kind, first, following)


def previous_period(period: Period) -> Period:
    """The period of the same type that ends where `period` starts (not for all_time)."""
    if period.period_type == PeriodKind.ALL_TIME.value:
        raise ValueError("all_time has no previous period")
    return period_for(period.period_type, period.start - timedelta(microseconds=1))


def current_periods(
    now: datetime, types: tuple[str, ...] | list[str] | None = None
) -> list[Period]:
    """The periods containing `now`: daily, weekly, monthly and all_time (or `types`, in order)."""
    return [period_for(kind, now) for kind in (types if types is not None else PERIOD_TYPES)]


__all__ = [
    "ALL_TIME_END",
    "ALL_TIME_START",
    "PERIOD_TYPES",
    "Period",
    "PeriodType",
    "current_periods",
    "period_for",
    "period_params",
    "previous_period",
]
