"""Printing help imports neither the database stack, the SDK nor the service."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "sqlalchemy",
    "psycopg",
    "alembic",
    "pgserver",
    "bittensor",
    "minertrace.validator",
    "minertrace.db",
    "minertrace.store",
    "minertrace.explain",
)

_PROBE = """
import json, sys
from typer.testing import CliRunner
from minertrace.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
assert result.exit_code == 0, result.output
assert "Usage" in result.output, result.output
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(args: list[str]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "args",
    [["--help"], ["weights", "compute", "--help"], ["run", "--help"], ["db", "status", "--help"]],
    ids=" ".join,
)
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    loaded = _modules_after(args)
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert heavy == []


def test_probe_sees_modules_a_command_imports() -> None:
    # The probe must be able to fail: the full import of the service shows up in it.
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, minertrace.validator.service;print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(out.stdout)
    assert "sqlalchemy" in loaded
    assert "minertrace.validator.service" in loaded
