"""Period boundaries: calendar-aligned UTC, end exclusive."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from minertrace.stats.periods import (
    ALL_TIME_END,
    ALL_TIME_START,
    Period,
    current_periods,
    period_for,
    previous_period,
)

UTC = timezone.utc


def at(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def test_daily_is_midnight_to_midnight_end_exclusive() -> None:
    p = period_for("daily", at(2024, 5, 15, 23, 59, 59, 999999))
    assert (p.start, p.end) == (at(2024, 5, 15), at(2024, 5, 16))
    assert period_for("daily", at(2024, 5, 16)).start == at(2024, 5, 16)
    assert p.contains(at(2024, 5, 15))
    assert not p.contains(at(2024, 5, 16))


def test_week_starts_on_monday() -> None:
    sunday_night = period_for("weekly", at(2024, 5, 19, 23, 59))
    assert (sunday_night.start, sunday_night.end) == (at(2024, 5, 13), at(2024, 5, 20))
    assert sunday_night.start.weekday() == 0
    monday = period_for("weekly", at(2024, 5, 20))
    assert (monday.start, monday.end) == (at(2024, 5, 20), at(2024, 5, 27))


def test_week_across_a_year_boundary() -> None:
    p = period_for("weekly", at(2025, 1, 1, 8))
    assert (p.start, p.end) == (at(2024, 12, 30), at(2025, 1, 6))


@pytest.mark.parametrize(
    ("when", "start", "end"),
    [
        (at(2023, 12, 31, 23, 59), at(2023, 12, 1), at(2024, 1, 1)),
        (at(2024, 1, 1), at(2024, 1, 1), at(2024, 2, 1)),
        (at(2024, 2, 29, 12), at(2024, 2, 1), at(2024, 3, 1)),
        (at(2023, 2, 28, 12), at(2023, 2, 1), at(2023, 3, 1)),
    ],
)
def test_month_rollover(when: datetime, start: datetime, end: datetime) -> None:
    p = period_for("monthly", when)
    assert (p.start, p.end) == (start, end)


def test_all_time_is_fixed() -> None:
    a = period_for("all_time", at(2024, 5, 15))
    b = period_for("all_time", at(2031, 1, 2))
    assert a == b == Period("all_time", ALL_TIME_START, ALL_TIME_END)
    assert at(2000, 1, 1) == ALL_TIME_START and at(9999, 1, 1) == ALL_TIME_END


def test_other_timezones_are_converted_to_utc() -> None:
    # 01:00 on Monday in UTC+2 is still Sunday in UTC.
    local = datetime(2024, 5, 20, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert period_for("weekly", local).start == at(2024, 5, 13)
    assert period_for("daily", local).start == at(2024, 5, 19)


def test_current_periods_order_and_selection() -> None:
    now = at(2024, 5, 15, 12)
    assert [p.period_type for p in current_periods(now)] == [
        "daily",
        "weekly",
        "monthly",
        "all_time",
    ]
    assert all(p.contains(now) for p in current_periods(now))
    assert [p.period_type for p in current_periods(now, ["monthly"])] == ["monthly"]


def test_previous_period() -> None:
    p = previous_period(period_for("monthly", at(2024, 3, 10)))
    assert (p.start, p.end) == (at(2024, 2, 1), at(2024, 3, 1))
    with pytest.raises(ValueError, match="all_time"):
        previous_period(period_for("all_time", at(2024, 3, 10)))


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        period_for("daily", datetime(2024, 5, 15))
    with pytest.raises(ValueError, match="unknown period type"):
        period_for("hourly", at(2024, 5, 15))
    with pytest.raises(ValueError, match="outside"):
        period_for("all_time", at(1999, 12, 31))
