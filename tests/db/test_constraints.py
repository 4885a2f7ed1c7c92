"""The head schema's checks and primary key reject bad rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.exc import IntegrityError

from minertrace.db import migrations, tables
from minertrace.db.tables import miner_performance_stats as mps
from minertrace.db.tables import weight_submissions
from minertrace.vocabulary import Pathway, PeriodType, SubmissionStatus

GOOD: dict[str, Any] = {
    "miner_uid": 1,
    "miner_hotkey": "hk",
    "period_start": "2024-01-01T00:00:00+00:00",
    "period_end": "2024-01-02T00:00:00+00:00",
    "period_type": "daily",
}


def test_a_good_row_is_accepted(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(mps).values(
                **GOOD,
                scoring_pathway="excellence",
                percentile_rank_weather=0,
                percentile_rank_geomagnetic=100,
                percentile_rank_soil=None,
            )
        )


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ({"scoring_pathway": "sideways"}, "ck_miner_performance_stats_scoring_pathway"),
        ({"percentile_rank_weather": 100.5}, "ck_miner_performance_stats_percentile_rank_weather"),
        ({"percentile_rank_weather": -1}, "ck_miner_performance_stats_percentile_rank_weather"),
        (
            {"percentile_rank_geomagnetic": 101},
            "ck_miner_performance_stats_percentile_rank_geomagnetic",
        ),
        ({"percentile_rank_soil": -0.1}, "ck_miner_performance_stats_percentile_rank_soil"),
        ({"period_type": "hourly"}, "ck_miner_performance_stats_period_type"),
        (
            {"period_end": "2024-01-01T00:00:00+00:00"},
            "ck_miner_performance_stats_period_order",
        ),
    ],
)
def test_check_constraints_reject_bad_rows(
    engine: Engine, change: dict[str, Any], constraint: str
) -> None:
    with pytest.raises(IntegrityError, match=constraint), engine.begin() as conn:
        conn.execute(insert(mps).values(**{**GOOD, **change}))


def test_primary_key_rejects_a_duplicate_period_row(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(mps).values(**GOOD))
    with pytest.raises(IntegrityError, match="pk_miner_performance_stats"), engine.begin() as conn:
        conn.execute(insert(mps).values(**{**GOOD, "miner_hotkey": "other"}))
    with engine.begin() as conn:
        conn.execute(insert(mps).values(**{**GOOD, "period_type": "weekly"}))


def test_uids_above_255_are_allowed(engine: Engine) -> None:
    from minertrace.db.tables import node_table

    with engine.begin() as conn:
        conn.execute(insert(node_table).values(uid=1023, hotkey="hk"))


def test_weight_submission_status_is_checked(engine: Engine) -> None:
    row = {
        "validator_hotkey": "v",
        "netuid": 57,
        "computed_at": "2024-01-01T00:00:00+00:00",
        "n_uids": 0,
        "config": {},
        "score_rows": [],
        "scalars": {},
        "data_quality": {},
        "weights_produced": False,
        "rank_based_fallback": False,
    }
    with engine.begin() as conn:
        conn.execute(insert(weight_submissions).values(**row))
    with (
        pytest.raises(IntegrityError, match="ck_weight_submissions_status"),
        engine.begin() as conn,
    ):
        conn.execute(insert(weight_submissions).values(**row, status="lost"))


_CHECKS = text(
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
    " WHERE contype = 'c' AND connamespace = 'public'::regnamespace ORDER BY 1, 2"
)


def test_checks_built_from_the_vocabulary_are_the_migrations_checks(
    engine: Engine, db_url: str
) -> None:
    fresh = create_engine(db_url)
    try:
        tables.metadata.create_all(fresh)
        with fresh.connect() as conn:
            from_metadata = conn.execute(_CHECKS).all()
    finally:
        fresh.dispose()
    with engine.connect() as conn:
        migrated = conn.execute(_CHECKS).all()
    assert from_metadata == migrated
    defs = {name: definition for _, name, definition in migrated}
    for status in SubmissionStatus:
        assert f"'{status.value}'" in defs["ck_weight_submissions_status"]
    for pathway in Pathway:
        assert f"'{pathway.value}'" in defs["ck_miner_performance_stats_scoring_pathway"]
    for period in PeriodType:
        assert f"'{period.value}'" in defs["ck_miner_performance_stats_period_type"]


def test_the_snapshots_stay_frozen() -> None:
    # Revisions must not change when the vocabulary grows: their schemas spell every value.
    for snapshot in ("schema_0001.py", "schema_0002.py"):
        source = (Path(migrations.__file__).parent / snapshot).read_text()
        assert "vocabulary" not in source, snapshot
