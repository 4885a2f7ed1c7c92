"""Fork checks with a ForkWatch: no database read while the checked tip stands and nothing was
written; a reorg, a rollback or a touch makes the next check read the candidates again."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from minertrace.db.tables import weight_submissions
from minertrace.validator import forks
from minertrace.validator.forks import ForkWatch, detect_orphans
from tests.helpers.node_sync import NET, add_submission, make_chain, statements

TARGET = ([3, 4], [65535, 20000])


def _status(engine: Engine, ws_id: int) -> str:
    w = weight_submissions.c
    with engine.connect() as conn:
        return str(conn.execute(select(w.status).where(w.id == ws_id)).scalar_one())


async def test_quiet_checks_read_nothing_and_a_reorg_is_still_found(engine: Engine) -> None:
    chain = make_chain()
    at = chain.clock.now()
    receipt = await chain.set_weights("v0", NET, *TARGET, 0)
    ws = add_submission(engine, "v0", "included", receipt=receipt, computed_at=at)
    watch = ForkWatch()
    chain.advance(3)
    assert await detect_orphans(engine, chain, "v0", watch=watch) == []
    assert watch.full_checks == 1 and not watch.dirty
    checked = watch.checked
    assert checked is not None and checked[0] == chain.height

    chain.advance(4)
    with statements(engine) as seen:
        assert await detect_orphans(engine, chain, "v0", watch=watch) == []
    assert seen == [] and watch.full_checks == 1
    assert watch.checked is not None and watch.checked[0] == chain.height

    # A reorg that replaces the submission's block replaces the checked tip's block too.
    assert receipt.block_number is not None
    chain.reorg(chain.height - receipt.block_number + 1)
    assert await detect_orphans(engine, chain, "v0", watch=watch) == [ws]
    assert watch.full_checks == 2
    assert _status(engine, ws) == "orphaned"


async def test_a_touch_reads_submissions_written_since(engine: Engine) -> None:
    chain = make_chain()
    at = chain.clock.now()
    watch = ForkWatch()
    assert await detect_orphans(engine, chain, "v0", watch=watch) == []
    tip = chain.height
    chain.advance(2)
    receipt = await chain.set_weights("v0", NET, *TARGET, 0)
    ws = add_submission(engine, "v0", "included", receipt=receipt, computed_at=at)
    watch.touch()  # what the service does after a step that writes submissions
    chain.advance(2)
    assert receipt.block_number is not None and receipt.block_number > tip
    # This reorg leaves the checked tip's block alone: only the touch makes the check read.
    chain.reorg(chain.height - receipt.block_number + 1)
    assert await chain.block_hash(tip) == (watch.checked or (0, ""))[1]
    with statements(engine) as seen:
        assert await detect_orphans(engine, chain, "v0", watch=watch) == [ws]
    assert any("FROM weight_submissions" in s for s in seen)
    assert watch.full_checks == 2 and not watch.dirty


async def test_a_failed_check_leaves_the_watch_dirty(engine: Engine, monkeypatch: Any) -> None:
    chain = make_chain()
    watch = ForkWatch()
    assert await detect_orphans(engine, chain, "v0", watch=watch) == []
    assert not watch.dirty and watch.checked is not None
    watch.touch()

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(forks, "orphan_candidates", down)
        with pytest.raises(RuntimeError, match="went away"):
            await detect_orphans(engine, chain, "v0", watch=watch)
    assert watch.dirty and watch.checked is None
    chain.advance(2)
    with statements(engine) as seen:
        assert await detect_orphans(engine, chain, "v0", watch=watch) == []
    assert any("FROM weight_submissions" in s for s in seen)
    assert not watch.dirty and watch.checked is not None
