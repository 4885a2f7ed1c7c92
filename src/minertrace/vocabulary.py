"""The project's words, spelled once: submission statuses, pathways, periods, tasks.

Every value is a `str` enum, so a member compares equal to the text stored in PostgreSQL and
in JSON; the CHECK constraints of `minertrace.db.tables` are built from these tuples. Standard
library only: the pure weight engine may import it.
"""

from __future__ import annotations

from enum import Enum


class SubmissionStatus(str, Enum):
    """Life of a `weight_submissions` row (see `docs/` for the transitions)."""

    COMPUTED = "computed"
    SUBMITTING = "submitting"
    INCLUDED = "included"
    COMMITTED = "committed"
    VERIFIED = "verified"
    MISMATCH = "mismatch"
    FAILED = "failed"
    ORPHANED = "orphaned"
    SKIPPED = "skipped"
    OBSERVED = "observed"
    """Shadow mode: not submitted by minertrace; the validator's own weights were seen on chain
    and compared with this trace (`verification`)."""

    def __str__(self) -> str:
        return self.value


class Pathway(str, Enum):
    """How a miner's raw weight was earned (`miner_performance_stats.scoring_pathway`)."""

    EXCELLENCE = "excellence"
    DIVERSITY = "diversity"
    NONE = "none"

    def __str__(self) -> str:
        return self.value


class PeriodType(str, Enum):
    """The calendar window of a `miner_performance_stats` row (UTC, end exclusive)."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    ALL_TIME = "all_time"

    def __str__(self) -> str:
        return self.value


class Task(str, Enum):
    """The weight engine's tasks, in the order of its per-task arrays."""

    WEATHER = "weather"
    GEOMAGNETIC = "geomagnetic"
    SOIL = "soil"

    def __str__(self) -> str:
        return self.value


SUBMISSION_STATUSES: tuple[str, ...] = tuple(s.value for s in SubmissionStatus)
SCORING_PATHWAYS: tuple[str, ...] = tuple(p.value for p in Pathway)
PERIOD_TYPES: tuple[str, ...] = tuple(p.value for p in PeriodType)
TASK_NAMES: tuple[str, ...] = tuple(t.value for t in Task)

# `score_table.task_name` values: weather and geomagnetic by name, soil moisture one row per
# region under this prefix.
SCORE_TASK_WEATHER = "weather"
SCORE_TASK_GEOMAGNETIC = "geomagnetic"
SOIL_TASK_PREFIX = "soil_moisture_region_"

FINAL_WEATHER_PREFIX = "final_weather_scores"
INITIAL_WEATHER_PREFIX = "initial_weather_scores"
WEATHER_TASK_ID_PREFIXES: tuple[str, str] = (FINAL_WEATHER_PREFIX, INITIAL_WEATHER_PREFIX)

# Statuses whose weights reached the chain (a later reorg may still orphan them).
ON_CHAIN_STATUSES: frozenset[SubmissionStatus] = frozenset(
    {
        SubmissionStatus.INCLUDED,
        SubmissionStatus.COMMITTED,
        SubmissionStatus.VERIFIED,
        SubmissionStatus.MISMATCH,
        SubmissionStatus.OBSERVED,
    }
)

# Mean block time of a Subtensor chain, seconds.
BLOCK_SECONDS = 12.0

# Longest retention accepted (a century): `now - days` must stay a representable date.
MAX_RETENTION_DAYS = 36_500

__all__ = [
    "BLOCK_SECONDS",
    "FINAL_WEATHER_PREFIX",
    "INITIAL_WEATHER_PREFIX",
    "MAX_RETENTION_DAYS",
    "ON_CHAIN_STATUSES",
    "PERIOD_TYPES",
    "SCORE_TASK_GEOMAGNETIC",
    "SCORE_TASK_WEATHER",
    "SCORING_PATHWAYS",
    "SOIL_TASK_PREFIX",
    "SUBMISSION_STATUSES",
    "TASK_NAMES",
    "WEATHER_TASK_ID_PREFIXES",
    "Pathway",
    "PeriodType",
    "SubmissionStatus",
    "Task",
]
