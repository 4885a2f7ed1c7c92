"""Retention (rows just inside / just outside the window; all_time kept) and stale rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select

from minertrace.db.tables import miner_performance_stats as mps
from minertrace.db.tables import weight_submissions
from minertrace.stats.periods import ALL_TIME_END, ALL_TIME_START
from minertrace.stats.retention import cleanup, delete_stale_rows, retention_cutoff
from tests.helpers.stats import insert_nodes

UTC = timezone.utc
NOW = datetime(2024, 5, 31, tzinfo=UTC)
CUTOFF = datetime(2024, 5, 1, tzinfo=UTC)  # NOW - 30 days
TICK = timedelta(microseconds=1)


def d(month: int, day: int) -> datetime:
    return datetime(2024, month, day, tzinfo=UTC)


def add_submissions(engine: Engine, times: list[datetime]) -> None:
    with engine.begin() as conn:
        conn.execute(
            weight_submissions.insert(),
            [
                {
                    "validator_hotkey": "v",
                    "netuid": 1,
                    "computed_at": t,
                    "n_uids": 0,
                    "config": {},
                    "score_rows": [],
                    "scalars": {},
                    "data_quality": {},
                    "weights_produced": False,
                    "rank_based_fallback": False,
                }
                for t in times
            ],
        )


def add_stats(engine: Engine, periods: list[tuple[str, datetime, datetime]], uid: int = 0) -> None:
    with engine.begin() as conn:
        conn.execute(
            mps.insert(),
            [
                {
                    "miner_uid": uid,
                    "miner_hotkey": f"hk{uid}",
                    "period_type": kind,
                    "period_start": start,
                    "period_end": end,
                    "submitted_weight": 0.1,
                }
                for kind, start, end in periods
            ],
        )


def test_cutoff() -> None:
    assert retention_cutoff(NOW, 30) == CUTOFF
    with pytest.raises(ValueError, match="positive"):
        retention_cutoff(NOW, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        retention_cutoff(NOW.replace(tzinfo=None), 30)


def test_weight_submissions_older_than_the_cutoff_are_deleted(engine: Engine) -> None:
    add_submissions(engine, [CUTOFF - timedelta(days=3), CUTOFF - TICK, CUTOFF, CUTOFF + TICK, NOW])
    counts = cleanup(engine, NOW, 30)
    assert counts.weight_submissions == 2
    assert counts.cutoff == CUTOFF
    with engine.connect() as conn:
        kept = conn.execute(
            select(weight_submissions.c.computed_at).order_by(weight_submissions.c.computed_at)
        ).scalars()
        assert list(kept) == [CUTOFF, CUTOFF + TICK, NOW]


def test_period_rows_whose_period_ended_before_the_cutoff_are_deleted(engine: Engine) -> None:
    gone = [
        ("daily", d(4, 29), d(4, 30)),
        ("weekly", d(4, 22), d(4, 29)),
        ("monthly", d(3, 1), d(4, 1)),
        ("daily", CUTOFF - timedelta(days=1) - TICK, CUTOFF - TICK),
    ]
    kept = [
        ("daily", d(4, 30), d(5, 1)),  # ended exactly at the cutoff
        ("weekly", d(4, 29), d(5, 6)),  # started before, ends after
        ("monthly", d(4, 1), d(5, 1)),
        ("daily", d(5, 30), d(5, 31)),
        ("all_time", ALL_TIME_START, ALL_TIME_END),
    ]
    add_stats(engine, gone + kept)
    # An all_time row whose (odd) end is long past is kept too: all_time is never expired.
    add_stats(engine, [("all_time", d(1, 1), d(2, 1))])
    counts = cleanup(engine, NOW, 30)
    assert counts.stats_rows == len(gone)
    assert counts.weight_submissions == 0
    with engine.connect() as conn:
        left = conn.execute(select(mps.c.period_type, mps.c.period_start, mps.c.period_end))
        assert sorted(tuple(r) for r in left) == sorted([*kept, ("all_time", d(1, 1), d(2, 1))])


def test_cleanup_logs_its_counts(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    add_submissions(engine, [CUTOFF - TICK])
    caplog.set_level("INFO", logger="minertrace.stats.retention")
    cleanup(engine, NOW, 30)
    assert "deleted 1 weight_submissions rows, 0 stats rows" in caplog.text


def test_delete_stale_rows(engine: Engine) -> None:
    insert_nodes(engine, {0: "hk0", 1: "hk1-new", 2: None})
    period = ("daily", d(5, 30), d(5, 31))
    other = ("weekly", d(5, 27), d(6, 3))
    add_stats(engine, [period, other], uid=0)  # matches: kept
    add_stats(engine, [period], uid=1)  # hk1: the UID's old hotkey
    add_stats(engine, [period], uid=2)  # the UID has no hotkey now
    add_stats(engine, [period], uid=7)  # the UID left node_table
    with engine.begin() as conn:
        conn.execute(
            mps.insert(),
            {
                "miner_uid": 1,
                "miner_hotkey": "hk1-new",
                "period_type": "weekly",
                "period_start": other[1],
                "period_end": other[2],
            },
        )
    assert delete_stale_rows(engine) == 3
    with engine.connect() as conn:
        left = conn.execute(select(mps.c.miner_uid, mps.c.miner_hotkey, mps.c.period_type))
        assert sorted(tuple(r) for r in left) == [
            (0, "hk0", "daily"),
            (0, "hk0", "weekly"),
            (1, "hk1-new", "weekly"),
        ]
    assert delete_stale_rows(engine) == 0


def test_cleanup_in_the_callers_transaction(engine: Engine) -> None:
    add_submissions(engine, [CUTOFF - TICK])
    with engine.connect() as conn:
        assert cleanup(conn, NOW, 30).weight_submissions == 1
        conn.rollback()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(weight_submissions)).scalar() == 1
