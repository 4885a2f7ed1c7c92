"""The service's own cycle with the rules chosen by `weight_rules`."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from minertrace.chain.local import LocalChain
from minertrace.chain.types import SubnetHyperparameters
from minertrace.config import Settings
from minertrace.db.tables import miner_performance_stats, weight_submissions
from minertrace.explain import explain
from minertrace.store import record_scores
from minertrace.validator.cycle import CycleContext, run_cycle
from minertrace.validator.node_sync import sync_nodes
from minertrace.validator.replay import (
    ReplayError,
    replay_assignments,
    replay_cycle,
    replay_request,
)
from minertrace.validator.replay_overrides import OverrideError
from minertrace.vocabulary import SubmissionStatus
from minertrace.web import create_app
from minertrace.weights import GaiaRules, StoredCycle
from minertrace.weights.template import TemplateRules

VALIDATOR = "the-validator"
NETUID = 1


@pytest.fixture
def chain() -> LocalChain:
    hp = SubnetHyperparameters(tempo=100, weights_rate_limit=1, min_allowed_weights=1)
    c = LocalChain(netuid=NETUID, hyperparameters=hp, seed=5)
    c.register(VALIDATOR, "vcold", stake=1000.0)
    c.register_many([f"miner{i}" for i in range(10)], [f"cold{i}" for i in range(10)])
    c.refresh_permits()
    return c


def _ctx(chain: LocalChain, engine: Engine, rules: str) -> CycleContext:
    settings = Settings(_env_file=None, netuid=NETUID, weight_rules=rules)
    return CycleContext(
        engine=engine, chain=chain, clock=chain.clock, validator_hotkey=VALIDATOR, settings=settings
    )


def _scores(engine: Engine, chain: LocalChain, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values: list[float | None] = [float(x) for x in rng.random(chain.n)]
    values[0] = values[1] = None
    record_scores(
        engine,
        "geomagnetic",
        f"geo-{seed}",
        values,
        chain.clock.now() - timedelta(minutes=1),
        "completed",
        n_uids=chain.n,
    )


def test_rules_follow_the_setting(chain: LocalChain, engine: Engine) -> None:
    assert isinstance(_ctx(chain, engine, "gaia").rules, GaiaRules)
    assert isinstance(_ctx(chain, engine, "template").rules, TemplateRules)
    with pytest.raises(ValueError, match="weight_rules"):
        Settings(_env_file=None, weight_rules="nope")


async def test_template_cycles_submit_and_carry_their_state(
    chain: LocalChain, engine: Engine
) -> None:
    await sync_nodes(engine, chain, NETUID, now=chain.clock.now())
    ctx = _ctx(chain, engine, "template")
    results = []
    for seed in (1, 2):
        _scores(engine, chain, seed)
        results.append(await run_cycle(ctx))
        chain.advance(5)
    assert [r.status for r in results] == [SubmissionStatus.VERIFIED] * 2
    with engine.connect() as conn:
        rows = list(conn.execute(select(weight_submissions).order_by("id")).mappings())
        stats = list(conn.execute(select(miner_performance_stats)).mappings())
    assert [r["scalars"]["rules"] for r in rows] == ["template", "template"]
    assert [r["scalars"]["rows_folded"] for r in rows] == [1, 1]
    assert set(rows[1]["stages"]) >= {"ema_before", "moving_average", "final", "u16", "hotkey"}
    # The second cycle started from the first one's stored average: replay proves it.
    second = results[1].trace
    assert second is not None
    rules = TemplateRules()
    previous = rules.replay_previous(StoredCycle(scalars=rows[1]["scalars"]))
    assert previous is not None
    assert previous.scalars["state"] == rows[0]["scalars"]["state"]
    # Only submitted_weight is known per miner under the template's rules.
    assert stats and all(s["scoring_pathway"] is None for s in stats)
    assert all(s["submitted_weight"] is not None for s in stats)
    held = await chain.weights_of(NETUID, 1)
    assert held == dict(zip(second.emit_uids.tolist(), second.emit_u16.tolist(), strict=True))
    # Replay recomputes both template cycles from their own rows, bit for bit (the second
    # from the moving average it stored, not from the first row).
    for row in rows:
        report = replay_cycle(engine, row["id"])
        assert report.verification.identical, report.verification.differences
        assert {"moving_average", "u16", "submitted_u16"} <= set(report.verification.checked)
    # A tampered stored state is caught: the recomputed average no longer matches.
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE weight_submissions SET scalars = jsonb_set(scalars,"
                " '{state_before,scores,0}', '0.5') WHERE id = :id"
            ),
            {"id": rows[1]["id"]},
        )
    tampered = replay_cycle(engine, rows[1]["id"]).verification
    assert not tampered.identical
    assert "moving_average" in {d.name for d in tampered.differences}


async def test_template_what_if_speaks_its_own_config(chain: LocalChain, engine: Engine) -> None:
    await sync_nodes(engine, chain, NETUID, now=chain.clock.now())
    ctx = _ctx(chain, engine, "template")
    for seed in (1, 2):
        _scores(engine, chain, seed)
        await run_cycle(ctx)
        chain.advance(5)
    with engine.connect() as conn:
        last = conn.execute(text("SELECT max(id) FROM weight_submissions")).scalar_one()
    report = replay_assignments(engine, last, ["moving_average_alpha=0.9"])
    assert report.verification.identical
    assert report.overrides == {"moving_average_alpha": 0.9}
    diff = report.diff
    assert diff is not None and diff.changes
    assert {c.pathway_before for c in diff.changes} == {"n/a"}
    # The dashboard and the API replay it too, suggesting the template's own fields.
    with TestClient(create_app(engine, replay=replay_request)) as client:
        api = client.get(f"/api/v1/cycles/{last}/replay", params={"set": "exclude_quantile=9000"})
        assert api.status_code == 200 and api.json()["rules"] == "template"
        assert api.json()["verification"]["identical"] is True
        page = client.get(f"/cycles/{last}/replay").text
        assert '<option value="moving_average_alpha=">' in page
        assert "coldkey_upper" not in page
        refused = client.get(f"/api/v1/cycles/{last}/replay", params={"set": "coldkey_upper=5"})
        assert refused.status_code == 422 and "TemplateConfig" in refused.json()["detail"]
    # Gaia's fields mean nothing to a template cycle: named as unknown for TemplateConfig.
    with pytest.raises(OverrideError, match="no such TemplateConfig field"):
        replay_assignments(engine, last, ["coldkey_upper=5"])
    with pytest.raises(OverrideError, match="moving_average_alpha must lie in"):
        replay_assignments(engine, last, ["moving_average_alpha=2"])


async def test_cycles_of_rules_minertrace_lacks_are_refused(
    chain: LocalChain, engine: Engine
) -> None:
    await sync_nodes(engine, chain, NETUID, now=chain.clock.now())
    _scores(engine, chain, 1)
    await run_cycle(_ctx(chain, engine, "template"))
    with engine.begin() as conn:
        cycle_id = conn.execute(
            text(
                "UPDATE weight_submissions SET scalars = jsonb_set(scalars, '{rules}', '\"mine\"')"
                " RETURNING id"
            )
        ).scalar_one()
    with pytest.raises(ReplayError, match="'mine' weight rules, which minertrace does not"):
        replay_cycle(engine, cycle_id)


async def test_explain_shows_the_template_stages(chain: LocalChain, engine: Engine) -> None:
    await sync_nodes(engine, chain, NETUID, now=chain.clock.now())
    ctx = _ctx(chain, engine, "template")
    _scores(engine, chain, 3)
    result = await run_cycle(ctx)
    assert result.trace is not None
    uid = int(result.trace.emit_uids[-1])
    exp = explain(engine, uid)
    assert exp.cycle is not None and exp.cycle.rules == "template"
    names = [s.name for s in exp.stages]
    assert names[:2] == ["ema_before", "hotkey_reset"]
    assert {"moving_average", "normalized", "final", "submitted", "u16"} <= set(names)
    assert exp.stage("hotkey_reset") is False
    assert not exp.zero and exp.u16 == int(result.trace.emit_u16[-1])
    assert not exp.reasons
    assert "under the template rules" in exp.summary and "pathway" not in exp.summary
    assert all(n.code not in {"no_present_task", "raw_zero", "below_midpoint"} for n in exp.notes)
