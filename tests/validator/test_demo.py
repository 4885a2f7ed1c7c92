"""`minertrace demo` end to end (short), and `minertrace run` on a LocalChain."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from minertrace.cli import app
from minertrace.db.urls import sync_url
from minertrace.sim.subnet import DEFAULT_VALIDATOR_HOTKEY
from minertrace.validator.demo import DEMO_SCHEMA
from minertrace.validator.lock import HotkeyLock


def _demo_counts(url: str) -> tuple[int, int]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            ws = conn.execute(
                text(f"SELECT count(*), min(id) FROM {DEMO_SCHEMA}.weight_submissions")
            ).one()
            public = conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            ).scalar()
        assert public == 0  # the demo never writes outside its schema
        return int(ws[0]), int(ws[1])
    finally:
        engine.dispose()


def test_short_demo_prints_top_miners_and_reruns_clean(db_url: str) -> None:
    runner = CliRunner()
    args = [
        "demo",
        "--days",
        "0.25",
        "--miners",
        "16",
        "--validators",
        "4",
        "--database-url",
        db_url,
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "top miners" in first.output
    assert "replaced by" in first.output and "reject the next weight submission" in first.output
    hint = re.search(r"minertrace explain (\d+) --demo", first.output)
    assert hint, first.output
    # The table lists UIDs with a pathway and a weight.
    assert re.search(r"│\s+\d+ │ miner-\d+\S* │ (diversity|excellence) │ +0\.\d{5} │", first.output)
    cycles, first_id = _demo_counts(db_url)
    assert cycles == 6  # one cycle per simulated hour
    assert f"{cycles} cycles" in first.output

    explained = runner.invoke(
        app, ["explain", hint.group(1), "--demo", "--json", "--database-url", db_url]
    )
    assert explained.exit_code == 0, explained.output
    doc = json.loads(explained.output)
    assert doc["zero"] is False and doc["cycle"]["validator_hotkey"] == DEFAULT_VALIDATOR_HOTKEY

    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    # A fresh schema: same number of cycles, ids start over.
    assert _demo_counts(db_url) == (cycles, first_id)


def test_run_on_local_chain_saves_and_resumes(migrated_db_url: str, tmp_path: Path) -> None:
    state = tmp_path / "chain.json"
    runner = CliRunner()
    args = [
        "run",
        "--hours",
        "1.5",
        "--speed",
        "1000000",
        "--miners",
        "12",
        "--chain-state",
        str(state),
        "--database-url",
        migrated_db_url,
    ]
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    saved = json.loads(state.read_text())
    height = saved["chain"]["height"]
    assert height >= 1.5 * 300
    out = runner.invoke(app, args)
    assert out.exit_code == 0, out.output
    assert json.loads(state.read_text())["chain"]["height"] >= height + 1.5 * 300
    engine = create_engine(sync_url(migrated_db_url))
    try:
        with engine.connect() as conn:
            statuses = (
                conn.execute(text("SELECT status FROM weight_submissions ORDER BY id"))
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert statuses == ["verified"] * 4  # two cycles per 1.5 h run


def test_run_refuses_when_the_hotkey_is_locked(migrated_db_url: str) -> None:
    engine = create_engine(sync_url(migrated_db_url))
    lock = HotkeyLock(engine, DEFAULT_VALIDATOR_HOTKEY)
    assert lock.acquire()
    try:
        out = CliRunner().invoke(
            app, ["run", "--hours", "1", "--speed", "1000000", "--database-url", migrated_db_url]
        )
    finally:
        lock.release()
        engine.dispose()
    assert out.exit_code == 3
    assert "will not set weights" in out.output


def test_run_rejects_a_foreign_chain_state(migrated_db_url: str, tmp_path: Path) -> None:
    state = tmp_path / "chain.json"
    state.write_text('{"format": "something-else"}')
    out = CliRunner().invoke(
        app, ["run", "--hours", "1", "--chain-state", str(state), "--database-url", migrated_db_url]
    )
    assert out.exit_code == 2
    assert "is not a simulated subnet" in out.output
    assert state.read_text() == '{"format": "something-else"}'


def test_run_reports_a_missing_wallet_without_a_traceback(
    migrated_db_url: str, tmp_path: Path
) -> None:
    wallets = tmp_path / "wallets"
    out = CliRunner().invoke(
        app,
        [
            "run",
            "--database-url",
            migrated_db_url,
            "--subtensor.network",
            "test",
            "--wallet.name",
            "nope",
            "--wallet.hotkey",
            "nothere",
            "--wallet.path",
            str(wallets),
        ],
    )
    assert out.exit_code == 2
    assert "error:" in out.output and str(wallets) in out.output.replace("\n", "")
    assert "Traceback" not in out.output
