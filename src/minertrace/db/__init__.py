"""minertrace.db: PostgreSQL access (embedded or external), schema and migrations."""

from minertrace.db.database import Database, DatabaseUnavailableError
from minertrace.db.migrate import MigrationError, MigrationReport, downgrade, upgrade
from minertrace.db.urls import InvalidDatabaseURLError, redact_url

__all__ = [
    "Database",
    "DatabaseUnavailableError",
    "InvalidDatabaseURLError",
    "MigrationError",
    "MigrationReport",
    "downgrade",
    "redact_url",
    "upgrade",
]
