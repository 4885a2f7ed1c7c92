"""Migration 0005: the weight_submissions status 'observed' (shadow mode), both directions."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from minertrace.db import migrate
from minertrace.db.urls import sync_url

_ROW = text(
    """
    INSERT INTO weight_submissions (validator_hotkey, netuid, computed_at, n_uids, config,
        score_rows, scalars, data_quality, weights_produced, rank_based_fallback, status,
        verification)
    VALUES ('v', 1, now(), 0, '{}', '[]', '{}', '{}', true, false, :status,
            CAST(:verification AS jsonb))
    """
)


def test_observed_rows_survive_a_round_trip(migrated_db_url: str) -> None:
    engine = create_engine(sync_url(migrated_db_url))
    try:
        with engine.begin() as conn:
            for match in (True, False):
                conn.execute(
                    _ROW, {"status": "observed", "verification": json.dumps({"match": match})}
                )
        below = migrate.script_directory().get_revision("0005").down_revision
        assert isinstance(below, str)
        migrate.downgrade(engine, below)
        with engine.connect() as conn:
            statuses = conn.execute(text("SELECT status FROM weight_submissions ORDER BY id"))
            assert [s for (s,) in statuses] == ["verified", "mismatch"]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(_ROW, {"status": "observed", "verification": "{}"})
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(_ROW, {"status": "observed", "verification": "{}"})
            count = conn.execute(text("SELECT count(*) FROM weight_submissions")).scalar()
        assert count == 3
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(_ROW, {"status": "seen", "verification": "{}"})
    finally:
        engine.dispose()
