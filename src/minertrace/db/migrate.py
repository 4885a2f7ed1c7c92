"""Run minertrace's Alembic migrations programmatically (no alembic.ini needed).

The version table is `minertrace_alembic_version`, so minertrace can live in a database that
has another Alembic history (a Gaia validator's). A database that has the legacy tables but no
minertrace version table is adopted: its layout is compared with revision 0001's and, when it
matches, stamped and upgraded in the same transaction; any other layout is refused unchanged.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL

from minertrace.db import gaia, tables
from minertrace.db.migrations.names import SCHEMA, VERSION_TABLE
from minertrace.db.urls import redact_url, scrub, sync_url

logger = logging.getLogger(__name__)

__all__ = [
    "LEGACY_REVISION",
    "SCRIPT_LOCATION",
    "VERSION_TABLE",
    "MigrationError",
    "MigrationReport",
    "UnrecognisedLayoutError",
    "check",
    "current",
    "describe_difference",
    "downgrade",
    "head_revision",
    "layout_differences",
    "script_directory",
    "upgrade",
]
LEGACY_REVISION = "0001"
SCRIPT_LOCATION = "minertrace.db:migrations"
_LOCK_KEY = 0x6D696E6572  # arbitrary constant: serialises concurrent migrations of one database

Target = Engine | Connection | str | URL


class MigrationError(RuntimeError):
    """A migration could not run; nothing was changed (the transaction was rolled back)."""


class UnrecognisedLayoutError(MigrationError):
    """The database has tables minertrace would manage, in a layout it does not know."""

    def __init__(self, differences: list[str]) -> None:
        self.differences = differences
        super().__init__(
            "refusing to adopt this database: its tables match neither the legacy layout "
            "(revision 0001) nor the current schema; nothing was changed. Differences from "
            "the legacy layout:\n  " + "\n  ".join(differences)
        )


@dataclass
class MigrationReport:
    """What an upgrade or downgrade did."""

    from_revision: str | None
    to_revision: str | None = None
    adopted: str | None = None
    quarantined: dict[str, int] = field(default_factory=dict)
    converted_rows: int = 0
    archived_rows: int = 0
    restored_rows: int = 0
    kept_tables: list[str] = field(default_factory=list)

    @property
    def quarantined_total(self) -> int:
        """Rows moved to miner_performance_stats_quarantine by this run."""
        return sum(self.quarantined.values())

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line."""
        if self.from_revision == self.to_revision:
            out = [f"revision: already at {self.to_revision or 'base'}"]
        else:
            out = [f"revision: {self.from_revision or 'base'} -> {self.to_revision or 'base'}"]
        if self.adopted:
            out.append(f"adopted an existing database with the {self.adopted} layout")
        if self.converted_rows:
            out.append(f"miner_performance_stats rows converted: {self.converted_rows}")
        if self.quarantined:
            out.append(
                f"rows moved to miner_performance_stats_quarantine: {self.quarantined_total}"
            )
            out.extend(f"  {reason}: {n}" for reason, n in sorted(self.quarantined.items()))
        if self.archived_rows:
            out.append(f"rows whose new-column values were archived: {self.archived_rows}")
        if self.restored_rows:
            out.append(f"rows whose new-column values were restored: {self.restored_rows}")
        out.extend(f"kept table (holds rows): {name}" for name in self.kept_tables)
        return out


def _config(connection: Connection, **attributes: Any) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["connection"] = connection
    cfg.attributes.update(attributes)
    return cfg


@contextmanager
def _transaction(target: Target) -> Iterator[Connection]:
    """One connection in one transaction (PostgreSQL DDL is transactional)."""
    if isinstance(target, Connection):
        if target.in_transaction():
            gaia.set_local_search_path(target)
            yield target
        else:
            with target.begin():
                gaia.set_local_search_path(target)
                yield target
        return
    owned = not isinstance(target, Engine)
    engine = target if isinstance(target, Engine) else create_engine(sync_url(target))
    try:
        with engine.connect() as conn, conn.begin():
            gaia.set_local_search_path(conn)
            yield conn
    except MigrationError:
        raise
    except Exception as exc:
        given = target if isinstance(target, (str, URL)) else None
        detail = scrub(str(exc), given, engine.url)
        raise MigrationError(f"migration failed on {redact_url(engine.url)}: {detail}") from None
    finally:
        if owned:
            engine.dispose()


def script_directory() -> ScriptDirectory:
    """The package's Alembic script directory."""
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    return ScriptDirectory.from_config(cfg)


def head_revision() -> str:
    """The newest revision id."""
    head = script_directory().get_current_head()
    assert head is not None
    return head


def _current(conn: Connection) -> str | None:
    ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


def current(target: Target) -> str | None:
    """The database's minertrace revision (None = no minertrace version recorded)."""
    with _transaction(target) as conn:
        return _current(conn)


# --- layout recognition --------------------------------------------------------------------

_MANAGED = ("node_table", "score_table", "miner_performance_stats")


def _expected_type(table: Table, column: str) -> str:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    compiled = table.c[column].type.compile(dialect=dialect).lower()
    return compiled.replace("varchar", "character varying").replace("float", "double precision")


def _columns(conn: Connection, names: tuple[str, ...]) -> dict[str, dict[str, str]]:
    rows = conn.execute(
        text(
            """
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
              AND c.relname = ANY(:names) AND a.attnum > 0 AND NOT a.attisdropped
            """
        ),
        {"names": list(names)},
    )
    found: dict[str, dict[str, str]] = {}
    for table, column, type_ in rows:
        found.setdefault(table, {})[column] = type_
    return found


def layout_differences(
    conn: Connection, layout: tuple[Table, ...], found: dict[str, dict[str, str]] | None = None
) -> list[str]:
    """How the database's tables differ from `layout` (names and column types)."""
    if found is None:
        found = _columns(conn, tuple(t.name for t in layout))
    diffs: list[str] = []
    for table in layout:
        actual = found.get(table.name)
        if actual is None:
            diffs.append(f"{table.name}: table missing")
            continue
        expected = {c.name: _expected_type(table, c.name) for c in table.columns}
        missing = sorted(set(expected) - set(actual))
        extra = sorted(set(actual) - set(expected))
        if missing:
            diffs.append(f"{table.name}: missing columns {', '.join(missing)}")
        if extra:
            diffs.append(f"{table.name}: unexpected columns {', '.join(extra)}")
        diffs.extend(
            f"{table.name}.{name}: type {actual[name]}, expected {expected[name]}"
            for name in sorted(set(expected) & set(actual))
            if actual[name] != expected[name]
        )
    return diffs


def _adopt(conn: Connection) -> str | None:
    """Stamp an existing, recognised layout; return its name (None for an empty database)."""
    from minertrace.db.migrations.schema_0001 import LEGACY_TABLES

    head_tables = (
        tables.node_table,
        tables.score_table,
        tables.miner_performance_stats,
        tables.weight_submissions,
    )
    found = _columns(conn, (*_MANAGED, tables.weight_submissions.name))
    if not any(name in found for name in _MANAGED):
        return None
    legacy_diffs = layout_differences(conn, LEGACY_TABLES, found)
    if not legacy_diffs:
        command.stamp(_config(conn), LEGACY_REVISION)
        return "legacy"
    if not layout_differences(conn, head_tables, found):
        command.stamp(_config(conn), "head")
        return "current"
    raise UnrecognisedLayoutError(legacy_diffs)


def _gaia_mode(conn: Connection) -> bool:
    """Whether minertrace's tables live in their own schema here (an adopted Gaia database)."""
    return bool(conn.execute(text("SELECT current_schema() = :s"), {"s": SCHEMA}).scalar())


def _adopt_gaia(conn: Connection, report: MigrationReport) -> bool:
    """Adopt a Gaia validator database into schema minertrace; False when it is not one."""
    from minertrace.db.migrations import gaia_adopt

    revision = gaia.gaia_revision(conn)
    try:
        layout = gaia.detect_score_layout(conn).layout
    except ValueError as exc:
        raise MigrationError(
            f"refusing to adopt this database: {exc}; nothing was changed"
        ) from None
    kind, _ = gaia_adopt.mps_kind(conn)
    looks_gaia = layout is gaia.ScoreLayout.COLUMNS or kind in ("enhanced_text", "enhanced_integer")
    if not gaia.is_known(revision) and not looks_gaia:
        return False
    if layout is gaia.ScoreLayout.MISSING:
        raise MigrationError("refusing to adopt this Gaia database: it has no score_table")
    try:
        kind = gaia_adopt.check_layout(conn, revision, layout.value)
    except gaia_adopt.GaiaLayoutError as exc:
        raise MigrationError(str(exc)) from None
    report.quarantined = gaia_adopt.adopt(conn, revision, kind)
    report.converted_rows = int(
        conn.exec_driver_sql(f"SELECT count(*) FROM {SCHEMA}.miner_performance_stats").scalar() or 0
    )
    command.stamp(_config(conn), "head")
    report.adopted = f"Gaia {revision or 'unversioned'} (minertrace's tables in schema {SCHEMA})"
    return True


def upgrade(target: Target, revision: str = "head") -> MigrationReport:
    """Upgrade to `revision` ("head", an id, or relative "+1"), adopting a legacy database.

    Runs in one transaction: on any error nothing is changed. Returns what was done,
    including how many rows were quarantined.
    """
    with _transaction(target) as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        report = MigrationReport(from_revision=_current(conn))
        if report.from_revision is None and not _adopt_gaia(conn, report):
            report.adopted = _adopt(conn)
            if report.adopted:
                logger.info("adopting a database with the %s layout", report.adopted)
        command.upgrade(_config(conn, report=report), revision)
        report.to_revision = _current(conn)
    for line in report.lines():
        logger.info("%s", line)
    return report


def downgrade(target: Target, revision: str) -> MigrationReport:
    """Downgrade to `revision` (an id, "-1", or "base"); every row is kept.

    New-column values are archived so that upgrading again restores them.
    """
    with _transaction(target) as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        report = MigrationReport(from_revision=_current(conn))
        if report.from_revision is None:
            raise MigrationError("the database has no minertrace revision to downgrade from")
        if _gaia_mode(conn):
            _detach(conn, report, revision)
            return report
        command.downgrade(_config(conn, report=report), revision)
        report.to_revision = _current(conn)
    for line in report.lines():
        logger.info("%s", line)
    return report


def _detach(conn: Connection, report: MigrationReport, revision: str) -> None:
    """Downgrading an adopted Gaia database: any revision below head removes schema minertrace
    (Gaia's tables were never changed, so the database is as it was before the adoption)."""
    from minertrace.db.migrations import gaia_adopt

    if revision == report.from_revision or revision == "head":
        report.to_revision = report.from_revision
        return
    try:
        gaia_adopt.detach(conn)
    except RuntimeError as exc:
        raise MigrationError(str(exc)) from None
    report.to_revision = None
    logger.info("removed schema %s; Gaia's tables are as they were", SCHEMA)


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # A shared database holds tables and indexes that are not minertrace's (Gaia's own).
    return not (
        reflected and compare_to is None and type_ in ("table", "index", "unique_constraint")
    )


def _gaia_include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    table = getattr(obj, "table", obj)
    if getattr(table, "name", None) == tables.score_table.name:
        return False
    return _include_object(obj, name, type_, reflected, compare_to)


def check(target: Target) -> list[str]:
    """Differences between the database and the models (empty list = they agree).

    Reports a revision other than head, then Alembic's autogenerate comparison of the
    metadata with the database (types, nullability, defaults, comments, indexes).
    """
    include: Callable[..., bool] = _include_object
    with _transaction(target) as conn:
        diffs: list[str] = []
        rev = _current(conn)
        head = head_revision()
        if rev != head:
            diffs.append(f"database revision is {rev or 'none'}, head is {head}")
        if _gaia_mode(conn):
            # Gaia's score_table is read where Gaia keeps it, in either of its layouts.
            include = _gaia_include_object
            try:
                gaia.detect_score_layout(conn)
            except ValueError as exc:
                diffs.append(str(exc))
        ctx = MigrationContext.configure(
            conn,
            opts={
                "version_table": VERSION_TABLE,
                "compare_type": True,
                "compare_server_default": True,
                "include_object": include,
                "target_metadata": tables.metadata,
            },
        )
        with warnings.catch_warnings():
            # Alembic's reflection of expression indexes trips a harmless SQLAlchemy 2.1 warning.
            warnings.filterwarnings("ignore", message=".*dialect_options.*")
            found = compare_metadata(ctx, tables.metadata)
        for item in found:
            diffs.extend(describe_difference(item))
        return diffs


def describe_difference(item: Any) -> list[str]:
    """One line per autogenerate difference (an op tuple, or a list of column changes)."""
    if isinstance(item, list):
        return [line for sub in item for line in describe_difference(sub)]
    op = item[0]
    if op in ("add_table", "remove_table"):
        where = "in the models only" if op == "add_table" else "in the database only"
        return [f"table {item[1].name}: {where}"]
    if op in ("add_column", "remove_column"):
        where = "in the models only" if op == "add_column" else "in the database only"
        return [f"column {item[2]}.{item[3].name}: {where}"]
    if op in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        where = "in the models only" if op.startswith("add") else "in the database only"
        kind = "index" if op.endswith("index") else "constraint"
        return [f"{kind} {item[1].name} on {item[1].table.name}: {where}"]
    if op.startswith("modify_"):
        _, _, table, column, _, old, new = item
        return [
            f"column {table}.{column}: {op[7:]} is {old!r} in the database, {new!r} in the models"
        ]
    return [repr(item)]
