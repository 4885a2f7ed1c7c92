"""Lean period rows: HOT updates for miner_performance_stats, uncompressed stage vectors.

Every cycle, refresh and epoch rewrites period rows in place. An update is HOT (no index entry
written, the old version pruned on the page without vacuum) only when no indexed column
changes and the page has room for the new version. So:

- the indexes on columns the writes change go: `ix_mps_pathway` (scoring_pathway),
  `ix_mps_weight_leaderboard` (submitted_weight) and `ix_mps_incentive_leaderboard`
  (incentive); a leaderboard reads one period's rows (found through `ix_mps_period_latest`,
  at most one per UID) and sorts them. `ix_mps_miner_history` (miner_uid, period_start) goes
  too: the primary key (miner_uid, period_start, ...) serves the same scans;
- the table's fill factor is 50, leaving half of each page for the next versions of its rows;
- `weight_submissions.stages` (about 1.9 MB of jsonb per cycle at 4,096 UIDs) is stored out of
  line without compression (STORAGE EXTERNAL): pglz took longer than the rest of the insert.
  The column takes about 2.5 times the space (bounded by `retention_days`).

Downgrade restores the indexes, the default fill factor and compressed storage (rows already
stored keep their form until rewritten).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MPS = "miner_performance_stats"

# name -> (columns, WHERE) as 0002 created them.
_DROPPED = {
    "ix_mps_miner_history": ("miner_uid, period_start DESC", None),
    "ix_mps_pathway": ("scoring_pathway, period_type", None),
    "ix_mps_incentive_leaderboard": ("incentive DESC", "incentive IS NOT NULL"),
    "ix_mps_weight_leaderboard": ("submitted_weight DESC", "submitted_weight IS NOT NULL"),
}


def upgrade() -> None:
    for name in _DROPPED:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.execute(f"ALTER TABLE {MPS} SET (fillfactor = 50)")
    op.execute("ALTER TABLE weight_submissions ALTER COLUMN stages SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE weight_submissions ALTER COLUMN stages SET STORAGE EXTENDED")
    op.execute(f"ALTER TABLE {MPS} RESET (fillfactor)")
    for name, (columns, where) in _DROPPED.items():
        predicate = f" WHERE {where}" if where else ""
        op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {MPS} ({columns}){predicate}")
