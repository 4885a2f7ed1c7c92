"""Conformance of the SDK's limits, with vectors worked out by hand from its documented steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from minertrace.weights import u16_encode
from minertrace.weights.template import normalize_max_weight, process_weights
from minertrace.weights.template.limits import (
    BRANCH_BELOW_MIN,
    BRANCH_LIMITED,
    BRANCH_UNIFORM,
    FLOOR_WEIGHT,
)

EPS = 1e-7


def test_clip_worked_example() -> None:
    # Sorted shares .05 .05 .9: two stay under the limit, cutoff (0.5 * 0.1 - eps) / 0.5.
    out = normalize_max_weight(np.array([0.9, 0.05, 0.05]), 0.5)
    cutoff = (0.5 * 0.1 - EPS) / 0.5
    total = cutoff + 0.1
    np.testing.assert_allclose(out, [cutoff / total, 0.05 / total, 0.05 / total], rtol=1e-15)
    assert out.max() < 0.5


def test_clip_within_limit_is_a_plain_normalisation() -> None:
    out = normalize_max_weight(np.array([1.0, 2.0, 1.0]), 0.6)
    np.testing.assert_array_equal(out, np.array([1.0, 2.0, 1.0]) / 4.0)


@pytest.mark.parametrize("x", [[0.0, 0.0, 0.0, 0.0], [5.0, 1.0, 0.0, 0.0]])
def test_clip_uniform_when_zero_or_too_short(x: list[float]) -> None:
    # All zero, or n * limit <= 1 (4 * 0.25): uniform.
    out = normalize_max_weight(np.array(x), 0.25 if sum(x) else 0.5)
    np.testing.assert_array_equal(out, np.full(4, 0.25))


def test_clip_keeps_float32() -> None:
    x = np.array([0.7, 0.2, 0.1], dtype=np.float32)
    out = normalize_max_weight(x, 0.5)
    assert out.dtype == np.float32
    assert float(out.max()) <= 0.5


def test_uniform_when_no_positive_weight() -> None:
    p = process_weights(np.arange(4), np.zeros(4), 4, 1, 1.0)
    assert p.branch == BRANCH_UNIFORM
    np.testing.assert_array_equal(p.uids, np.arange(4))
    np.testing.assert_array_equal(p.weights, np.full(4, 0.25))


def test_uniform_when_subnet_smaller_than_min_allowed() -> None:
    p = process_weights(np.arange(3), np.array([0.2, 0.3, 0.5]), 3, 5, 1.0)
    assert p.branch == BRANCH_UNIFORM
    np.testing.assert_array_equal(p.weights, np.full(3, 1 / 3))


def test_floor_when_fewer_positive_than_min_allowed() -> None:
    p = process_weights(np.arange(4), np.array([0.0, 0.6, 0.0, 0.4]), 4, 3, 1.0)
    assert p.branch == BRANCH_BELOW_MIN
    # Every UID gets 1e-5, the positive ones their float32 weight on top; then / sum.
    w = np.array(
        [
            FLOOR_WEIGHT,
            FLOOR_WEIGHT + float(np.float32(0.6)),
            FLOOR_WEIGHT,
            FLOOR_WEIGHT + float(np.float32(0.4)),
        ]
    )
    np.testing.assert_allclose(p.weights, w / w.sum(), rtol=1e-15)
    np.testing.assert_array_equal(p.uids, np.arange(4))


def test_exclude_quantile_drops_the_lowest() -> None:
    w = np.array([0.1, 0.2, 0.3, 0.4])
    # 32767 / 65535 just under the median: 0.1 and 0.2 lie below the quantile value.
    p = process_weights(np.arange(4), w, 4, 2, 1.0, exclude_quantile=32767)
    assert p.branch == BRANCH_LIMITED
    np.testing.assert_array_equal(p.uids, [2, 3])
    np.testing.assert_allclose(p.weights, [3 / 7, 4 / 7], rtol=1e-6)
    assert p.quantile == pytest.approx(32767 / 65535)


def test_exclusion_never_leaves_fewer_than_min_allowed() -> None:
    w = np.array([0.1, 0.2, 0.3, 0.4])
    p = process_weights(np.arange(4), w, 4, 3, 1.0, exclude_quantile=65535)
    # At most (4 - 3) / 4 of the weights may go: quantile 0.25 = 0.175.
    assert p.quantile == pytest.approx(0.25)
    np.testing.assert_array_equal(p.uids, [1, 2, 3])
    np.testing.assert_allclose(p.weights, [2 / 9, 3 / 9, 4 / 9], rtol=1e-6)


def test_zero_weights_are_dropped_before_the_quantile() -> None:
    p = process_weights(np.array([0, 1, 2, 5]), np.array([0.0, 0.5, 0.0, 0.5]), 6, 1, 1.0)
    np.testing.assert_array_equal(p.uids, [1, 5])
    np.testing.assert_array_equal(p.weights, np.array([0.5, 0.5], dtype=np.float32))


def test_u16_rounds_half_to_even_and_drops_zeros() -> None:
    # 1/2 * 65535 = 32767.5 -> 32768 (even); 1e-6 -> 0.07 -> dropped.
    uids, vals = u16_encode([3, 4, 9], [2.0, 1.0, 2e-6])
    assert uids.tolist() == [3, 4]
    assert vals.tolist() == [65535, 32768]


VECTORS = Path(__file__).resolve().parents[2] / "data" / "template" / "sdk_process_weights.json"


def _vectors() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(VECTORS.read_text())["cases"]
    return cases


@pytest.mark.parametrize("case", _vectors())
def test_sdk_vectors_bit_for_bit(case: dict[str, Any]) -> None:
    n = case["num_neurons"]
    p = process_weights(
        np.arange(n),
        np.array(case["weights"]),
        n,
        case["min_allowed_weights"],
        case["max_weight_limit"],
        case["exclude_quantile"],
    )
    want = case["expected"]
    assert str(p.weights.dtype) == want["dtype"]
    assert p.uids.tolist() == want["uids"]
    assert p.weights.astype(np.float64).tolist() == want["weights"]
    emit_uids, emit_u16 = u16_encode(p.uids, p.weights)
    assert emit_uids.tolist() == want["emit_uids"]
    assert emit_u16.tolist() == want["emit_u16"]
