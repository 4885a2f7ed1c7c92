"""The emit encoder against the bittensor SDK's own (the `bittensor` extra).

The extra is installed in development and CI; there (CI set) a missing SDK fails the test
instead of skipping it, so the comparison cannot silently stop running.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from minertrace.weights import u16_encode

SdkEncoder = Callable[[Sequence[int], Sequence[float]], tuple[list[int], list[int]]]


def _sdk_encoder() -> SdkEncoder:
    try:
        from bittensor.intents.weights import normalize
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("the bittensor extra is not installed")
    encoder: SdkEncoder = normalize
    return encoder


def _edge_cases() -> list[list[float]]:
    halves = [(k + 0.5) / 65535 for k in (0, 1, 2, 3, 32766, 65533)]
    return [
        [0.2, 0.5, 0.3],
        [1.0],
        [0.0, 0.0, 1.0],
        [1.0, 1.0, 1.0],
        [1.0, *halves],
        [65535.0, 0.5, 1.5, 2.5, 0.0],
        [1.0, 1e-9, 1e-6, 7.6e-6, 7.7e-6],
        [1 / 3, 2 / 3, 1.0],
        [5e-324, 1e-300],
        [1e300, 1e299, 1.0],
        [0.1] * 10 + [0.30000000000000004],
    ]


def _assert_same(encode: SdkEncoder, weights: list[float]) -> None:
    uids = list(range(len(weights)))
    ours_uids, ours_vals = u16_encode(uids, weights)
    sdk_uids, sdk_vals = encode(uids, weights)
    assert ours_uids.tolist() == sdk_uids, weights
    assert ours_vals.tolist() == sdk_vals, weights


@pytest.mark.parametrize("weights", _edge_cases(), ids=str)
def test_emit_encoding_matches_sdk_on_edge_cases(weights: list[float]) -> None:
    _assert_same(_sdk_encoder(), weights)


def test_emit_encoding_matches_sdk_on_random_vectors() -> None:
    encode = _sdk_encoder()
    rng = np.random.default_rng(2026)
    for trial in range(300):
        n = int(rng.integers(1, 300))
        w = rng.random(n) ** int(rng.integers(1, 8))
        w[rng.random(n) < 0.3] = 0.0
        if trial % 5 == 0:
            # Values on exact half units of the largest weight, where the roundings differ.
            w = (rng.integers(0, 131071, n) / 2.0) / 65535.0
            w[0] = 1.0
        _assert_same(encode, w.tolist())


def test_half_units_round_to_even_as_in_the_sdk() -> None:
    # Rounding halves up (the old LocalChain peers' encoder) would give 1, 2, 3, 4 here.
    uids, vals = u16_encode(list(range(5)), [1.0, *((k + 0.5) / 65535 for k in range(4))])
    assert uids.tolist() == [0, 2, 3, 4]
    assert vals.tolist() == [65535, 2, 2, 4]
    _assert_same(_sdk_encoder(), [1.0, *((k + 0.5) / 65535 for k in range(4))])


def test_all_zero_and_empty_send_nothing_in_both() -> None:
    encode = _sdk_encoder()
    for weights in ([0.0, 0.0], []):
        _assert_same(encode, weights)


def test_both_refuse_bad_vectors() -> None:
    encode = _sdk_encoder()
    for uids, weights in (([0, 1], [0.5, -0.1]), ([0, 70000], [0.5, 0.5]), ([0], [float("nan")])):
        with pytest.raises(ValueError):
            u16_encode(uids, weights)
        with pytest.raises(Exception, match=r"(?i)weights|uids"):
            encode(uids, weights)
