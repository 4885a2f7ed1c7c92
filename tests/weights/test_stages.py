"""Unit tests per stage, from the spec's reference values and numpy's own primitives."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from minertrace.weights import WeightConfig, compute_cycle, normalize_max_weight, u16_encode
from minertrace.weights.aggregate import soil_scores
from minertrace.weights.numerics import linear_percentile, pairwise_sum_selected
from minertrace.weights.pathways import diversity_multiplier
from minertrace.weights.transforms import coldkey_multiplier, logistic_curve, rank_fallback
from tests.helpers.weights import make_inputs

CFG = WeightConfig()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_sum_matches_numpy_for_every_length(dtype: type[np.floating[Any]]) -> None:
    rng = np.random.default_rng(1)
    values = (rng.random((40, 300)) * 10.0 ** rng.integers(-3, 4, (40, 300))).astype(dtype)
    for length in range(0, 300, 7):
        prefix = np.broadcast_to(np.arange(300) < length, (40, 300))
        expected = np.array([np.sum(values[r, :length]) for r in range(40)], dtype=dtype)
        assert np.array_equal(pairwise_sum_selected(values, prefix), expected), length


def test_pairwise_sum_with_mixed_lengths() -> None:
    rng = np.random.default_rng(2)
    values = rng.random((64, 500)).astype(np.float32)
    counts = rng.integers(0, 501, 64)
    expected = np.array([np.sum(values[r, : counts[r]]) for r in range(64)], dtype=np.float32)
    prefix = np.arange(500)[None, :] < counts[:, None]
    assert np.array_equal(pairwise_sum_selected(values, prefix), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_sum_selected_matches_numpy_on_subsets(dtype: type) -> None:
    rng = np.random.default_rng(4)
    values: np.ndarray = (rng.random((60, 700)) * 10.0 ** rng.integers(-3, 4, (60, 700))).astype(
        dtype
    )
    mask = rng.random((60, 700)) < rng.random((60, 1))
    mask[0] = False
    mask[1] = True
    got = pairwise_sum_selected(values, mask)
    expected: np.ndarray = np.array([np.sum(values[r][mask[r]]) for r in range(60)], dtype=dtype)
    assert got.dtype == dtype
    assert np.array_equal(got, expected)


def _spec_pairwise(a: list[np.float32]) -> np.float32:
    """Spec §2.2 written out, every partial sum rounded to float32 by numpy scalar arithmetic."""
    n = len(a)
    if n < 8:
        res: np.float32 = np.float32(0.0)
        for x in a:
            res = np.float32(res + x)
        return res
    if n <= 128:
        r = list(a[:8])
        i = 8
        while i + 8 <= n:
            r = [r[j] + a[i + j] for j in range(8)]
            i += 8
        res2: np.float32 = np.float32(
            ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        )
        for x in a[i:]:
            res2 = np.float32(res2 + x)
        return res2
    h = n // 2
    h -= h % 8
    total: np.float32 = np.float32(_spec_pairwise(a[:h]) + _spec_pairwise(a[h:]))
    return total


def test_pairwise_sum_selected_follows_the_spec_order() -> None:
    rng = np.random.default_rng(5)
    values = (rng.random((1, 400)) * 10.0 ** rng.integers(-4, 5, (1, 400))).astype(np.float32)
    for length in (*range(0, 140), 255, 256, 257, 300, 399):
        mask = np.zeros((1, 400), dtype=bool)
        mask[0, rng.permutation(400)[:length]] = True
        expected = _spec_pairwise(list(values[0][mask[0]]))
        assert pairwise_sum_selected(values, mask)[0] == expected, length


@pytest.mark.parametrize("n", [1, 2, 5, 10, 11, 48, 129])
@pytest.mark.parametrize("q", [80.0, 85.0, 15.0, 100.0])
def test_linear_percentile_matches_numpy(n: int, q: float) -> None:
    sample = np.sort(np.random.default_rng(n).random(n))
    assert linear_percentile(sample, q) == np.percentile(sample, q)


def test_diversity_multiplier_reference_values() -> None:
    mult = diversity_multiplier(np.array([50.0, 85.0, 100.0]), CFG)
    assert mult == pytest.approx([0.99167, 1.18381, 1.19506], abs=5e-6)


def test_diversity_uses_the_float_difference_of_the_bounds() -> None:
    sig = 1 / (1 + math.exp(-0.08 * (60 - 35)))
    assert diversity_multiplier(np.array([60.0]), CFG)[0] == 0.3 + 0.8999999999999999 * sig


def test_curve_reference_values() -> None:
    m = 0.6
    norm = np.array([m, m + 0.05, m + 0.1])
    sig = logistic_curve(norm, m, CFG) - 0.01 * norm
    assert sig == pytest.approx([6.46e-4, 0.476, 0.957], rel=2e-3)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (1, 1.0),
        (2, 1.0),
        (3, 1.0),
        (4, 0.8857142857142857),
        (5, 0.7714285714285714),
        (9, 0.31428571428571417),
        (10, 0.0),
        (25, 0.0),
    ],
)
def test_coldkey_multiplier_table(size: int, expected: float) -> None:
    assert coldkey_multiplier(np.array([size]), CFG)[0] == expected


def test_coldkey_group_of_four_scaled_and_validators_count() -> None:
    n = 12
    row: list[float | None] = [0.5 + 0.01 * u for u in range(n)]
    row[3] = None  # a member without score still counts toward the group
    nodes = [(u, f"hk{u}", "shared" if u < 4 else f"ck{u}") for u in range(n)]
    trace = compute_cycle(make_inputs(weather=[row], nodes=nodes))
    assert trace.coldkey_group_size[:4].tolist() == [4, 4, 4, 4]
    assert trace.coldkey_group_size[4:].tolist() == [1] * (n - 4)
    mult = 0.8857142857142857
    assert np.array_equal(trace.after_coldkey[:3], trace.raw_weight[:3] * mult)
    assert np.array_equal(trace.after_coldkey[4:], trace.raw_weight[4:])


def test_coldkey_smoothing_switch_off() -> None:
    nodes = [(u, f"hk{u}", "same") for u in range(12)]
    inputs = make_inputs(weather=[[0.3 + 0.05 * u for u in range(12)]], nodes=nodes)
    on = compute_cycle(inputs)
    off = compute_cycle(inputs, WeightConfig(coldkey_smoothing=False))
    assert not on.weights_produced and on.no_weights_reason == "all_zero"
    assert off.weights_produced
    assert np.array_equal(off.after_coldkey, off.raw_weight)


def test_rank_fallback_orders_by_weight_then_uid() -> None:
    weights = np.array([0.0, 0.5, 0.9, 0.5, 0.2])
    out = rank_fallback(weights, CFG)
    # order: uid 2, then the tie 1 before 3, then 4; uid 0 has no weight.
    assert out.tolist() == [0.0, 1 / 2**1.2, 1.0, 1 / 3**1.2, 1 / 4**1.2]


def test_uniform_scores_trigger_fallback() -> None:
    row = [0.9 + 1e-6 * u for u in range(30)]
    trace = compute_cycle(make_inputs(weather=[row]))
    assert trace.rank_based_fallback
    assert trace.final is not None
    top = 1 / sum(1 / (i + 1) ** 1.2 for i in range(30))
    assert trace.final[29] == pytest.approx(top, rel=1e-12)


def test_soil_completeness_boundary_and_float32() -> None:
    n_rows = 10
    rows = np.zeros((n_rows, 4))
    rows[:3, 0] = 0.61  # 3 of 10: ratio 0.3, factor 1
    rows[:2, 1] = 0.61  # 2 of 10: penalised by sqrt(0.2 / 0.3)
    rows[:3, 2] = 0.0  # explicit zeros are ignored entirely
    rows[0, 3] = np.nan
    ages = np.zeros(n_rows)
    soil, detail = soil_scores(rows, ages, CFG)
    f32 = float(np.float32(0.61))
    assert soil[0] == f32 == 0.6100000143051147
    assert soil[1] == pytest.approx(f32 * math.sqrt((2 / 10) / 0.3), rel=1e-15)
    assert soil[2] == 0.0 and soil[3] == 0.0
    assert detail.counts.tolist() == [3, 2, 0, 0]


def test_soil_decay_half_life() -> None:
    rows = np.array([[1.0], [0.5]])
    soil, _ = soil_scores(rows, np.array([0.0, 1.0]), CFG)
    w = np.array([1.0, 0.5], dtype=np.float32)
    expected = np.float32((w[0] * np.float32(1.0) + w[1] * np.float32(0.5)) / (w[0] + w[1]))
    assert soil[0] == float(expected)


def test_geomagnetic_mean_counts_missing_as_zero_and_lone_sigmoid_is_half() -> None:
    n = 6
    geo = [[0.6] + [None] * (n - 1), [0.9] + [None] * (n - 1)]
    trace = compute_cycle(make_inputs(geo=geo))
    assert trace.geomagnetic.score[0] == 0.75
    assert trace.geo_x0 == 0.75
    assert trace.geomagnetic.factor[0] == 0.5


def test_ranks_default_to_50_below_five_and_ties_take_the_top() -> None:
    trace = compute_cycle(make_inputs(weather=[[0.2, 0.4, 0.4, 0.6]]))
    assert trace.weather.rank.tolist() == [50.0, 50.0, 50.0, 50.0]
    trace = compute_cycle(make_inputs(weather=[[0.2, 0.4, 0.4, 0.6, 0.8]]))
    assert trace.weather.rank.tolist() == [20.0, 60.0, 60.0, 80.0, 100.0]


def test_excellence_needs_ten_valid_and_inclusive_p85() -> None:
    scores = [0.1 * (u + 1) for u in range(9)]
    trace = compute_cycle(make_inputs(geo=[[*scores, None]]))
    assert not trace.geomagnetic.qualified.any()
    scores = [0.05 * (u + 1) for u in range(20)]
    trace = compute_cycle(make_inputs(geo=[scores]))
    p85 = np.percentile(scores, 85)
    assert trace.geomagnetic.p85 == p85
    assert trace.geomagnetic.qualified.tolist() == [s >= p85 for s in scores]


def test_pathway_labels_d5() -> None:
    row: list[float | None] = [None] * 12
    row[0] = -0.5  # negative weather only: D < 0, E = 0 → weight 0 → label none (D5)
    row[1] = 0.4
    trace = compute_cycle(make_inputs(weather=[row]))
    assert trace.miners is not None
    assert trace.miners[0].scoring_pathway == "none"
    assert trace.miners[0].raw_calculated_weight == 0.0
    assert trace.miners[1].scoring_pathway == "diversity"


def test_uid_zero_alone_gets_all_weight_d1() -> None:
    trace = compute_cycle(make_inputs(weather=[[0.7, None, None, None]]))
    assert trace.weights_produced
    assert trace.final is not None and trace.final.tolist() == [1.0, 0.0, 0.0, 0.0]


def test_u16_encode_sdk_example() -> None:
    uids, vals = u16_encode([0, 1, 2], [0.2, 0.5, 0.3])
    assert uids.tolist() == [0, 1, 2]
    assert vals.tolist() == [26214, 65535, 39321]


def test_u16_encode_drops_zeros_and_rounds_half_to_even() -> None:
    # 0.5 / 65535 * 65535 = 0.5 → rounds to 0 (dropped); 1.5 units → 2.
    w = np.array([65535.0, 0.5, 1.5, 0.0]) / 65535
    uids, vals = u16_encode([3, 4, 5, 6], w)
    assert uids.tolist() == [3, 5]
    assert vals.tolist() == [65535, round(1.5)]
    assert u16_encode([1, 2], [0.0, 0.0])[0].size == 0
    with pytest.raises(ValueError):
        u16_encode([1], [-0.1])


def test_normalize_max_weight_chain_md_example() -> None:
    out = normalize_max_weight([0.9, 0.05, 0.05], 0.5)
    assert out == pytest.approx([0.5, 0.25, 0.25], abs=1e-6)
    assert normalize_max_weight([0.2, 0.3, 0.5], 0.6) == pytest.approx([0.2, 0.3, 0.5])
    assert normalize_max_weight([1.0, 0.0], 0.4).tolist() == [0.5, 0.5]


def test_max_weight_limit_and_min_allowed_weights_are_checked() -> None:
    row = [0.1 * (u + 1) for u in range(8)]
    trace = compute_cycle(make_inputs(weather=[row], max_weight_limit=0.2))
    assert trace.encoding_ok, trace.encoding_error
    shares = trace.emit_u16 / trace.emit_u16.sum()
    assert shares.max() <= 0.2
    # min(MinAllowedWeights, n): 8 registered UIDs need only 8 weights ...
    trace = compute_cycle(make_inputs(weather=[row], min_allowed_weights=20))
    assert trace.encoding_ok
    # ... but with 30 registered UIDs, 8 non-zero weights fall short of 20.
    wide = row + [None] * 22
    trace = compute_cycle(make_inputs(weather=[wide], min_allowed_weights=20))
    assert not trace.encoding_ok
    assert "at least 20" in (trace.encoding_error or "")


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="curve_v"):
        WeightConfig(curve_v=0)
    with pytest.raises(ValueError, match="soil_row_limit"):
        WeightConfig(soil_row_limit=-1)
    with pytest.raises(ValueError, match="coldkey_upper"):
        WeightConfig(coldkey_upper=2)
    with pytest.raises(ValueError, match="unknown"):
        WeightConfig.from_dict({"nope": 1})


def test_config_round_trip_and_defaults() -> None:
    cfg = WeightConfig()
    assert WeightConfig.from_dict(cfg.to_dict()) == cfg
    # Plain JSON values: only the prefixes are a container, and each dict has its own list.
    as_dict = cfg.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert all(isinstance(v, (bool, int, float, str, type(None), list)) for v in as_dict.values())
    as_dict["weather_task_id_prefixes"].append("x")
    assert cfg.to_dict()["weather_task_id_prefixes"] == list(cfg.weather_task_id_prefixes)
    assert cfg.task_weights() == (0.70, 0.15, 0.15)
    assert (cfg.min_valid_for_ranks, cfg.min_valid_for_excellence) == (5, 10)
    assert (cfg.weather_window_days, cfg.weather_row_limit) == (15.0, 100)
    assert (cfg.geomagnetic_window_days, cfg.geomagnetic_row_limit) == (1.0, None)
    assert (cfg.soil_window_days, cfg.soil_row_limit) == (1.0, 200)


def test_detailed_pathways_off_gives_same_weights_without_records() -> None:
    rng = np.random.default_rng(3)
    inputs = make_inputs(weather=[rng.random(40).tolist()], geo=[rng.random(40).tolist()])
    full = compute_cycle(inputs)
    lean = compute_cycle(inputs, WeightConfig(enable_detailed_pathways=False))
    assert lean.miners is None and full.miners is not None and len(full.miners) == 40
    assert full.final is not None and lean.final is not None
    assert np.array_equal(full.final, lean.final)
    assert np.array_equal(full.submitted_u16, lean.submitted_u16)
    assert lean.to_json_dict()["miners"] == {}


def test_miner_records_are_built_once_from_the_trace_vectors() -> None:
    rng = np.random.default_rng(6)
    weather = rng.random(30).tolist()
    geo = [None if u % 3 == 0 else x for u, x in enumerate(rng.random(30).tolist())]
    trace = compute_cycle(make_inputs(weather=[weather], geo=[geo], active_validator_uids=[2]))
    miners = trace.miners
    assert miners is not None and trace.miners is miners
    assert trace.final is not None and trace.submitted is not None and trace.u16 is not None
    for uid, rec in miners.items():
        assert rec.raw_calculated_weight == trace.raw_weight[uid]
        assert rec.final_weight == trace.final[uid]
        assert rec.submitted_weight == trace.submitted[uid]
        assert rec.u16 == trace.u16[uid]
        has_geo = geo[uid] is not None
        assert (rec.percentile_rank_geomagnetic is not None) == has_geo
        assert rec.pathway_details["geomagnetic_score"] == (geo[uid] if has_geo else None)
        assert list(rec.pathway_details["percentile_ranks"]) == (
            ["weather", "geomagnetic"] if has_geo else ["weather"]
        )
    active = miners[2]
    assert active.submitted_weight == 0.0
    assert active.final_weight is not None and active.final_weight > 0
