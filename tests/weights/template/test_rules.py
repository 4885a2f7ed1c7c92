"""`TemplateRules` end to end: stages, carried state, replay, and the plug-in protocol."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from minertrace.weights import CycleInputs, CycleTrace, ScoreRow
from minertrace.weights.rules import (
    GaiaRules,
    RulesTrace,
    StoredCycle,
    WeightRules,
    rules_by_name,
    rules_name,
    stage_specs,
)
from minertrace.weights.template import TemplateConfig, TemplateRules, TemplateTrace

NOW = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)


def _inputs(rows: list[list[Any]], *, hotkeys: list[str] | None = None, **kw: Any) -> CycleInputs:
    n = len(rows[0]) if rows else len(hotkeys or [])
    hk = hotkeys or [f"hk{u}" for u in range(n)]
    score_rows = [
        ScoreRow("geomagnetic", f"t{i}", r, NOW - timedelta(hours=len(rows) - i))
        for i, r in enumerate(rows)
    ]
    return CycleInputs(
        [], score_rows, [], NOW, nodes=[(u, h, f"ck{u}") for u, h in enumerate(hk)], n_uids=n, **kw
    )


def _stored(trace: TemplateTrace) -> StoredCycle:
    # Through JSON, as the row's scalars come back from PostgreSQL.
    return StoredCycle(scalars=json.loads(json.dumps(trace.scalars())))


def test_worked_cycle() -> None:
    rules = TemplateRules(TemplateConfig(moving_average_alpha=0.5))
    t = rules.compute(_inputs([[1.0, 0.0, None, 0.5], [1.0, 1.0, None, None]]))
    # EMA 0.5: [0.5, 0, 0, 0.25] then [0.75, 0.5, 0, 0.125]; L1 norm 1.375.
    np.testing.assert_allclose(t.moving_average, [0.75, 0.5, 0.0, 0.125], rtol=1e-7)
    np.testing.assert_allclose(t.normalized, np.array([0.75, 0.5, 0, 0.125]) / 1.375, rtol=1e-6)
    assert t.reward_count.tolist() == [2, 2, 0, 1]
    assert t.process_branch == "limited"
    assert t.emit_uids.tolist() == [0, 1, 3]
    # Max-upscaled: 0.5 / 0.75 * 65535 = 43690; 0.125 / 0.75 * 65535 = 10922.5 -> 10922 (even).
    assert t.emit_u16.tolist() == [65535, 43690, 10922]
    assert t.encoding_ok and t.weights_produced
    assert t.scalars()["rules"] == "template"
    assert set(t.stage_vectors()) == {s.name for s in rules.stages}


def test_state_carries_across_cycles_and_rows_are_folded_once() -> None:
    rules = TemplateRules()
    rows = [[0.2, 0.8, 0.0], [0.4, 0.6, 1.0], [0.9, 0.1, 0.5]]
    first = rules.compute(_inputs(rows[:2]))
    second = rules.compute(_inputs(rows), _stored(first))
    assert second.scalars()["rows_folded"] == 1
    whole = rules.compute(_inputs(rows))
    np.testing.assert_array_equal(second.moving_average, whole.moving_average)
    np.testing.assert_array_equal(second.emit_u16, whole.emit_u16)
    again = rules.compute(_inputs(rows), _stored(second))
    assert again.scalars()["rows_folded"] == 0
    np.testing.assert_array_equal(again.moving_average, second.moving_average)


def test_replay_from_the_cycle_own_row_is_bit_exact() -> None:
    rules = TemplateRules()
    rows = [[0.2, 0.8, 0.0], [0.4, 0.6, 1.0], [0.9, 0.1, 0.5]]
    first = rules.compute(_inputs(rows[:1]))
    second = rules.compute(_inputs(rows), _stored(first))
    previous = rules.replay_previous(_stored(second))
    replayed = rules.compute(_inputs(rows), previous)
    for name, vec in second.stage_vectors().items():
        np.testing.assert_array_equal(replayed.stage_vectors()[name], vec, err_msg=name)


def test_hotkey_change_restarts_the_average() -> None:
    rules = TemplateRules()
    first = rules.compute(_inputs([[1.0, 1.0, 1.0]]))
    second = rules.compute(
        _inputs([[1.0, 1.0, 1.0]], hotkeys=["hk0", "new", "hk2"]), _stored(first)
    )
    assert second.hotkey_reset.tolist() == [False, True, False]
    assert second.ema_before[1] > 0
    assert second.moving_average[1] == 0.0
    assert second.moving_average[0] == second.ema_before[0]


def test_no_reward_gives_everyone_the_same_weight() -> None:
    t = TemplateRules().compute(_inputs([], hotkeys=["a", "b", "c", "d"]))
    assert t.process_branch == "uniform"
    assert t.emit_u16.tolist() == [65535] * 4


def test_rows_of_the_wrong_length_are_not_folded() -> None:
    bad = ScoreRow("geomagnetic", "bad", [1.0], NOW)
    inputs = CycleInputs([], [bad], [], NOW, nodes=[(0, "a", "c"), (1, "b", "c")], n_uids=2)
    t = TemplateRules().compute(inputs)
    assert t.data_quality()["rows_not_folded"] == 1
    assert t.moving_average.tolist() == [0.0, 0.0]


def test_max_weight_limit_and_min_allowed_apply() -> None:
    t = TemplateRules().compute(
        _inputs([[1.0, 0.01, 0.01, 0.01]], max_weight_limit=0.4, min_allowed_weights=2)
    )
    shares = t.emit_u16 / t.emit_u16.sum()
    assert shares.max() <= 0.4
    assert t.encoding_ok


def test_empty_subnet_produces_nothing() -> None:
    t = TemplateRules().compute(CycleInputs([], [], [], NOW, n_uids=0))
    assert not t.weights_produced
    assert not t.encoding_ok
    json.dumps(t.to_json_dict(), allow_nan=False)


def test_both_rules_satisfy_the_protocol() -> None:
    for name in ("gaia", "template"):
        rules = rules_by_name(name)
        assert isinstance(rules, WeightRules)
        trace = rules.compute(_inputs([[0.5, 0.9, 0.1, 0.7, 0.3]]))
        assert isinstance(trace, RulesTrace)
        assert set(trace.stage_vectors()) == {s.name for s in stage_specs(name)}
        assert rules_name(trace.scalars()) == name


def test_gaia_adapter_is_compute_cycle() -> None:
    from minertrace.weights import compute_cycle

    inputs = _inputs([[0.5, 0.9, 0.1, 0.7, 0.3]])
    a = GaiaRules().compute(inputs)
    assert isinstance(a, CycleTrace)
    np.testing.assert_array_equal(a.emit_u16, compute_cycle(inputs).emit_u16)
    assert GaiaRules().replay_previous(StoredCycle()) is None
    assert not GaiaRules().stateful and TemplateRules().stateful


def test_the_setting_names_every_rules() -> None:
    from minertrace.flags import WEIGHT_RULES
    from minertrace.weights.rules import RULES

    assert sorted(WEIGHT_RULES) == sorted(RULES)


def test_unknown_rules_and_bad_config() -> None:
    with pytest.raises(ValueError, match="unknown weight rules 'nope'"):
        rules_by_name("nope")
    with pytest.raises(ValueError, match="moving_average_alpha"):
        TemplateConfig(moving_average_alpha=1.5)
    with pytest.raises(ValueError, match="exclude_quantile"):
        TemplateConfig(exclude_quantile=70000)
    with pytest.raises(ValueError, match="unknown field"):
        TemplateConfig.from_dict({"alpha": 0.2})
    assert (
        rules_by_name("template", {"moving_average_alpha": 0.2}).config.to_dict()[
            "moving_average_alpha"
        ]
        == 0.2
    )
