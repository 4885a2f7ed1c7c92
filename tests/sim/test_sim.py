"""The simulator: deterministic population, task schedule, score rows, events, snapshots."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import Engine, text

from minertrace.sim.population import make_population
from minertrace.sim.subnet import SimParams, SimulatedSubnet
from minertrace.sim.tasks import run_rng, run_scores, runs_between

DAY = 86400.0
T0 = datetime(2025, 3, 1, tzinfo=timezone.utc)


def test_population_is_deterministic_and_varied() -> None:
    a = make_population(64, seed=7, duration_seconds=2 * DAY)
    b = make_population(64, seed=7, duration_seconds=2 * DAY)
    c = make_population(64, seed=8, duration_seconds=2 * DAY)
    np.testing.assert_array_equal(a.skill, b.skill)
    np.testing.assert_array_equal(a.dropout_at, b.dropout_at)
    assert a.coldkeys == b.coldkeys
    assert not np.array_equal(a.skill, c.skill)

    sizes = Counter(a.coldkeys)
    assert sorted(n for n in sizes.values() if n > 1) == [5, 11]
    tasks_taken = a.participates.sum(axis=1)
    assert (tasks_taken == 1).any() and (tasks_taken == 3).any()
    assert (tasks_taken >= 1).all()
    dropping = np.isfinite(a.dropout_at)
    assert dropping.any()
    # Drop-outs happen inside the run and only to independent miners.
    assert ((a.dropout_at[dropping] > 0) & (a.dropout_at[dropping] < 2 * DAY)).all()
    assert (a.cluster[dropping] == -1).all()


def test_small_population_has_no_farm_larger_than_it_can_hold() -> None:
    p = make_population(16, seed=0, duration_seconds=DAY)
    assert max(Counter(p.coldkeys).values()) <= 5


def test_quality_counts_only_taken_tasks_and_active_miners() -> None:
    p = make_population(32, seed=1, duration_seconds=DAY)
    q = p.quality(0.0)
    weights = np.array([0.7, 0.15, 0.15])
    np.testing.assert_allclose(q, (p.skill * p.participates) @ weights)
    gone = np.isfinite(p.dropout_at)
    later = p.quality(DAY)
    assert (later[gone] == 0).all()
    np.testing.assert_allclose(later[~gone], q[~gone])


def test_schedule_per_day() -> None:
    runs = runs_between(T0, T0 + timedelta(days=1), n_regions=3)
    by_task = Counter(r.task_name for r in runs)
    assert by_task["weather"] == 4  # two forecast runs, each an initial and a final row
    assert by_task["geomagnetic"] == 24
    for region in range(3):
        assert by_task[f"soil_moisture_region_{region}"] == 3
    weather = [r for r in runs if r.task_name == "weather"]
    assert sum(r.task_id.startswith("initial_weather_scores") for r in weather) == 2
    finals = [r for r in weather if r.task_id.startswith("final_weather_scores")]
    assert len(finals) == 2 and all(r.status == "completed" for r in finals)
    assert [r.at for r in runs] == sorted(r.at for r in runs)
    # Consecutive windows partition the schedule: nothing is produced twice or lost.
    mid = T0 + timedelta(hours=7, minutes=5)
    halves = runs_between(T0, mid) + runs_between(mid, T0 + timedelta(days=1))
    assert [(r.task_name, r.task_id) for r in halves] == [(r.task_name, r.task_id) for r in runs]


def test_scores_follow_participation_and_dropout() -> None:
    p = make_population(40, seed=3, duration_seconds=DAY)
    run = next(r for r in runs_between(T0, T0 + timedelta(hours=2)) if r.task_name == "geomagnetic")
    s1 = run_scores(p, run, 0.0, run_rng(3, run))
    s2 = run_scores(p, run, 0.0, run_rng(3, run))
    np.testing.assert_array_equal(s1, s2)
    takes = p.participates[:, 1]
    assert np.isnan(s1[~takes]).all()
    assert np.isfinite(s1[takes]).all()
    assert ((s1[takes] >= 0) & (s1[takes] <= 1)).all()
    late = run_scores(p, run, DAY, run_rng(3, run))
    gone = np.isfinite(p.dropout_at) & (p.dropout_at < DAY)
    assert gone.any()
    assert np.isnan(late[gone]).all()


def test_subnet_layout_and_peers() -> None:
    sim = SimulatedSubnet.create(SimParams(n_miners=48, n_validators=4, seed=2))
    chain = sim.chain
    assert chain.n == 2 + 4 + 48
    assert chain.uid_of(sim.validator_hotkey) == 1
    assert sim.miner_uids.tolist() == list(range(6, 54))
    chain.advance(400)
    assert chain.epoch_index >= 1
    w = chain.weights_matrix()
    # The honest peer (UID 2) weights by the miners' true quality: better miners get more.
    honest = w[2, sim.miner_uids].astype(float)
    quality = sim.population.quality(0.0)
    assert honest.sum() > 0
    assert np.corrcoef(honest, quality)[0, 1] > 0.8
    # The self-dealer (UID 5) puts everything on its coldkey farm.
    farm = sim.miner_uids[sim.population.cluster == 0]
    assert set(np.flatnonzero(w[5]).tolist()) == set(farm.tolist())


def test_step_writes_due_rows_once(engine: Engine) -> None:
    sim = SimulatedSubnet.create(SimParams(n_miners=16, n_validators=2, seed=4, history_seconds=0))
    start = sim.start
    first = sim.step(engine, start + timedelta(hours=6))
    expected = len(runs_between(start, start + timedelta(hours=6, microseconds=1), 3))
    assert first.rows_written == expected > 0
    again = sim.step(engine, start + timedelta(hours=6))
    assert again.rows_written == 0
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT count(*), min(cardinality(score)), max(cardinality(score)) FROM score_table"
            )
        ).one()
    assert rows[0] == expected
    assert rows[1] == rows[2] == sim.chain.n


def test_history_is_written_at_the_first_step(engine: Engine) -> None:
    sim = SimulatedSubnet.create(SimParams(n_miners=8, n_validators=1, seed=5))
    report = sim.step(engine, sim.start)
    assert report.rows_written == len(runs_between(sim.start - timedelta(days=1), sim.start, 3))
    with engine.connect() as conn:
        oldest = conn.execute(text("SELECT min(created_at) FROM score_table")).scalar()
    assert oldest is not None
    assert oldest < sim.start


def test_events_replacement_and_rejection() -> None:
    sim = SimulatedSubnet.create(
        SimParams(n_miners=20, n_validators=1, seed=6, duration_seconds=DAY)
    )
    sim.plan_demo_events()
    assert [("replacement" in e.description, "rejected" in e.description) for e in sim.events] == [
        (True, False),
        (False, True),
    ]
    before = list(sim.population.hotkeys)
    uid_hotkeys = {sim.chain.uid_of(h) for h in before}
    message = sim.events[0].action(sim.start)
    after = sim.population.hotkeys
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) == 1
    i = changed[0]
    assert sim.chain.uid_of(before[i]) is None
    assert sim.chain.uid_of(after[i]) == int(sim.miner_uids[i])
    assert str(sim.miner_uids[i]) in message
    assert {sim.chain.uid_of(h) for h in after} == uid_hotkeys
    sim.events[1].action(sim.start)
    receipt = asyncio.run(
        sim.chain.set_weights(sim.validator_hotkey, sim.chain.netuid, [6], [65535], 0)
    )
    assert receipt.status.value == "rejected"


def test_snapshot_round_trip() -> None:
    sim = SimulatedSubnet.create(SimParams(n_miners=12, n_validators=2, seed=9))
    sim.chain.advance(50)
    restored = SimulatedSubnet.from_json(sim.to_json())
    assert restored.chain.height == sim.chain.height
    assert restored.population.hotkeys == sim.population.hotkeys
    np.testing.assert_array_equal(restored.population.skill, sim.population.skill)
    np.testing.assert_array_equal(restored.population.dropout_at, sim.population.dropout_at)
    run = runs_between(sim.start, sim.start + timedelta(hours=1))[0]
    np.testing.assert_array_equal(restored.scores_for(run), sim.scores_for(run))
