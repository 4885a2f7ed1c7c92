"""record_scores and node sync: unstorable inputs are a ScoreValidationError naming the row,
or the documented missing-value rule, never a driver error; one bad neuron never fails a sync."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timezone
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy import Engine, text

from minertrace.chain.types import NeuronInfo
from minertrace.store import ScoreValidationError, record_scores
from minertrace.validator.node_sync import apply_metagraph

NOW = datetime(2025, 7, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("task_name", "task_id", "status", "scores"),
    [
        ("geomagnetic", "task\x00id", "completed", [0.5]),
        ("geomagnetic", "task\ud800id", "completed", [0.5]),
        ("geomagnetic", "t1", "done\x00", [0.5]),
        ("geomagnetic", "t1", "\udfff", [0.5]),
        ("geomagnetic\x00", "t1", "completed", [0.5]),
        ("geomagnetic", "t1", "completed", {2**63: 0.5}),
        ("geomagnetic", "t1", "completed", {2**70: 0.5}),
        ("geomagnetic", "t1", "completed", {70000: 0.5}),
        ("geomagnetic", "t1", "completed", {-1: 0.5}),
    ],
)
def test_unstorable_rows_name_the_row(
    engine: Engine, task_name: str, task_id: str, status: str, scores: Any
) -> None:
    with pytest.raises(ScoreValidationError) as excinfo:
        record_scores(engine, task_name, task_id, scores, NOW, status, n_uids=4)
    assert str(excinfo.value).startswith("score row (")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM score_table")).scalar() == 0


def test_values_that_overflow_a_float_are_missing(engine: Engine) -> None:
    report = record_scores(
        engine, "geomagnetic", "t1", [10**400, Fraction(10**400, 3), 0.5, -(10**400)], NOW
    )
    assert report.n_valid == 1
    assert set(report.bad_entries) == {0, 1, 3}
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT score FROM score_table")).scalar_one()
    assert math.isnan(stored[0]) and stored[2] == 0.5


def _neuron(uid: int, hotkey: Any = None, **fields: Any) -> NeuronInfo:
    values: dict[str, Any] = {
        "coldkey": f"ck{uid}",
        "stake": 1.0,
        "validator_permit": False,
        "active": True,
        "last_update": 1,
        "block_at_registration": 1,
        **fields,
    }
    return NeuronInfo(uid=uid, hotkey=f"hk{uid}" if hotkey is None else hotkey, **values)


def test_one_bad_neuron_does_not_fail_the_sync(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    neurons = [
        _neuron(0),
        _neuron(1, hotkey="bad\x00key"),
        _neuron(2, hotkey="lone\ud800"),
        _neuron(3, axon_port=2**40, axon_ip="1.2.3.4\x00"),
        _neuron(4, last_update=2**70),
        _neuron(2**40),
    ]
    with caplog.at_level(logging.WARNING):
        report = apply_metagraph(engine, neurons, now=NOW)
    assert report.n_neurons == 5
    with engine.connect() as conn:
        rows: dict[int, str | None] = dict(
            conn.execute(text("SELECT uid, hotkey FROM node_table")).all()
        )
    assert rows == {0: "hk0", 1: None, 2: None, 3: "hk3", 4: "hk4"}
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "uid 1 has unstorable hotkey" in warned and "left out" in warned
