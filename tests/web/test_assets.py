"""Everything the dashboard loads ships inside the package: no CDN, no external URL."""

from __future__ import annotations

import re
from importlib import resources


def test_assets_ship_in_the_package_and_reference_nothing_outside() -> None:
    web = resources.files("minertrace.web")
    names = {p.name for p in (web / "static").iterdir()} | {
        p.name for p in (web / "templates").iterdir()
    }
    assert {"app.css", "app.js", "favicon.svg", "base.html", "overview.html"} <= names
    for folder in ("static", "templates"):
        for item in (web / folder).iterdir():
            content = item.read_text(encoding="utf-8")
            urls = re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", content)
            assert set(urls) <= {"http://www.w3.org"}, (item.name, urls)
            for ref in re.findall(r'(?:src|href)="(/static/[^"]+)"', content):
                assert ref.removeprefix("/static/") in names, (item.name, ref)
