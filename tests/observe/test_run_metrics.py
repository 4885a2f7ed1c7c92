"""`minertrace run --metrics-port/--metrics-host/--log-format` from the command line."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from minertrace.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _restore_root_logging() -> Iterator[None]:
    """`run` configures the root logger for the process; give the next test its own back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


ARGS = ["run", "--speed", "1e9", "--miners", "4", "--validators", "1"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_serves_metrics_and_logs_json(db_url: str) -> None:
    port = _free_port()
    result = runner.invoke(
        app,
        [
            *ARGS,
            "--hours",
            "1",
            "--metrics-port",
            str(port),
            "--log-format",
            "json",
            "--database-url",
            db_url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"metrics on http://127.0.0.1:{port}/metrics" in result.output
    lines = [json.loads(ln) for ln in result.stderr.splitlines() if ln.startswith("{")]
    assert lines and {"time", "level", "logger", "message", "cycle_id", "step"} <= set(lines[0])
    assert any(ln["cycle_id"] is not None for ln in lines)


def test_a_busy_metrics_port_is_a_one_line_error(db_url: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(
            app, [*ARGS, "--hours", "0", "--metrics-port", str(port), "--database-url", db_url]
        )
    assert result.exit_code == 1
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


def test_an_unknown_log_format_is_a_usage_error() -> None:
    result = runner.invoke(app, [*ARGS, "--log-format", "xml"])
    assert result.exit_code == 2
