"""`minertrace run` from the command line: its errors are one line, never a traceback."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from minertrace.cli import app

runner = CliRunner()


def test_run_refuses_a_bad_chain_state_and_keeps_it(db_url: str, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("[1, 2]")
    result = runner.invoke(
        app, ["run", "--chain-state", str(state), "--hours", "0", "--database-url", db_url]
    )
    assert result.exit_code == 2, result.output
    assert "is not a simulated subnet saved by `minertrace run --chain-state`" in result.output
    assert "Traceback" not in result.output
    assert state.read_text() == "[1, 2]"


def test_run_saves_and_resumes_the_simulated_subnet(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="minertrace.validator.build")
    state = tmp_path / "state.json"
    args = ["run", "--chain-state", str(state), "--speed", "1e9", "--miners", "4"]
    first = runner.invoke(app, [*args, "--hours", "1", "--database-url", db_url])
    assert first.exit_code == 0, first.output
    assert f"simulated subnet saved to {state}" in first.output
    assert "(LocalChain)" in first.output
    assert "resumed" not in caplog.text
    second = runner.invoke(app, [*args, "--hours", "0", "--database-url", db_url])
    assert second.exit_code == 0, second.output
    assert f"resumed the simulated subnet from {state}" in caplog.text


def test_run_rejects_an_unknown_flag() -> None:
    result = runner.invoke(app, ["run", "--subtensor.netwrk", "finney"])
    assert result.exit_code == 2
    assert "unknown option '--subtensor.netwrk'" in result.output


def test_help_lists_every_command_group() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("db", "weights", "chain", "stats", "run", "demo", "explain"):
        assert name in result.output
    run_help = runner.invoke(app, ["run", "--help"])
    assert "--subtensor.network" in run_help.output and "--wallet.hotkey" in run_help.output
