"""Alembic environment: always driven programmatically by `minertrace.db.migrate`."""

from __future__ import annotations

from alembic import context

from minertrace.db.migrations.names import VERSION_TABLE
from minertrace.db.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("minertrace migrations run through minertrace.db.migrate, not alembic")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    compare_type=True,
    compare_server_default=True,
    include_object=context.config.attributes.get("include_object"),
)
with context.begin_transaction():
    context.run_migrations()
