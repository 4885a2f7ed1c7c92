"""Migrations: the legacy round trip with quarantine, adoption, refusal, models vs database."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from minertrace.db import migrate, tables
from minertrace.db.migrate import UnrecognisedLayoutError
from minertrace.vocabulary import PERIOD_TYPES

LEGACY = list(tables.MPS_LEGACY_COLUMNS)
PK = "miner_uid, period_start, period_end, period_type"
INT_MAX = 2**31 - 1


@pytest.fixture
def legacy_engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


def _populate(engine: Engine) -> None:
    """10,000 valid rows plus non-numeric, out-of-range, colliding and invalid-period rows."""
    values = """
        {uid}, 'hk' || i, {start}, {start} + interval '{length}', {period_type},
        i % 7, i % 5, i % 3, i * 0.001, i * 0.5, i % 250,
        i % 11, i % 9, i % 4, i * 0.25, 0.5, i % 13, i * 1.5, i * 0.125,
        i % 6, i % 4, i % 2, i * 0.3, 0.75, i % 17, i * 0.01, i * 0.02, i * 0.4, i * 0.6,
        i % 8, i % 3, i % 2, i * 0.7, 0.9, i % 19, i * 0.8, i * 0.9, i * 0.05,
        'stable', 0.42, timestamptz '2024-05-01' + i * interval '1 minute', i % 10, 99.5,
        jsonb_build_object('i', i, 'tasks', jsonb_build_array('weather')),
        jsonb_build_object('p50', i * 0.1),
        timestamptz '2024-06-01' + i * interval '1 second', {updated}
    """
    cols = ", ".join(LEGACY)
    start = "timestamptz '2024-01-01' + (i / 250) * interval '1 day'"
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO miner_performance_stats ({cols}) SELECT "
                + values.format(
                    uid="(i % 250)::text",
                    start=start,
                    length="1 day",
                    period_type="'daily'",
                    updated="timestamptz '2024-06-01' + i * interval '1 second'",
                )
                + " FROM generate_series(1, 10000) AS i"
            )
        )
        # '0'-prefixed twins of existing rows: odd i newer (the twin wins), even i older.
        conn.execute(
            text(
                f"INSERT INTO miner_performance_stats ({cols}) SELECT "
                + values.format(
                    uid="'0' || (i % 250)::text",
                    start=start,
                    length="1 day",
                    period_type="'daily'",
                    updated="CASE WHEN i % 2 = 1 THEN timestamptz '2025-01-01' "
                    "ELSE timestamptz '2023-01-01' END",
                )
                + " FROM generate_series(1, 10000, 97) AS i"
            )
        )
        for uid, period_type, length in [
            ("'abc' || i", "'daily'", "1 day"),
            ("'-' || i", "'daily'", "1 day"),
            ("' ' || i", "'weekly'", "7 days"),
            ("''", "'monthly'", "1 month"),
            ("'99999999999' || i", "'daily'", "1 day"),
            ("(i + 1000)::text", "'hourly'", "1 hour"),
            ("(i + 2000)::text", "'daily'", "0 days"),
        ]:
            conn.execute(
                text(
                    f"INSERT INTO miner_performance_stats ({cols}) SELECT "
                    + values.format(
                        uid=uid,
                        start=start,
                        length=length,
                        period_type=period_type,
                        updated="now()",
                    )
                    + " FROM generate_series(1, "
                    + ("1" if uid == "''" else "20")
                    + ") AS i"
                )
            )


def _expected(
    rows: list[dict[str, Any]],
) -> tuple[dict[tuple[Any, ...], dict[str, Any]], dict[int, str]]:
    """Independent oracle: which legacy rows survive (by key) and why the others are moved."""
    reasons: dict[int, str] = {}
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        uid = row["miner_uid"]
        if not re.fullmatch(r"[0-9]+", uid):
            reasons[row["id"]] = "non_numeric_uid"
        elif int(uid) > INT_MAX:
            reasons[row["id"]] = "uid_out_of_range"
        elif row["period_type"] not in PERIOD_TYPES:
            reasons[row["id"]] = "invalid_period_type"
        elif not row["period_end"] > row["period_start"]:
            reasons[row["id"]] = "invalid_period_order"
        else:
            key = (int(uid), row["period_start"], row["period_end"], row["period_type"])
            groups.setdefault(key, []).append(row)
    kept: dict[tuple[Any, ...], dict[str, Any]] = {}
    for key, members in groups.items():
        members.sort(key=lambda r: (r["updated_at"], r["id"]), reverse=True)
        kept[key] = members[0]
        for loser in members[1:]:
            reasons[loser["id"]] = "uid_collision"
    return kept, reasons


def _all(engine: Engine, query: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(query)).mappings()]


def _legacy_uid_texts(engine: Engine) -> dict[tuple[Any, ...], tuple[str, str]]:
    rows = _all(engine, "SELECT * FROM miner_performance_stats_legacy_uid")
    return {
        (r["miner_uid"], r["period_start"], r["period_end"], r["period_type"]): (
            r["miner_hotkey"],
            r["legacy_miner_uid"],
        )
        for r in rows
    }


def _legacy_values(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Every legacy column of every row (miner_uid as stored), in a canonical order."""
    return sorted((tuple(r[c] for c in LEGACY) for r in rows), key=repr)


def test_legacy_round_trip_quarantines_and_is_lossless(legacy_engine: Engine) -> None:
    migrate.upgrade(legacy_engine, "0001")
    _populate(legacy_engine)
    before = _all(legacy_engine, "SELECT * FROM miner_performance_stats")
    assert len(before) >= 10_000
    kept, reasons = _expected(before)
    assert {"non_numeric_uid", "uid_out_of_range", "uid_collision"} <= set(reasons.values())
    assert {"invalid_period_type", "invalid_period_order"} <= set(reasons.values())

    report = migrate.upgrade(legacy_engine)

    assert report.to_revision == migrate.head_revision()
    assert report.quarantined == dict(Counter(reasons.values()))
    assert report.converted_rows == len(kept)
    assert report.converted_rows + report.quarantined_total == len(before)
    reworded = {
        (int(r["miner_uid"]), r["period_start"], r["period_end"], r["period_type"]): r
        for r in kept.values()
        if r["miner_uid"] != str(int(r["miner_uid"]))
    }
    assert reworded  # the '0'-prefixed twins that won their collision
    assert _legacy_uid_texts(legacy_engine) == {
        key: (r["miner_hotkey"], r["miner_uid"]) for key, r in reworded.items()
    }

    head_rows = _all(legacy_engine, f"SELECT * FROM miner_performance_stats ORDER BY {PK}")
    assert len(head_rows) == len(kept)
    for row in head_rows:
        key = (row["miner_uid"], row["period_start"], row["period_end"], row["period_type"])
        source = kept[key]
        assert {c: row[c] for c in LEGACY if c != "miner_uid"} == {
            c: source[c] for c in LEGACY if c != "miner_uid"
        }
        assert all(row[c] is None for c in tables.MPS_NEW_COLUMNS)

    quarantined = _all(legacy_engine, "SELECT * FROM miner_performance_stats_quarantine")
    by_id = {r["id"]: r for r in before}
    assert {q["legacy_id"]: q["quarantine_reason"] for q in quarantined} == reasons
    for q in quarantined:
        assert {c: q[c] for c in LEGACY} == {c: by_id[q["legacy_id"]][c] for c in LEGACY}
        if q["quarantine_reason"] == "uid_collision":
            assert q["quarantine_detail"] and "was kept" in q["quarantine_detail"]

    # Fill the new columns, then downgrade and upgrade: nothing may change.
    with legacy_engine.begin() as conn:
        conn.execute(
            text(
                """
                UPDATE miner_performance_stats SET
                    submitted_weight = miner_uid / 1000.0,
                    incentive = miner_uid / 500.0,
                    consensus_rank = miner_uid + 1,
                    scoring_pathway = (ARRAY['excellence', 'diversity', 'none'])[miner_uid % 3 + 1],
                    pathway_details = jsonb_build_object('uid', miner_uid),
                    percentile_rank_weather = miner_uid % 101,
                    excellence_qualified_tasks = ARRAY['weather', 'soil_moisture'],
                    weight_submission_block = 1000 + miner_uid,
                    validator_hotkey = 'validator'
                WHERE miner_uid % 2 = 0
                """
            )
        )
        conn.execute(text("INSERT INTO node_table (uid, hotkey, consensus) VALUES (300, 'h', 0.5)"))
    head_snapshot = _all(legacy_engine, f"SELECT * FROM miner_performance_stats ORDER BY {PK}")
    quarantine_snapshot = _all(
        legacy_engine, "SELECT * FROM miner_performance_stats_quarantine ORDER BY quarantine_id"
    )

    down = migrate.downgrade(legacy_engine, "0001")
    assert down.to_revision == "0001"
    assert down.archived_rows == sum(1 for r in head_snapshot if r["miner_uid"] % 2 == 0)
    # Exactly the legacy table we started from: every row, quarantined ones included, with its
    # `id` and its uid text.
    assert _all(legacy_engine, "SELECT * FROM miner_performance_stats ORDER BY id") == sorted(
        before, key=lambda r: r["id"]
    )
    for side in ("miner_performance_stats_legacy_uid", "miner_performance_stats_quarantine"):
        assert _all(legacy_engine, f"SELECT to_regclass('{side}') AS t") == [{"t": None}]
    assert set(_all(legacy_engine, "SELECT 1 AS x FROM node_table WHERE uid = 300")[0]) == {"x"}
    # The uid check cannot be validated with uid 300 in the table: restored NOT VALID, said so.
    assert any("node_table_uid_check" in t for t in down.kept_tables)

    up = migrate.upgrade(legacy_engine)
    assert up.quarantined == report.quarantined
    assert _legacy_uid_texts(legacy_engine) == {
        key: (r["miner_hotkey"], r["miner_uid"]) for key, r in reworded.items()
    }
    assert up.restored_rows == down.archived_rows
    assert _all(legacy_engine, f"SELECT * FROM miner_performance_stats ORDER BY {PK}") == (
        head_snapshot
    )
    volatile = ("quarantine_id", "quarantined_at")
    assert [
        {k: v for k, v in r.items() if k not in volatile}
        for r in _all(
            legacy_engine, "SELECT * FROM miner_performance_stats_quarantine ORDER BY legacy_id"
        )
    ] == [
        {k: v for k, v in r.items() if k not in volatile}
        for r in sorted(quarantine_snapshot, key=lambda r: r["legacy_id"])
    ]
    assert _all(legacy_engine, "SELECT consensus FROM node_table WHERE uid = 300") == [
        {"consensus": 0.5}
    ]
    assert migrate.check(legacy_engine) == []


def test_models_and_migrations_agree(migrated_db_url: str) -> None:
    assert migrate.check(migrated_db_url) == []


def test_check_reports_a_difference(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_mps_hotkey"))
        conn.execute(text("ALTER TABLE weight_submissions ADD COLUMN extra integer"))
    diffs = migrate.check(engine)
    assert any("ix_mps_hotkey" in d for d in diffs)
    assert any("weight_submissions.extra" in d for d in diffs)


def test_downgrade_to_base_and_back(db_url: str) -> None:
    migrate.upgrade(db_url)
    assert migrate.downgrade(db_url, "base").to_revision is None
    assert _all(
        create_engine(db_url),
        "SELECT count(*) AS n FROM pg_tables WHERE schemaname = "
        "'public' AND tablename <> 'minertrace_alembic_version'",
    ) == [{"n": 0}]
    assert migrate.upgrade(db_url).to_revision == migrate.head_revision()


def test_downgrade_to_base_refuses_to_delete_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO node_table (uid, hotkey) VALUES (1, 'h')"))
    with pytest.raises(migrate.MigrationError, match="node_table"):
        migrate.downgrade(engine, "base")
    assert migrate.current(engine) == migrate.head_revision()
    assert _all(engine, "SELECT hotkey FROM node_table") == [{"hotkey": "h"}]


def _create_legacy_without_version(engine: Engine) -> None:
    from minertrace.db.migrations.schema_0001 import metadata as legacy_metadata

    legacy_metadata.create_all(engine)


def test_adopts_a_legacy_database(legacy_engine: Engine) -> None:
    _create_legacy_without_version(legacy_engine)
    with legacy_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO miner_performance_stats (miner_uid, miner_hotkey, period_start, "
                "period_end, period_type) VALUES ('5', 'hk', '2024-01-01', '2024-01-02', 'daily'),"
                " ('bad', 'hk', '2024-01-01', '2024-01-02', 'daily')"
            )
        )
        conn.execute(text("INSERT INTO node_table (uid, hotkey) VALUES (3, 'h3')"))
    report = migrate.upgrade(legacy_engine)
    assert report.adopted == "legacy"
    assert report.from_revision is None
    assert report.to_revision == migrate.head_revision()
    assert report.quarantined == {"non_numeric_uid": 1}
    assert _all(legacy_engine, "SELECT miner_uid FROM miner_performance_stats") == [
        {"miner_uid": 5}
    ]
    assert _all(legacy_engine, "SELECT hotkey FROM node_table") == [{"hotkey": "h3"}]
    assert migrate.check(legacy_engine) == []


def test_adoption_ignores_unrelated_tables(legacy_engine: Engine) -> None:
    _create_legacy_without_version(legacy_engine)
    with legacy_engine.begin() as conn:
        conn.execute(text("CREATE TABLE weather_forecast_runs (id serial PRIMARY KEY)"))
        conn.execute(text("CREATE TABLE alembic_version (version_num varchar(32))"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('gaia_rev')"))
    assert migrate.upgrade(legacy_engine).adopted == "legacy"
    assert migrate.check(legacy_engine) == []
    assert _all(legacy_engine, "SELECT version_num FROM alembic_version") == [
        {"version_num": "gaia_rev"}
    ]


def _schema_dump(engine: Engine) -> list[dict[str, Any]]:
    return _all(
        engine,
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2",
    )


def test_refuses_an_unrecognised_layout_unchanged(legacy_engine: Engine) -> None:
    _create_legacy_without_version(legacy_engine)
    with legacy_engine.begin() as conn:
        conn.execute(text("ALTER TABLE miner_performance_stats DROP COLUMN weather_rank"))
        conn.execute(text("ALTER TABLE miner_performance_stats ADD COLUMN mystery integer"))
        conn.execute(text("ALTER TABLE node_table ALTER COLUMN port TYPE text"))
        conn.execute(text("INSERT INTO node_table (uid, port) VALUES (1, '80')"))
    before = _schema_dump(legacy_engine)

    with pytest.raises(UnrecognisedLayoutError) as excinfo:
        migrate.upgrade(legacy_engine)

    message = str(excinfo.value)
    assert "weather_rank" in message
    assert "mystery" in message
    assert "node_table.port" in message
    assert _schema_dump(legacy_engine) == before
    assert _all(legacy_engine, "SELECT uid, port FROM node_table") == [{"uid": 1, "port": "80"}]
    assert migrate.current(legacy_engine) is None
    assert _all(legacy_engine, "SELECT to_regclass('minertrace_alembic_version') AS t") == [
        {"t": None}
    ]


def test_refuses_partial_layout(legacy_engine: Engine) -> None:
    with legacy_engine.begin() as conn:
        conn.execute(text("CREATE TABLE node_table (uid integer PRIMARY KEY)"))
    with pytest.raises(UnrecognisedLayoutError, match="score_table: table missing"):
        migrate.upgrade(legacy_engine)
    assert migrate.current(legacy_engine) is None


def _insert_legacy(engine: Engine, rows: list[tuple[str, str, str, str]]) -> None:
    """Legacy rows (uid text, hotkey, day, updated_at) of one-day daily periods."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO miner_performance_stats (miner_uid, miner_hotkey, period_start, "
                "period_end, period_type, updated_at) VALUES (:uid, :hk, CAST(:day AS date), "
                "CAST(:day AS date) + 1, 'daily', CAST(:updated AS timestamptz))"
            ),
            [{"uid": u, "hk": h, "day": d, "updated": t} for u, h, d, t in rows],
        )


def _uid_texts(engine: Engine) -> list[tuple[str, str, str]]:
    rows = _all(
        engine,
        "SELECT miner_uid, miner_hotkey, period_start::date::text AS day "
        "FROM miner_performance_stats",
    )
    return sorted((r["miner_uid"], r["miner_hotkey"], r["day"]) for r in rows)


def test_non_canonical_uid_text_survives_repeated_round_trips(legacy_engine: Engine) -> None:
    migrate.upgrade(legacy_engine, "0001")
    _insert_legacy(
        legacy_engine,
        [
            ("07", "hk7", "2024-01-01", "2024-03-02"),  # newer: wins its collision with '7'
            ("7", "hk7-old", "2024-01-01", "2024-03-01"),
            ("7", "hk7", "2024-01-02", "2024-03-01"),  # another period: no collision
            (" 8", "hk8", "2024-01-01", "2024-03-01"),  # not digits: quarantined
            ("009", "hk9", "2024-01-01", "2024-03-01"),
            ("00", "hk0", "2024-01-03", "2024-03-01"),
        ],
    )
    survivors = [
        ("00", "hk0", "2024-01-03"),
        ("009", "hk9", "2024-01-01"),
        ("07", "hk7", "2024-01-01"),
        ("7", "hk7", "2024-01-02"),
    ]
    everything = _all(legacy_engine, "SELECT * FROM miner_performance_stats ORDER BY id")
    for _ in range(3):
        up = migrate.upgrade(legacy_engine)
        assert up.quarantined == {"uid_collision": 1, "non_numeric_uid": 1}
        assert sorted(_legacy_uid_texts(legacy_engine).values()) == [
            ("hk0", "00"),
            ("hk7", "07"),
            ("hk9", "009"),
        ]
        assert migrate.check(legacy_engine) == []
        assert _uid_texts_at_head(legacy_engine) == survivors

        migrate.downgrade(legacy_engine, "0001")
        # Quarantined rows (' 8', the older '7') are back in place; ids unchanged.
        assert _all(legacy_engine, "SELECT * FROM miner_performance_stats ORDER BY id") == (
            everything
        )


def _uid_texts_at_head(engine: Engine) -> list[tuple[str, str, str]]:
    rows = _all(
        engine,
        "SELECT m.miner_uid, m.miner_hotkey, m.period_start::date::text AS day, "
        "u.legacy_miner_uid FROM miner_performance_stats m "
        "LEFT JOIN miner_performance_stats_legacy_uid u USING "
        "(miner_uid, period_start, period_end, period_type)",
    )
    return sorted(
        (r["legacy_miner_uid"] or str(r["miner_uid"]), r["miner_hotkey"], r["day"]) for r in rows
    )


def test_a_row_re_created_at_head_comes_back_canonical(legacy_engine: Engine) -> None:
    migrate.upgrade(legacy_engine, "0001")
    _insert_legacy(
        legacy_engine,
        [("07", "hk7", "2024-01-01", "2024-03-01"), ("009", "hk9", "2024-01-01", "2024-03-01")],
    )
    migrate.upgrade(legacy_engine)
    with legacy_engine.begin() as conn:
        conn.execute(text("DELETE FROM miner_performance_stats WHERE miner_uid = 9"))
        conn.execute(
            text(
                "INSERT INTO miner_performance_stats (miner_uid, miner_hotkey, period_start, "
                "period_end, period_type) VALUES (9, 'new', '2024-01-01', '2024-01-02', 'daily')"
            )
        )
    migrate.downgrade(legacy_engine, "0001")
    assert _uid_texts(legacy_engine) == [
        ("07", "hk7", "2024-01-01"),
        ("9", "new", "2024-01-01"),
    ]


def test_round_trip_of_a_larger_table_is_exact_by_content(legacy_engine: Engine) -> None:
    """The benchmark's check (bench/migration_roundtrip.py) on 20,000 rows."""
    migrate.upgrade(legacy_engine, "0001")
    _populate(legacy_engine)

    def hashes() -> dict[str, str]:
        with legacy_engine.connect() as conn:
            names = conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> :v ORDER BY 1"
                ),
                {"v": migrate.VERSION_TABLE},
            ).scalars()
            return {
                name: str(
                    conn.execute(
                        text(
                            "SELECT md5(string_agg((to_jsonb(r) - CAST(:v AS text[]))::text, "
                            f"',' ORDER BY (to_jsonb(r) - CAST(:v AS text[]))::text)) FROM {name} r"
                        ),
                        {"v": ["quarantined_at", "quarantine_id"]},
                    ).scalar()
                )
                for name in list(names)
            }

    legacy = hashes()
    migrate.upgrade(legacy_engine)
    head = hashes()
    assert "miner_performance_stats_quarantine" in head
    migrate.downgrade(legacy_engine, "0001")
    assert hashes() == legacy
    migrate.upgrade(legacy_engine)
    assert hashes() == head
