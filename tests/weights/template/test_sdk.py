"""The template's limits against the installed bittensor SDK on random inputs.

The v11 SDK keeps the max-weight clip (``intents.weights.clip_to_max_weight``, float64) and
the u16 quantisation (``intents.weights.normalize``); SDKs up to v9 have the whole
``weight_utils`` (``process_weights``, ``convert_weights_and_uids_for_emit``). Each test runs
when its SDK function is importable; the outputs of the v9 functions on random inputs are also
kept as vectors (``tests/data/template``, checked in ``test_limits.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from minertrace.weights import u16_encode
from minertrace.weights.template import normalize_max_weight, process_weights

intents = pytest.importorskip("bittensor.intents.weights", reason="the bittensor extra")


def _cases(seed: int, count: int) -> list[tuple[np.ndarray, float]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        n = int(rng.integers(2, 300))
        w = rng.random(n) ** rng.uniform(0.5, 8)
        w[rng.random(n) < 0.2] = 0.0
        w[0] = max(w[0], 1e-3)
        limit = float(rng.uniform(1.5 / n, 1.0))
        out.append((w, limit))
    return out


@pytest.mark.parametrize(("w", "limit"), _cases(11, 200))
def test_clip_matches_sdk(w: np.ndarray, limit: float) -> None:
    ours = normalize_max_weight(w, limit)
    theirs = np.array(intents.clip_to_max_weight(w.tolist(), limit))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("w", "limit"), _cases(12, 200))
def test_u16_matches_sdk(w: np.ndarray, limit: float) -> None:
    uids = np.arange(w.shape[0])
    ours_u, ours_v = u16_encode(uids, w)
    theirs_u, theirs_v = intents.normalize(uids.tolist(), w.tolist())
    assert ours_u.tolist() == theirs_u
    assert ours_v.tolist() == theirs_v


def test_process_weights_matches_legacy_sdk() -> None:
    legacy = pytest.importorskip("bittensor.utils.weight_utils", reason="bittensor <= 9")
    for w, limit in _cases(13, 100):
        n = w.shape[0]
        sparse = np.where(np.arange(n) % 3 == 0, w, 0.0)
        for weights, mins, quantile in (
            (w, 1, 0),
            (w, n // 2, 20000),
            (w, n + 1, 0),
            (sparse, n // 2 + 1, 0),
            (np.zeros(n), 1, 0),
        ):
            p = process_weights(np.arange(n), weights, n, mins, limit, quantile)
            u, v = legacy.process_weights(np.arange(n), weights, n, mins, limit, quantile)
            np.testing.assert_array_equal(p.uids, u)
            np.testing.assert_array_equal(p.weights, v)
            assert p.weights.dtype == v.dtype
            ours = u16_encode(p.uids, p.weights)
            theirs = legacy.convert_weights_and_uids_for_emit(u, v)
            assert (ours[0].tolist(), ours[1].tolist()) == (list(theirs[0]), list(theirs[1]))
