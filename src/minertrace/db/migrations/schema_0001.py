"""Frozen layout of revision 0001: the legacy (Gaia validator) tables.

Do not edit: revision 0001 creates exactly this, and adoption of an existing Gaia database
compares its tables with it.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()

node_table = Table(
    "node_table",
    metadata,
    Column("uid", Integer, primary_key=True, autoincrement=False),
    Column("hotkey", Text),
    Column("coldkey", Text),
    Column("ip", Text),
    Column("ip_type", Text),
    Column("port", Integer),
    Column("incentive", Double),
    Column("stake", Double),
    Column("trust", Double),
    Column("vtrust", Double),
    Column("protocol", Text),
    Column("last_updated", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    CheckConstraint("uid >= 0 AND uid < 256", name="node_table_uid_check"),
    Index("idx_node_hotkey_on_node_table", "hotkey"),
)

score_table = Table(
    "score_table",
    metadata,
    Column("task_name", String(255)),
    Column("task_id", Text),
    Column("score", ARRAY(Double)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("status", String(50), server_default=text("'pending'")),
    UniqueConstraint("task_name", "task_id", name="uq_score_table_task_name_task_id"),
    Index("idx_score_created_at_on_score_table", "created_at"),
    Index(
        "idx_score_task_name_created_at_desc_on_score_table", "task_name", text("created_at DESC")
    ),
)

miner_performance_stats = Table(
    "miner_performance_stats",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("miner_uid", Text, nullable=False),
    Column("miner_hotkey", Text, nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("period_end", DateTime(timezone=True), nullable=False),
    Column("period_type", String(length=20), nullable=False),
    Column("total_tasks_attempted", Integer, nullable=False, server_default=text("0")),
    Column("total_tasks_completed", Integer, nullable=False, server_default=text("0")),
    Column("total_tasks_scored", Integer, nullable=False, server_default=text("0")),
    Column("overall_success_rate", Double),
    Column("overall_avg_score", Double),
    Column("overall_rank", Integer),
    Column("weather_tasks_attempted", Integer, nullable=False, server_default=text("0")),
    Column("weather_tasks_completed", Integer, nullable=False, server_default=text("0")),
    Column("weather_tasks_scored", Integer, nullable=False, server_default=text("0")),
    Column("weather_avg_score", Double),
    Column("weather_success_rate", Double),
    Column("weather_rank", Integer),
    Column("weather_best_score", Double),
    Column("weather_latest_score", Double),
    Column("soil_moisture_tasks_attempted", Integer, nullable=False, server_default=text("0")),
    Column("soil_moisture_tasks_completed", Integer, nullable=False, server_default=text("0")),
    Column("soil_moisture_tasks_scored", Integer, nullable=False, server_default=text("0")),
    Column("soil_moisture_avg_score", Double),
    Column("soil_moisture_success_rate", Double),
    Column("soil_moisture_rank", Integer),
    Column("soil_moisture_surface_rmse_avg", Double),
    Column("soil_moisture_rootzone_rmse_avg", Double),
    Column("soil_moisture_best_score", Double),
    Column("soil_moisture_latest_score", Double),
    Column("geomagnetic_tasks_attempted", Integer, nullable=False, server_default=text("0")),
    Column("geomagnetic_tasks_completed", Integer, nullable=False, server_default=text("0")),
    Column("geomagnetic_tasks_scored", Integer, nullable=False, server_default=text("0")),
    Column("geomagnetic_avg_score", Double),
    Column("geomagnetic_success_rate", Double),
    Column("geomagnetic_rank", Integer),
    Column("geomagnetic_best_score", Double),
    Column("geomagnetic_latest_score", Double),
    Column("geomagnetic_avg_error", Double),
    Column("performance_trend", String(length=20)),
    Column("trend_confidence", Double),
    Column("last_active_time", DateTime(timezone=True)),
    Column("consecutive_failures", Integer, nullable=False, server_default=text("0")),
    Column("uptime_percentage", Double),
    Column("detailed_metrics", JSONB),
    Column("score_distribution", JSONB),
    Column("calculated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    UniqueConstraint(
        "miner_uid", "period_start", "period_end", "period_type", name="uq_mps_miner_period"
    ),
    Index("idx_mps_miner_uid", "miner_uid"),
    Index("idx_mps_miner_hotkey", "miner_hotkey"),
    Index("idx_mps_period_type_start", "period_type", text("period_start DESC")),
)

LEGACY_TABLES = (node_table, score_table, miner_performance_stats)
