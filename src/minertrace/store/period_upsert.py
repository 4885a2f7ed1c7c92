"""The period job's write: one upsert per period of the rows `stats_sql` computed.

Every row gets its statistics columns. The daily row keeps the pipeline columns the cycle
wrote into it, and gets the last epoch's chain columns from durable state, as the cycle's
write does (`minertrace.store.pipeline`): node_table's incentive, RANK() by incentive among
the UIDs without a validator permit, and the latest consensus_block `mark_in_force` recorded
(any validator's: the epoch is the subnet's); with no recorded epoch it keeps what it has. So
an epoch writes no row of its own: its values arrive with the next write of the row, the
cycle's or this one. A weekly, monthly or all_time row gets the pipeline and chain columns
from the miner's latest daily row inside its period (the pipeline columns from the latest one
a cycle wrote, the chain columns from the latest one with a consensus_block), so a cycle
writes one row per miner instead of four. A longer row whose period holds no such daily row
keeps what it has. Rows whose values would not change are not written at all (no new row
version, `calculated_at` and `updated_at` keep the time of the last change).
"""

from __future__ import annotations

from typing import Final

from minertrace.store.stats_sql import STAGING_TABLE, STATS_COLUMNS
from minertrace.vocabulary import PeriodType

PIPELINE_COLUMNS: Final = (
    "submitted_weight",
    "raw_calculated_weight",
    "excellence_weight",
    "diversity_weight",
    "scoring_pathway",
    "pathway_details",
    "weather_weight_contribution",
    "geomagnetic_weight_contribution",
    "soil_weight_contribution",
    "multi_task_bonus",
    "percentile_rank_weather",
    "percentile_rank_geomagnetic",
    "percentile_rank_soil",
    "excellence_qualified_tasks",
    "validator_hotkey",
    "weight_submission_block",
)
"""The columns a cycle writes (validator_hotkey is set on every row a cycle wrote)."""

CHAIN_COLUMNS: Final = ("incentive", "consensus_rank", "consensus_block")
"""The columns an epoch writes (consensus_block is set on every row an epoch wrote)."""

_STAMPS = ("calculated_at", "updated_at")
_COMPUTED = tuple(c for c in STATS_COLUMNS if c not in _STAMPS)


def _latest_daily(alias: str, columns: tuple[str, ...], marker: str) -> str:
    # The PK (miner_uid, period_start, ...) serves this lookup: one index probe per miner.
    return f"""
    LEFT JOIN LATERAL (
        SELECT {", ".join(columns)}
          FROM miner_performance_stats AS d
         WHERE :carry AND d.miner_uid = s.uid AND d.miner_hotkey = s.hotkey
           AND d.period_type = '{PeriodType.DAILY.value}'
           AND d.period_start >= :period_start AND d.period_end <= :period_end
           AND d.{marker} IS NOT NULL
         ORDER BY d.period_start DESC
         LIMIT 1
    ) AS {alias} ON true"""


def _kept(column: str, marker: str) -> str:
    """The new value of a carried column: the daily row's when there is one, else the old."""
    return f"CASE WHEN EXCLUDED.{marker} IS NOT NULL THEN EXCLUDED.{column} ELSE m.{column} END"


_NEW = {
    **{c: f"EXCLUDED.{c}" for c in _COMPUTED},
    **{c: _kept(c, "validator_hotkey") for c in PIPELINE_COLUMNS},
    **{c: _kept(c, "consensus_block") for c in CHAIN_COLUMNS},
}

# The daily row's chain columns (empty for the longer periods, which carry the daily row's).
_EPOCH = """
WITH epoch AS (
    SELECT max(consensus_block) AS block
      FROM weight_submissions
     WHERE NOT :carry
), ranked AS (
    SELECT nt.uid, nt.hotkey, nt.incentive, e.block AS consensus_block,
           CASE WHEN NOT nt.validator_permit
                THEN rank() OVER (PARTITION BY nt.validator_permit
                                  ORDER BY nt.incentive DESC NULLS LAST) END AS consensus_rank
      FROM node_table AS nt
      JOIN epoch AS e ON e.block IS NOT NULL
     WHERE nt.hotkey IS NOT NULL
)"""

_CHAIN_SOURCE = "CASE WHEN :carry THEN dc.{0} WHEN r.hotkey = s.hotkey THEN r.{0} END"

UPSERT_SQL: Final = f"""
{_EPOCH}
INSERT INTO miner_performance_stats AS m (
    miner_uid, miner_hotkey, period_start, period_end, period_type,
    {", ".join(_COMPUTED)}, {", ".join(PIPELINE_COLUMNS)}, {", ".join(CHAIN_COLUMNS)},
    {", ".join(_STAMPS)}
)
SELECT
    s.uid, s.hotkey, :period_start, :period_end, :period_type,
    {", ".join(f"s.{c}" for c in _COMPUTED)},
    {", ".join(f"dp.{c}" for c in PIPELINE_COLUMNS)},
    {", ".join(_CHAIN_SOURCE.format(c) for c in CHAIN_COLUMNS)},
    :now, :now
FROM {STAGING_TABLE} AS s
-- Joined on the UID alone (no collated text sort); a node row with another hotkey gives nothing.
LEFT JOIN ranked AS r ON r.uid = s.uid
{_latest_daily("dp", PIPELINE_COLUMNS, "validator_hotkey")}
{_latest_daily("dc", CHAIN_COLUMNS, "consensus_block")}
WHERE s.pid = :pid
ON CONFLICT (miner_uid, period_start, period_end, period_type) DO UPDATE SET
    {", ".join(f"{c} = {e}" for c, e in _NEW.items())},
    calculated_at = EXCLUDED.calculated_at, updated_at = EXCLUDED.updated_at
-- A row still carrying a UID's previous hotkey is stale: never relabel another miner's
-- values; delete_stale_rows removes it. A row that would not change is not rewritten.
WHERE m.miner_hotkey = EXCLUDED.miner_hotkey
  AND ({", ".join(f"m.{c}" for c in _NEW)})
      IS DISTINCT FROM ({", ".join(_NEW.values())})
"""


def carries_from_daily(period_type: str) -> bool:
    """Whether the upsert of `period_type` carries the daily row's pipeline and chain columns."""
    return period_type != PeriodType.DAILY.value


__all__ = ["CHAIN_COLUMNS", "PIPELINE_COLUMNS", "UPSERT_SQL", "carries_from_daily"]
