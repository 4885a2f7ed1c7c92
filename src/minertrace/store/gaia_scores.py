"""score_table in either of Gaia's layouts: the `score` FLOAT8[] array, or one column per UID.

Gaia's revision `score_table_refactor` replaced the array by `uid_0_score` .. `uid_255_score`.
The layout is read from the catalog (`detect`, defined in `minertrace.db.gaia` because the
migrations need it too and `db` may not import `store`), and `adapt` puts a common table
expression named `score_table` in front of a query so that it sees `score` as an array either
way: the weight engine gets the same rows, with the same bad-value rules (NULL and NaN entries
are "no entry"; a row with no entry at all reads as a NULL array, as the array layout stores
it).
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, TextClause, text

from minertrace.db.gaia import ScoreLayout, ScoreTableShape
from minertrace.db.gaia import detect_score_layout as detect

__all__ = [
    "ScoreLayout",
    "ScoreTableShape",
    "adapt",
    "adapt_sql",
    "adapt_upsert",
    "array_view_sql",
    "columns_upsert_sql",
    "detect",
    "owns_score_table",
    "score_array_sql",
]


def score_array_sql(n_uids: int) -> str:
    """SQL for one row's FLOAT8[] from the per-UID columns (NULL when every entry is NULL)."""
    cols = ", ".join(f"uid_{i}_score" for i in range(n_uids))
    # COALESCE is not a function call, so it takes all 256 arguments (functions stop at 100).
    return f"CASE WHEN COALESCE({cols}) IS NULL THEN NULL ELSE ARRAY[{cols}]::float8[] END"


def array_view_sql(shape: ScoreTableShape) -> str | None:
    """`SELECT` giving score_table's rows with an array `score` (None for the array layout)."""
    if shape.layout is not ScoreLayout.COLUMNS:
        return None
    return (
        f"SELECT task_name, task_id, {score_array_sql(shape.n_uids)} AS score, "
        "created_at, status FROM score_table"
    )


# A statement's own top-level WITH: at its start, or after `CREATE ... AS`.
_LEADING_WITH = re.compile(r"^(\s*(?:CREATE\b[^;]*?\bAS\s+)?WITH(?:\s+RECURSIVE)?\s)", re.I | re.S)
_LEADING_SELECT = re.compile(r"^\s*(SELECT|WITH)\b", re.I)


def adapt_sql(sql: str, shape: ScoreTableShape) -> str:
    """`sql` with score_table read as (task_name, task_id, score[], created_at, status).

    Unchanged for the array layout. For the per-UID layout a common table expression named
    `score_table` is added to the statement's own WITH list (or a WITH is put in front of a
    SELECT); it shadows the table for every reference in the statement.
    """
    view = array_view_sql(shape)
    if view is None:
        return sql
    cte = f"score_table AS ({view})"
    if match := _LEADING_WITH.match(sql):
        return f"{match[1]}{cte}, {sql[match.end() :]}"
    if _LEADING_SELECT.match(sql):
        return f"WITH {cte} {sql}"
    raise ValueError("adapt_sql handles SELECT, WITH ... and CREATE ... AS WITH statements")


def adapt(conn: Connection, query: TextClause) -> TextClause:
    """`query` reading score_table's `score` array whatever the layout of the database
    (see `adapt_sql`); bound parameters and their types carry over."""
    sql = adapt_sql(query.text, detect(conn))
    if sql == query.text:
        return query
    return text(sql).bindparams(*query._bindparams.values())


def columns_upsert_sql(n_uids: int) -> str:
    """Upsert of one run's scores into the per-UID layout, like the array layout's.

    Binds task_name, task_id, score (FLOAT8[], at most `n_uids` entries), created_at and
    status; returns `inserted` (false when an existing (task_name, task_id) row was updated).
    """
    cols = ", ".join(f"uid_{i}_score" for i in range(n_uids))
    values = ", ".join(f"(CAST(:score AS float8[]))[{i + 1}]" for i in range(n_uids))
    updates = ", ".join(f"uid_{i}_score = EXCLUDED.uid_{i}_score" for i in range(n_uids))
    return (
        f"INSERT INTO score_table (task_name, task_id, {cols}, created_at, status) "
        f"VALUES (:task_name, :task_id, {values}, :created_at, :status) "
        "ON CONFLICT (task_name, task_id) DO UPDATE SET "
        f"{updates}, created_at = EXCLUDED.created_at, status = EXCLUDED.status "
        "RETURNING (xmax = 0) AS inserted"
    )


def adapt_upsert(conn: Connection, query: TextClause, n_entries: int) -> TextClause:
    """The score upsert for this database's layout: `query` itself for the array layout.

    Raises ValueError when the per-UID layout has fewer UID columns than `n_entries` (those
    scores could not be stored; nothing is written).
    """
    shape = detect(conn)
    if shape.layout is not ScoreLayout.COLUMNS:
        return query
    if n_entries > shape.n_uids:
        raise ValueError(
            f"score_table has columns for {shape.n_uids} UIDs, the scores have {n_entries}"
        )
    return text(columns_upsert_sql(shape.n_uids))


def owns_score_table(conn: Connection) -> bool:
    """Whether score_table is minertrace's own (False in an adopted Gaia database, where it is
    Gaia's: minertrace then reads it and never rewrites Gaia's rows)."""
    return bool(
        conn.execute(
            text(
                """
                SELECT n.nspname = current_schema()
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.oid = to_regclass(:table)
                """
            ),
            {"table": "score_table"},
        ).scalar()
    )
