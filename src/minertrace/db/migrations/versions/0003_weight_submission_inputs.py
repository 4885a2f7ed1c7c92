"""Replay inputs: `weight_submissions.inputs`, what a cycle saw besides its score rows.

A cycle's node list (uid, hotkey, coldkey), its active validator UIDs, the subnet parameters of
the encoding (`max_weight_limit`, `min_allowed_weights`), its `now` and `n_uids` change or are
not stored anywhere else; with them and the score rows (by task_name, task_id) a stored cycle
can be recomputed. Nullable: rows written before this revision have no inputs, and replay says
so instead of guessing.

Downgrade drops the column (the replay inputs of recorded cycles go with it; every row stays).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COMMENT = (
    "Replay inputs: node snapshot, active validator UIDs, max_weight_limit, "
    "min_allowed_weights, now, n_uids; NULL before revision 0003."
)


def upgrade() -> None:
    op.add_column("weight_submissions", sa.Column("inputs", JSONB, comment=COMMENT))


def downgrade() -> None:
    op.drop_column("weight_submissions", "inputs")
