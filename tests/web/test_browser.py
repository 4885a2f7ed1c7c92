"""The dashboard in a real headless Chromium (selenium, the system's chromedriver).

Without a browser these tests skip, saying how to enable them; with
MINERTRACE_REQUIRE_BROWSER=1 (set by `.ci/run`) a missing browser fails them instead.
Screenshots go to pytest's temporary directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from minertrace.db.urls import sync_url
from minertrace.validator.replay import replay_request
from minertrace.web import create_app, read_only_engine
from tests.helpers.web import RecordedDb

CHROMIUM = os.environ.get("MINERTRACE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MINERTRACE_CHROMEDRIVER", "/usr/bin/chromedriver")
HOW = (
    "install them (Debian/Ubuntu: apt-get install -y chromium chromium-driver) or point "
    "MINERTRACE_CHROMIUM / MINERTRACE_CHROMEDRIVER at them; MINERTRACE_REQUIRE_BROWSER=1 makes "
    "a missing browser a failure"
)


def _unavailable(reason: str) -> None:
    if os.environ.get("MINERTRACE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required but {reason}")
    pytest.skip(f"browser tests skipped: {reason}; {HOW}")


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install -e '.[dev]')")
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not (Path(exe).is_file() or shutil.which(exe)):
            _unavailable(f"{exe} was not found")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1440,900",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    except Exception as exc:
        _unavailable(f"Chromium did not start ({type(exc).__name__}: {str(exc)[:200]})")
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture(scope="module")
def base_url(recorded_db: RecordedDb) -> Iterator[str]:
    """A real uvicorn server on a free local port, in a thread."""
    engine = read_only_engine(sync_url(recorded_db.url))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(engine, replay=replay_request),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


def _console_errors(drv: Any) -> list[str]:
    return [e["message"] for e in drv.get_log("browser") if e["level"] == "SEVERE"]


def _open(drv: Any, url: str, shot: Path) -> None:
    drv.get_log("browser")  # drop what earlier pages logged
    drv.get(url)
    drv.save_screenshot(str(shot))
    errors = _console_errors(drv)
    assert not errors, f"{url}: console errors {errors}"


def _charts_drawn(drv: Any) -> int:
    from selenium.webdriver.common.by import By

    charts = [c for c in drv.find_elements(By.CSS_SELECTOR, "svg.chart") if c.is_displayed()]
    for chart in charts:
        marks = chart.find_elements(By.CSS_SELECTOR, "rect, circle, polyline")
        assert marks, "an empty chart"
        assert chart.size["width"] > 100 and chart.size["height"] > 30
    return len(charts)


def test_pages_load_and_charts_draw(
    driver: Any, base_url: str, recorded_db: RecordedDb, tmp_path: Path
) -> None:
    rec = recorded_db.rec
    cycle_id = rec.cycle_ids[-1]
    pages = {
        "overview": ("/", 3),
        "miner": (f"/miners/{rec.farm[0]}", 5),
        "cycles": ("/cycles", 0),
        "cycle": (f"/cycles/{cycle_id}", 0),
        "replay": (f"/cycles/{cycle_id}/replay?set=coldkey_smoothing%3Dfalse", 0),
        "validators": ("/validators", 0),
        "docs": ("/docs", 0),
    }
    for name, (path, min_charts) in pages.items():
        _open(driver, base_url + path, tmp_path / f"{name}.png")
        assert "minertrace" in driver.title
        assert _charts_drawn(driver) >= min_charts, name
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000


def test_search_finds_uid_and_hotkey(driver: Any, base_url: str, recorded_db: RecordedDb) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    uid = recorded_db.rec.miners[5]
    for term in (str(uid), f"miner-{5}"):
        driver.get(base_url + "/")
        box = driver.find_element(By.ID, "search")
        box.send_keys(term)
        box.submit()
        WebDriverWait(driver, 10).until(expected_conditions.url_to_be(f"{base_url}/miners/{uid}"))
        assert driver.find_element(By.ID, "hotkey").text == "miner-5"
        assert not _console_errors(driver)


def test_cycle_table_sorts_and_filters(
    driver: Any, base_url: str, recorded_db: RecordedDb, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base_url}/cycles/{recorded_db.rec.cycle_ids[-1]}")
    table = driver.find_element(By.ID, "stages")
    heads = table.find_elements(By.CSS_SELECTOR, "thead th")
    col = next(i for i, h in enumerate(heads) if h.get_attribute("title") == "submitted")

    def column() -> list[float]:
        cells = table.find_elements(By.CSS_SELECTOR, f"tbody tr td:nth-child({col + 1})")
        return [float(c.get_attribute("data-v") or "-inf") for c in cells]

    before = column()
    assert before != sorted(before, reverse=True)
    heads[col].click()
    assert column() == sorted(before, reverse=True)
    heads[col].click()
    assert column() == sorted(before)
    driver.save_screenshot(str(tmp_path / "sorted.png"))
    box = driver.find_element(By.CSS_SELECTOR, "input.filter")
    box.send_keys("farm-3")
    visible = [r for r in table.find_elements(By.CSS_SELECTOR, "tbody tr") if r.is_displayed()]
    assert len(visible) == 1 and "farm-3" in visible[0].text
    assert not _console_errors(driver)
