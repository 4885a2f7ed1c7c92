"""Node sync, hotkey replacement, chain integration and fork detection on a LocalChain."""

from __future__ import annotations

import logging
import math
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Engine, select, text

from minertrace.db.tables import (
    weight_submissions,
)
from minertrace.stats.periods import current_periods, period_for, previous_period
from minertrace.store import HotkeyReplacement, record_scores
from minertrace.validator.chain_integration import apply_epoch_results
from minertrace.validator.forks import detect_orphans
from minertrace.validator.node_sync import (
    EmptyMetagraphError,
    apply_metagraph,
    sync_nodes,
)
from tests.helpers.node_sync import (
    NET,
    TEMPO,
    add_stats,
    add_submission,
    assert_node_matches,
    make_chain,
    node_rows,
    score_arrays,
    statements,
    stats_keys,
)

# ------------------------------------------------------------------ metagraph -> node_table


async def test_unchanged_sync_writes_no_node_row_but_records_its_time(engine: Engine) -> None:
    chain = make_chain()
    first = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=first)
    later = first + timedelta(minutes=5)
    report = await sync_nodes(engine, chain, NET, now=later)
    assert report.inserted_uids == [] and report.updated_uids == []
    stamps = {u: r["last_updated"] for u, r in node_rows(engine).items()}
    top = max(stamps)
    assert stamps[top] == later
    assert all(stamps[u] == first for u in stamps if u != top)
    with engine.connect() as conn:
        synced = conn.execute(text("SELECT max(last_updated) FROM node_table")).scalar()
    assert synced == later

    # A row changed behind the sync's back (another process, a restore) is written again.
    with engine.begin() as conn:
        conn.execute(text("UPDATE node_table SET stake = -1, ip = 'x' WHERE uid = 2"))
    report = await sync_nodes(engine, chain, NET, now=later + timedelta(minutes=5))
    assert report.updated_uids == [2]
    neurons = await chain.neurons(NET)
    rows = node_rows(engine)
    for n in neurons:
        assert_node_matches(rows[n.uid], n)


async def test_sync_inserts_then_updates_in_one_statement(engine: Engine) -> None:
    chain = make_chain()
    chain.serve_axon("m0", "10.1.2.3", 8091)
    chain.serve_axon("m1", "2001:db8::7", 8092)
    now = chain.clock.now()
    with statements(engine) as seen:
        report = await sync_nodes(engine, chain, NET, now=now)
    assert sum("INSERT INTO node_table" in s for s in seen) == 1
    assert report.inserted_uids == list(range(chain.n)) and report.updated_uids == []
    neurons = await chain.neurons(NET)
    rows = node_rows(engine)
    assert sorted(rows) == [n.uid for n in neurons]
    for n in neurons:
        assert_node_matches(rows[n.uid], n)
    assert rows[3]["ip_type"] == "4" and rows[4]["ip_type"] == "6"

    # An epoch changes the outputs; new registrations add UIDs.
    for hotkey in ("v0", "v1"):
        receipt = await chain.set_weights(hotkey, NET, [3, 4, 5], [65535, 30000, 10000], 0)
        assert receipt.ok
    chain.advance(TEMPO)
    new_uids = chain.register_many(["late0", "late1"], ["cl0", "cl1"])
    before = {n.uid: n for n in neurons}
    after = await chain.neurons(NET)
    differ = [n.uid for n in after if n.uid in before and n != before[n.uid]]
    assert differ and len(differ) < len(before)
    with statements(engine) as seen:
        report = await sync_nodes(engine, chain, NET, now=chain.clock.now())
    assert sum("INSERT INTO node_table" in s for s in seen) == 1
    assert report.inserted_uids == new_uids
    # Only the rows whose chain values changed are rewritten.
    assert report.updated_uids == differ
    assert report.replacements == []
    neurons = await chain.neurons(NET)
    assert any(n.incentive > 0 for n in neurons)
    rows = node_rows(engine)
    for n in neurons:
        assert_node_matches(rows[n.uid], n)


async def test_empty_metagraph_is_refused(engine: Engine) -> None:
    chain = make_chain()
    await sync_nodes(engine, chain, NET, now=chain.clock.now())
    before = node_rows(engine)
    with pytest.raises(EmptyMetagraphError):
        await sync_nodes(engine, chain, NET + 1, now=chain.clock.now())
    assert node_rows(engine) == before


# ------------------------------------------------------------------ hotkey replacement


async def test_replacement_voids_exactly_the_old_hotkeys_rows(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    chain = make_chain()
    now = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=now)
    n = chain.n
    record_scores(engine, "geomagnetic", "geo_1", [0.1 * (u + 1) for u in range(n)], now)
    record_scores(engine, "weather", "final_weather_scores_1", {5: 0.4, 6: 0.6}, now)
    record_scores(engine, "soil_moisture_region_3", "soil_short", [0.2] * 5, now, n_uids=5)
    record_scores(engine, "geomagnetic", "geo_other", {3: 0.3, 4: 0.9, 8: 0.2}, now)
    before_scores = score_arrays(engine)

    periods = current_periods(now)
    yesterday = previous_period(period_for("daily", now))
    hotkeys = {u: f"m{u - 3}" for u in range(3, n)}
    add_stats(engine, [(u, hk, p) for u, hk in hotkeys.items() for p in periods])
    add_stats(engine, [(5, "m2", yesterday), (6, "m3", yesterday)])
    # A row already written for the incoming hotkey must survive.
    add_stats(engine, [(7, "m4-new", previous_period(yesterday))])
    before_stats = stats_keys(engine)

    chain.replace_hotkey(5, "m2-new", "cm2-new")
    chain.replace_hotkey(7, "m4-new", "cm4-new")
    caplog.set_level(logging.INFO, logger="minertrace.validator.node_sync")
    with statements(engine) as seen:
        report = await sync_nodes(engine, chain, NET, now=now, cleanup_stale=False)

    assert report.replacements == [
        HotkeyReplacement(5, "m2", "m2-new"),
        HotkeyReplacement(7, "m4", "m4-new"),
    ]
    # Set-based: one DELETE and one UPDATE cover both UIDs.
    assert sum(s.startswith("DELETE FROM miner_performance_stats") for s in seen) == 1
    assert sum(s.startswith("UPDATE score_table") for s in seen) == 1

    removed = {k for k in before_stats if k[0] == 5 and k[1] == "m2"}
    removed |= {k for k in before_stats if k[0] == 7 and k[1] == "m4"}
    assert len(removed) == len(periods) * 2 + 1
    assert stats_keys(engine) == before_stats - removed
    assert report.stats_rows_deleted == len(removed)

    after_scores = score_arrays(engine)
    assert set(after_scores) == set(before_scores)
    touched = 0
    for task_id, before in before_scores.items():
        expected = np.asarray(before, dtype=float)
        in_range = [u for u in (5, 7) if u < expected.size]
        touched += int(not np.isnan(expected[in_range]).all()) if in_range else 0
        expected[in_range] = math.nan
        assert np.array_equal(np.asarray(after_scores[task_id]), expected, equal_nan=True)
    # geo_1 and the weather row had entries for 5 or 7; geo_other had none; soil_short is
    # shorter than both UIDs.
    assert after_scores["soil_short"] == before_scores["soil_short"]
    assert report.score_rows_voided == touched == 2

    rows = node_rows(engine)
    assert (rows[5]["hotkey"], rows[5]["coldkey"]) == ("m2-new", "cm2-new")
    assert (rows[7]["hotkey"], rows[7]["coldkey"]) == ("m4-new", "cm4-new")
    assert rows[6]["hotkey"] == "m3"
    logged = [r.getMessage() for r in caplog.records if "hotkey replaced" in r.getMessage()]
    assert logged == ["uid 5 hotkey replaced: m2 -> m2-new", "uid 7 hotkey replaced: m4 -> m4-new"]


async def test_unchanged_metagraph_touches_no_stats_or_scores(engine: Engine) -> None:
    chain = make_chain()
    now = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=now)
    record_scores(engine, "geomagnetic", "g", [0.5] * chain.n, now)
    with statements(engine) as seen:
        report = await sync_nodes(engine, chain, NET, now=now)
    assert report.replacements == [] and report.score_rows_voided == 0
    assert not any(s.startswith("UPDATE score_table") for s in seen)
    assert score_arrays(engine)["g"] == [0.5] * chain.n


async def test_vanished_uid_is_voided_and_removed(engine: Engine) -> None:
    chain = make_chain()
    now = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=now)
    last = chain.n - 1
    record_scores(engine, "geomagnetic", "g", [0.5] * chain.n, now)
    add_stats(engine, [(last, "m5", p) for p in current_periods(now)])
    neurons = await chain.neurons(NET)
    report = apply_metagraph(engine, neurons[:-1], now=now)
    assert report.removed_uids == [last]
    assert report.replacements == [HotkeyReplacement(last, "m5", None)]
    assert last not in node_rows(engine)
    assert math.isnan(score_arrays(engine)["g"][last])
    assert score_arrays(engine)["g"][:last] == [0.5] * last
    assert not any(k[0] == last for k in stats_keys(engine))


async def test_bulk_cleanup_removes_stale_rows(engine: Engine) -> None:
    chain = make_chain()
    now = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=now)
    daily = period_for("daily", now)
    add_stats(engine, [(3, "m0", daily), (4, "not-m1", daily), (30, "ghost", daily)])
    report = await sync_nodes(engine, chain, NET, now=now, cleanup_stale=False)
    assert report.stale_rows_deleted is None
    assert len(stats_keys(engine)) == 3
    report = await sync_nodes(engine, chain, NET, now=now)
    assert report.stale_rows_deleted == 2
    assert stats_keys(engine) == {(3, "m0", "daily", daily.start)}


# ------------------------------------------------------------------ chain integration


def consensus_blocks(engine: Engine) -> dict[int, int | None]:
    w = weight_submissions.c
    with engine.connect() as conn:
        return dict(conn.execute(select(w.id, w.consensus_block)).all())


async def test_consensus_block_marks_the_submission_in_force(engine: Engine) -> None:
    chain = make_chain()
    at = chain.clock.now()
    target = ([3, 4], [65535, 20000])
    superseded = add_submission(
        engine,
        "v0",
        "verified",
        receipt=await chain.set_weights("v0", NET, *target, 0),
        computed_at=at,
    )
    chain.advance(3)
    latest_receipt = await chain.set_weights("v0", NET, *target, 0)
    in_force = add_submission(engine, "v0", "included", receipt=latest_receipt, computed_at=at)
    peer = add_submission(
        engine,
        "v1",
        "included",
        receipt=await chain.set_weights("v1", NET, *target, 0),
        computed_at=at,
    )
    failed = add_submission(engine, "v0", "failed", computed_at=at)
    orphaned = add_submission(engine, "v0", "orphaned", block=chain.height, computed_at=at)
    [e1] = chain.advance(TEMPO - chain.height)
    after_receipt = await chain.set_weights("v0", NET, *target, 0)
    after = add_submission(engine, "v0", "included", receipt=after_receipt, computed_at=at)
    assert latest_receipt.block_number is not None and after_receipt.block_number is not None
    assert latest_receipt.block_number <= e1 < after_receipt.block_number

    report = await apply_epoch_results(engine, chain, NET, "v0", chain.clock.now())
    assert report.epoch_block == e1
    assert report.submission_ids == [in_force]
    expected = {
        superseded: None,
        in_force: e1,
        peer: None,
        failed: None,
        orphaned: None,
        after: None,
    }
    assert consensus_blocks(engine) == expected
    # Idempotent for the same epoch.
    again = await apply_epoch_results(engine, chain, NET, "v0", chain.clock.now())
    assert again.submission_ids == []
    assert consensus_blocks(engine) == expected

    [e2] = chain.advance(TEMPO)
    report = await apply_epoch_results(engine, chain, NET, "v0", chain.clock.now())
    assert report.submission_ids == [after]
    assert consensus_blocks(engine) == {**expected, after: e2}
    with engine.connect() as conn:
        delay = conn.execute(
            text("SELECT consensus_block - block_number FROM weight_submissions WHERE id = :i"),
            {"i": in_force},
        ).scalar_one()
    assert delay == e1 - latest_receipt.block_number


async def test_commit_reveal_counts_from_the_reveal(engine: Engine) -> None:
    chain = make_chain(commit_reveal_enabled=True, reveal_period_epochs=1)
    at = chain.clock.now()
    first = await chain.set_weights("v0", NET, [3, 4], [65535, 20000], 0)
    assert first.reveal_block is not None
    committed = add_submission(engine, "v0", "committed", receipt=first, computed_at=at)
    [e1] = chain.advance(TEMPO - chain.height)
    assert first.reveal_block == e1
    second = await chain.set_weights("v0", NET, [3, 4], [65535, 40000], 0)
    later = add_submission(engine, "v0", "committed", receipt=second, computed_at=at)
    assert second.reveal_block is not None and second.reveal_block > e1

    report = await apply_epoch_results(engine, chain, NET, "v0", chain.clock.now())
    assert report.submission_ids == [committed]
    [e2] = chain.advance(TEMPO)
    assert e2 == second.reveal_block
    report = await apply_epoch_results(engine, chain, NET, "v0", chain.clock.now())
    assert report.submission_ids == [later]
    assert consensus_blocks(engine) == {committed: e1, later: e2}


# ------------------------------------------------------------------ forks


async def test_reorg_orphans_the_dropped_submission(engine: Engine) -> None:
    chain = make_chain()
    at = chain.clock.now()
    target = ([3, 4], [65535, 20000])
    kept_receipt = await chain.set_weights("v0", NET, *target, 0)
    kept = add_submission(engine, "v0", "verified", receipt=kept_receipt, computed_at=at)
    chain.advance(5)
    dropped_receipt = await chain.set_weights("v0", NET, *target, 0)
    dropped = add_submission(engine, "v0", "included", receipt=dropped_receipt, computed_at=at)
    peer = add_submission(
        engine,
        "v1",
        "included",
        receipt=await chain.set_weights("v1", NET, *target, 0),
        computed_at=at,
    )
    failed = add_submission(engine, "v0", "failed", computed_at=at)
    chain.advance(1)
    assert await detect_orphans(engine, chain, "v0") == []

    assert dropped_receipt.block_number is not None
    chain.reorg(chain.height - dropped_receipt.block_number + 1)
    assert await chain.block_hash(dropped_receipt.block_number) != dropped_receipt.block_hash

    assert await detect_orphans(engine, chain, "v0") == [dropped]
    w = weight_submissions.c
    with engine.connect() as conn:
        status = dict(conn.execute(select(w.id, w.status)).all())
        error = conn.execute(select(w.error).where(w.id == dropped)).scalar_one()
    assert status == {kept: "verified", dropped: "orphaned", peer: "included", failed: "failed"}
    assert "no longer on the best chain" in error
    # Already orphaned rows are not reported again; the peer's own check finds its row.
    assert await detect_orphans(engine, chain, "v0") == []
    assert await detect_orphans(engine, chain, "v1") == [peer]
