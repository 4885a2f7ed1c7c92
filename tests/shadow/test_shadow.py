"""Shadow mode on the local chain, with "foreign" weight setters on the validator's hotkey.

The validator minertrace shadows sets its own weights (here: the test, on the LocalChain):
with the same rules, with slightly different ones, and late (an older cycle's vector). Each
observation must land on the trace that was current at its block, as a match or a mismatch
with the differing UIDs.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, select

from minertrace.chain.local import LocalChain
from minertrace.chain.types import SubnetHyperparameters
from minertrace.config import Settings
from minertrace.db.tables import miner_performance_stats, weight_submissions
from minertrace.explain import explain
from minertrace.store import read_cycle_inputs_async, record_scores
from minertrace.validator.cycle import CycleContext, cycle_inputs
from minertrace.validator.node_sync import sync_nodes
from minertrace.validator.shadow import Shadow
from minertrace.weights import CycleInputs, GaiaRules, StoredCycle, WeightRules
from minertrace.weights.template import TemplateConfig, TemplateRules

VALIDATOR = "shadowed-validator"
NETUID = 1
MINERS = 12


@pytest.fixture
def chain() -> LocalChain:
    hp = SubnetHyperparameters(tempo=100, weights_rate_limit=1, min_allowed_weights=1)
    c = LocalChain(netuid=NETUID, hyperparameters=hp, seed=3)
    c.register(VALIDATOR, "vcold", stake=1000.0)
    c.register_many([f"miner{i}" for i in range(MINERS)], [f"cold{i}" for i in range(MINERS)])
    c.refresh_permits()
    return c


class ForeignValidator:
    """The validator's own weight setter: its own rules and state, not minertrace's."""

    def __init__(self, chain: LocalChain, engine: Engine, rules: WeightRules) -> None:
        self.chain, self.engine, self.rules = chain, engine, rules
        self.previous: StoredCycle | None = None
        self.vectors: list[tuple[list[int], list[int]]] = []

    async def compute(self) -> None:
        inputs = await _inputs(self.chain, self.engine)
        trace = self.rules.compute(inputs, self.previous)
        self.previous = StoredCycle(scalars=trace.scalars())
        self.vectors.append((trace.emit_uids.tolist(), trace.emit_u16.tolist()))

    async def set(self, which: int = -1) -> int:
        uids, u16 = self.vectors[which]
        receipt = await self.chain.set_weights(VALIDATOR, NETUID, uids, u16, 0)
        assert receipt.ok, receipt
        assert receipt.block_number is not None
        return receipt.block_number


async def _inputs(chain: LocalChain, engine: Engine) -> CycleInputs:
    now = chain.clock.now()
    block = await chain.current_block()
    reads = await read_cycle_inputs_async(engine, now, block)
    return cycle_inputs(reads, now, await chain.hyperparameters(NETUID))


def _scores(engine: Engine, chain: LocalChain, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = chain.n
    for j in range(k):
        values: list[float | None] = [float(x) for x in rng.random(n)]
        values[0] = values[1] = None  # owner and validator are not scored
        record_scores(
            engine,
            "geomagnetic",
            f"geo-{seed}-{j}",
            values,
            chain.clock.now() - timedelta(minutes=k - j),
            "completed",
            n_uids=n,
        )


def _shadow(
    chain: LocalChain, engine: Engine, rules: WeightRules, hotkey: str = VALIDATOR
) -> Shadow:
    settings = Settings(_env_file=None, netuid=NETUID, shadow=True)
    ctx = CycleContext(
        engine=engine,
        chain=chain,
        clock=chain.clock,
        validator_hotkey=hotkey,
        settings=settings,
        rules=rules,
    )
    return Shadow(ctx)


async def _setup(chain: LocalChain, engine: Engine, rules: WeightRules) -> Shadow:
    await sync_nodes(engine, chain, NETUID, now=chain.clock.now())
    return _shadow(chain, engine, rules)


def _rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        q = select(weight_submissions).order_by(weight_submissions.c.id)
        return list(conn.execute(q).mappings())


@pytest.mark.parametrize("rules", [TemplateRules(), GaiaRules()], ids=["template", "gaia"])
async def test_same_rules_match(chain: LocalChain, engine: Engine, rules: WeightRules) -> None:
    shadow = await _setup(chain, engine, rules)
    peer = ForeignValidator(chain, engine, rules)
    _scores(engine, chain, 3, seed=1)
    cycle = await shadow.run_cycle()
    assert cycle.ws_id is not None and cycle.status == "computed"
    await peer.compute()
    chain.advance(2)
    block = await peer.set()
    chain.advance(3)
    (obs,) = await shadow.observe()
    assert obs.block == block and obs.ws_id == cycle.ws_id and obs.match
    row = _rows(engine)[0]
    assert row["status"] == "observed"
    assert row["block_number"] == block
    assert row["block_hash"] == await chain.block_hash(block)
    assert row["verification"]["match"] is True
    assert cycle.computed_block is not None
    assert row["verification"]["trace_age_blocks"] == block - cycle.computed_block
    assert row["submitted_u16"]  # what the trace would have sent
    assert await shadow.observe() == []  # the same update is recorded once
    with engine.connect() as conn:
        wsb = conn.execute(select(miner_performance_stats.c.weight_submission_block)).scalars()
        assert set(wsb) == {block}
    assert shadow.metrics.matches == 1 and shadow.metrics.mismatches == 0


async def test_different_rules_mismatch(chain: LocalChain, engine: Engine) -> None:
    shadow = await _setup(chain, engine, TemplateRules())
    peer = ForeignValidator(chain, engine, TemplateRules(TemplateConfig(moving_average_alpha=0.3)))
    _scores(engine, chain, 4, seed=2)
    await shadow.run_cycle()
    await peer.compute()
    chain.advance(1)
    block = await peer.set()
    (obs,) = await shadow.observe()
    assert obs.match is False
    v = _rows(engine)[0]["verification"]
    assert v["matches_cycle"] is None
    assert v["differing_count"] == len(v["differing_uids"]) > 0
    uids, u16 = peer.vectors[-1]
    held = dict(zip(uids, u16, strict=True))
    assert v["observed_u16"] == [held.get(u, 0) for u in v["differing_uids"]]
    assert v["max_abs_u16_diff"] > 0 and v["l1_share_diff"] > 0
    assert _rows(engine)[0]["block_number"] == block
    assert shadow.metrics.mismatches == 1
    uid = next(u for u in v["differing_uids"] if v["expected_u16"][v["differing_uids"].index(u)])
    exp = explain(engine, uid)
    assert exp.cycle is not None and exp.cycle.status == "observed"
    assert not exp.zero
    assert [n.code for n in exp.notes] == ["observed_mismatch"]


async def test_late_setter_matches_an_earlier_trace(chain: LocalChain, engine: Engine) -> None:
    rules = TemplateRules()
    shadow = await _setup(chain, engine, rules)
    peer = ForeignValidator(chain, engine, rules)
    _scores(engine, chain, 2, seed=3)
    first = await shadow.run_cycle()
    await peer.compute()
    chain.advance(50)
    _scores(engine, chain, 2, seed=4)
    second = await shadow.run_cycle()
    await peer.compute()
    chain.advance(5)
    block = await peer.set(0)  # the first cycle's vector, set after the second was computed
    (obs,) = await shadow.observe()
    assert obs.ws_id == second.ws_id and obs.match is False
    v = obs.verification
    assert v["matches_cycle"] == first.ws_id
    assert first.computed_block is not None
    assert v["lag_blocks"] == block - first.computed_block
    rows = {r["id"]: r for r in _rows(engine)}
    assert rows[second.ws_id]["status"] == "observed"
    assert rows[first.ws_id]["status"] == "computed"
    assert shadow.metrics.late == 1
    # Then on time: the current vector matches.
    chain.advance(2)
    later = await peer.set()
    (again,) = await shadow.observe()
    assert again.match and again.ws_id == second.ws_id
    # The later update replaces the earlier one on the trace's row.
    row = {r["id"]: r for r in _rows(engine)}[second.ws_id]
    assert row["block_number"] == later and row["verification"]["match"] is True


async def test_template_state_carries_between_shadow_cycles(
    chain: LocalChain, engine: Engine
) -> None:
    shadow = await _setup(chain, engine, TemplateRules())
    peer = ForeignValidator(chain, engine, TemplateRules())
    for seed in (5, 6, 7):
        _scores(engine, chain, 2, seed=seed)
        await shadow.run_cycle()
        await peer.compute()
        chain.advance(10)
    await peer.set()
    (obs,) = await shadow.observe()
    assert obs.match
    last = _rows(engine)[-1]
    assert last["scalars"]["rows_folded"] == 2
    assert last["scalars"]["rules"] == "template"


async def test_weights_before_any_trace_and_no_registration(
    chain: LocalChain, engine: Engine
) -> None:
    shadow = await _setup(chain, engine, TemplateRules())
    await chain.set_weights(VALIDATOR, NETUID, [2, 3], [65535, 100], 0)
    (obs,) = await shadow.observe()
    assert obs.ws_id is None and obs.verification == {"untraced": True}
    assert shadow.metrics.untraced == 1
    lost = _shadow(chain, engine, TemplateRules(), "nobody")
    assert await lost.observe() == []
