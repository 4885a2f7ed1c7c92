"""`stats_day_cells`: per UTC day, the period statistics' cells (a cache of `score_table`)."""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    BigInteger,
    Column,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    Table,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from minertrace.db.tables.core import metadata

stats_day_cells = Table(
    "stats_day_cells",
    metadata,
    Column("day", Date, primary_key=True, comment="The UTC day the cells summarise."),
    Column(
        "runs",
        Integer,
        nullable=False,
        comment="score_table rows of the day (the three tasks) the cells were computed from.",
    ),
    Column(
        "fingerprint",
        BigInteger,
        nullable=False,
        comment="Hash of those rows' versions (ctid, xmin): any insert, update or delete "
        "changes it.",
    ),
    Column("width", Integer, nullable=False, comment="UIDs covered (0 .. width - 1)."),
    Column(
        "token",
        BigInteger,
        nullable=False,
        comment="Random id of this computation; process caches key on it.",
    ),
    Column(
        "task_runs",
        ARRAY(Integer),
        nullable=False,
        comment="Runs of the day per task (weather, geomagnetic, soil_moisture).",
    ),
    Column(
        "slot_cells",
        LargeBinary,
        nullable=False,
        comment="Per UID and (task, final) slot, 36 little-endian bytes: attempted i4, "
        "completed i4, latest run i4, sum f8, best f8, latest f8.",
    ),
    Column(
        "miner_cells",
        LargeBinary,
        nullable=False,
        comment="Per UID, 12 little-endian bytes: trailing failures i4, time of the latest "
        "entry i8 (microseconds since 2000-01-01 UTC, -1 without one).",
    ),
    Column(
        "sorted_values",
        LargeBinary,
        nullable=False,
        comment="Every attempted entry as little-endian f8, sorted within each UID, UID after UID.",
    ),
    Column(
        "computed_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=text("now()"),
        comment="When the cells were computed.",
    ),
    comment="Per UTC day: the period statistics' cells, derived from score_table (a cache).",
    # A cache: no WAL (after a crash PostgreSQL empties it, the next refresh recomputes it).
    prefixes=["UNLOGGED"],
)

# The cells are sorted floats: pglz would spend more time than the write saves (revision 0006).
event.listen(
    stats_day_cells,
    "after_create",
    DDL(  # type: ignore[no-untyped-call]
        "ALTER TABLE stats_day_cells ALTER COLUMN slot_cells SET STORAGE EXTERNAL, "
        "ALTER COLUMN miner_cells SET STORAGE EXTERNAL, "
        "ALTER COLUMN sorted_values SET STORAGE EXTERNAL"
    ),
)
