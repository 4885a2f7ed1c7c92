"""`minertrace replay` (the command module on its own Typer app, as the lead registers it)."""

from __future__ import annotations

import json

import pytest
import typer
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from minertrace.cli import replay as replay_cli
from minertrace.cli import serve as serve_cli
from tests.helpers.web import Recorded, record_subnet


@pytest.fixture
def app() -> typer.Typer:
    root = typer.Typer()
    replay_cli.register(root)
    serve_cli.register(root)
    return root


@pytest.fixture
async def recorded(engine: Engine) -> Recorded:
    return await record_subnet(engine, cycles=2, fail_cycle=None)


def _run(app: typer.Typer, url: str, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, ["replay", *args, "--database-url", url])
    return r.exit_code, r.stdout, r.stderr


async def test_verify_and_what_if(
    app: typer.Typer, recorded: Recorded, migrated_db_url: str
) -> None:
    cycle = str(recorded.cycle_ids[-1])
    code, out, _ = _run(app, migrated_db_url, cycle, "--verify")
    assert code == 0 and "bit for bit" in out
    code, out, _ = _run(app, migrated_db_url, cycle, "--set", "coldkey_smoothing=off")
    assert code == 0
    assert "with coldkey_smoothing=False" in out and "largest moves" in out
    assert "farm-0" in out
    code, out, _ = _run(app, migrated_db_url, cycle, "--set", "curve_b=60", "--json")
    body = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert body["overrides"] == {"curve_b": 60.0}
    assert body["verification"]["identical"] is True
    assert body["diff"]["summary"]["changed"] == len(body["diff"]["changes"]) > 0


async def test_verify_fails_on_a_difference(
    app: typer.Typer, recorded: Recorded, engine: Engine, migrated_db_url: str
) -> None:
    cycle = recorded.cycle_ids[-1]
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE weight_submissions SET final_weights[3] = 0.5, "
                "stages = jsonb_set(stages, '{final,2}', '0.5') WHERE id = :id"
            ),
            {"id": cycle},
        )
    code, out, _ = _run(app, migrated_db_url, str(cycle), "--verify")
    assert code == 1
    assert "differs from the stored cycle in 2 vector(s)" in out and "final" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--set", "nope=1"], 2, "no such WeightConfig field"),
        (["--set", "curve_b"], 2, "expected FIELD=VALUE"),
        (["--set", "coldkey_smoothing=maybe"], 2, "expected true or false"),
        (["--set", "soil_row_limit=-3"], 2, "soil_row_limit"),
    ],
)
async def test_bad_overrides(
    app: typer.Typer,
    recorded: Recorded,
    migrated_db_url: str,
    args: list[str],
    code: int,
    message: str,
) -> None:
    got, _, err = _run(app, migrated_db_url, str(recorded.cycle_ids[-1]), *args)
    assert got == code
    assert message in err and "Traceback" not in err


async def test_unknown_and_refused_cycles(
    app: typer.Typer, recorded: Recorded, engine: Engine, migrated_db_url: str
) -> None:
    code, _, err = _run(app, migrated_db_url, "424242")
    assert code == 2 and "cycle 424242 does not exist" in err
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM score_table WHERE task_id = 'final_weather_scores_0'"))
    code, _, err = _run(app, migrated_db_url, str(recorded.cycle_ids[0]))
    assert code == 1 and "weather/final_weather_scores_0" in err


def test_replay_on_an_empty_database(app: typer.Typer, db_url: str) -> None:
    code, _, err = _run(app, db_url, "1")
    assert code == 1 and "no minertrace tables" in err


def test_demo_flag_reads_the_demo_schema(app: typer.Typer, migrated_db_url: str) -> None:
    from minertrace.config import load_settings
    from minertrace.validator.demo import open_demo_database, reset_demo_schema

    code, _, err = _run(app, migrated_db_url, "1", "--demo")
    assert code == 1 and "run `minertrace demo` first" in err
    db = open_demo_database(load_settings(database_url=migrated_db_url))
    try:
        reset_demo_schema(db)
    finally:
        db.close()
    # The default schema holds no cycle either way; the demo schema is the one read.
    code, _, err = _run(app, migrated_db_url, "1", "--demo")
    assert code == 2 and "cycle 1 does not exist" in err
