"""Enhancement: the plan's miner_performance_stats, weight_submissions, no UID limit.

Upgrade: rows of the legacy table that cannot be converted (non-numeric or out-of-range uid,
a period the new checks reject, or a uid that collides with another after conversion, such
as '7' and '07' for one period; the most recently updated row of a collision is kept) are
moved whole to miner_performance_stats_quarantine with a reason. The rest is converted in
place: miner_uid becomes INTEGER, `id` goes, the four period columns become the primary key,
the new columns, checks and indexes are added. New-column values archived by an earlier
downgrade are restored. A converted row whose uid text was not canonical ('07', '009') has that
text kept in miner_performance_stats_legacy_uid, by key and hotkey.

Downgrade: new-column values are copied to miner_performance_stats_archive (node_table's to
node_table_archive) before the columns are dropped; the legacy layout is restored with a fresh
`id`, and miner_uid gets its legacy text back from miner_performance_stats_legacy_uid (only for
a row with the same key and hotkey: a row deleted at head and re-created for another miner gets
the canonical text), which is then dropped, so cycles never accumulate stale entries. Side
tables that hold rows (weight_submissions, the quarantine) are kept, never dropped.

The legacy-uid table has no foreign key to miner_performance_stats on purpose: one would make
`TRUNCATE miner_performance_stats` fail and put a check on every delete of the hot table, for
what is only a restoration hint matched by key and hotkey.

All row movement is set-based SQL (INSERT ... SELECT, UPDATE ... FROM).

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from typing import Any

from alembic import context, op
from sqlalchemy import Connection, Table, text
from sqlalchemy.schema import AddConstraint, CheckConstraint, DropConstraint

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
MPS_KEY = ("miner_uid", "period_start", "period_end", "period_type")
NODE_NEW = ("consensus", "dividends", "validator_permit", "last_update_block")
VALID_UID = "miner_uid ~ '^[0-9]+$'"
IN_INT_RANGE = "miner_uid::numeric <= 2147483647"


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


def _quarantine_and_convert(bind: Connection) -> None:
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
            FROM {MPS}
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
    legacy_cols = [c.name for c in legacy.miner_performance_stats.columns if c.name != "id"]
    op.execute(
        f"""
        INSERT INTO {QUARANTINE}
            (legacy_id, {_cols(legacy_cols)}, quarantine_reason, quarantine_detail)
        SELECT m.id, {_cols(legacy_cols, "m.")}, t.reason, t.detail
        FROM {MPS} m JOIN _mps_triage t ON t.id = m.id
        ORDER BY m.id
        """
    )
    op.execute(f"DELETE FROM {MPS} m USING _mps_triage t WHERE m.id = t.id")
    counts = bind.execute(text("SELECT reason, count(*) FROM _mps_triage GROUP BY reason")).all()
    op.execute("DROP TABLE _mps_triage")

    # Every remaining uid is digits in INTEGER range, so the casts below cannot fail.
    head.miner_performance_stats_legacy_uid.create(bind)
    key = _cols(MPS_KEY[1:])
    op.execute(
        f"""
        INSERT INTO {LEGACY_UID} ({_cols(MPS_KEY)}, miner_hotkey, legacy_miner_uid)
        SELECT miner_uid::integer, {key}, miner_hotkey, miner_uid
        FROM {MPS} WHERE miner_uid <> miner_uid::integer::text
        """
    )

    for index in legacy.miner_performance_stats.indexes:
        op.execute(f"DROP INDEX IF EXISTS {index.name}")
    op.execute(f"ALTER TABLE {MPS} DROP CONSTRAINT IF EXISTS uq_mps_miner_period")
    op.execute(f"ALTER TABLE {MPS} ALTER COLUMN miner_uid TYPE INTEGER USING miner_uid::integer")
    op.execute(f"ALTER TABLE {MPS} DROP COLUMN id")
    converted = bind.exec_driver_sql(f"SELECT count(*) FROM {MPS}").scalar()

    report = _report()
    if report is not None:
        report.quarantined.update({reason: int(n) for reason, n in counts})
        report.converted_rows = int(converted or 0)


def upgrade() -> None:
    bind = op.get_bind()
    head.miner_performance_stats_quarantine.create(bind, checkfirst=True)

    op.execute("ALTER TABLE node_table DROP CONSTRAINT IF EXISTS node_table_uid_check")
    for name in NODE_NEW:
        op.add_column("node_table", head.node_table.c[name]._copy())

    _quarantine_and_convert(bind)
    for column in head.miner_performance_stats.columns:
        if column.name in head.MPS_NEW_COLUMNS:
            op.add_column(MPS, column._copy())
    op.create_primary_key("pk_miner_performance_stats", MPS, list(MPS_KEY))
    for constraint in head.miner_performance_stats.constraints:
        if isinstance(constraint, CheckConstraint):
            op.execute(AddConstraint(constraint))
    for index in head.miner_performance_stats.indexes:
        index.create(bind)

    for table in (head.node_table, head.score_table, head.miner_performance_stats):
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


def downgrade() -> None:
    bind = op.get_bind()
    archived = _archive(bind, MPS, MPS_ARCHIVE, MPS_KEY, head.MPS_NEW_COLUMNS)
    _archive(bind, "node_table", NODE_ARCHIVE, ("uid",), NODE_NEW)
    report = _report()
    if report is not None:
        report.archived_rows += archived

    for index in head.miner_performance_stats.indexes:
        op.execute(f"DROP INDEX IF EXISTS {index.name}")
    for constraint in head.miner_performance_stats.constraints:
        if isinstance(constraint, CheckConstraint):
            op.execute(DropConstraint(constraint))
    op.execute(f"ALTER TABLE {MPS} DROP CONSTRAINT pk_miner_performance_stats")
    for name in head.MPS_NEW_COLUMNS:
        op.drop_column(MPS, name)
    op.execute(f"ALTER TABLE {MPS} ALTER COLUMN miner_uid TYPE TEXT USING miner_uid::text")
    # Absent from a database adopted at head with the "current" layout: nothing to restore.
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

    for name in NODE_NEW:
        op.drop_column("node_table", name)
    # NOT VALID: rows with uid >= 256 written at head stay; only new rows are checked.
    op.execute(
        "ALTER TABLE node_table ADD CONSTRAINT node_table_uid_check "
        "CHECK (uid >= 0 AND uid < 256) NOT VALID"
    )
    _drop_if_empty(bind, "weight_submissions")
    _drop_if_empty(bind, QUARANTINE)
