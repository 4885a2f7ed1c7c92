"""The template's moving average: one EMA step per reward row, carried across cycles."""

from __future__ import annotations

import numpy as np

from minertrace.weights.template import carried_scores, fold, hotkey_resets


def test_fold_two_steps() -> None:
    start = np.zeros(3, dtype=np.float32)
    rewards = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    out = fold(start, rewards, 0.1)
    assert out.dtype == np.float32
    # 0.1 * 1 = 0.1, then 0.1 * 1 + 0.9 * 0.1 = 0.19; the others 0 then 0.1.
    np.testing.assert_allclose(out, [0.19, 0.1, 0.1], rtol=1e-6)


def test_fold_in_two_parts_equals_one_fold() -> None:
    rng = np.random.default_rng(3)
    rewards = rng.random((7, 5))
    start = np.zeros(5, dtype=np.float32)
    whole = fold(start, rewards, 0.3)
    parts = fold(fold(start, rewards[:4], 0.3), rewards[4:], 0.3)
    np.testing.assert_array_equal(whole, parts)


def test_alpha_one_keeps_only_the_last_row() -> None:
    out = fold(np.full(2, 0.5, dtype=np.float32), np.array([[0.2, 0.4], [0.7, 0.0]]), 1.0)
    np.testing.assert_array_equal(out, np.array([0.7, 0.0], dtype=np.float32))


def test_carried_scores_grow_with_zeros_and_drop_nan() -> None:
    out = carried_scores(np.array([0.5, np.nan]), 4)
    np.testing.assert_array_equal(out, np.array([0.5, 0, 0, 0], dtype=np.float32))
    assert carried_scores(None, 2).tolist() == [0.0, 0.0]


def test_hotkey_resets() -> None:
    out = hotkey_resets(["a", "b", None, "d"], ["a", "x", "c", None, "e"], 5)
    # b -> x changed; an empty slot gaining a hotkey is no reset; d -> nothing is one.
    assert out.tolist() == [False, True, False, True, False]
    assert not hotkey_resets([], ["a"], 1).any()
