"""Gaia validator databases: adoption into schema minertrace, score reads, exact detach."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, create_engine, text

from minertrace.chain.types import NeuronInfo, SubnetHyperparameters
from minertrace.db import gaia, migrate
from minertrace.stats.refresh import refresh_all
from minertrace.store import gaia_scores
from minertrace.store import scores as reads
from minertrace.store.explain import last_score_entry
from minertrace.store.nodes import write_metagraph
from minertrace.store.scores import read_cycle_inputs
from minertrace.validator.cycle import cycle_inputs
from minertrace.weights.engine import compute_cycle
from tests.helpers.gaia import layouts, seed
from tests.helpers.gaia.catalog import catalog, content_hashes

MPS_KIND = {
    "7cc0a0cb963c": "original",
    "8d832ba6c04d": "text",
    "score_table_refactor": "integer",
    "0f9fe00f6e93": None,
    "f33d500dc2bc": None,
}


@pytest.fixture
def gaia_engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    gaia.use_search_path(eng)
    yield eng
    eng.dispose()


def _build(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        layouts.build(conn, revision)
        seed.seed(conn, MPS_KIND[revision])


def _state(engine: Engine) -> tuple[dict[str, str], dict[str, list[Any]]]:
    with engine.connect() as conn:
        return content_hashes(conn), catalog(conn)


def _all(engine: Engine, sql: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql)).mappings()]


def _expected_quarantine(kind: str | None) -> dict[str, int]:
    if kind is None:
        return {}
    uids = ["7", "3", "12", "20"] if kind == "integer" else seed.TEXT_UIDS
    reasons: dict[str, int] = {}
    groups: dict[tuple[int, int], int] = {}
    for uid in uids:
        for p, ptype in enumerate(["daily", "hourly", "DAILY", "weekly"]):
            if not uid.isdigit() or not uid.isascii():
                reason = "non_numeric_uid"
            elif int(uid) > 2**31 - 1:
                reason = "uid_out_of_range"
            elif ptype not in ("daily", "weekly"):
                reason = "invalid_period_type"
            elif ptype == "weekly":  # seeded with a zero-length period
                reason = "invalid_period_order"
            else:
                groups[(int(uid), p)] = groups.get((int(uid), p), 0) + 1
                continue
            reasons[reason] = reasons.get(reason, 0) + 1
    collisions = sum(n - 1 for n in groups.values())
    if collisions:
        reasons["uid_collision"] = collisions
    return reasons


@pytest.mark.parametrize("revision", layouts.LAYOUTS)
def test_adopts_each_gaia_layout_without_touching_gaia(gaia_engine: Engine, revision: str) -> None:
    _build(gaia_engine, revision)
    before = _state(gaia_engine)

    report = migrate.upgrade(gaia_engine)

    assert report.adopted and revision in report.adopted
    assert report.to_revision == migrate.head_revision()
    assert report.quarantined == _expected_quarantine(MPS_KIND[revision])
    assert _state(gaia_engine) == before  # public (Gaia's) rows and catalog unchanged
    assert migrate.check(gaia_engine) == []
    nodes = _all(gaia_engine, "SELECT uid, hotkey FROM minertrace.node_table ORDER BY uid")
    assert nodes == _all(gaia_engine, "SELECT uid, hotkey FROM public.node_table ORDER BY uid")
    if MPS_KIND[revision] not in (None, "original"):
        # Every kept row carries its 19 enhancement values across.
        rows = _all(
            gaia_engine,
            "SELECT miner_uid, submitted_weight, scoring_pathway, excellence_qualified_tasks "
            "FROM minertrace.miner_performance_stats ORDER BY miner_uid",
        )
        assert rows and all(r["scoring_pathway"] == "excellence" for r in rows)
        assert all(r["excellence_qualified_tasks"] == ["weather"] for r in rows)
    if MPS_KIND[revision] is not None:
        # Every imported row's Gaia id, by key: the very row it came from.
        assert _all(
            gaia_engine,
            "SELECT count(*) AS n FROM minertrace.miner_performance_stats m "
            "JOIN minertrace.miner_performance_stats_gaia_id i USING "
            "(miner_uid, period_start, period_end, period_type) "
            "JOIN public.miner_performance_stats g ON g.id = i.gaia_id "
            "AND g.miner_hotkey = m.miner_hotkey AND g.period_start = m.period_start",
        ) == _all(gaia_engine, "SELECT count(*) AS n FROM minertrace.miner_performance_stats")
    with gaia_engine.connect() as conn:
        status = gaia.status(conn)
    assert status.revision == revision and status.separate_schema
    # NaN scores survive the import as NaN, not as NULL.
    if MPS_KIND[revision] is not None:
        nan = _all(
            gaia_engine,
            "SELECT count(*) AS n FROM minertrace.miner_performance_stats "
            "WHERE overall_avg_score = 'NaN'",
        )
        assert nan[0]["n"] > 0

    # Idempotent: a second upgrade changes nothing anywhere.
    with gaia_engine.connect() as conn:
        adopted = content_hashes(conn, ("public", "minertrace"))
    assert migrate.upgrade(gaia_engine).quarantined == {}
    with gaia_engine.connect() as conn:
        assert content_hashes(conn, ("public", "minertrace")) == adopted

    # Exact round trip: detaching leaves the database as it was.
    down = migrate.downgrade(gaia_engine, "base")
    assert down.to_revision is None
    assert _state(gaia_engine) == before
    assert _all(gaia_engine, "SELECT to_regnamespace('minertrace') AS s") == [{"s": None}]

    # And again: the same adoption, the same content (the quarantine's timestamps aside).
    migrate.upgrade(gaia_engine)
    with gaia_engine.connect() as conn:
        again = content_hashes(conn, ("public", "minertrace"))
    quarantine = "minertrace.miner_performance_stats_quarantine"
    assert {k: v for k, v in again.items() if k != quarantine} == {
        k: v for k, v in adopted.items() if k != quarantine
    }


@pytest.mark.parametrize("revision", layouts.LAYOUTS)
def test_reads_scores_from_either_layout(gaia_engine: Engine, revision: str) -> None:
    _build(gaia_engine, revision)
    migrate.upgrade(gaia_engine)
    with gaia_engine.connect() as conn:
        shape = gaia_scores.detect(conn)
    assert shape.layout == ("array" if revision.startswith(("7c", "8d")) else "columns")

    rows = reads.read_geomagnetic_rows(gaia_engine, seed.NOW + timedelta(minutes=1))
    expected = {tid: s for name, tid, s, _, _ in seed.score_rows() if name == "geomagnetic"}
    assert {r.task_id for r in rows} == set(expected)
    for row in rows:
        assert row.task_id is not None
        want = expected[row.task_id]
        if want is None:
            assert row.score.size == 0
            continue
        want_arr = np.array([math.nan if v is None else v for v in want], dtype=np.float64)
        np.testing.assert_array_equal(row.score, want_arr)
    weather = reads.read_weather_rows(gaia_engine, seed.NOW + timedelta(minutes=1))
    assert [r.task_id for r in weather][:2] == ["final_weather_scores_0", "final_weather_scores_1"]


def test_detach_refuses_when_minertrace_holds_its_own_rows(gaia_engine: Engine) -> None:
    _build(gaia_engine, "8d832ba6c04d")
    migrate.upgrade(gaia_engine)
    with gaia_engine.begin() as conn:
        conn.execute(text("UPDATE miner_performance_stats SET incentive = 0.5"))
    with gaia_engine.connect() as conn:
        held = content_hashes(conn, ("public", "minertrace"))
    with pytest.raises(migrate.MigrationError, match="miner_performance_stats"):
        migrate.downgrade(gaia_engine, "0001")
    with gaia_engine.connect() as conn:
        assert content_hashes(conn, ("public", "minertrace")) == held


def test_gaia_dropping_its_table_keeps_minertrace_rows(gaia_engine: Engine) -> None:
    _build(gaia_engine, "score_table_refactor")
    migrate.upgrade(gaia_engine)
    n = _all(gaia_engine, "SELECT count(*) AS n FROM minertrace.miner_performance_stats")
    with gaia_engine.begin() as conn:
        # What Gaia's 0f9fe00f6e93 does, through Gaia's own (default) search_path.
        conn.execute(text("SET LOCAL search_path TO public"))
        conn.execute(text("DROP TABLE miner_performance_stats"))
    assert _all(gaia_engine, "SELECT count(*) AS n FROM miner_performance_stats") == n
    assert migrate.check(gaia_engine) == []


def test_refuses_an_unknown_gaia_layout_naming_the_revision(gaia_engine: Engine) -> None:
    _build(gaia_engine, "8d832ba6c04d")
    with gaia_engine.begin() as conn:
        conn.execute(
            text("ALTER TABLE public.miner_performance_stats DROP COLUMN multi_task_bonus")
        )
    before = _state(gaia_engine)
    with pytest.raises(migrate.MigrationError) as excinfo:
        migrate.upgrade(gaia_engine)
    message = str(excinfo.value)
    assert "8d832ba6c04d" in message and "multi_task_bonus" in message
    assert _state(gaia_engine) == before


def test_status_says_what_gaia_migrations_will_do(gaia_engine: Engine) -> None:
    _build(gaia_engine, "8d832ba6c04d")
    with gaia_engine.connect() as conn:
        lines = gaia.status(conn).lines()
    assert "8d832ba6c04d" in lines[0] and "not adopted" in lines[0]
    assert any("score_table_refactor" in line for line in lines)
    assert any("0f9fe00f6e93" in line and "drops" in line for line in lines)


def _cycle_weights(engine: Engine) -> np.ndarray:
    now = seed.NOW + timedelta(minutes=1)
    inputs = cycle_inputs(read_cycle_inputs(engine, now, 10_000), now, SubnetHyperparameters())
    trace = compute_cycle(inputs)
    assert trace.weights_produced and trace.final is not None
    return np.asarray(trace.final)


def test_a_weight_cycle_gives_the_same_weights_on_every_layout(pg_server: Any) -> None:
    weights = []
    for revision in layouts.LAYOUTS:
        url = pg_server.create_database()
        eng = create_engine(url)
        gaia.use_search_path(eng)
        try:
            _build(eng, revision)
            migrate.upgrade(eng)
            weights.append(_cycle_weights(eng))
        finally:
            eng.dispose()
            pg_server.drop_database(eng.url.database)
    assert weights[0].sum() > 0
    for w in weights[1:]:
        np.testing.assert_array_equal(w, weights[0])


@pytest.mark.parametrize("revision", ["8d832ba6c04d", "f33d500dc2bc"])
def test_upsert_in_either_layout_reads_back(gaia_engine: Engine, revision: str) -> None:
    _build(gaia_engine, revision)
    migrate.upgrade(gaia_engine)
    upsert = text(
        "INSERT INTO score_table (task_name, task_id, score, created_at, status) "
        "VALUES (:task_name, :task_id, CAST(:score AS float8[]), :created_at, :status) "
        "ON CONFLICT (task_name, task_id) DO UPDATE SET score = EXCLUDED.score, "
        "created_at = EXCLUDED.created_at, status = EXCLUDED.status "
        "RETURNING (xmax = 0) AS inserted"
    )
    scores = [0.5, None, math.nan, 0.25] + [None] * 252
    params = {
        "task_name": "geomagnetic",
        "task_id": "geo_new",
        "score": scores,
        "created_at": seed.NOW,
        "status": "completed",
    }
    with gaia_engine.begin() as conn:
        assert not gaia_scores.owns_score_table(conn)
        query = gaia_scores.adapt_upsert(conn, upsert, len(scores))
        assert conn.execute(query, params).scalar_one() is True
        assert conn.execute(query, params).scalar_one() is False
        if revision == "8d832ba6c04d":
            assert query is upsert  # the array layout takes the usual statement, any length
            assert gaia_scores.adapt_upsert(conn, upsert, 300) is upsert
        else:
            with pytest.raises(ValueError, match="256 UIDs"):
                gaia_scores.adapt_upsert(conn, upsert, 300)
    rows = reads.read_geomagnetic_rows(gaia_engine, seed.NOW + timedelta(minutes=1))
    [row] = [r for r in rows if r.task_id == "geo_new"]
    want = np.array([math.nan if v is None else v for v in scores], dtype=np.float64)
    np.testing.assert_array_equal(row.score, want)


def test_minertrace_owns_score_table_in_its_own_database(engine: Engine) -> None:
    with engine.connect() as conn:
        assert gaia_scores.owns_score_table(conn)
        assert gaia_scores.detect(conn).layout is gaia_scores.ScoreLayout.ARRAY


def test_status_flags_an_older_in_place_adoption(gaia_engine: Engine) -> None:
    _build(gaia_engine, "8d832ba6c04d")
    with gaia_engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE public.{migrate.VERSION_TABLE} (version_num text)"))
        status = gaia.status(conn)
    assert status.in_place and not status.separate_schema
    assert "share schema public" in status.lines()[0]


def test_adapt_joins_a_statement_s_own_with_list(gaia_engine: Engine) -> None:
    _build(gaia_engine, "f33d500dc2bc")
    migrate.upgrade(gaia_engine)
    statement = text(
        """
        CREATE TEMPORARY TABLE t ON COMMIT DROP AS
        WITH picked AS (SELECT CAST(:name AS text) AS n)
        SELECT s.task_id, s.score[1] AS first, cardinality(s.score) AS n
          FROM score_table AS s JOIN picked ON s.task_name = picked.n
        """
    )
    with gaia_engine.begin() as conn:
        conn.execute(gaia_scores.adapt(conn, statement), {"name": "weather"})
        rows = conn.execute(text("SELECT task_id, first, n FROM t ORDER BY task_id")).all()
        unnest = text("SELECT x FROM unnest(ARRAY[1]) WITH ORDINALITY AS u(x, i)")
        assert gaia_scores.adapt(conn, unnest).text.startswith("WITH score_table AS")
    assert len(rows) == 6 and all(r.n == layouts.N_UIDS for r in rows)
    assert rows[0].first is None  # uid 0 of final_weather_scores_0 has no entry


def _node_sync_stats_explain(engine: Engine) -> tuple[Any, ...]:
    """A metagraph write with replaced hotkeys, a statistics refresh and an explain read."""
    neurons = [
        NeuronInfo(uid, f"hk{uid}" if uid % 5 else f"new{uid}", f"ck{uid}", 1.0, False, True, 0, 0)
        for uid in range(41)
    ]
    now = seed.NOW + timedelta(minutes=1)
    with engine.begin() as conn:
        written = write_metagraph(conn, neurons, now)
    refresh_all(engine, now)
    with engine.connect() as conn:
        last = last_score_entry(conn, 3)
        stats = conn.execute(
            text(
                "SELECT miner_uid, period_type, total_tasks_attempted, weather_avg_score, "
                "overall_avg_score FROM miner_performance_stats ORDER BY 1, 2"
            )
        ).all()
    return written.replacements, stats, last


def test_node_sync_statistics_and_explain_agree_on_both_layouts(pg_server: Any) -> None:
    results = []
    for revision in ("8d832ba6c04d", "f33d500dc2bc"):
        url = pg_server.create_database()
        eng = create_engine(url)
        gaia.use_search_path(eng)
        try:
            _build(eng, revision)
            migrate.upgrade(eng)
            with eng.connect() as conn:
                gaia_scores_before = content_hashes(conn)["public.score_table"]
            results.append(_node_sync_stats_explain(eng))
            with eng.connect() as conn:
                # Gaia's score rows are Gaia's: the hotkey replacements did not rewrite them.
                assert content_hashes(conn)["public.score_table"] == gaia_scores_before
        finally:
            eng.dispose()
            pg_server.drop_database(eng.url.database)
    replacements, stats, last = results[0]
    assert len(replacements) == 9 and stats and last is not None
    assert results[1] == results[0]
