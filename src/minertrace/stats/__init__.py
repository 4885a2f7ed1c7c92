"""minertrace.stats: period boundaries and the statistics refresh and retention jobs."""

from minertrace.stats.periods import (
    ALL_TIME_END,
    ALL_TIME_START,
    PERIOD_TYPES,
    Period,
    PeriodType,
    current_periods,
    period_for,
    previous_period,
)
from minertrace.stats.refresh import STATS_COLUMNS, refresh_all, refresh_period_stats, trend_window
from minertrace.stats.retention import RetentionCounts, cleanup, retention_cutoff

__all__ = [
    "ALL_TIME_END",
    "ALL_TIME_START",
    "PERIOD_TYPES",
    "STATS_COLUMNS",
    "Period",
    "PeriodType",
    "RetentionCounts",
    "cleanup",
    "current_periods",
    "period_for",
    "previous_period",
    "refresh_all",
    "refresh_period_stats",
    "retention_cutoff",
    "trend_window",
]
