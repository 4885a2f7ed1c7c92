"""store.health on real PostgreSQL: sizes, data gaps, last activity, retention, lock holder."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, text

from minertrace.observe import HealthProbe, Metrics, expected_max_rows
from minertrace.store import health
from minertrace.validator.lock import HotkeyLock, lock_key

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
WINDOWS = {"weather": 15 * 86400.0, "geomagnetic": 86400.0, "soil": 86400.0}


def _score(engine: Engine, task_name: str, task_id: str, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO score_table (task_name, task_id, score, created_at, status) "
                "VALUES (:n, :i, ARRAY[0.5, 0.2], :at, 'final')"
            ),
            {"n": task_name, "i": task_id, "at": at},
        )


def _submission(engine: Engine, hotkey: str, at: datetime, status: str, block: int | None) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    """
                    INSERT INTO weight_submissions (validator_hotkey, netuid, computed_at,
                        computed_block, n_uids, config, score_rows, scalars, data_quality,
                        weights_produced, rank_based_fallback, status, block_number)
                    VALUES (:h, 1, :at, 100, 0, '{}', '[]', '{}', '{}', true, false, :s, :b)
                    RETURNING id
                    """
                ),
                {"h": hotkey, "at": at, "s": status, "b": block},
            ).scalar_one()
        )


def test_task_gaps_classify_rows_and_count_the_window(engine: Engine) -> None:
    _score(engine, "weather", "final_weather_scores_1", NOW - timedelta(days=2))
    _score(engine, "weather", "initial_weather_scores_2", NOW - timedelta(days=20))
    _score(engine, "weather", "other_weather_thing", NOW - timedelta(hours=1))  # not a task row
    _score(engine, "geomagnetic", "g1", NOW - timedelta(hours=30))
    _score(engine, "soil_moisture_region_7", "s1", NOW - timedelta(hours=3))
    _score(engine, "soil_moisture_region_8", "s2", NOW - timedelta(hours=2))
    _score(engine, "soilXmoisture_region_9", "s3", NOW - timedelta(hours=1))  # '_' is literal
    gaps = {g.task: g for g in health.task_gaps(engine, NOW, WINDOWS)}
    assert gaps["weather"].newest == NOW - timedelta(days=2)
    assert gaps["weather"].rows_in_window == 1
    assert gaps["geomagnetic"].newest == NOW - timedelta(hours=30)
    assert gaps["geomagnetic"].rows_in_window == 0
    assert gaps["soil"].newest == NOW - timedelta(hours=2)
    assert gaps["soil"].rows_in_window == 2
    assert gaps["soil"].window_seconds == 86400.0


def test_task_gaps_of_an_empty_table(engine: Engine) -> None:
    gaps = health.task_gaps(engine, NOW, WINDOWS)
    assert [(g.task, g.newest, g.rows_in_window) for g in gaps] == [
        ("geomagnetic", None, 0),
        ("soil", None, 0),
        ("weather", None, 0),
    ]


def test_table_sizes_and_estimates(engine: Engine) -> None:
    for i in range(50):
        _score(engine, "geomagnetic", f"g{i}", NOW)
    before = {t.table: t for t in health.table_sizes(engine)}
    assert set(before) == set(health.PROJECT_TABLES)
    assert before["score_table"].estimated_rows is None  # never analysed
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE score_table"))
    after = {t.table: t for t in health.table_sizes(engine)}
    assert after["score_table"].estimated_rows == 50
    assert after["score_table"].total_bytes > 0


def test_last_activity_and_oldest_rows(engine: Engine) -> None:
    assert health.last_activity(engine, "hk").last_cycle is None
    ok = _submission(engine, "hk", NOW - timedelta(hours=2), "verified", 900)
    failed = _submission(engine, "hk", NOW - timedelta(hours=1), "failed", None)
    _submission(engine, "other", NOW, "included", 999)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO node_table (uid, hotkey, last_update_block, last_updated) "
                "VALUES (0, 'hk', 880, :at), (1, 'm', 0, :later)"
            ),
            {"at": NOW - timedelta(minutes=9), "later": NOW - timedelta(minutes=4)},
        )
    act = health.last_activity(engine, "hk")
    assert act.last_cycle is not None and act.last_cycle.id == failed
    assert act.last_cycle.status == "failed"
    assert act.last_submission is not None and act.last_submission.id == ok
    assert act.last_submission.block_number == 900
    assert act.node_sync_at == NOW - timedelta(minutes=4)
    assert act.own_last_update_block == 880
    anyone = health.last_activity(engine, None)
    assert anyone.last_submission is not None and anyone.last_submission.block_number == 999
    assert health.oldest_retained(engine) == {
        "weight_submissions": NOW - timedelta(hours=2),
        "miner_performance_stats": None,
    }


def test_lock_holder(engine: Engine) -> None:
    assert health.lock_holder(engine, lock_key("hk")) is None
    with HotkeyLock(engine, "hk"):
        holder = health.lock_holder(engine, lock_key("hk"))
        assert holder is not None and holder.pid > 0
        assert health.lock_holder(engine, lock_key("someone-else")) is None
    assert health.lock_holder(engine, lock_key("hk")) is None


def test_probe_feeds_the_metrics(engine: Engine) -> None:
    _score(engine, "geomagnetic", "g", NOW - timedelta(hours=2))
    m = Metrics()
    m.bind_live(clock=lambda: NOW, queue_depth=lambda: 0, lock_held=lambda: False)
    probe = HealthProbe(m, "hk", WINDOWS, 30, 4, 3600)
    report = probe.run_db(engine, NOW)
    assert report.up and report.error is None
    from prometheus_client import generate_latest

    body = generate_latest(m.registry).decode()
    assert "minertrace_database_up 1.0" in body
    assert 'minertrace_score_newest_row_age_seconds{task="geomagnetic"} 7200.0' in body
    assert 'minertrace_table_expected_max_rows{table="weight_submissions"} 725.0' in body


def test_probe_of_an_unreachable_database() -> None:
    from sqlalchemy import create_engine

    m = Metrics()
    probe = HealthProbe(m, "hk", WINDOWS, 30, 4, 3600)
    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    report = probe.run_db(dead, NOW)
    assert not report.up and report.error
    from prometheus_client import generate_latest

    body = generate_latest(m.registry).decode()
    assert "minertrace_database_up 0.0" in body
    assert "minertrace_database_check_failures_total 1.0" in body


def test_expected_max_rows() -> None:
    limits = expected_max_rows(retention_days=30, cleanup_hours=4, cycle_interval_s=3600, n_uids=2)
    # 30 days + 4 h of hourly cycles, plus the one in progress
    assert limits["weight_submissions"] == 30 * 24 + 4 + 1
    # per miner: all_time 1 + daily 32 + weekly 6 + monthly 3
    assert limits["miner_performance_stats"] == 2 * (1 + 32 + 6 + 3)
