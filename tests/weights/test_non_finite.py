"""Absurd finite scores: a non-finite aggregate is missing (D4); the output stays strict JSON."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minertrace.weights import compute_cycle
from minertrace.weights.jsonsafe import finite_or_null
from tests.helpers.weights import make_inputs

WEATHER = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]]
GEO: list[list[Any]] = [[9e307, 0.5, 0.6, 0.7, 0.8, 0.3], [9e307, 0.4, 0.6, 0.2, 0.1, 0.9]]


def _without_uid0(rows: list[list[Any]]) -> list[list[Any]]:
    return [[None, *row[1:]] for row in rows]


def test_overflowing_geo_mean_is_missing_and_zeroes_no_one() -> None:
    trace = compute_cycle(make_inputs(weather=WEATHER, geo=GEO))
    # The rule's prediction: UID 0's geomagnetic score, (9e307 + 9e307) / 2, overflows, so it
    # is missing, exactly as if UID 0 had no geomagnetic entries.
    reference = compute_cycle(make_inputs(weather=WEATHER, geo=_without_uid0(GEO)))
    assert trace.data_quality()["missing_overflow"] == 1
    assert reference.data_quality()["missing_overflow"] == 0
    assert not trace.geomagnetic.present[0] and trace.weather.present[0]

    # x0 and sd come from the other five means by hand: 0.45, 0.6, 0.45, 0.45, 0.6.
    means = [0.45, 0.6, 0.45, 0.45, 0.6]
    x0 = sum(means) / 5
    sd = math.sqrt(sum((m - x0) ** 2 for m in means) / 5)
    k = max(10.0, min(30.0, 20 / sd))
    assert trace.geo_x0 == pytest.approx(x0, rel=1e-12)
    assert trace.geo_sd == pytest.approx(sd, rel=1e-12)
    assert trace.geo_k == pytest.approx(k, rel=1e-12)
    sig = [1 / (1 + math.exp(-k * (m - x0))) for m in means]
    assert trace.geomagnetic.factor[1:].tolist() == pytest.approx(sig, rel=1e-12)
    assert min(sig) > 0.1

    for name in ("raw_weight", "after_coldkey", "final", "submitted", "u16"):
        assert np.array_equal(getattr(trace, name), getattr(reference, name)), name
    out = trace.to_json_dict()
    json.dumps(out, allow_nan=False)
    assert out["miners"] == reference.to_json_dict()["miners"]
    record = out["miners"]["0"]
    assert record["pathway_details"]["geomagnetic_score"] is None
    assert record["pathway_details"]["num_active_tasks"] == 1
    assert record["diversity_weight"] > 0


def test_soil_score_beyond_float32_is_missing() -> None:
    # The soil step runs in float32, whose largest value is about 3.4e38.
    soil: list[list[Any]] = [[1e39, 0.5, 0.6, 0.7, 0.2, 0.3], [0.4, 0.5, None, 0.7, 0.2, 0.3]]
    trace = compute_cycle(make_inputs(weather=WEATHER, soil=soil))
    # The aggregated score is what is missing, so UID 0's ordinary entry 0.4 goes with it.
    reference = compute_cycle(make_inputs(weather=WEATHER, soil=_without_uid0(soil)))
    assert trace.data_quality()["missing_overflow"] == 1
    assert not trace.soil.present[0]
    for name in ("raw_weight", "final", "submitted"):
        assert np.array_equal(getattr(trace, name), getattr(reference, name)), name
    json.dumps(trace.to_json_dict(), allow_nan=False)


def test_geo_statistics_stay_finite_when_the_sample_sum_overflows() -> None:
    # Each UID's mean is finite (one row); only the sample's sum, 2e308, overflows. Finite
    # scores are scores (spec 4.3): they enter x0, which the scaled fallback keeps finite.
    geo: list[list[Any]] = [[1e308, 1e308, 0.5, 0.6, 0.7, 0.8]]
    trace = compute_cycle(make_inputs(weather=WEATHER, geo=geo))
    assert trace.data_quality()["missing_overflow"] == 0
    assert trace.geo_x0 == pytest.approx(1e308 / 3, rel=1e-12)
    # Population std of {1, 1, ~0, ~0, ~0, ~0} is sqrt(1/3 - 1/9), scaled by 1e308.
    assert trace.geo_sd == pytest.approx(math.sqrt(2 / 9) * 1e308, rel=1e-12)
    assert trace.geo_k == 10.0
    assert trace.geomagnetic.factor.tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    scalars = trace.scalars()
    assert scalars["geo_sigmoid_x0"] is not None and scalars["geo_sd"] is not None
    json.dumps(trace.to_json_dict(), allow_nan=False)


def test_finite_or_null_replaces_every_non_finite_float() -> None:
    value = {
        "a": [1.0, math.nan, {"b": math.inf, "c": (-math.inf, 2)}],
        "d": "NaN",
        "e": None,
        "f": True,
    }
    assert finite_or_null(value) == {
        "a": [1.0, None, {"b": None, "c": [None, 2]}],
        "d": "NaN",
        "e": None,
        "f": True,
    }


huge = st.one_of(
    st.floats(1e300, 1.7976931348623157e308),
    st.floats(-1.7976931348623157e308, -1e300),
    st.floats(0.01, 1.0),
    st.none(),
    st.just(0.0),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 8).flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(huge, min_size=n, max_size=n), max_size=2),
            st.lists(st.lists(huge, min_size=n, max_size=n), max_size=4),
        )
    )
)
def test_absurd_scores_count_as_overflow_and_stay_strict_json(
    data: tuple[list[list[Any]], list[list[Any]]],
) -> None:
    weather, geo = data
    trace = compute_cycle(make_inputs(weather=weather, geo=geo))
    json.dumps(trace.to_json_dict(), allow_nan=False)
    # Independent count: a geomagnetic mean that is not finite, summed left to right (numpy
    # sums fewer than 8 values in order), missing entries as 0.
    overflowed = 0
    for uid in range(len(geo[0]) if geo else 0):
        total = 0.0
        for row in geo:
            total += row[uid] or 0.0
        overflowed += not math.isfinite(total / len(geo))
    assert trace.data_quality()["missing_overflow"] == overflowed
    for stage in trace.tasks.values():
        assert not np.isinf(stage.score).any()
    assert math.isfinite(trace.geo_x0) and 10 <= trace.geo_k <= 30
    assert trace.geo_sd is None or math.isfinite(trace.geo_sd)
    if trace.final is not None:
        assert math.isclose(float(trace.final.sum()), 1.0, rel_tol=1e-12)


def test_finite_or_null_gives_plain_json_types_for_numpy_and_dates() -> None:
    from datetime import date, datetime, timezone

    value = {
        "floats": np.array([1.0, np.nan, -np.inf]),
        "finite": np.array([0.5, 2.0]),
        "ints": np.array([1, 2], dtype=np.int64),
        "flags": np.array([True, False]),
        "scalars": (np.float64(np.inf), np.float32(0.5), np.int16(3), np.bool_(True)),
        "when": datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc),
        "day": date(2026, 1, 2),
    }
    out = finite_or_null(value)
    assert out == {
        "floats": [1.0, None, None],
        "finite": [0.5, 2.0],
        "ints": [1, 2],
        "flags": [True, False],
        "scalars": [None, 0.5, 3, True],
        "when": "2026-01-02T03:04:00+00:00",
        "day": "2026-01-02",
    }
    assert [type(v) for v in out["scalars"]] == [type(None), float, int, bool]
    json.dumps(out, allow_nan=False)
