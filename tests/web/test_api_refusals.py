"""API answers that need a database changed after recording: 409 replay, no stage vectors."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from minertrace.db.urls import sync_url
from minertrace.validator.replay import replay_request
from minertrace.web import create_app, read_only_engine
from tests.helpers.web import record_subnet


async def test_replay_refused_and_missing_stages(engine: Engine, migrated_db_url: str) -> None:
    rec = await record_subnet(engine, cycles=1, fail_cycle=None)
    (cycle_id,) = rec.cycle_ids
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM score_table WHERE task_id = 'soil_0'"))
        conn.execute(text("UPDATE weight_submissions SET stages = NULL"))
    ro = read_only_engine(sync_url(migrated_db_url))
    try:
        with TestClient(create_app(ro, replay=replay_request)) as client:
            r = client.get(f"/api/v1/cycles/{cycle_id}/replay")
            assert r.status_code == 409
            assert "soil_moisture_region_1/soil_0" in r.json()["detail"]
            r = client.get(f"/api/v1/cycles/{cycle_id}/stages")
            assert r.status_code == 404
            assert "stored no stage vectors" in r.json()["detail"]
            page = client.get(f"/cycles/{cycle_id}/replay")
            assert page.status_code == 409 and "soil_0" in page.text
    finally:
        ro.dispose()


async def test_unreadable_stored_inputs_are_a_409(engine: Engine, migrated_db_url: str) -> None:
    rec = await record_subnet(engine, cycles=1, fail_cycle=None)
    (cycle_id,) = rec.cycle_ids
    with engine.begin() as conn:
        conn.execute(text("""UPDATE weight_submissions SET inputs = '{"version": 99}'"""))
    ro = read_only_engine(sync_url(migrated_db_url))
    try:
        with TestClient(create_app(ro, replay=replay_request)) as client:
            r = client.get(f"/api/v1/cycles/{cycle_id}/replay")
            assert r.status_code == 409
            assert "unsupported replay inputs version 99" in r.json()["detail"]
    finally:
        ro.dispose()
