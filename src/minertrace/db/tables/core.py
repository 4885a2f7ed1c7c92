"""The tables minertrace shares with a Gaia validator, at the head revision.

`node_table` and `score_table` keep the Gaia validator's layout (without its 256-UID check) so
minertrace can share a Gaia database; `miner_performance_stats` is the plan's enhanced table;
`weight_submissions` holds one row per weight cycle. Also the `metadata` every table of the
schema is registered on (`minertrace.db.tables`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from minertrace.vocabulary import PERIOD_TYPES, SCORING_PATHWAYS, SUBMISSION_STATUSES

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

node_table = Table(
    "node_table",
    metadata,
    Column("uid", Integer, primary_key=True, autoincrement=False, comment="Subnet UID (0..n-1)."),
    Column("hotkey", Text, comment="SS58 hotkey registered on this UID."),
    Column("coldkey", Text, comment="SS58 coldkey owning the hotkey."),
    Column("ip", Text, comment="Axon IP address as the chain reports it."),
    Column("ip_type", Text, comment="Axon IP version (4 or 6), TEXT as in Gaia."),
    Column("port", Integer, comment="Axon port."),
    Column("incentive", Double, comment="Incentive of the last epoch, as a fraction in [0, 1]."),
    Column("stake", Double, comment="Stake weight of the hotkey on this subnet."),
    Column("trust", Double, comment="Trust (not computed by the chain any more; locally derived)."),
    Column("vtrust", Double, comment="Validator trust of the last epoch, fraction in [0, 1]."),
    Column("protocol", Text, comment="Axon protocol number, TEXT as in Gaia."),
    Column(
        "last_updated",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("now()"),
        comment="When minertrace last wrote this row.",
    ),
    Column("consensus", Double, comment="Consensus of the last epoch, fraction in [0, 1]."),
    Column("dividends", Double, comment="Dividends of the last epoch, fraction in [0, 1]."),
    Column("validator_permit", Boolean, comment="Whether the UID holds a validator permit."),
    Column("last_update_block", BigInteger, comment="Block of the UID's last weight update."),
    Index("idx_node_hotkey_on_node_table", "hotkey"),
    comment="The subnet's metagraph, one row per UID (Gaia-compatible).",
)

score_table = Table(
    "score_table",
    metadata,
    Column(
        "task_name",
        String(255),
        comment="'weather', 'geomagnetic' or 'soil_moisture_region_<id>'.",
    ),
    Column(
        "task_id",
        Text,
        comment="Task run identifier; weather ids start with final_/initial_weather_scores.",
    ),
    Column(
        "score",
        ARRAY(Double),
        comment="Per-UID scores indexed by UID; NaN = no entry for that UID.",
    ),
    Column(
        "created_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("now()"),
        comment="When the run's scores were produced.",
    ),
    Column(
        "status",
        String(50),
        server_default=text("'pending'"),
        comment="Run status; 'completed' marks final scores.",
    ),
    UniqueConstraint("task_name", "task_id"),
    Index(
        "idx_score_task_name_created_at_desc_on_score_table",
        "task_name",
        text("created_at DESC"),
    ),
    Index("idx_score_created_at_on_score_table", "created_at"),
    comment="One row per task run: its per-UID score array (Gaia-compatible).",
)


def _sql_list(values: tuple[str, ...]) -> str:
    """`('a', 'b')`: a CHECK constraint's IN list. The values are the project's own
    vocabulary (plain identifiers), never user input, so quoting them inline is safe."""
    if not all(v.isidentifier() for v in values):
        raise ValueError(f"not a plain vocabulary value in {values!r}")
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _count(name: str, what: str) -> Column[int]:
    return Column(name, Integer, nullable=False, server_default=text("0"), comment=what)


def _float(name: str, what: str) -> Column[float]:
    return Column(name, Double, comment=what)


def _task_columns(task: str, label: str) -> list[Column[Any]]:
    return [
        _count(f"{task}_tasks_attempted", f"{label} runs with an entry for the miner."),
        _count(f"{task}_tasks_completed", f"{label} entries > 0."),
        _count(f"{task}_tasks_scored", f"{label} completed entries in a final row."),
        _float(f"{task}_avg_score", f"Mean {label} score over attempted entries."),
        _float(f"{task}_success_rate", f"{label} completed / attempted."),
        Column(f"{task}_rank", Integer, comment=f"Rank by {label} average (1 = best)."),
    ]


miner_performance_stats = Table(
    "miner_performance_stats",
    metadata,
    Column("miner_uid", Integer, nullable=False, comment="Subnet UID of the miner."),
    Column("miner_hotkey", Text, nullable=False, comment="Hotkey on the UID for this period."),
    Column(
        "period_start",
        DateTime(timezone=True),
        nullable=False,
        comment="Start of the period (UTC, inclusive).",
    ),
    Column(
        "period_end",
        DateTime(timezone=True),
        nullable=False,
        comment="End of the period (UTC, exclusive).",
    ),
    Column(
        "period_type",
        String(20),
        nullable=False,
        comment="'daily', 'weekly', 'monthly' or 'all_time'.",
    ),
    _count("total_tasks_attempted", "Entries for the miner across all tasks."),
    _count("total_tasks_completed", "Entries > 0 across all tasks."),
    _count("total_tasks_scored", "Completed entries in final rows across all tasks."),
    _float("overall_success_rate", "total completed / total attempted."),
    _float("overall_avg_score", "Task averages weighted by scored counts."),
    Column("overall_rank", Integer, comment="Rank by overall_avg_score (1 = best)."),
    *_task_columns("weather", "Weather"),
    _float("weather_best_score", "Best weather score in the period."),
    _float("weather_latest_score", "Latest weather score in the period."),
    *_task_columns("soil_moisture", "Soil moisture"),
    _float("soil_moisture_surface_rmse_avg", "Mean surface RMSE (when the task reports it)."),
    _float("soil_moisture_rootzone_rmse_avg", "Mean root-zone RMSE (when the task reports it)."),
    _float("soil_moisture_best_score", "Best soil moisture score in the period."),
    _float("soil_moisture_latest_score", "Latest soil moisture score in the period."),
    *_task_columns("geomagnetic", "Geomagnetic"),
    _float("geomagnetic_best_score", "Best geomagnetic score in the period."),
    _float("geomagnetic_latest_score", "Latest geomagnetic score in the period."),
    _float("geomagnetic_avg_error", "Mean geomagnetic prediction error (when reported)."),
    Column(
        "performance_trend",
        String(20),
        comment="'improving', 'declining', 'stable' or 'insufficient_data'.",
    ),
    _float("trend_confidence", "|correlation| of the 14-day daily-average trend, in [0, 1]."),
    Column(
        "last_active_time",
        DateTime(timezone=True),
        comment="created_at of the miner's latest entry.",
    ),
    _count("consecutive_failures", "Trailing run of attempted-but-not-completed entries."),
    _float("uptime_percentage", "Share of the period's runs the miner attempted, 0-100."),
    Column("detailed_metrics", JSONB, comment="Per-task details of the period computation."),
    Column("score_distribution", JSONB, comment="Percentiles of the miner's period scores."),
    Column(
        "calculated_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("now()"),
        comment="When the period statistics were last computed.",
    ),
    Column(
        "updated_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("now()"),
        comment="When any column of the row last changed.",
    ),
    _float("submitted_weight", "Weight actually submitted on chain for the miner (D6)."),
    _float("raw_calculated_weight", "Pathway weight max(E, D) before coldkey smoothing."),
    _float("excellence_weight", "Excellence pathway value E."),
    _float("diversity_weight", "Diversity pathway value D (with the multi-task bonus)."),
    Column(
        "scoring_pathway",
        String(20),
        comment="'excellence', 'diversity' or 'none' (D5).",
    ),
    Column("pathway_details", JSONB, comment="Scores, ranks, qualifications, contributions."),
    _float("incentive", "Incentive the chain gave the miner in the last epoch."),
    Column(
        "consensus_rank",
        Integer,
        comment="Rank by incentive among non-validators (1 = highest, ties share).",
    ),
    Column(
        "weight_submission_block",
        BigInteger,
        comment="Block in which the weights of this row were included.",
    ),
    Column(
        "consensus_block",
        BigInteger,
        comment="Block of the epoch that produced `incentive`.",
    ),
    _float("weather_weight_contribution", "Weather diversity contribution before the bonus."),
    _float("geomagnetic_weight_contribution", "Geomagnetic contribution before the bonus."),
    _float("soil_weight_contribution", "Soil diversity contribution before the bonus."),
    _float("multi_task_bonus", "0.85, 1.0 or 1.15 by number of present tasks."),
    _float("percentile_rank_weather", "Percentile rank in weather, 0-100."),
    _float("percentile_rank_geomagnetic", "Percentile rank in geomagnetic, 0-100."),
    _float("percentile_rank_soil", "Percentile rank in soil moisture, 0-100."),
    Column(
        "excellence_qualified_tasks",
        ARRAY(Text),
        comment="Tasks where the miner reached the 85th percentile with >= 10 valid scores.",
    ),
    Column("validator_hotkey", Text, comment="Hotkey of the validator that computed the row."),
    PrimaryKeyConstraint("miner_uid", "period_start", "period_end", "period_type"),
    CheckConstraint(
        f"scoring_pathway IS NULL OR scoring_pathway IN {_sql_list(SCORING_PATHWAYS)}",
        name="scoring_pathway",
    ),
    CheckConstraint(
        "percentile_rank_weather IS NULL OR percentile_rank_weather BETWEEN 0 AND 100",
        name="percentile_rank_weather",
    ),
    CheckConstraint(
        "percentile_rank_geomagnetic IS NULL OR percentile_rank_geomagnetic BETWEEN 0 AND 100",
        name="percentile_rank_geomagnetic",
    ),
    CheckConstraint(
        "percentile_rank_soil IS NULL OR percentile_rank_soil BETWEEN 0 AND 100",
        name="percentile_rank_soil",
    ),
    CheckConstraint(f"period_type IN {_sql_list(PERIOD_TYPES)}", name="period_type"),
    CheckConstraint("period_end > period_start", name="period_order"),
    # Only columns that no write changes are indexed, so updates stay HOT (revision 0004).
    Index("ix_mps_period_latest", "period_type", text("period_start DESC")),
    Index("ix_mps_hotkey", "miner_hotkey"),
    Index("ix_mps_validator_hotkey", "validator_hotkey"),
    comment="One row per miner per period: task statistics and the weight pipeline's values.",
    postgresql_with={"fillfactor": 50},
)

weight_submissions = Table(
    "weight_submissions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True, comment="Cycle id."),
    Column("validator_hotkey", Text, nullable=False, comment="Hotkey that set the weights."),
    Column("netuid", Integer, nullable=False, comment="Subnet id."),
    Column(
        "computed_at",
        DateTime(timezone=True),
        nullable=False,
        comment="Time (on the service clock) at which the cycle was computed.",
    ),
    Column("computed_block", BigInteger, comment="Chain height when the cycle was computed."),
    Column("n_uids", Integer, nullable=False, comment="Length of every per-UID vector."),
    Column("config", JSONB, nullable=False, comment="The WeightConfig used."),
    Column(
        "score_rows",
        JSONB,
        nullable=False,
        comment="Input rows used: [{task_name, task_id, created_at}] per task, in query order.",
    ),
    Column("scalars", JSONB, nullable=False, comment="Every scalar the stages used."),
    Column("data_quality", JSONB, nullable=False, comment="Counters of missing/bad entries."),
    Column(
        "stages",
        JSONB,
        comment="Per-UID vector of every stage, {stage: [value|null]}; NULL without details.",
    ),
    Column("weights_produced", Boolean, nullable=False, comment="Whether weights exist."),
    Column("no_weights_reason", Text, comment="Why no weights were produced ('all_zero', ...)."),
    Column("rank_based_fallback", Boolean, nullable=False, comment="1/rank^1.2 fallback fired."),
    Column("final_weights", ARRAY(Double), comment="Normalised weights of the calculation."),
    Column("submitted_uids", ARRAY(Integer), comment="UIDs sent to the chain, ascending."),
    Column("submitted_weights", ARRAY(Double), comment="Float weights sent, per submitted uid."),
    Column("submitted_u16", ARRAY(Integer), comment="u16 encoding sent, per submitted uid."),
    Column(
        "status",
        String(20),
        nullable=False,
        server_default=text("'computed'"),
        comment="computed, submitting, included, committed, verified, mismatch, failed, ...",
    ),
    Column(
        "attempts",
        JSONB,
        nullable=False,
        server_default=text("'[]'::jsonb"),
        comment="Every submission attempt: [{at, block, status, error, message}].",
    ),
    Column("error", Text, comment="Last error, when the submission failed."),
    Column("block_number", BigInteger, comment="Block that included the extrinsic."),
    Column("block_hash", Text, comment="Hash of that block, to detect forks."),
    Column("reveal_epoch", BigInteger, comment="Commit-reveal: epoch of the reveal."),
    Column("reveal_block", BigInteger, comment="Commit-reveal: first block of the reveal epoch."),
    Column("verified_at", DateTime(timezone=True), comment="When the read-back was compared."),
    Column("verification", JSONB, comment="Read-back result: {match, differing_uids}."),
    Column(
        "consensus_block",
        BigInteger,
        comment="Block of the first epoch that ran with these weights in force.",
    ),
    Column("trace_overhead_s", Double, comment="Trace-and-persist time of the cycle (s)."),
    Column(
        "inputs",
        JSONB,
        comment="Replay inputs: node snapshot, active validator UIDs, max_weight_limit, "
        "min_allowed_weights, now, n_uids; NULL before revision 0003.",
    ),
    CheckConstraint(f"status IN {_sql_list(SUBMISSION_STATUSES)}", name="status"),
    Index("ix_ws_validator_computed", "validator_hotkey", text("computed_at DESC")),
    Index("ix_ws_status", "status"),
    Index("ix_ws_computed_at", "computed_at"),
    Index("ix_ws_block_number", "block_number"),
    comment="One row per weight cycle: inputs, every stage, the submission and its fate.",
)

# Out of line and uncompressed: pglz on ~1.9 MB of stages (4,096 UIDs) cost more than the rest
# of the cycle's insert (revision 0004).
event.listen(
    weight_submissions,
    "after_create",
    DDL("ALTER TABLE weight_submissions ALTER COLUMN stages SET STORAGE EXTERNAL"),  # type: ignore[no-untyped-call]
)
