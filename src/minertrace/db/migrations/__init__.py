"""Alembic environment and revisions of minertrace's own version table."""

__all__: list[str] = []
