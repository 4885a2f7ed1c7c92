"""Names shared by `minertrace.db.migrate` and the Alembic environment.

A module of its own so that `migrations/env.py` does not import `migrate.py` (which runs env.py).
"""

from __future__ import annotations

VERSION_TABLE = "minertrace_alembic_version"
"""minertrace's Alembic version table: distinct from Gaia's `alembic_version`."""

SCHEMA = "minertrace"
"""The schema that holds minertrace's own tables in a Gaia validator's database."""
