"""`serve --help` and `replay --help` import neither the database stack nor the web app."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "sqlalchemy",
    "psycopg",
    "fastapi",
    "uvicorn",
    "jinja2",
    "minertrace.validator",
    "minertrace.store",
    "minertrace.web",
    "minertrace.db",
)

PROBE = """
import json, sys, typer
from typer.testing import CliRunner
from minertrace.cli import replay, serve
app = typer.Typer()
serve.register(app)
replay.register(app)
result = CliRunner().invoke(app, sys.argv[1:])
assert result.exit_code == 0 and "Usage" in result.output, result.output
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("command", ["serve", "replay"])
def test_help_is_light(command: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, command, "--help"], capture_output=True, text=True, check=True
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert [m for m in loaded if m.startswith(HEAVY)] == []
