"""No user input gives a 500: random paths and query strings on every route."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minertrace.db.urls import sync_url
from minertrace.validator.replay import replay_request
from minertrace.web import create_app, read_only_engine
from tests.helpers.web import RecordedDb

ROUTES = (
    "/api/v1/health",
    "/api/v1/cycles",
    "/api/v1/cycles/{x}",
    "/api/v1/cycles/{x}/stages",
    "/api/v1/cycles/{x}/replay",
    "/api/v1/miners",
    "/api/v1/miners/{x}",
    "/api/v1/miners/{x}/history",
    "/api/v1/hotkeys/{x}",
    "/api/v1/validators",
    "/",
    "/miners/{x}",
    "/cycles",
    "/cycles/{x}",
    "/cycles/{x}/replay",
    "/validators",
    "/search",
    "/docs",
)
NAMES = (
    "limit",
    "offset",
    "before_id",
    "since",
    "until",
    "from",
    "to",
    "status",
    "period",
    "validator",
    "hotkey",
    "uids",
    "set",
    "q",
    "validator_hotkey",
    "cycle_id",
)
ALLOWED = {200, 303, 404, 405, 409, 422}


@pytest.fixture(scope="module")
def raw_client(recorded_db: RecordedDb) -> Iterator[TestClient]:
    engine = read_only_engine(sync_url(recorded_db.url))
    try:
        with TestClient(
            create_app(engine, replay=replay_request), raise_server_exceptions=False
        ) as c:
            yield c
    finally:
        engine.dispose()


text_values = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(
        [
            "1",
            "0",
            "-1",
            "1e309",
            "nan",
            "2025-01-01",
            "9999-12-31T23:59:59+14:00",
            "0001-01-01",
            "1,2,3",
            "coldkey_upper=5",
            "curve_b=inf",
            "=",
            "%00",
            "daily",
        ]
    ),
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    route=st.sampled_from(ROUTES),
    segment=text_values,
    params=st.lists(st.tuples(st.sampled_from(NAMES), text_values), max_size=4),
)
def test_random_requests_never_give_500(
    raw_client: TestClient, route: str, segment: str, params: list[tuple[str, str]]
) -> None:
    path = route.replace("{x}", quote(segment, safe="") or "x")
    query = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in params)
    r = raw_client.get(f"{path}?{query}" if query else path, follow_redirects=False)
    assert r.status_code in ALLOWED, (path, query, r.status_code, r.text[:300])
    if path.startswith("/api/") and r.status_code != 200:
        assert r.json()["detail"]
