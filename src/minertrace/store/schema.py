"""Whole-schema operations: the demo's throw-away schema, the tables present and their sizes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, text


def recreate_schema(engine: Engine, name: str) -> None:
    """Drop the schema `name` with everything in it, then create it empty (one transaction)."""
    quoted = engine.dialect.identifier_preparer.quote_identifier(name)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {quoted} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {quoted}"))


def table_row_counts(conn: Connection, names: Sequence[str]) -> dict[str, int]:
    """Exact row counts of those of `names` that exist in the search path, in `names` order."""
    present = [
        name
        for name, oid in conn.execute(
            text("SELECT n, to_regclass(n) FROM unnest(CAST(:names AS text[])) AS n"),
            {"names": list(names)},
        )
        if oid is not None
    ]
    if not present:
        return {}
    quote = conn.dialect.identifier_preparer.quote_identifier
    counts = ", ".join(f"(SELECT count(*) FROM {quote(n)})" for n in present)
    row = conn.execute(text(f"SELECT {counts}")).one()
    return dict(zip(present, (int(c) for c in row), strict=False))
