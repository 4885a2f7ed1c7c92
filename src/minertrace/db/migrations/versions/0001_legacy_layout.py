"""Legacy layout: node_table, score_table and the original miner_performance_stats.

This is the layout of a Gaia validator's database before the enhancement: a serial `id` key
and a TEXT `miner_uid`. Downgrading it drops the tables only when they are empty, so a shared
(Gaia) database never loses rows through minertrace.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from minertrace.db.migrations.schema_0001 import LEGACY_TABLES

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Side tables that later revisions may leave behind at this revision when they hold rows.
_SIDE_TABLES = (
    "weight_submissions",
    "miner_performance_stats_quarantine",
    "miner_performance_stats_archive",
    "node_table_archive",
)


def upgrade() -> None:
    bind = op.get_bind()
    for table in LEGACY_TABLES:
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    present = [
        name
        for name in (*(t.name for t in LEGACY_TABLES), *_SIDE_TABLES)
        if bind.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None
    ]
    non_empty = [
        name
        for name in present
        if bind.exec_driver_sql(f'SELECT EXISTS (SELECT FROM "{name}")').scalar()
    ]
    if non_empty:
        raise RuntimeError(
            "refusing to drop tables that hold rows: "
            + ", ".join(non_empty)
            + " (downgrading to base would delete them)"
        )
    for name in present:
        op.drop_table(name)
