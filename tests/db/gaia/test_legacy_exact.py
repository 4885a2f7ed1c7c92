"""Revision 0002 in place (a legacy database without a Gaia alembic_version): exact round trips."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from minertrace.db import migrate
from minertrace.db.migrations.schema_0001 import metadata as legacy_metadata
from tests.helpers.gaia import layouts, seed
from tests.helpers.gaia.catalog import catalog, content_hashes


@pytest.fixture
def plain_engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


def _facts(engine: Engine) -> tuple[dict[str, str], dict[str, list[Any]]]:
    with engine.connect() as conn:
        hashes = content_hashes(conn)
        facts = catalog(conn)
    # Column order by position among live columns: an added-then-dropped column leaves a gap
    # in the attribute numbers but not in the table's column order.
    ranked: dict[tuple[str, str], int] = {}
    columns = []
    for schema, table, _attnum, *rest in facts["columns"]:
        ranked[(schema, table)] = ranked.get((schema, table), 0) + 1
        columns.append((schema, table, ranked[(schema, table)], *rest))
    facts["columns"] = columns
    # minertrace's version table records the revision (0001 after the downgrade): not a change.
    version = migrate.VERSION_TABLE
    hashes = {k: v for k, v in hashes.items() if k != f"public.{version}"}
    facts = {k: [r for r in rows if version not in r[1]] for k, rows in facts.items()}
    return hashes, facts


def _gaia_without_version(engine: Engine) -> None:
    with engine.begin() as conn:
        for statement in layouts.ddl("7cc0a0cb963c"):
            if "alembic_version" not in statement:
                conn.exec_driver_sql(statement)
        seed.seed(conn, "original")


def _minertrace_legacy(engine: Engine) -> None:
    legacy_metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM node_table"))
        seed.seed(conn, "original")


@pytest.mark.parametrize("build", [_gaia_without_version, _minertrace_legacy])
def test_upgrade_downgrade_is_exact_and_repeatable(plain_engine: Engine, build: Any) -> None:
    build(plain_engine)
    with plain_engine.begin() as conn:
        conn.execute(text("ALTER TABLE node_table DROP CONSTRAINT node_table_uid_check"))
        conn.execute(
            text(
                "ALTER TABLE node_table ADD CONSTRAINT node_table_uid_check "
                "CHECK (uid >= 0 AND uid < 256) NOT VALID"
            )
        )
    before = _facts(plain_engine)

    for _ in range(2):
        up = migrate.upgrade(plain_engine)
        assert up.adopted in ("legacy", None)
        assert up.quarantined  # the seeded odd rows
        assert migrate.check(plain_engine) == []
        down = migrate.downgrade(plain_engine, "0001")
        assert down.to_revision == "0001"
        assert down.kept_tables == []
        assert _facts(plain_engine) == before


def test_rows_changed_at_head_are_written_back(plain_engine: Engine) -> None:
    _minertrace_legacy(plain_engine)
    migrate.upgrade(plain_engine)
    with plain_engine.begin() as conn:
        conn.execute(text("UPDATE miner_performance_stats SET weather_avg_score = 0.5"))
        conn.execute(
            text(
                "INSERT INTO miner_performance_stats (miner_uid, miner_hotkey, period_start, "
                "period_end, period_type) VALUES (99, 'new', '2025-01-01', '2025-01-02', 'daily')"
            )
        )
    migrate.downgrade(plain_engine, "0001")
    with plain_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT miner_uid, weather_avg_score FROM miner_performance_stats")
        ).all()
        quarantined_back = conn.execute(
            text("SELECT count(*) FROM miner_performance_stats WHERE miner_uid = '-1'")
        ).scalar()
    assert ("99", None) in rows
    assert quarantined_back == 4  # every '-1' row is back, unconverted
    converted = [r for r in rows if r[0] not in ("99",) and r[1] == 0.5]
    assert converted and all(r[0].isdigit() for r in converted)


def test_a_fresh_database_keeps_no_legacy_copy_and_still_round_trips(
    plain_engine: Engine,
) -> None:
    migrate.upgrade(plain_engine, "0001")
    before = _facts(plain_engine)
    migrate.upgrade(plain_engine)
    with plain_engine.connect() as conn:
        kept = conn.execute(text("SELECT to_regclass('miner_performance_stats_legacy')")).scalar()
    assert kept is None
    migrate.downgrade(plain_engine, "0001")
    assert _facts(plain_engine) == before
