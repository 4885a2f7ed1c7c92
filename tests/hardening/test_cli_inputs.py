"""Every command: a bad input is one `error:` line with exit 2 (input) or 1 (runtime).

Runs the real root command in-process (its group renders the errors), against a real
database where one is needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from minertrace.cli import app

runner = CliRunner(env={"DATABASE_URL": None, "MINERTRACE_DATABASE_URL": None})
DOWN = "postgresql://alice@127.0.0.1:1/mt?connect_timeout=2"


def one_line_error(args: list[str], code: int, env: dict[str, str] | None = None) -> str:
    """Run `minertrace ARGS`; assert exit `code` with exactly one `error:` line; return it."""
    result = runner.invoke(app, args, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    return lines[0]


INPUT_ERRORS: list[list[str]] = [
    ["stats", "cleanup", "--retention-days", "3000000"],
    ["stats", "cleanup", "--retention-days", "0"],
    ["stats", "cleanup", "--retention-days", "x"],
    ["stats", "refresh", "--now", "9999-12-31"],
    ["stats", "refresh", "--now", "0001-01-01"],
    ["stats", "refresh", "--now", "yesterday"],
    ["stats", "refresh", "--period", "decade"],
    ["run", "--bogus", "1"],
    ["run", "--netuid", "x"],
    ["run", "--netuid"],
    ["run", "--hours", "-1"],
    ["run", "--subtensor.network", "nowhere"],
    ["demo", "--days", "-1"],
    ["demo", "--miners", "100000"],
    ["db", "downgrade"],
    ["db", "nope"],
    ["explain", "not-a-uid"],
    ["weights", "compute"],
    ["weights", "compute", "-i", "/nonexistent/[/]x.json"],
    ["chain", "epoch", "-i", "/nonexistent/[red]x.json"],
    ["db", "status", "--database-url", "mysql://u:pw@h/x"],
    ["db", "status", "--database-url", "postgresql://u:p@ss@h/x"],
    ["db", "status", "--database-url", "postgresql://u@h:port/x"],
]


@pytest.mark.parametrize("args", INPUT_ERRORS, ids=" ".join)
def test_input_errors_exit_2_on_one_line(args: list[str]) -> None:
    one_line_error(args, 2)


def test_markup_in_user_text_is_printed_verbatim() -> None:
    line = one_line_error(["weights", "compute", "-i", "/nonexistent/[/]x.json"], 2)
    assert "[/]x.json" in line


def test_an_invalid_environment_setting_is_an_input_error() -> None:
    line = one_line_error(["stats", "cleanup"], 2, env={"MINERTRACE_RETENTION_DAYS": "3000000"})
    assert "retention_days" in line


@pytest.mark.parametrize(
    "args",
    [
        ["db", "status"],
        ["db", "current"],
        ["db", "upgrade"],
        ["db", "downgrade", "-1"],
        ["stats", "refresh"],
        ["stats", "cleanup"],
        ["explain", "1"],
        ["status"],
        ["run", "--hours", "0"],
        ["demo", "--days", "0.01"],
    ],
    ids=" ".join,
)
def test_an_unreachable_database_is_a_runtime_error(args: list[str]) -> None:
    line = one_line_error([*args, "--database-url", DOWN], 1)
    assert "127.0.0.1" in line


def test_a_bad_revision_is_one_line(migrated_db_url: str) -> None:
    one_line_error(["db", "upgrade", "nonsense", "--database-url", migrated_db_url], 1)


def test_explain_out_of_range_uid_is_an_input_error(migrated_db_url: str) -> None:
    one_line_error(["explain", "2147483648", "--database-url", migrated_db_url], 2)


def test_a_bracketed_data_dir_works(tmp_path: Path) -> None:
    data_dir = tmp_path / "a[/]b"
    result = runner.invoke(app, ["db", "status", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "[/]b" in result.output
