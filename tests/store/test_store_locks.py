"""store.locks and store.schema against a real server."""

from __future__ import annotations

from sqlalchemy import Engine, inspect, text

from minertrace.store import advisory_unlock, ping, recreate_schema, try_advisory_lock


def test_advisory_lock_is_per_session(engine: Engine) -> None:
    with engine.connect() as first, engine.connect() as second:
        assert try_advisory_lock(first, 42)
        assert not try_advisory_lock(second, 42)
        advisory_unlock(first, 42)
        assert try_advisory_lock(second, 42)
        ping(second)
        advisory_unlock(second, 42)


def test_recreate_schema_empties_it(engine: Engine) -> None:
    recreate_schema(engine, "mt_scratch")
    with engine.begin() as conn:
        conn.execute(text('CREATE TABLE "mt_scratch".t (x int)'))
    assert inspect(engine).get_table_names(schema="mt_scratch") == ["t"]
    recreate_schema(engine, "mt_scratch")
    assert inspect(engine).get_table_names(schema="mt_scratch") == []
