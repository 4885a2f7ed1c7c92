"""The JSON API against a subnet recorded by the real service code."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from minertrace.db.urls import sync_url
from minertrace.explain import explain
from minertrace.web import create_app, read_only_engine
from tests.helpers.web import RecordedDb


def test_health(client: TestClient, recorded_db: RecordedDb) -> None:
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok"
    assert body["latest_cycle_id"] == recorded_db.rec.cycle_ids[-1]


def test_cycles_filter_and_paginate(client: TestClient, recorded_db: RecordedDb) -> None:
    ids = recorded_db.rec.cycle_ids
    first = client.get("/api/v1/cycles", params={"limit": 2}).json()
    assert [c["id"] for c in first["items"]] == ids[::-1][:2]
    assert first["next_before_id"] == ids[-2]
    rest = client.get("/api/v1/cycles", params={"before_id": first["next_before_id"]}).json()
    assert [c["id"] for c in rest["items"]] == ids[::-1][2:]
    assert rest["next_before_id"] is None
    failed = client.get("/api/v1/cycles", params={"status": "failed"}).json()["items"]
    assert [c["id"] for c in failed] == [ids[2]]
    assert failed[0]["attempts"] == 2 and failed[0]["block_number"] is None
    other = client.get("/api/v1/cycles", params={"validator": "someone-else"}).json()
    assert other["items"] == []
    late = client.get("/api/v1/cycles", params={"since": "2100-01-01T00:00:00Z"}).json()
    assert late["items"] == []


def test_cycle_detail(client: TestClient, recorded_db: RecordedDb) -> None:
    cycle_id = recorded_db.rec.cycle_ids[-1]
    c = client.get(f"/api/v1/cycles/{cycle_id}").json()
    assert c["status"] == "verified" and c["verification"]["match"] is True
    assert c["replayable"] and c["has_stages"]
    assert {"scalars", "data_quality", "config", "attempt_log", "score_rows"} <= set(c)
    assert len(c["submitted_uids"]) == len(c["submitted_u16"]) > 0
    failed = client.get(f"/api/v1/cycles/{recorded_db.rec.cycle_ids[2]}").json()
    assert failed["status"] == "failed" and "MaxWeightExceeded" in (failed["error"] or "")


def test_stages_all_and_some_uids(client: TestClient, recorded_db: RecordedDb) -> None:
    cycle_id = recorded_db.rec.cycle_ids[-1]
    full = client.get(f"/api/v1/cycles/{cycle_id}/stages").json()
    n = client.get(f"/api/v1/cycles/{cycle_id}").json()["n_uids"]
    assert all(len(v) == n for v in full["stages"].values())
    uids = recorded_db.rec.miners[:2][::-1]
    some = client.get(
        f"/api/v1/cycles/{cycle_id}/stages", params={"uids": ",".join(map(str, uids))}
    )
    body = some.json()
    assert body["uids"] == uids
    for name, vec in body["stages"].items():
        assert vec == [full["stages"][name][u] for u in uids], name


def test_miners_and_lookup(client: TestClient, recorded_db: RecordedDb) -> None:
    rec = recorded_db.rec
    items = client.get("/api/v1/miners").json()["items"]
    by_uid = {m["uid"]: m for m in items}
    assert set(rec.miners) <= set(by_uid)
    weighted = [m for m in items if m["u16"]]
    assert weighted and all(m["pathway"] in ("excellence", "diversity") for m in weighted)
    farm = by_uid[rec.farm[0]]
    assert farm["coldkey_group_size"] == 6 and farm["coldkey_multiplier"] < 1
    page = client.get("/api/v1/miners", params={"limit": 3, "offset": 2}).json()["items"]
    assert [m["uid"] for m in page] == sorted(by_uid)[2:5]
    hotkey = by_uid[rec.miners[0]]["hotkey"]
    found = client.get(f"/api/v1/hotkeys/{hotkey}").json()
    assert found["matches"][0] == {**found["matches"][0], "uid": rec.miners[0], "current": True}
    only = client.get("/api/v1/miners", params={"hotkey": hotkey}).json()["items"]
    assert [m["uid"] for m in only] == [rec.miners[0]]


def test_miner_is_explain(client: TestClient, recorded_db: RecordedDb) -> None:
    uid = recorded_db.rec.farm[0]
    body = client.get(f"/api/v1/miners/{uid}").json()
    engine = read_only_engine(sync_url(recorded_db.url))
    try:
        expected = json.loads(json.dumps(explain(engine, uid).to_dict()))
    finally:
        engine.dispose()
    assert body == expected
    assert body["uid"] == uid and body["stages"]["coldkey_group_size"] == 6


def test_history(client: TestClient, recorded_db: RecordedDb) -> None:
    uid = recorded_db.rec.miners[-1]
    items = client.get(f"/api/v1/miners/{uid}/history").json()["items"]
    assert {r["period_type"] for r in items} == {"daily", "weekly", "monthly", "all_time"}
    daily = client.get(f"/api/v1/miners/{uid}/history", params={"period": "daily"}).json()
    assert daily["items"] and all(r["period_type"] == "daily" for r in daily["items"])
    assert daily["items"][0]["submitted_weight"] is not None
    none = client.get(
        f"/api/v1/miners/{uid}/history", params={"from": "1990-01-01", "to": "1999-02-01"}
    ).json()
    assert none["items"] == []  # even all_time starts in 2000


def test_validators(client: TestClient, recorded_db: RecordedDb) -> None:
    (v,) = client.get("/api/v1/validators").json()["items"]
    assert v["cycles"] == 4 and v["statuses"] == {"verified": 3, "failed": 1}
    assert v["last_submission_id"] == recorded_db.rec.cycle_ids[-1]
    assert 0 < v["consensus_cosine"] <= 1


def test_replay_route(client: TestClient, recorded_db: RecordedDb) -> None:
    cycle_id = recorded_db.rec.cycle_ids[-1]
    plain = client.get(f"/api/v1/cycles/{cycle_id}/replay").json()
    assert plain["verification"]["identical"] is True and plain["diff"] is None
    what_if = client.get(
        f"/api/v1/cycles/{cycle_id}/replay",
        params=[("set", "coldkey_smoothing=false"), ("set", "curve_b=50")],
    ).json()
    assert what_if["overrides"] == {"coldkey_smoothing": False, "curve_b": 50.0}
    assert what_if["diff"]["summary"]["gainers"] > 0


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        ("/api/v1/cycles/999999", 404, "cycle 999999 does not exist"),
        ("/api/v1/cycles/999999/stages", 404, "cycle 999999 does not exist"),
        ("/api/v1/cycles/999999/replay", 404, "cycle 999999 does not exist"),
        ("/api/v1/miners/4000", 404, "UID 4000 is unknown"),
        ("/api/v1/miners/2?cycle_id=999999", 404, "cycle 999999 does not exist"),
        ("/api/v1/miners/4000/history", 404, "UID 4000 is unknown"),
        ("/api/v1/hotkeys/nobody", 404, "hotkey nobody"),
        ("/api/v1/cycles/0", 422, "cycle_id"),
        ("/api/v1/cycles/abc", 422, "cycle_id"),
        ("/api/v1/miners/-1", 422, "uid"),
        ("/api/v1/miners/99999999999", 422, "uid"),
        ("/api/v1/cycles?limit=501", 422, "limit"),
        ("/api/v1/cycles?limit=0", 422, "limit"),
        ("/api/v1/miners?limit=5000", 422, "limit"),
        ("/api/v1/cycles?status=bogus", 422, "status"),
        ("/api/v1/cycles?since=yesterday", 422, "since"),
        ("/api/v1/cycles?validator=%00x", 422, "validator"),
        ("/api/v1/hotkeys/a%00b", 422, "hotkey"),
        ("/api/v1/miners/1/history?period=hourly", 422, "period"),
        ("/api/v1/cycles/1/stages?uids=1,,2", 422, "uids"),
        ("/api/v1/cycles/1/replay?set=no_such_field=1", 422, "no such WeightConfig field"),
        ("/api/v1/cycles/1/replay?set=curve_b=fast", 422, "curve_b"),
        ("/api/v1/cycles/1/replay?set=coldkey_upper=1", 422, "coldkey_upper"),
        ("/api/v1/cycles/1/replay?set=justtext", 422, "FIELD=VALUE"),
        ("/api/v1/nothing-here", 404, "Not Found"),
    ],
)
def test_errors_have_a_message(client: TestClient, path: str, status: int, fragment: str) -> None:
    r = client.get(path)
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"]


def test_sessions_are_read_only(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        assert conn.execute(text("SHOW default_transaction_read_only")).scalar() == "on"
        with pytest.raises(Exception, match="read-only transaction"):
            conn.execute(text("DELETE FROM weight_submissions"))


def test_cors_off_unless_configured(client: TestClient, recorded_db: RecordedDb) -> None:
    origin = {"Origin": "http://elsewhere.example"}
    assert "access-control-allow-origin" not in client.get("/api/v1/health", headers=origin).headers
    engine = read_only_engine(sync_url(recorded_db.url))
    try:
        app = create_app(engine, cors_origins=["http://elsewhere.example"])
        with TestClient(app) as c:
            r = c.get("/api/v1/health", headers=origin)
            assert r.headers["access-control-allow-origin"] == "http://elsewhere.example"
    finally:
        engine.dispose()


def test_a_database_without_tables_is_a_503_without_secrets(db_url: str) -> None:
    engine = read_only_engine(sync_url(db_url))
    password = sync_url(db_url).password
    try:
        with TestClient(create_app(engine)) as c:
            for path in ("/api/v1/health", "/api/v1/cycles", "/"):
                r = c.get(path)
                assert r.status_code == 503
                assert "minertrace db upgrade" in r.text
                assert not password or password not in r.text
    finally:
        engine.dispose()


def test_replay_needs_a_replayer(recorded_db: RecordedDb) -> None:
    engine = read_only_engine(sync_url(recorded_db.url))
    try:
        with TestClient(create_app(engine)) as c:
            r = c.get(f"/api/v1/cycles/{recorded_db.rec.cycle_ids[-1]}/replay")
            assert r.status_code == 503 and "replay is not enabled" in r.json()["detail"]
    finally:
        engine.dispose()


def test_metrics_of_the_database_are_served(client: TestClient, recorded_db: RecordedDb) -> None:
    response = client.get("/metrics", follow_redirects=False)
    assert response.status_code == 200
    assert "minertrace_database_up 1.0" in response.text
    sizes = [
        line
        for line in response.text.splitlines()
        if line.startswith('minertrace_table_size_bytes{table="weight_submissions"}')
    ]
    assert sizes and float(sizes[0].split()[-1]) > 0
