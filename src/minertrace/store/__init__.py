"""Every read and write of minertrace's tables: the only SQL outside `minertrace.db`.

Functions take a SQLAlchemy `Connection` (joining the caller's transaction) or an `Engine`
(their own transaction) and typed values, and return typed rows. Modules: `scores`
(score_table), `nodes` (node_table), `submissions` (weight_submissions), `pipeline` and
`miner_stats` (miner_performance_stats), `stats_sql` (the period-statistics statement),
`locks` (advisory locks), `schema` (whole schemas), `records` (what a cycle writes).
"""

from minertrace.store._bind import transaction
from minertrace.store._periods import PeriodWindow, period_params
from minertrace.store.locks import (
    advisory_lock_holders,
    advisory_unlock,
    ping,
    try_advisory_lock,
)
from minertrace.store.miner_stats import (
    commit_asynchronously,
    delete_period_rows_before,
    delete_stale_rows,
    write_period_stats,
)
from minertrace.store.nodes import (
    ACTIVE_VALIDATOR_WINDOW_BLOCKS,
    HotkeyReplacement,
    MetagraphWrite,
    NodeRecord,
    node_columns,
    read_active_validators,
    read_nodes,
    subnet_size,
    update_node_values,
    write_metagraph,
)
from minertrace.store.pipeline import (
    fill_pipeline_columns,
    latest_submission,
    upsert_miner_rows,
)
from minertrace.store.reconcile import (
    UNSETTLED_STATUSES,
    Settlement,
    UnsettledRow,
    settle,
    unsettled_rows,
)
from minertrace.store.records import Attempt, Outcome, TraceRecord, Verification
from minertrace.store.schema import recreate_schema, table_row_counts
from minertrace.store.score_batch import ScoreRow, record_score_rows
from minertrace.store.score_values import (
    IngestReport,
    Scores,
    ScoreValidationError,
    score_array,
    validate_task,
)
from minertrace.store.scores import (
    DEFAULT_STATUS,
    DEFAULT_WINDOWS,
    CycleReads,
    ScoreRecord,
    ScoreWindows,
    read_cycle_inputs,
    read_cycle_inputs_async,
    read_geomagnetic_rows,
    read_soil_rows,
    read_weather_rows,
    record_scores,
    record_scores_async,
)
from minertrace.store.submissions import (
    ORPHANABLE_STATUSES,
    ChainBlock,
    CommittedRow,
    TopMiner,
    VerificationUpdate,
    committed_rows,
    delete_submissions_before,
    insert_submission,
    mark_in_force,
    mark_orphaned,
    orphan_candidates,
    top_miners,
    update_outcome,
    write_verifications,
)

__all__ = [
    "ACTIVE_VALIDATOR_WINDOW_BLOCKS",
    "DEFAULT_STATUS",
    "DEFAULT_WINDOWS",
    "ORPHANABLE_STATUSES",
    "UNSETTLED_STATUSES",
    "Attempt",
    "ChainBlock",
    "CommittedRow",
    "CycleReads",
    "HotkeyReplacement",
    "IngestReport",
    "MetagraphWrite",
    "NodeRecord",
    "Outcome",
    "PeriodWindow",
    "ScoreRecord",
    "ScoreRow",
    "ScoreValidationError",
    "ScoreWindows",
    "Scores",
    "Settlement",
    "TopMiner",
    "TraceRecord",
    "UnsettledRow",
    "Verification",
    "VerificationUpdate",
    "advisory_lock_holders",
    "advisory_unlock",
    "commit_asynchronously",
    "committed_rows",
    "delete_period_rows_before",
    "delete_stale_rows",
    "delete_submissions_before",
    "fill_pipeline_columns",
    "insert_submission",
    "latest_submission",
    "mark_in_force",
    "mark_orphaned",
    "node_columns",
    "orphan_candidates",
    "period_params",
    "ping",
    "read_active_validators",
    "read_cycle_inputs",
    "read_cycle_inputs_async",
    "read_geomagnetic_rows",
    "read_nodes",
    "read_soil_rows",
    "read_weather_rows",
    "record_score_rows",
    "record_scores",
    "record_scores_async",
    "recreate_schema",
    "score_array",
    "settle",
    "subnet_size",
    "table_row_counts",
    "top_miners",
    "transaction",
    "try_advisory_lock",
    "unsettled_rows",
    "update_node_values",
    "update_outcome",
    "upsert_miner_rows",
    "validate_task",
    "write_metagraph",
    "write_period_stats",
    "write_verifications",
]
