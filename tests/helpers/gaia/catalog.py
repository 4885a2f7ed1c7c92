"""Catalog facts and content hashes of every table, to compare databases exactly."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

_COLUMNS = """
SELECT n.nspname, c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
       a.attnotnull, pg_get_expr(d.adbin, d.adrelid), col_description(c.oid, a.attnum)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind = 'r' AND n.nspname = ANY(:schemas) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, 2, 3
"""
_TABLES = """
SELECT n.nspname, c.relname, obj_description(c.oid, 'pg_class')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'S', 'v', 'm') AND n.nspname = ANY(:schemas) ORDER BY 1, 2
"""
_CONSTRAINTS = """
SELECT n.nspname, c.relname, k.conname, pg_get_constraintdef(k.oid), k.convalidated
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(:schemas) ORDER BY 1, 2, 3
"""
_INDEXES = """
SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
WHERE schemaname = ANY(:schemas) ORDER BY 1, 2, 3
"""
_SEQUENCES = """
SELECT schemaname, sequencename, data_type::text, last_value FROM pg_sequences
WHERE schemaname = ANY(:schemas) ORDER BY 1, 2
"""


def catalog(conn: Connection, schemas: tuple[str, ...] = ("public",)) -> dict[str, list[Any]]:
    """Column order/types/defaults/comments, table comments, constraints with validation,
    indexes and sequences (with their position) of `schemas`."""
    params = {"schemas": list(schemas)}
    # Fully qualified names in every definition, whatever the connection's search_path.
    conn.execute(text("SELECT set_config('search_path', 'pg_catalog', true)"))
    return {
        name: [tuple(r) for r in conn.execute(text(sql), params)]
        for name, sql in (
            ("columns", _COLUMNS),
            ("tables", _TABLES),
            ("constraints", _CONSTRAINTS),
            ("indexes", _INDEXES),
            ("sequences", _SEQUENCES),
        )
    }


def content_hashes(conn: Connection, schemas: tuple[str, ...] = ("public",)) -> dict[str, str]:
    """md5 of every table's rows (all columns, in a canonical order), by qualified name."""
    names = conn.execute(
        text(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(:s) ORDER BY 1, 2"
        ),
        {"s": list(schemas)},
    ).all()
    out: dict[str, str] = {}
    for schema, table in names:
        qualified = f'"{schema}"."{table}"'
        digest = conn.exec_driver_sql(
            f"SELECT md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) "
            f"FROM {qualified} AS r"
        ).scalar()
        out[f"{schema}.{table}"] = str(digest)
    return out
