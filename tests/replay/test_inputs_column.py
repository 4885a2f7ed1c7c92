"""Revision 0003: `weight_submissions.inputs` upgrades and downgrades keeping every row."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from minertrace.db import migrate
from minertrace.db.urls import sync_url

_ROW = text(
    """
    INSERT INTO weight_submissions (validator_hotkey, netuid, computed_at, n_uids, config,
        score_rows, scalars, data_quality, weights_produced, rank_based_fallback)
    VALUES ('v', 1, now(), 0, '{}', '[]', '{}', '{}', false, false)
    """
)


def _columns(url: str) -> set[str]:
    eng = create_engine(sync_url(url))
    try:
        with eng.connect() as conn:
            return set(
                conn.execute(
                    text(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_name = 'weight_submissions'"
                    )
                ).scalars()
            )
    finally:
        eng.dispose()


def test_inputs_column_round_trip(db_url: str) -> None:
    migrate.upgrade(db_url)
    assert migrate.current(db_url) == migrate.head_revision()
    assert "inputs" in _columns(db_url)
    eng = create_engine(sync_url(db_url))
    try:
        with eng.begin() as conn:
            conn.execute(_ROW)
        assert migrate.downgrade(db_url, "0002").to_revision == "0002"
        assert "inputs" not in _columns(db_url)
        migrate.upgrade(db_url)
        assert "inputs" in _columns(db_url)
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM weight_submissions")).scalar() == 1
            assert conn.execute(text("SELECT inputs FROM weight_submissions")).scalar() is None
    finally:
        eng.dispose()
