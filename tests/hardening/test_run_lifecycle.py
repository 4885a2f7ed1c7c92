"""`minertrace run`: start-up checks before any migration, and a clean second interrupt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from minertrace.cli import app
from minertrace.db import migrate
from minertrace.db.urls import sync_url

runner = CliRunner(env={"DATABASE_URL": None, "MINERTRACE_DATABASE_URL": None})


def _one_line(result_stderr: str) -> str:
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, result_stderr
    return lines[0]


def test_a_chain_state_in_a_missing_directory_fails_at_start(db_url: str, tmp_path: Path) -> None:
    state = tmp_path / "missing" / "state.json"
    result = runner.invoke(
        app, ["run", "--hours", "0", "--chain-state", str(state), "--database-url", db_url]
    )
    assert result.exit_code == 2, result.output
    assert "does not exist" in _one_line(result.stderr)
    assert migrate.current(db_url) is None


def test_a_corrupt_wallet_fails_before_any_migration(db_url: str, tmp_path: Path) -> None:
    pytest.importorskip("bittensor")
    hotkeys = tmp_path / "w" / "hotkeys"
    hotkeys.mkdir(parents=True)
    (hotkeys / "h").write_text("garbage{")
    args = ["run", "--subtensor.network", "local", "--wallet.name", "w", "--wallet.hotkey", "h"]
    result = runner.invoke(app, [*args, "--wallet.path", str(tmp_path), "--database-url", db_url])
    assert result.exit_code == 2, result.output
    assert "cannot be read" in _one_line(result.stderr)
    assert migrate.current(db_url) is None


def test_a_second_interrupt_exits_cleanly(migrated_db_url: str, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PYTHONUNBUFFERED"] = "1"
    command = [str(Path(sys.executable).parent / "minertrace"), "run", "--speed", "600"]
    command += ["--miners", "8", "--validators", "1", "--chain-state", str(state)]
    proc = subprocess.Popen(
        [*command, "--database-url", migrated_db_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "cycle 1:" in line:
                break
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = "".join(lines) + rest
    assert proc.returncode in (0, 130), (proc.returncode, output[-2000:])
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output[-2000:]
    if proc.returncode == 130:
        assert "error: interrupted again" in output
    assert state.exists()


BLOCK_OUTCOMES = """
CREATE FUNCTION block_outcome() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'outcome write blocked'; END $$;
CREATE TRIGGER block_outcome BEFORE UPDATE ON weight_submissions
   FOR EACH ROW EXECUTE FUNCTION block_outcome();
"""


def test_a_killed_run_leaves_no_submission_open_after_restart(migrated_db_url: str) -> None:
    engine = create_engine(sync_url(migrated_db_url))
    try:
        with engine.begin() as conn:
            conn.execute(text(BLOCK_OUTCOMES))
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["PYTHONUNBUFFERED"] = "1"
        command = [str(Path(sys.executable).parent / "minertrace"), "run", "--speed", "600"]
        command += ["--miners", "8", "--validators", "1", "--database-url", migrated_db_url]
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if "cycle 1:" in line:
                    break
        finally:
            proc.kill()
            proc.wait()
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER block_outcome ON weight_submissions"))
            open_rows = conn.execute(
                text("SELECT count(*) FROM weight_submissions WHERE status = 'computed'")
            ).scalar()
        assert open_rows == 1
        restart = subprocess.run(
            [*command[:-2], "--hours", "0", "--database-url", migrated_db_url],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert restart.returncode == 0, restart.stderr[-2000:]
        assert "left open by a previous run" in restart.stderr
        with engine.connect() as conn:
            statuses = conn.execute(text("SELECT status FROM weight_submissions")).scalars().all()
        assert statuses and not {"computed", "submitting"} & set(statuses)
    finally:
        engine.dispose()
