"""The tables of a legacy `miner_performance_stats` adoption: rows that could not be converted,
and the legacy text of converted UIDs, both kept for a downgrade (revision 0002)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)

from minertrace.db.tables.core import metadata, miner_performance_stats

# Columns the enhancement added to the legacy `miner_performance_stats`; every other column of
# the table (with `miner_uid` as TEXT and a serial `id`) is the legacy layout.
MPS_NEW_COLUMNS = (
    "submitted_weight",
    "raw_calculated_weight",
    "excellence_weight",
    "diversity_weight",
    "scoring_pathway",
    "pathway_details",
    "incentive",
    "consensus_rank",
    "weight_submission_block",
    "consensus_block",
    "weather_weight_contribution",
    "geomagnetic_weight_contribution",
    "soil_weight_contribution",
    "multi_task_bonus",
    "percentile_rank_weather",
    "percentile_rank_geomagnetic",
    "percentile_rank_soil",
    "excellence_qualified_tasks",
    "validator_hotkey",
)
MPS_LEGACY_COLUMNS = tuple(
    c.name for c in miner_performance_stats.columns if c.name not in MPS_NEW_COLUMNS
)
QUARANTINE_REASONS = (
    "non_numeric_uid",
    "uid_out_of_range",
    "invalid_period_type",
    "invalid_period_order",
    "uid_collision",
)


def _legacy_copy(name: str) -> Column[object]:
    source = miner_performance_stats.c[name]
    return Column(
        name,
        Text if name == "miner_uid" else source.type,
        nullable=source.nullable,
        comment=f"Legacy value: {source.comment}",
    )


miner_performance_stats_quarantine = Table(
    "miner_performance_stats_quarantine",
    metadata,
    Column("quarantine_id", BigInteger, Identity(), primary_key=True, comment="Quarantine row id."),
    Column("legacy_id", Integer, comment="`id` the row had in the legacy table."),
    *(_legacy_copy(name) for name in MPS_LEGACY_COLUMNS),
    Column(
        "quarantine_reason",
        Text,
        nullable=False,
        comment="Why the row could not be converted: " + ", ".join(QUARANTINE_REASONS) + ".",
    ),
    Column(
        "quarantine_detail",
        Text,
        comment="Human-readable detail, e.g. the legacy id of the row kept in a collision.",
    ),
    Column(
        "quarantined_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("now()"),
        comment="When the migration moved the row here.",
    ),
    Index("ix_mps_quarantine_reason", "quarantine_reason"),
    comment="Legacy miner_performance_stats rows the enhancement could not convert, kept whole.",
)

miner_performance_stats_legacy_uid = Table(
    "miner_performance_stats_legacy_uid",
    metadata,
    Column("miner_uid", Integer, nullable=False, comment="Key of the converted row: its UID."),
    Column(
        "period_start",
        DateTime(timezone=True),
        nullable=False,
        comment="Key of the converted row: period start.",
    ),
    Column(
        "period_end",
        DateTime(timezone=True),
        nullable=False,
        comment="Key of the converted row: period end.",
    ),
    Column("period_type", String(20), nullable=False, comment="Key of the converted row: type."),
    Column(
        "miner_hotkey",
        Text,
        nullable=False,
        comment="Hotkey of the converted row: a row re-created for another one does not match.",
    ),
    Column(
        "legacy_miner_uid",
        Text,
        nullable=False,
        comment="The legacy TEXT miner_uid (e.g. '07'), written back by a downgrade.",
    ),
    PrimaryKeyConstraint("miner_uid", "period_start", "period_end", "period_type"),
    comment="Legacy text of converted uids that were not canonical ('07'), for a downgrade.",
)
