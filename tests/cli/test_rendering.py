"""Text a user supplied, or that holds brackets, reaches the terminal as written.

Rich reads `[...]` as markup: unescaped, `pip install 'minertrace[bittensor]'` loses its
extra and a data directory such as `a[/]b` crashes the command.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from rich.console import Console
from typer.testing import CliRunner

from minertrace.cli import _support, app
from minertrace.cli.demo import print_demo
from minertrace.store import TopMiner
from minertrace.validator.demo import DemoResult

runner = CliRunner()


@pytest.fixture
def bracketed_dir() -> Iterator[Path]:
    # Short: the embedded server's socket lives below it (Unix sockets allow ~100 bytes).
    with tempfile.TemporaryDirectory(prefix="mt", dir="/tmp") as base:
        yield Path(base) / "a[" / "]b"


def test_missing_sdk_hint_keeps_the_extra(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [
        m for m in sys.modules if m.startswith(("minertrace.chain.bittensor", "bittensor"))
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "bittensor", None)
    result = runner.invoke(app, ["run", "--subtensor.network", "finney", "--database-url", db_url])
    assert result.exit_code == 1, result.output
    assert "pip install 'minertrace[bittensor]'" in result.output
    assert "Traceback" not in result.output


def test_fail_prints_brackets_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    exit_ = _support.fail("cannot read a[/]b and [red]x[/red]", code=2)
    assert exit_.exit_code == 2
    assert "error: cannot read a[/]b and [red]x[/red]" in capsys.readouterr().err


def test_db_status_and_run_with_a_bracketed_data_dir(bracketed_dir: Path) -> None:
    status = runner.invoke(app, ["db", "status", "--data-dir", str(bracketed_dir)])
    assert status.exit_code == 0, status.output
    assert f"data directory {bracketed_dir}/pgdata" in status.output

    run = runner.invoke(
        app,
        [
            "run",
            "--hours",
            "0",
            "--miners",
            "4",
            "--validators",
            "0",
            "--data-dir",
            str(bracketed_dir),
        ],
    )
    assert run.exit_code == 0, run.output
    assert f"data directory {bracketed_dir}/pgdata" in run.output
    assert "stopped:" in run.output


def test_demo_table_prints_hotkeys_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    out = Console(width=200, force_terminal=False, record=True)
    monkeypatch.setattr("minertrace.cli.demo.console", out)
    monkeypatch.setattr("minertrace.cli._support.console", out)
    counters = SimpleNamespace(
        cycle_statuses=Counter({"verified": 1}), epochs=[1], runs=Counter(), failures=Counter()
    )
    row = TopMiner(
        cycle_id=1,
        uid=3,
        hotkey="[bold]evil[/bold]",
        weight=0.5,
        u16=65535,
        scoring_pathway="diversity",
        incentive=None,
        consensus_rank=1,
    )
    result = SimpleNamespace(
        counters=counters,
        simulated_seconds=86400.0,
        wall_seconds=1.0,
        events=["uid 3: hotkey [x] replaced by [/]"],
        top=[row],
        zero_example=None,
    )
    print_demo(cast(DemoResult, result))
    text = out.export_text()
    assert "[bold]evil[/bold]" in text
    assert "event: uid 3: hotkey [x] replaced by [/]" in text
    assert "minertrace explain 3 --demo" in text
