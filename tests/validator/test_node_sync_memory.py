"""Node sync with a MetagraphMemory: what a sync writes when the metagraph did not change,
when only values changed, and when the full write is still taken."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, text

from minertrace.stats.periods import current_periods
from minertrace.store import HotkeyReplacement, record_scores
from minertrace.validator import node_sync as node_sync_module
from minertrace.validator.node_sync import MetagraphMemory, sync_nodes
from tests.helpers.node_sync import (
    NET,
    add_stats,
    assert_node_matches,
    make_chain,
    node_rows,
    statements,
    stats_keys,
)


def _touches(seen: list[str], prefix: str) -> bool:
    return any(s.startswith(prefix) for s in seen)


async def test_unchanged_metagraph_only_stamps_the_sync_time(engine: Engine) -> None:
    chain = make_chain()
    memory = MetagraphMemory()
    first = chain.clock.now()
    report = await sync_nodes(engine, chain, NET, now=first, memory=memory)
    assert not report.unchanged and len(report.inserted_uids) == chain.n
    later = first + timedelta(minutes=5)
    with statements(engine) as seen:
        report = await sync_nodes(engine, chain, NET, now=later, memory=memory)
    assert report.unchanged
    assert report.inserted_uids == [] and report.updated_uids == []
    assert report.stale_rows_deleted is None
    writes = [s for s in seen if s.split()[0] in ("INSERT", "UPDATE", "DELETE", "WITH")]
    assert len(writes) == 1 and writes[0].startswith("UPDATE node_table SET last_updated")
    stamps = {u: r["last_updated"] for u, r in node_rows(engine).items()}
    top = max(stamps)
    assert stamps[top] == later
    assert all(stamps[u] == first for u in stamps if u != top)


async def test_changed_values_write_only_their_rows(engine: Engine) -> None:
    chain = make_chain()
    memory = MetagraphMemory()
    now = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=now, memory=memory)
    chain.set_stake("v1", 4321.0)
    chain.serve_axon("m2", "2001:db8::9", 9000)
    later = now + timedelta(minutes=5)
    with statements(engine) as seen:
        report = await sync_nodes(engine, chain, NET, now=later, memory=memory)
    v1, m2 = chain.uid_of("v1"), chain.uid_of("m2")
    assert v1 is not None and m2 is not None
    assert not report.unchanged
    assert report.updated_uids == sorted([v1, m2]) and report.inserted_uids == []
    assert report.replacements == []
    # No hotkey check, no stats or score statement, no bulk cleanup.
    assert not _touches(seen, "SELECT n.uid, n.hotkey")
    assert not _touches(seen, "DELETE")
    assert not _touches(seen, "UPDATE score_table")
    rows = node_rows(engine)
    for n in await chain.neurons(NET):
        assert_node_matches(rows[n.uid], n)
    assert rows[m2]["ip_type"] == "6"
    assert {u for u, r in rows.items() if r["last_updated"] == later} == {v1, m2, max(rows)}


async def test_a_hotkey_change_takes_the_full_write(engine: Engine) -> None:
    chain = make_chain()
    memory = MetagraphMemory()
    now = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=now, memory=memory)
    uid = chain.uid_of("m2")
    assert uid is not None
    record_scores(engine, "geomagnetic", "g", [0.5] * chain.n, now)
    add_stats(engine, [(uid, "m2", p) for p in current_periods(now)])
    chain.replace_hotkey(uid, "m2-new", "cm2-new")
    report = await sync_nodes(engine, chain, NET, now=now + timedelta(minutes=5), memory=memory)
    assert report.replacements == [HotkeyReplacement(uid, "m2", "m2-new")]
    assert report.stale_rows_deleted == 0
    assert not any(k[0] == uid for k in stats_keys(engine))
    with engine.connect() as conn:
        score = conn.execute(text("SELECT score FROM score_table")).scalar_one()
    assert np.isnan(score[uid]) and score[uid + 1] == 0.5
    # The memory holds the new hotkey: the next sync changes nothing.
    again = await sync_nodes(engine, chain, NET, now=now + timedelta(minutes=10), memory=memory)
    assert again.unchanged


async def test_full_sync_rewrites_a_row_changed_behind_the_service(engine: Engine) -> None:
    chain = make_chain()
    memory = MetagraphMemory()
    now = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=now, memory=memory)
    with engine.begin() as conn:
        conn.execute(text("UPDATE node_table SET stake = -1 WHERE uid = 2"))
    # Between epochs the memory is trusted: the row stays until a full sync.
    quick = await sync_nodes(engine, chain, NET, now=now + timedelta(minutes=5), memory=memory)
    assert quick.unchanged and node_rows(engine)[2]["stake"] == -1
    full = await sync_nodes(
        engine, chain, NET, now=now + timedelta(minutes=10), memory=memory, full=True
    )
    assert not full.unchanged and full.updated_uids == [2]
    assert full.stale_rows_deleted == 0
    rows = node_rows(engine)
    for n in await chain.neurons(NET):
        assert_node_matches(rows[n.uid], n)


async def test_a_failed_write_forgets_the_metagraph(engine: Engine, monkeypatch: Any) -> None:
    chain = make_chain()
    memory = MetagraphMemory()
    now = chain.clock.now()
    await sync_nodes(engine, chain, NET, now=now, memory=memory)

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    chain.set_stake("v1", 1234.0)
    with monkeypatch.context() as patch:
        patch.setattr(node_sync_module, "update_node_values", down)
        with pytest.raises(RuntimeError, match="went away"):
            await sync_nodes(engine, chain, NET, now=now, memory=memory)
    # Nothing is remembered, so the next sync writes in full (and catches up the stake).
    with statements(engine) as seen:
        report = await sync_nodes(engine, chain, NET, now=now, memory=memory)
    v1 = chain.uid_of("v1")
    assert v1 is not None
    assert _touches(seen, "SELECT n.uid, n.hotkey")
    assert report.updated_uids == [v1]
    assert node_rows(engine)[v1]["stake"] == 1234.0


async def test_memory_compares_columns_as_arrays() -> None:
    chain = make_chain()
    memory = MetagraphMemory()

    async def arrays() -> dict[str, np.ndarray]:
        return MetagraphMemory.arrays(await chain.neurons(NET))

    assert memory.changed_rows(await arrays()) is None  # nothing remembered yet
    memory.remember(await arrays())
    unchanged = memory.changed_rows(await arrays())
    assert unchanged is not None and unchanged.tolist() == []
    chain.set_stake("m1", 9.5)
    changed = memory.changed_rows(await arrays())
    assert changed is not None and changed.tolist() == [chain.uid_of("m1")]
    # A UID more, or a hotkey replaced: the full write.
    chain.register("m9", "cm9")
    assert memory.changed_rows(await arrays()) is None
    memory.remember(await arrays())
    uid = chain.uid_of("m9")
    assert uid is not None
    chain.replace_hotkey(uid, "m9-new", "cm9")
    assert memory.changed_rows(await arrays()) is None
    memory.remember(await arrays())
    memory.forget()
    assert memory.changed_rows(await arrays()) is None


class _BrokenChain:
    """A chain whose metagraph holds a hotkey PostgreSQL cannot store."""

    def __init__(self, chain: Any) -> None:
        self.chain = chain

    async def neurons(self, netuid: int) -> list[Any]:
        neurons = await self.chain.neurons(netuid)
        return [dataclasses.replace(neurons[3], hotkey="bad\x00key"), *neurons[:3], *neurons[4:]]


async def test_an_unstorable_hotkey_is_warned_about_once_per_sync(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    chain: Any = _BrokenChain(make_chain())
    memory = MetagraphMemory()
    now = datetime(2026, 3, 1, tzinfo=timezone.utc)
    for minutes in (0, 5):  # the full write, then the quick one
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            at = now + timedelta(minutes=minutes)
            await sync_nodes(engine, chain, NET, now=at, memory=memory)
        warned = [r.getMessage() for r in caplog.records if "unstorable" in r.getMessage()]
        assert warned == ["metagraph: uid 3 has unstorable hotkey; stored as hotkey=None"]
    assert node_rows(engine)[3]["hotkey"] is None
