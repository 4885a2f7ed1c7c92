"""Shadow mode: the weight_submissions status 'observed'.

A shadow cycle is computed and traced but not submitted; when the validator's own weights
appear on chain, the row that was current then records the comparison and takes the status
'observed'. Upgrade widens the status check. Downgrade keeps every row: an observed row
becomes 'verified' when the chain's weights matched the trace and 'mismatch' when they did not
(its `verification` still says it was observed), then the check is narrowed again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BEFORE = (
    "computed",
    "submitting",
    "included",
    "committed",
    "verified",
    "mismatch",
    "failed",
    "orphaned",
    "skipped",
)
_AFTER = (*_BEFORE, "observed")
_NAME = "ck_weight_submissions_status"


def _check(statuses: tuple[str, ...]) -> None:
    op.execute(f"ALTER TABLE weight_submissions DROP CONSTRAINT IF EXISTS {_NAME}")
    values = ", ".join(f"'{s}'" for s in statuses)
    op.execute(
        f"ALTER TABLE weight_submissions ADD CONSTRAINT {_NAME} CHECK (status IN ({values}))"
    )


def upgrade() -> None:
    _check(_AFTER)


def downgrade() -> None:
    op.execute(
        """
        UPDATE weight_submissions
           SET status = CASE WHEN (verification ->> 'match')::boolean THEN 'verified'
                             ELSE 'mismatch' END
         WHERE status = 'observed'
        """
    )
    _check(_BEFORE)
