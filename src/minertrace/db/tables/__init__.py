"""The schema at the head revision, defined once as SQLAlchemy Core metadata.

`core`: the tables minertrace shares with a Gaia validator (`node_table`, `score_table`,
`miner_performance_stats`, `weight_submissions`) and the `metadata` they are registered on;
`cache`: `stats_day_cells`, derived from `score_table`; `legacy`: what adopting a legacy
`miner_performance_stats` keeps for a downgrade. Alembic migrations must produce exactly this
metadata (a test runs the autogenerate comparison).
"""

from minertrace.db.tables.cache import stats_day_cells
from minertrace.db.tables.core import (
    NAMING_CONVENTION,
    metadata,
    miner_performance_stats,
    node_table,
    score_table,
    weight_submissions,
)
from minertrace.db.tables.legacy import (
    MPS_LEGACY_COLUMNS,
    MPS_NEW_COLUMNS,
    QUARANTINE_REASONS,
    miner_performance_stats_legacy_uid,
    miner_performance_stats_quarantine,
)

__all__ = [
    "MPS_LEGACY_COLUMNS",
    "MPS_NEW_COLUMNS",
    "NAMING_CONVENTION",
    "QUARANTINE_REASONS",
    "metadata",
    "miner_performance_stats",
    "miner_performance_stats_legacy_uid",
    "miner_performance_stats_quarantine",
    "node_table",
    "score_table",
    "stats_day_cells",
    "weight_submissions",
]
