"""Incremental period statistics: `stats_day_cells`, the statistics' cells per UTC day.

One row per UTC day with score rows: per UID and (task, final) slot the counts, sum, best and
latest entry, per UID the trailing failures and the time of its latest entry, and every
attempted entry sorted within its UID (for the exact percentiles), with a fingerprint of the
score rows they came from. The hourly refresh recomputes only the days whose fingerprint
changed and rolls the periods up from the rest. The rows are derived from score_table: a
cache, rebuilt by the next refresh whenever missing. So the table is UNLOGGED (no WAL; emptied
after a crash, not on replicas) and its byte columns are stored uncompressed (sorted floats
gain little from pglz, which cost more than the write).

The columns are written out here as they were at this revision (not imported from the
current metadata), so the revision stays what it was. Downgrade drops the table (nothing is
lost: the next refresh at this revision recomputes it from score_table).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLE = "stats_day_cells"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("day", sa.Date, nullable=False, comment="The UTC day the cells summarise."),
        sa.Column(
            "runs",
            sa.Integer,
            nullable=False,
            comment="score_table rows of the day (the three tasks) the cells were computed from.",
        ),
        sa.Column(
            "fingerprint",
            sa.BigInteger,
            nullable=False,
            comment="Hash of those rows' versions (ctid, xmin): any insert, update or delete "
            "changes it.",
        ),
        sa.Column("width", sa.Integer, nullable=False, comment="UIDs covered (0 .. width - 1)."),
        sa.Column(
            "token",
            sa.BigInteger,
            nullable=False,
            comment="Random id of this computation; process caches key on it.",
        ),
        sa.Column(
            "task_runs",
            sa.ARRAY(sa.Integer),
            nullable=False,
            comment="Runs of the day per task (weather, geomagnetic, soil_moisture).",
        ),
        sa.Column(
            "slot_cells",
            sa.LargeBinary,
            nullable=False,
            comment="Per UID and (task, final) slot, 36 little-endian bytes: attempted i4, "
            "completed i4, latest run i4, sum f8, best f8, latest f8.",
        ),
        sa.Column(
            "miner_cells",
            sa.LargeBinary,
            nullable=False,
            comment="Per UID, 12 little-endian bytes: trailing failures i4, time of the latest "
            "entry i8 (microseconds since 2000-01-01 UTC, -1 without one).",
        ),
        sa.Column(
            "sorted_values",
            sa.LargeBinary,
            nullable=False,
            comment="Every attempted entry as little-endian f8, sorted within each UID, UID "
            "after UID.",
        ),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
            comment="When the cells were computed.",
        ),
        sa.PrimaryKeyConstraint("day", name="pk_stats_day_cells"),
        comment="Per UTC day: the period statistics' cells, derived from score_table (a cache).",
        prefixes=["UNLOGGED"],
    )
    op.execute(
        f"ALTER TABLE {TABLE} ALTER COLUMN slot_cells SET STORAGE EXTERNAL, "
        "ALTER COLUMN miner_cells SET STORAGE EXTERNAL, "
        "ALTER COLUMN sorted_values SET STORAGE EXTERNAL"
    )


def downgrade() -> None:
    op.drop_table(TABLE)
