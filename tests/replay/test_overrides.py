"""`--set FIELD=VALUE` parsing and the pure comparisons of replay."""

from __future__ import annotations

import numpy as np
import pytest

from minertrace.validator.replay_diff import compare_vectors, weight_ranks
from minertrace.validator.replay_overrides import (
    OverrideError,
    apply_overrides,
    field_names,
    parse_assignments,
)
from minertrace.weights import WeightConfig


def test_values_parse_by_the_field_type() -> None:
    got = parse_assignments(
        [
            "curve_b=55",
            "coldkey_upper=7",
            "coldkey_smoothing=no",
            "soil_row_limit=none",
            "weather_task_id_prefixes=final_a, initial_b",
        ]
    )
    assert got == {
        "curve_b": 55.0,
        "coldkey_upper": 7,
        "coldkey_smoothing": False,
        "soil_row_limit": None,
        "weather_task_id_prefixes": ("final_a", "initial_b"),
    }
    cfg = apply_overrides(WeightConfig(), got)
    assert cfg.coldkey_upper == 7 and cfg.soil_row_limit is None
    assert "curve_b" in field_names() and len(field_names()) == len(WeightConfig().to_dict())


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("curve_b", "expected FIELD=VALUE"),
        ("=3", "expected FIELD=VALUE"),
        ("curveb=3", "no such WeightConfig field"),
        ("coldkey_upper=2.5", "coldkey_upper=2.5: expected int"),
        ("curve_b=nan", "expected a finite number"),
        ("coldkey_smoothing=2", "expected true or false"),
    ],
)
def test_bad_assignments(pair: str, message: str) -> None:
    with pytest.raises(OverrideError, match=message):
        parse_assignments([pair])


def test_config_checks_apply() -> None:
    with pytest.raises(OverrideError, match="coldkey_upper must be > lower"):
        apply_overrides(WeightConfig(), {"coldkey_upper": 2})


def test_compare_vectors_is_exact() -> None:
    new = np.array([0.1, np.nan, np.inf, 3.0])
    assert compare_vectors("v", [0.1, None, None, 3.0], new) is None
    d = compare_vectors("v", [0.1, None, None, 3.0000000000000004], new)
    assert d is not None and d.uids == [3] and d.count == 1
    short = compare_vectors("v", [0.1], new)
    assert short is not None and short.count == 4


def test_weight_ranks_share_ties() -> None:
    ranks = weight_ranks(np.array([0.2, 0.5, 0.0, 0.2, np.nan, 0.1]))
    assert ranks.tolist() == [2, 1, 0, 2, 0, 4]
