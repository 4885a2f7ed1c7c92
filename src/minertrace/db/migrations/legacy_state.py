"""What revision 0002 changes in the legacy tables' catalog, kept so a downgrade restores it.

Before 0002 replaces comments and drops `node_table_uid_check`, the original table and column
comments of node_table and score_table and the check's definition and validation state are
saved in `minertrace_legacy_state`; the downgrade puts them back exactly and drops the table.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

STATE = "minertrace_legacy_state"
TABLES = ("node_table", "score_table")
CHECK = "node_table_uid_check"


def _exists(bind: Connection, name: str) -> bool:
    return bind.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None


def save(bind: Connection) -> None:
    """Record the comments of TABLES and the uid check (no-op when already recorded)."""
    if _exists(bind, STATE):
        return
    bind.exec_driver_sql(
        f"CREATE TABLE {STATE} (kind text NOT NULL, object text NOT NULL, "
        "column_name text NOT NULL DEFAULT '', detail text, validated boolean, "
        "PRIMARY KEY (kind, object, column_name))"
    )
    bind.exec_driver_sql(
        f"COMMENT ON TABLE {STATE} IS 'Catalog facts of the legacy tables that revision 0002 "
        "changed; its downgrade restores them.'"
    )
    bind.execute(
        text(
            f"""
            INSERT INTO {STATE} (kind, object, column_name, detail)
            SELECT 'comment', c.relname, a.attname, col_description(c.oid, a.attnum)
            FROM pg_class c
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            WHERE c.oid = ANY(ARRAY[to_regclass(:t0), to_regclass(:t1)])
            UNION ALL
            SELECT 'comment', c.relname, '', obj_description(c.oid, 'pg_class')
            FROM pg_class c WHERE c.oid = ANY(ARRAY[to_regclass(:t0), to_regclass(:t1)])
            """
        ),
        {"t0": TABLES[0], "t1": TABLES[1]},
    )
    bind.execute(
        text(
            f"""
            INSERT INTO {STATE} (kind, object, detail, validated)
            SELECT 'check', conname, pg_get_constraintdef(oid), convalidated
            FROM pg_constraint WHERE conrelid = to_regclass('node_table') AND conname = :c
            """
        ),
        {"c": CHECK},
    )


def _quote(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def restore(bind: Connection) -> list[str]:
    """Put the recorded comments and check back; drop the record. Returns notes for the report."""
    if not _exists(bind, STATE):
        return []
    notes: list[str] = []
    for table, column, comment in bind.exec_driver_sql(
        f"SELECT object, column_name, detail FROM {STATE} WHERE kind = 'comment'"
    ):
        if column:
            # A column added after the record was taken has no entry and keeps its comment.
            bind.exec_driver_sql(f'COMMENT ON COLUMN {table}."{column}" IS {_quote(comment)}')
        else:
            bind.exec_driver_sql(f"COMMENT ON TABLE {table} IS {_quote(comment)}")
    for name, definition, validated in bind.exec_driver_sql(
        f"SELECT object, detail, validated FROM {STATE} WHERE kind = 'check'"
    ):
        definition = definition.removesuffix(" NOT VALID")
        bind.exec_driver_sql(f"ALTER TABLE node_table DROP CONSTRAINT IF EXISTS {name}")
        violating = bind.exec_driver_sql(
            f"SELECT count(*) FROM node_table WHERE NOT ({definition.removeprefix('CHECK ')})"
        ).scalar()
        valid = bool(validated) and not violating
        bind.exec_driver_sql(
            f"ALTER TABLE node_table ADD CONSTRAINT {name} {definition}"
            + ("" if valid else " NOT VALID")
        )
        if validated and violating:
            notes.append(
                f"{name} restored NOT VALID: {violating} node_table rows written at the newer "
                "revision violate it (kept)"
            )
    bind.exec_driver_sql(f"DROP TABLE {STATE}")
    return notes
