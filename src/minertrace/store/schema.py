"""Whole-schema operations: the demo's throw-away schema."""

from __future__ import annotations

from sqlalchemy import Engine, text


def recreate_schema(engine: Engine, name: str) -> None:
    """Drop the schema `name` with everything in it, then create it empty (one transaction)."""
    quoted = engine.dialect.identifier_preparer.quote_identifier(name)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {quoted} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {quoted}"))
