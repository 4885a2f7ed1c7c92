"""The replay tests share the web tests' recorded subnet (`tests/web/web_subnet.py`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
