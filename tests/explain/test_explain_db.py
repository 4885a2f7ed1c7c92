"""`explain`: the path from a miner's score rows to its weight, and why a weight is zero."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
import typer
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from minertrace.chain.local.chain import LocalChain
from minertrace.chain.types import ChainError
from minertrace.config import load_settings
from minertrace.explain import (
    Explanation,
    InvalidUidError,
    UnknownCycleError,
    UnknownUidError,
    explain,
)
from minertrace.stats.periods import period_for
from minertrace.store import fill_pipeline_columns, record_scores
from minertrace.validator.chain_integration import apply_epoch_results
from minertrace.validator.cycle import CycleContext, CycleResult, run_cycle
from minertrace.validator.node_sync import sync_nodes

VALIDATOR = "validator-hk"
N_GOOD = 14
FARM = 10


class Subnet:
    """owner 0, validator 1, 14 scored miners, a 10-hotkey farm, an idle miner, a tiny one."""

    def __init__(self) -> None:
        self.chain = LocalChain(max_uids=64, seed=3)
        self.chain.register(VALIDATOR, "validator-ck", 1000.0)
        self.good = self.chain.register_many(
            [f"good-{i}" for i in range(N_GOOD)], [f"good-ck-{i}" for i in range(N_GOOD)]
        )
        self.farm = self.chain.register_many([f"farm-{i}" for i in range(FARM)], ["farm-ck"] * FARM)
        self.idle = self.chain.register("idle", "idle-ck")
        self.tiny = self.chain.register("tiny", "tiny-ck")
        self.chain.refresh_permits()

    def write_scores(self, engine: Engine) -> None:
        now = self.chain.clock.now()
        n = self.chain.n
        rng = np.random.default_rng(0)
        scores = np.full(n, np.nan)
        scores[self.good] = np.linspace(0.5, 0.95, N_GOOD)
        scores[self.farm] = 0.9
        scores[self.tiny] = 0.0004
        geo = np.where(
            np.isnan(scores), np.nan, np.clip(scores + 0.02 * rng.standard_normal(n), 0, 1)
        )
        geo[self.tiny] = np.nan
        with engine.begin() as conn:
            record_scores(
                conn,
                "weather",
                "final_weather_scores_1",
                scores,
                now - timedelta(hours=2),
                "completed",
                n_uids=n,
            )
            record_scores(
                conn, "geomagnetic", "g1", geo, now - timedelta(hours=1), "completed", n_uids=n
            )
            record_scores(
                conn,
                "soil_moisture_region_0",
                "s1",
                geo,
                now - timedelta(hours=1),
                "completed",
                n_uids=n,
            )

    async def cycle(self, engine: Engine, url: str, **settings: Any) -> CycleResult:
        cfg = load_settings(
            database_url=url, netuid=self.chain.netuid, submission_backoff_seconds=0, **settings
        )
        await sync_nodes(engine, self.chain, self.chain.netuid, now=self.chain.clock.now())
        ctx = CycleContext(
            engine=engine,
            chain=self.chain,
            clock=self.chain.clock,
            validator_hotkey=VALIDATOR,
            settings=cfg,
        )
        return await run_cycle(ctx)


def _codes(reasons: tuple[Any, ...]) -> list[str]:
    return [r.code for r in reasons]


def _num(exp: Explanation, stage: str) -> float:
    value = exp.stage(stage)
    assert isinstance(value, (int, float))
    return float(value)


@pytest.fixture
async def scored(engine: Engine, migrated_db_url: str) -> tuple[Subnet, CycleResult]:
    net = Subnet()
    net.write_scores(engine)
    result = await net.cycle(engine, migrated_db_url)
    assert result.status == "verified"
    return net, result


async def test_normal_miner(engine: Engine, scored: tuple[Subnet, CycleResult]) -> None:
    net, result = scored
    uid = net.good[-1]
    # An epoch with these weights in force, then the chain's view is recorded.
    await net.chain.clock.sleep(12 * 370)
    now = net.chain.clock.now()
    await sync_nodes(engine, net.chain, net.chain.netuid, now=now)
    await apply_epoch_results(engine, net.chain, net.chain.netuid, VALIDATOR, now)
    # The epoch's chain columns arrive with the row's next write (here the rebuild's).
    fill_pipeline_columns(
        engine,
        validator_hotkey=VALIDATOR,
        netuid=net.chain.netuid,
        now=result.computed_at,
        periods=[period_for("daily", result.computed_at)],
    )
    exp = explain(engine, uid)

    assert not exp.zero and exp.reasons == ()
    assert exp.hotkey == f"good-{N_GOOD - 1}" and exp.registered
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT submitted_weights[array_position(submitted_uids, :u)] AS w, "
                "submitted_u16[array_position(submitted_uids, :u)] AS u16, stages "
                "FROM weight_submissions WHERE id = :id"
            ),
            {"u": uid, "id": result.submission_id},
        ).one()
    assert exp.weight == pytest.approx(row.w)
    assert exp.u16 == row.u16 == 65535  # the best miner carries the maximum
    for name in (
        "score_weather",
        "rank_weather",
        "excellence",
        "diversity",
        "raw_weight",
        "coldkey_multiplier",
        "after_coldkey",
        "normalized",
        "transformed",
        "final",
    ):
        assert exp.stage(name) == pytest.approx(row.stages[name][uid]), name
    assert exp.stage("pathway") in ("excellence", "diversity")
    assert exp.stage("present_weather") is True
    assert exp.cycle is not None
    assert exp.cycle.status == "verified" and exp.cycle.block_number == result.block_number
    assert exp.cycle.verification is not None and exp.cycle.verification.match is True
    incentive = {n.uid: n.incentive for n in await net.chain.neurons(net.chain.netuid)}[uid]
    assert incentive > 0
    assert exp.chain.incentive == pytest.approx(incentive)
    assert exp.chain.consensus_rank is not None and exp.chain.consensus_rank >= 1
    assert exp.chain.consensus_block == await net.chain.last_epoch_block(net.chain.netuid)
    assert exp.chain.consensus_block is not None and result.block_number is not None
    assert exp.chain.consensus_delay_blocks == exp.chain.consensus_block - result.block_number
    assert "weight" in exp.summary and str(uid) in exp.summary
    doc = json.loads(json.dumps(exp.to_dict()))
    assert doc["stages"]["u16"] == 65535 and doc["zero"] is False


async def test_coldkey_farm_member(engine: Engine, scored: tuple[Subnet, CycleResult]) -> None:
    net, _ = scored
    exp = explain(engine, net.farm[0])
    assert exp.zero
    assert _codes(exp.reasons) == ["coldkey_group"]
    assert "10 registered hotkeys" in exp.reasons[0].message
    assert exp.stage("coldkey_group_size") == FARM and exp.stage("coldkey_multiplier") == 0
    assert _num(exp, "raw_weight") > 0  # it did score: only the smoothing zeroed it
    assert exp.u16 == 0


async def test_idle_miner_and_validator(engine: Engine, scored: tuple[Subnet, CycleResult]) -> None:
    net, _ = scored
    idle = explain(engine, net.idle)
    assert idle.zero and _codes(idle.reasons) == ["no_present_task"]
    assert "score_table holds no entry" in idle.reasons[0].message
    validator = explain(engine, 1)
    assert validator.zero and _codes(validator.reasons)[0] == "validator"


async def test_below_the_curve_midpoint(engine: Engine, scored: tuple[Subnet, CycleResult]) -> None:
    net, _ = scored
    exp = explain(engine, net.tiny)
    assert exp.zero
    assert _codes(exp.reasons) == ["below_midpoint"]
    assert _num(exp, "raw_weight") > 0 and exp.u16 == 0
    assert exp.cycle is not None and exp.cycle.curve_midpoint is not None
    assert _num(exp, "normalized") < exp.cycle.curve_midpoint


async def test_unknown_uid(engine: Engine, scored: tuple[Subnet, CycleResult]) -> None:
    with pytest.raises(UnknownUidError, match="UID 999 is unknown"):
        explain(engine, 999)
    with pytest.raises(UnknownUidError, match="not valid"):
        explain(engine, -1)


async def test_no_weights_this_cycle(engine: Engine, migrated_db_url: str) -> None:
    net = Subnet()
    result = await net.cycle(engine, migrated_db_url)
    assert result.status == "skipped"
    exp = explain(engine, net.good[0])
    assert exp.zero
    assert "no_weights_produced" in _codes(exp.reasons)
    assert (
        "every miner's weight was 0"
        in exp.reasons[_codes(exp.reasons).index("no_weights_produced")].message
    )


async def test_failed_submission(engine: Engine, migrated_db_url: str) -> None:
    net = Subnet()
    net.write_scores(engine)
    net.chain.inject_rejections(2, ChainError.OTHER)
    result = await net.cycle(engine, migrated_db_url, submission_max_attempts=2)
    assert result.status == "failed"
    exp = explain(engine, net.good[-1])
    assert exp.zero
    assert _codes(exp.reasons) == ["submission_failed"]
    assert "after 2 attempt(s)" in exp.reasons[0].message
    assert exp.weight is not None and exp.weight > 0  # computed, but never reached the chain


async def test_without_detailed_pathways(engine: Engine, migrated_db_url: str) -> None:
    net = Subnet()
    net.write_scores(engine)
    result = await net.cycle(engine, migrated_db_url, enable_detailed_pathways=False)
    assert result.status == "verified"
    exp = explain(engine, net.good[-1])
    assert not exp.details_stored
    assert not exp.zero and exp.u16 == 65535
    # The pathway comes back from the stats row.
    assert exp.stage("pathway") in ("excellence", "diversity")


async def test_cli(
    engine: Engine,
    scored: tuple[Subnet, CycleResult],
    migrated_db_url: str,
    cli_app: typer.Typer,
) -> None:
    net, _ = scored
    app = cli_app
    runner = CliRunner()
    out = runner.invoke(app, ["explain", str(net.farm[1]), "--database-url", migrated_db_url])
    assert out.exit_code == 0, out.output
    assert "why the weight is zero" in out.output and "coldkey" in out.output
    assert "u16 sent to the chain" in out.output
    out = runner.invoke(
        app, ["explain", str(net.good[0]), "--json", "--database-url", migrated_db_url]
    )
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["uid"] == net.good[0] and doc["cycle"]["status"] == "verified"
    out = runner.invoke(app, ["explain", "4000", "--database-url", migrated_db_url])
    assert out.exit_code == 1
    assert "UID 4000 is unknown" in out.output


@pytest.mark.parametrize("uid", [2**31, 2**31 - 1, 2**63, 10**30, -1])
async def test_uid_beyond_the_database_range(
    engine: Engine, migrated_db_url: str, cli_app: typer.Typer, uid: int
) -> None:
    with pytest.raises(InvalidUidError, match=f"UID {uid} is not valid"):
        explain(engine, uid)
    args = ["explain", "--database-url", migrated_db_url, "--", str(uid)]
    out = CliRunner().invoke(cli_app, args)
    assert out.exit_code == 2, out.output
    assert f"UID {uid} is not valid" in out.output
    assert "Traceback" not in out.output and isinstance(out.exception, SystemExit)


async def test_unknown_cycle(
    engine: Engine,
    scored: tuple[Subnet, CycleResult],
    migrated_db_url: str,
    cli_app: typer.Typer,
) -> None:
    net, result = scored
    uid = net.good[0]
    for missing in (99999, 0, -5, 2**63):
        with pytest.raises(UnknownCycleError, match=f"cycle {missing} does not exist"):
            explain(engine, uid, cycle_id=missing)
    with pytest.raises(UnknownCycleError, match="is a cycle of validator validator-hk, not of x"):
        explain(engine, uid, cycle_id=result.submission_id, validator_hotkey="x")
    assert explain(engine, uid, cycle_id=result.submission_id).cycle is not None
    args = ["explain", str(uid), "--cycle", "99999", "--database-url", migrated_db_url]
    out = CliRunner().invoke(cli_app, args)
    assert out.exit_code == 1, out.output
    assert "cycle 99999 does not exist" in out.output
    assert "no weight cycle recorded" not in out.output


async def test_no_cycle_yet_is_not_an_error(
    engine: Engine, migrated_db_url: str, cli_app: typer.Typer
) -> None:
    net = Subnet()
    await sync_nodes(engine, net.chain, net.chain.netuid, now=net.chain.clock.now())
    exp = explain(engine, net.good[0])
    assert exp.cycle is None and exp.zero and _codes(exp.reasons) == ["no_cycle"]
    out = CliRunner().invoke(
        cli_app, ["explain", str(net.good[0]), "--database-url", migrated_db_url]
    )
    assert out.exit_code == 0, out.output
    assert "no weight cycle recorded yet" in out.output


async def test_markup_in_stored_text_is_printed_as_text(
    engine: Engine, scored: tuple[Subnet, CycleResult], migrated_db_url: str, cli_app: typer.Typer
) -> None:
    net, _ = scored
    uid = net.farm[2]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE node_table SET hotkey = :h, coldkey = :c WHERE uid = :u"),
            {"h": "hk[/]x[bold]", "c": "ck[red]", "u": uid},
        )
        conn.execute(text("UPDATE weight_submissions SET validator_hotkey = 'v[/]'"))
    out = CliRunner().invoke(cli_app, ["explain", str(uid), "--database-url", migrated_db_url])
    assert out.exit_code == 0, out.output
    assert "hotkey hk[/]x[bold]" in out.output and "coldkey ck[red]" in out.output
    assert "by v[/] at" in out.output and "[coldkey_group]" in out.output


async def test_database_without_tables(db_url: str, cli_app: typer.Typer) -> None:
    out = CliRunner().invoke(cli_app, ["explain", "3", "--database-url", db_url])
    assert out.exit_code == 1, out.output
    assert "has no minertrace tables" in out.output
