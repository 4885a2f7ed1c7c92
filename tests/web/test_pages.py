"""The dashboard pages render from the recorded subnet (browser checks: test_browser.py)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.helpers.web import RecordedDb


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg class=\"chart\".*?</svg>", html, flags=re.S)


def test_overview(client: TestClient, recorded_db: RecordedDb) -> None:
    r = client.get("/")
    assert r.status_code == 200
    html = r.text
    assert f"#{recorded_db.rec.cycle_ids[-1]}" in html
    assert "farm-coldkey" in html  # the coldkey group smoothing cut
    charts = _svgs(html)
    assert len(charts) == 3 and all(("<rect" in s or "<circle" in s) for s in charts)
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # nothing fetched


def test_miner_page(client: TestClient, recorded_db: RecordedDb) -> None:
    uid = recorded_db.rec.farm[0]
    html = client.get(f"/miners/{uid}").text
    assert f"UID {uid}" in html and "coldkey smoothing" in html
    assert "daily" in html and "all time" in html
    assert len(_svgs(html)) >= 5


def test_cycle_pages(client: TestClient, recorded_db: RecordedDb) -> None:
    cycle_id = recorded_db.rec.cycle_ids[-1]
    html = client.get(f"/cycles/{cycle_id}").text
    assert 'id="stages"' in html and "miner-0" in html
    assert client.get("/cycles?status=failed").text.count("/replay") == 1
    replay = client.get(f"/cycles/{cycle_id}/replay", params={"set": "coldkey_smoothing=false"})
    assert replay.status_code == 200 and "bit for bit" in replay.text
    assert 'id="changes"' in replay.text


def test_validators_and_docs(client: TestClient) -> None:
    assert "val-hotkey" in client.get("/validators").text
    docs = client.get("/docs").text
    assert "/api/v1/miners/{uid}/history" in docs and "/openapi.json" in docs


def test_search(client: TestClient, recorded_db: RecordedDb) -> None:
    uid = recorded_db.rec.miners[4]
    r = client.get("/search", params={"q": str(uid)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/miners/{uid}"
    r = client.get("/search", params={"q": "miner-4"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/miners/{uid}"
    r = client.get("/search", params={"q": "nobody-here"})
    assert r.status_code == 404 and "No UID or hotkey matches" in r.text


def test_page_errors_are_pages(client: TestClient) -> None:
    r = client.get("/miners/4000")
    assert r.status_code == 404 and "UID 4000 is unknown" in r.text and "<html" in r.text
    r = client.get("/cycles/abc")
    assert r.status_code == 422 and "cycle_id" in r.text
    r = client.get("/static/../app.py")
    assert r.status_code == 404
