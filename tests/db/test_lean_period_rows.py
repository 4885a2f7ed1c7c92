"""Revision 0004: the period rows' HOT-friendly layout, and the same layout from the metadata."""

from __future__ import annotations

from sqlalchemy import Engine, text

from minertrace.db import migrate, tables

DROPPED = {
    "ix_mps_miner_history",
    "ix_mps_pathway",
    "ix_mps_incentive_leaderboard",
    "ix_mps_weight_leaderboard",
}


def layout(engine: Engine) -> tuple[set[str], list[str] | None, str]:
    """Index names of miner_performance_stats, its reloptions, the storage of stages."""
    with engine.connect() as conn:
        indexes = set(
            conn.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'miner_performance_stats'")
            ).scalars()
        )
        options = conn.execute(
            text("SELECT reloptions FROM pg_class WHERE relname = 'miner_performance_stats'")
        ).scalar_one()
        storage = conn.execute(
            text(
                "SELECT attstorage FROM pg_attribute "
                "WHERE attrelid = 'weight_submissions'::regclass AND attname = 'stages'"
            )
        ).scalar_one()
    return indexes, options, storage


def test_0004_drops_the_indexes_writes_change_and_comes_back(engine: Engine) -> None:
    indexes, options, storage = layout(engine)
    assert not indexes & DROPPED and "ix_mps_period_latest" in indexes
    assert options == ["fillfactor=50"] and storage == "e"

    # Undo 0004 (and whatever follows it), whatever precedes it.
    migrate.downgrade(engine, str(migrate.script_directory().get_revision("0004").down_revision))
    indexes, options, storage = layout(engine)
    assert indexes >= DROPPED and options is None and storage == "x"
    assert migrate.check(engine)  # not at head any more

    migrate.upgrade(engine)
    assert layout(engine) == (indexes - DROPPED, ["fillfactor=50"], "e")
    assert migrate.check(engine) == []


def test_the_metadata_creates_the_migrated_layout(engine: Engine, db_url: str) -> None:
    from sqlalchemy import create_engine

    from minertrace.db.urls import sync_url

    fresh = create_engine(sync_url(db_url))
    try:
        tables.metadata.create_all(fresh)
        assert layout(fresh) == layout(engine)
    finally:
        fresh.dispose()
