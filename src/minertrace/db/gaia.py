"""Living in a Gaia validator's database: its revision, its layouts, and where minertrace's
tables go.

In a Gaia database minertrace keeps every table of its own in the `minertrace` schema and reads
Gaia's `score_table` in `public` where it is; Gaia's tables are never altered. Connections put
`minertrace` in front of their search_path (a schema that does not exist is skipped, so the same
setting leaves a plain minertrace database where it was). Gaia's own `alembic upgrade head` then
only ever sees its own tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Engine, event, text

from minertrace.db.migrations.names import SCHEMA, VERSION_TABLE

_PREPEND = f"SELECT set_config('search_path', '{SCHEMA}, ' || current_setting('search_path'), %s)"

# Gaia's validator revision chain (alembic_migrations_validator), oldest first.
GAIA_CHAIN = (
    "f75e4f7343a1",
    "2e00df6800b9",
    "3704fd24c76d",
    "9184456655c8",
    "a1b2c3d4e5f6",
    "d14c8157766a",
    "dc4f1a1ad6db",
    "7819e940673d",
    "911b2e3e140e",
    "7cc0a0cb963c",
    "8d832ba6c04d",
    "score_table_refactor",
    "5fda479e51b2",
    "0f9fe00f6e93",
    "803c6cff9b58",
    "b7c1a2d38f10",
    "aeb6e0fada34",
    "103b798d87f1",
    "8c00159f39c7",
    "f83c6d760854",
    "bc045d8f438d",
    "83c229985d5c",
    "pipeline_timing_001",
    "e26b04e8559f",
    "9445d1ec6c47",
    "bb8c9e8951c3",
    "c9d2552f22aa",
    "f33d500dc2bc",
)
_POS = {rev: i for i, rev in enumerate(GAIA_CHAIN)}

# Where Gaia's miner_performance_stats and score_table change shape.
MPS_ADDED = "7cc0a0cb963c"  # the original table: id, TEXT miner_uid, per-task metrics
MPS_ENHANCED = "8d832ba6c04d"  # + the enhancement plan's 19 columns
SCORE_REFACTOR = "score_table_refactor"  # per-UID score columns; INTEGER miner_uid + FK
MPS_DROPPED = "0f9fe00f6e93"  # replaced by miner_stats / weather_forecast_stats
PGCRYPTO = "5fda479e51b2"  # needs the pgcrypto extension

_DESCRIPTIONS = {
    MPS_ADDED: "Gaia adds miner_performance_stats (id, TEXT miner_uid)",
    MPS_ENHANCED: "Gaia adds the 19 enhancement columns to its miner_performance_stats",
    SCORE_REFACTOR: (
        "Gaia rebuilds score_table with one column per UID (minertrace reads both layouts) and "
        "makes its miner_performance_stats.miner_uid INTEGER; that step of Gaia's own migration "
        "fails if Gaia's table holds a non-numeric or out-of-range uid, or uid texts such as "
        "'7' and '07' for one period"
    ),
    PGCRYPTO: "Gaia needs the pgcrypto extension (CREATE EXTENSION pgcrypto)",
    MPS_DROPPED: (
        "Gaia drops its miner_performance_stats (minertrace's copy in schema "
        f"{SCHEMA} is not touched)"
    ),
}


def use_search_path(engine: Engine) -> None:
    """Make every new connection of `engine` look in minertrace's schema first."""

    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(_PREPEND % "false")
        cursor.close()
        # psycopg opens a transaction for the SET; end it so the pool sees an idle connection.
        dbapi_connection.commit()

    event.listen(engine, "connect", _on_connect)


def set_local_search_path(conn: Connection) -> None:
    """The same search_path for the current transaction only (migrations)."""
    conn.exec_driver_sql(_PREPEND % "true")


def gaia_revision(conn: Connection) -> str | None:
    """The revision in Gaia's `public.alembic_version`, or None when there is none."""
    if conn.execute(text("SELECT to_regclass('public.alembic_version')")).scalar() is None:
        return None
    rows = conn.execute(text("SELECT version_num FROM public.alembic_version")).scalars().all()
    return str(rows[0]) if len(rows) == 1 else None


def is_known(revision: str | None) -> bool:
    """Whether `revision` is one of Gaia's validator revisions."""
    return revision in _POS


def at_or_after(revision: str, milestone: str) -> bool:
    """Whether Gaia `revision` includes `milestone`."""
    return _POS[revision] >= _POS[milestone]


def expected_layout(revision: str) -> tuple[str | None, str]:
    """(Gaia's miner_performance_stats kind, score_table layout) at a known revision.

    Kinds: None (no table), 'original', 'enhanced_text', 'enhanced_integer'.
    """
    score = "columns" if at_or_after(revision, SCORE_REFACTOR) else "array"
    if at_or_after(revision, MPS_DROPPED) or not at_or_after(revision, MPS_ADDED):
        return None, score
    if not at_or_after(revision, MPS_ENHANCED):
        return "original", score
    return ("enhanced_integer" if at_or_after(revision, SCORE_REFACTOR) else "enhanced_text"), score


def schema_in_use(conn: Connection) -> bool:
    """Whether minertrace's own schema exists in this database."""
    found = conn.execute(text("SELECT to_regnamespace(:s)"), {"s": SCHEMA}).scalar()
    return found is not None


@dataclass
class GaiaStatus:
    """What minertrace sees of Gaia in a database, and what Gaia's next migrations do."""

    revision: str | None
    known: bool
    separate_schema: bool
    upcoming: list[str] = field(default_factory=list)
    in_place: bool = False
    """minertrace's tables share `public` with Gaia's (an adoption from before the schema)."""

    def lines(self) -> list[str]:
        """Human-readable, one fact per line (for `db status`)."""
        if self.revision is None:
            return ["Gaia: no Gaia alembic_version in this database"]
        if not self.known:
            return [
                f"Gaia: alembic_version holds {self.revision}, not a Gaia validator revision "
                "minertrace knows; adoption compares the tables' layout instead"
            ]
        where = (
            f"minertrace's tables are in schema {SCHEMA}; Gaia's are untouched"
            if self.separate_schema
            else f"minertrace has not adopted it yet (`minertrace db upgrade` creates schema "
            f"{SCHEMA})"
        )
        if self.in_place:
            where = (
                "minertrace's tables share schema public with Gaia's (an older, in-place "
                "adoption): Gaia's next migration may fail or drop minertrace's rows; see "
                "docs/gaia.md, 'An older in-place adoption'"
            )
        out = [f"Gaia: revision {self.revision}; {where}"]
        if not self.upcoming:
            out.append("when Gaia migrates: nothing minertrace knows of changes its tables")
        out.extend(f"when Gaia migrates past {step}" for step in self.upcoming)
        return out


def status(conn: Connection) -> GaiaStatus:
    """Gaia's revision and the effect of Gaia's next migrations on minertrace."""
    revision = gaia_revision(conn)
    known = is_known(revision)
    upcoming: list[str] = []
    if revision is not None and known:
        upcoming = [
            f"{milestone}: {what}"
            for milestone, what in _DESCRIPTIONS.items()
            if not at_or_after(revision, milestone)
        ]
        upcoming.sort(key=lambda line: _POS[line.split(":", 1)[0]])
    separate = schema_in_use(conn)
    shared = (
        not separate
        and conn.execute(text("SELECT to_regclass(:t)"), {"t": f"public.{VERSION_TABLE}"}).scalar()
        is not None
    )
    return GaiaStatus(revision, known, separate, upcoming, in_place=shared and known)


# --- score_table layout -----------------------------------------------------------------

_UID_COLUMN = re.compile(r"^uid_(\d+)_score$")


class ScoreLayout(str, Enum):
    """How score_table stores a row's per-UID scores."""

    ARRAY = "array"
    COLUMNS = "columns"
    MISSING = "missing"


@dataclass(frozen=True)
class ScoreTableShape:
    """The detected layout and, for the per-UID layout, how many UID columns there are."""

    layout: ScoreLayout
    n_uids: int = 0


def detect_score_layout(conn: Connection) -> ScoreTableShape:
    """The layout of the `score_table` the connection's search_path resolves to."""
    names = conn.execute(
        text(
            """
            SELECT a.attname FROM pg_attribute a
            WHERE a.attrelid = to_regclass(:table) AND a.attnum > 0
              AND NOT a.attisdropped
            """
        ),
        {"table": "score_table"},
    ).scalars()
    columns = set(names)
    if not columns:
        return ScoreTableShape(ScoreLayout.MISSING)
    if "score" in columns:
        return ScoreTableShape(ScoreLayout.ARRAY)
    uids = sorted(int(m[1]) for c in columns if (m := _UID_COLUMN.match(c)))
    if uids and uids == list(range(len(uids))):
        return ScoreTableShape(ScoreLayout.COLUMNS, len(uids))
    raise ValueError(
        "score_table has neither a `score` array nor contiguous uid_<n>_score columns "
        f"(found {len(uids)} uid columns); cannot read scores"
    )
