"""Enhancement: the plan's miner_performance_stats, weight_submissions, no UID limit.

Upgrade: the legacy `miner_performance_stats` is kept whole, renamed to
miner_performance_stats_legacy (its `id` values, sequence, comments, constraints and indexes
untouched), and the enhanced table is created beside it with the rows converted. Rows that
cannot be converted (non-numeric or out-of-range uid, a period the new checks reject, or a uid
that collides with another after conversion, such as '7' and '07' for one period; the most
recently updated row of a collision is kept) are listed in miner_performance_stats_quarantine
with a reason and their legacy `id`. miner_performance_stats_legacy_map records which legacy
`id` each converted row came from, and a non-canonical uid text ('07') is listed in
miner_performance_stats_legacy_uid. node_table gets the new columns and loses its 256-UID check;
the original comments of node_table and score_table and the check's definition and validation
are saved first (`legacy_state`). New-column values archived by an earlier downgrade are
restored.

Downgrade: new-column values are archived (miner_performance_stats_archive, node_table_archive;
dropped again when empty) and what changed at head is written back into the kept legacy table:
changed rows are updated in place, rows deleted at head (or re-created for another hotkey) are
deleted, rows added at head are inserted with a fresh `id` and the canonical uid text. The
legacy table then takes its name back, so a round trip with nothing changed gives every table
back row for row, `id` values, sequence, column order, comments and constraints (with their
validation) included, and quarantined rows never left their place. Side tables that hold rows
of their own (weight_submissions) are kept, never dropped.

A database upgraded by an earlier version of this revision has no kept legacy table: its
downgrade rebuilds the legacy layout from the enhanced rows (fresh `id` values).

All row movement is set-based SQL (INSERT ... SELECT, UPDATE ... FROM).

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from typing import Any

from alembic import context, op
from sqlalchemy import Connection, Table, text
from sqlalchemy.schema import CheckConstraint, DropConstraint

from minertrace.db.migrations import legacy_state
from minertrace.db.migrations import schema_0001 as legacy
from minertrace.db.migrations import schema_0002 as head

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MPS = "miner_performance_stats"
QUARANTINE = "miner_performance_stats_quarantine"
MPS_ARCHIVE = "miner_performance_stats_archive"
NODE_ARCHIVE = "node_table_archive"
LEGACY_UID = "miner_performance_stats_legacy_uid"
KEPT = "miner_performance_stats_legacy"
MAP = "miner_performance_stats_legacy_map"
MPS_KEY = ("miner_uid", "period_start", "period_end", "period_type")
NODE_NEW = ("consensus", "dividends", "validator_permit", "last_update_block")
VALID_UID = "miner_uid ~ '^[0-9]+$'"
IN_INT_RANGE = "miner_uid::numeric <= 2147483647"
# CASE fixes the evaluation order: the cast only ever sees a uid that converts.
UID_INT = f"(CASE WHEN {VALID_UID} AND {IN_INT_RANGE} THEN miner_uid::integer END)"


def _report() -> Any:
    return context.config.attributes.get("report")


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _exists(bind: Connection, name: str) -> bool:
    return bind.execute(text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None


def _cols(names: tuple[str, ...] | list[str], prefix: str = "") -> str:
    return ", ".join(f"{prefix}{n}" for n in names)


def _set_comments(table: Table) -> None:
    if table.comment:
        op.execute(f"COMMENT ON TABLE {table.name} IS {_quote(table.comment)}")
    for column in table.columns:
        if column.comment:
            op.execute(f"COMMENT ON COLUMN {table.name}.{column.name} IS {_quote(column.comment)}")


def _archive(
    bind: Connection, table: str, archive: str, key: tuple[str, ...], cols: tuple[str, ...]
) -> int:
    """Copy the non-NULL values of `cols` to `archive` (created on first use), by `key`."""
    if not _exists(bind, archive):
        op.execute(
            f"CREATE TABLE {archive} AS SELECT {_cols(key)}, {_cols(cols)}, "
            f"now() AS archived_at FROM {table} WITH NO DATA"
        )
        op.execute(
            f"COMMENT ON TABLE {archive} IS "
            + _quote(
                f"Values of {table}'s enhancement columns kept by a downgrade; "
                "an upgrade restores them."
            )
        )
    match = " AND ".join(f"a.{k} = t.{k}" for k in key)
    op.execute(f"DELETE FROM {archive} a USING {table} t WHERE {match}")
    any_value = " OR ".join(f"{c} IS NOT NULL" for c in cols)
    result = bind.execute(
        text(
            f"INSERT INTO {archive} ({_cols(key)}, {_cols(cols)}, archived_at) "
            f"SELECT {_cols(key)}, {_cols(cols)}, now() FROM {table} WHERE {any_value}"
        )
    )
    return result.rowcount


def _restore(
    bind: Connection, table: str, archive: str, key: tuple[str, ...], cols: tuple[str, ...]
) -> int:
    """Write archived values back into the rows with the same key; drop the archive when empty."""
    if not _exists(bind, archive):
        return 0
    match = " AND ".join(f"a.{k} = t.{k}" for k in key)
    restored = bind.execute(
        text(
            f"UPDATE {table} t SET ({_cols(cols)}) = ROW({_cols(cols, 'a.')}) "
            f"FROM {archive} a WHERE {match}"
        )
    ).rowcount
    op.execute(f"DELETE FROM {archive} a USING {table} t WHERE {match}")
    if bind.exec_driver_sql(f"SELECT EXISTS (SELECT FROM {archive})").scalar():
        report = _report()
        if report is not None:
            report.kept_tables.append(f"{archive} (rows whose legacy row no longer exists)")
    else:
        op.drop_table(archive)
    return restored


def _triage(source: str) -> None:
    op.execute(
        f"""
        CREATE TEMPORARY TABLE _mps_triage ON COMMIT DROP AS
        WITH classified AS (
            SELECT id, updated_at, period_start, period_end, period_type,
                CASE
                    WHEN NOT ({VALID_UID}) THEN 'non_numeric_uid'
                    WHEN NOT ({IN_INT_RANGE}) THEN 'uid_out_of_range'
                    WHEN period_type NOT IN ('daily', 'weekly', 'monthly', 'all_time')
                        THEN 'invalid_period_type'
                    WHEN NOT (period_end > period_start) THEN 'invalid_period_order'
                END AS reason,
                CASE WHEN {VALID_UID} THEN miner_uid::numeric END AS uid
            FROM {source}
        ),
        ranked AS (
            SELECT id, uid,
                row_number() OVER w AS rn,
                first_value(id) OVER w AS kept_id
            FROM classified
            WHERE reason IS NULL
            WINDOW w AS (
                PARTITION BY uid, period_start, period_end, period_type
                ORDER BY updated_at DESC NULLS LAST, id DESC
            )
        )
        SELECT id, reason, NULL::text AS detail FROM classified WHERE reason IS NOT NULL
        UNION ALL
        SELECT id, 'uid_collision',
            format('uid %s: legacy id %s was kept (more recently updated)', uid, kept_id)
        FROM ranked WHERE rn > 1
        """
    )


def _pristine(bind: Connection) -> bool:
    """Whether the kept legacy table is an empty, never-used table as revision 0001 made it."""
    expected = sorted(
        [
            f"{MPS}_pkey",
            "uq_mps_miner_period",
            *(str(i.name) for i in legacy.miner_performance_stats.indexes),
        ]
    )
    return bool(
        bind.execute(
            text(
                f"""
                SELECT NOT EXISTS (SELECT FROM {KEPT})
                   AND obj_description(to_regclass(:t), 'pg_class') IS NULL
                   AND NOT EXISTS (SELECT FROM pg_description d WHERE d.objoid = to_regclass(:t)
                                   AND d.objsubid > 0)
                   AND (SELECT array_agg(indexname::text ORDER BY indexname) FROM pg_indexes
                        WHERE schemaname = current_schema() AND tablename = :t)
                       = CAST(:indexes AS text[])
                   AND (SELECT last_value FROM pg_sequences WHERE schemaname = current_schema()
                        AND sequencename = :seq) IS NULL
                """
            ),
            {"t": KEPT, "indexes": expected, "seq": f"{MPS}_id_seq"},
        ).scalar()
    )


def _keep_and_convert(bind: Connection) -> None:
    """Keep the legacy table whole under another name; convert its rows into the new one."""
    op.execute(f"ALTER TABLE {MPS} RENAME TO {KEPT}")
    _triage(KEPT)
    legacy_cols = [c.name for c in legacy.miner_performance_stats.columns if c.name != "id"]
    op.execute(
        f"""
        INSERT INTO {QUARANTINE}
            (legacy_id, {_cols(legacy_cols)}, quarantine_reason, quarantine_detail)
        SELECT m.id, {_cols(legacy_cols, "m.")}, t.reason, t.detail
        FROM {KEPT} m JOIN _mps_triage t ON t.id = m.id
        ORDER BY m.id
        """
    )
    counts = bind.execute(text("SELECT reason, count(*) FROM _mps_triage GROUP BY reason")).all()

    head.miner_performance_stats.create(bind)
    others = _cols(legacy_cols[1:])
    kept_rows = f"FROM {KEPT} m WHERE NOT EXISTS (SELECT FROM _mps_triage t WHERE t.id = m.id)"
    op.execute(
        f"INSERT INTO {MPS} (miner_uid, {others}) SELECT miner_uid::integer, {others} {kept_rows}"
    )
    op.execute(
        f"CREATE TABLE {MAP} AS SELECT {UID_INT} AS miner_uid, period_start, "
        f"period_end, period_type, id AS legacy_id {kept_rows}"
    )
    op.execute(f"ALTER TABLE {MAP} ADD PRIMARY KEY ({_cols(MPS_KEY)})")
    op.execute(
        f"COMMENT ON TABLE {MAP} IS 'Legacy id of each converted miner_performance_stats row; "
        "used by the downgrade to 0001.'"
    )
    head.miner_performance_stats_legacy_uid.create(bind)
    op.execute(
        f"""
        INSERT INTO {LEGACY_UID} ({_cols(MPS_KEY)}, miner_hotkey, legacy_miner_uid)
        SELECT {UID_INT}, {_cols(MPS_KEY[1:])}, miner_hotkey, miner_uid
        {kept_rows} AND miner_uid <> {UID_INT}::text
        """
    )
    op.execute("DROP TABLE _mps_triage")
    if _pristine(bind):
        # Nothing to keep: a downgrade re-creates revision 0001's table exactly.
        op.drop_table(MAP)
        op.drop_table(KEPT)
    converted = bind.exec_driver_sql(f"SELECT count(*) FROM {MPS}").scalar()
    report = _report()
    if report is not None:
        report.quarantined.update({reason: int(n) for reason, n in counts})
        report.converted_rows = int(converted or 0)


def upgrade() -> None:
    bind = op.get_bind()
    legacy_state.save(bind)
    head.miner_performance_stats_quarantine.create(bind, checkfirst=True)

    op.execute("ALTER TABLE node_table DROP CONSTRAINT IF EXISTS node_table_uid_check")
    for name in NODE_NEW:
        op.add_column("node_table", head.node_table.c[name]._copy())

    _keep_and_convert(bind)
    for table in (head.node_table, head.score_table):
        _set_comments(table)
    head.weight_submissions.create(bind, checkfirst=True)

    restored = _restore(bind, MPS, MPS_ARCHIVE, MPS_KEY, head.MPS_NEW_COLUMNS)
    _restore(bind, "node_table", NODE_ARCHIVE, ("uid",), NODE_NEW)
    report = _report()
    if report is not None:
        report.restored_rows += restored


def _drop_if_empty(bind: Connection, name: str) -> None:
    if not _exists(bind, name):
        return
    if bind.exec_driver_sql(f"SELECT EXISTS (SELECT FROM {name})").scalar():
        report = _report()
        if report is not None:
            report.kept_tables.append(name)
    else:
        op.drop_table(name)


def _write_back(bind: Connection) -> None:
    """Apply what changed at head to the kept legacy table, touching only changed rows."""
    cols = [
        c.name for c in legacy.miner_performance_stats.columns if c.name not in ("id", "miner_uid")
    ]
    key = " AND ".join(f"h.{k} = m.{k}" for k in MPS_KEY)
    op.execute(
        f"DELETE FROM {KEPT} l USING {MAP} m WHERE l.id = m.legacy_id AND NOT EXISTS "
        f"(SELECT FROM {MPS} h WHERE {key} AND h.miner_hotkey = l.miner_hotkey)"
    )
    op.execute(
        f"UPDATE {KEPT} l SET ({_cols(cols)}) = ROW({_cols(cols, 'h.')}) "
        f"FROM {MAP} m JOIN {MPS} h ON {key} "
        f"WHERE l.id = m.legacy_id AND h.miner_hotkey = l.miner_hotkey "
        f"AND ROW({_cols(cols, 'l.')}) IS DISTINCT FROM ROW({_cols(cols, 'h.')})"
    )
    op.execute(
        f"INSERT INTO {KEPT} (miner_uid, {_cols(cols)}) "
        f"SELECT h.miner_uid::text, {_cols(cols, 'h.')} FROM {MPS} h WHERE NOT EXISTS "
        f"(SELECT FROM {MAP} m JOIN {KEPT} l ON l.id = m.legacy_id "
        f"WHERE {key} AND l.miner_hotkey = h.miner_hotkey)"
    )
    op.drop_table(MPS)
    op.drop_table(MAP)
    op.drop_table(LEGACY_UID)
    op.execute(f"ALTER TABLE {KEPT} RENAME TO {MPS}")


def _recreate(bind: Connection) -> None:
    """The legacy table was empty and pristine at the upgrade: create it as revision 0001 does
    and insert the rows written at head (legacy uid texts where recorded)."""
    cols = [
        c.name for c in legacy.miner_performance_stats.columns if c.name not in ("id", "miner_uid")
    ]
    op.execute(f"ALTER TABLE {MPS} RENAME TO _mps_head")
    legacy.miner_performance_stats.create(bind)
    match = " AND ".join(f"u.{k} = h.{k}" for k in MPS_KEY)
    op.execute(
        f"INSERT INTO {MPS} (miner_uid, {_cols(cols)}) "
        f"SELECT coalesce(u.legacy_miner_uid, h.miner_uid::text), {_cols(cols, 'h.')} "
        f"FROM _mps_head h LEFT JOIN {LEGACY_UID} u ON {match} "
        f"AND u.miner_hotkey = h.miner_hotkey ORDER BY {_cols(MPS_KEY, 'h.')}"
    )
    op.drop_table("_mps_head")
    op.drop_table(LEGACY_UID)


def _rebuild(bind: Connection) -> None:
    """Databases upgraded without a kept legacy table: rebuild the legacy layout in place."""
    for index in head.miner_performance_stats.indexes:
        op.execute(f"DROP INDEX IF EXISTS {index.name}")
    for constraint in head.miner_performance_stats.constraints:
        if isinstance(constraint, CheckConstraint):
            op.execute(DropConstraint(constraint))
    op.execute(f"ALTER TABLE {MPS} DROP CONSTRAINT pk_miner_performance_stats")
    for name in head.MPS_NEW_COLUMNS:
        op.drop_column(MPS, name)
    op.execute(f"ALTER TABLE {MPS} ALTER COLUMN miner_uid TYPE TEXT USING miner_uid::text")
    if _exists(bind, LEGACY_UID):
        match = " AND ".join(f"m.{k} = u.{k}" for k in MPS_KEY[1:])
        op.execute(
            f"UPDATE {MPS} m SET miner_uid = u.legacy_miner_uid FROM {LEGACY_UID} u "
            f"WHERE m.miner_uid = u.miner_uid::text AND {match} "
            "AND m.miner_hotkey = u.miner_hotkey"
        )
        op.drop_table(LEGACY_UID)
    op.execute(f"ALTER TABLE {MPS} ADD COLUMN id SERIAL")
    op.execute(f"ALTER TABLE {MPS} ADD CONSTRAINT {MPS}_pkey PRIMARY KEY (id)")
    op.create_unique_constraint("uq_mps_miner_period", MPS, list(MPS_KEY))
    for index in legacy.miner_performance_stats.indexes:
        index.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    archived = _archive(bind, MPS, MPS_ARCHIVE, MPS_KEY, head.MPS_NEW_COLUMNS)
    _archive(bind, "node_table", NODE_ARCHIVE, ("uid",), NODE_NEW)
    report = _report()
    if report is not None:
        report.archived_rows += archived

    kept = _exists(bind, KEPT)
    recorded = _exists(bind, legacy_state.STATE)
    if kept:
        _write_back(bind)
    elif recorded:
        _recreate(bind)
    else:
        _rebuild(bind)
    for name in NODE_NEW:
        op.drop_column("node_table", name)
    if recorded:
        notes = legacy_state.restore(bind)
        if report is not None:
            report.kept_tables.extend(notes)
    else:
        # NOT VALID: rows with uid >= 256 written at head stay; only new rows are checked.
        op.execute(
            "ALTER TABLE node_table ADD CONSTRAINT node_table_uid_check "
            "CHECK (uid >= 0 AND uid < 256) NOT VALID"
        )
    if kept or recorded:
        # Quarantined rows never left the legacy table: their listing is no longer needed.
        op.execute(f"DELETE FROM {QUARANTINE} q USING {MPS} m WHERE m.id = q.legacy_id")
    for name in (MPS_ARCHIVE, NODE_ARCHIVE):
        if (
            _exists(bind, name)
            and not bind.exec_driver_sql(f"SELECT EXISTS (SELECT FROM {name})").scalar()
        ):
            op.drop_table(name)
    _drop_if_empty(bind, "weight_submissions")
    _drop_if_empty(bind, QUARANTINE)
