"""Bad input: counted and treated as missing (D4), or a clear ValueError for bad structure."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from minertrace.cli import app
from minertrace.weights import CycleInputs, NodeList, ScoreRow, compute_cycle
from tests.helpers.weights import CONFORMANCE_DIR, NOW, make_inputs


def test_strings_null_nan_inf_are_missing_and_counted() -> None:
    base = [0.5, 0.6, 0.7, 0.8, 0.9, 0.4]
    dirty = ["0.5", None, math.nan, math.inf, -math.inf, 0.4]
    clean_trace = compute_cycle(make_inputs(weather=[[0, 0, 0, 0, 0, 0.4]]))
    trace = compute_cycle(make_inputs(weather=[dirty]))
    dq = trace.data_quality()
    assert dq["missing_string"] == 1 and dq["missing_null"] == 1
    assert dq["missing_nan"] == 1 and dq["missing_inf"] == 2
    assert trace.weather.present.tolist() == [False] * 5 + [True]
    assert np.array_equal(trace.raw_weight, clean_trace.raw_weight)
    assert compute_cycle(make_inputs(weather=[base])).weather.present.all()


def test_clean_list_rows_count_null_nan_and_inf_in_one_block() -> None:
    # Only floats, ints and None: the whole block is converted at once.
    rows: list[list[Any]] = [
        [0.5, None, math.nan, math.inf, -math.inf, 2],
        [None, None, 0.25, 0.5, 0.75, 1],
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    ]
    trace = compute_cycle(make_inputs(geo=rows))
    dq = trace.data_quality()
    assert (dq["missing_null"], dq["missing_nan"], dq["missing_inf"]) == (3, 1, 2)
    assert dq["scores_above_one"] == 1
    assert trace.geomagnetic.score.tolist() == pytest.approx(
        [0.6 / 3, 0.2 / 3, 0.55 / 3, 0.9 / 3, 1.25 / 3, 3.6 / 3]
    )


def test_missing_in_every_task() -> None:
    row = [0.5, "x", None, math.inf, 0.3, 0.2]
    trace = compute_cycle(make_inputs(weather=[row], geo=[row], soil=[row]))
    for task in ("weather", "geomagnetic", "soil"):
        assert trace.tasks[task].present.tolist() == [True, False, False, False, True, True]
    assert trace.data_quality()["missing_string"] == 3


def test_wrong_length_rows_become_missing() -> None:
    good = [0.5, 0.6, 0.7, 0.8]
    trace = compute_cycle(make_inputs(geo=[good, [0.9, 0.9], "oops", good]))  # type: ignore[list-item]
    assert trace.n_uids == 4
    assert trace.data_quality()["rows_wrong_length"] == 2
    # geomagnetic divides by every row in the window, as the original does.
    assert trace.geomagnetic.score.tolist() == pytest.approx([v / 2 for v in good])


def test_nan_only_rows_counted_and_lower_the_geo_mean() -> None:
    trace = compute_cycle(make_inputs(geo=[[0.8] * 5, [None] * 5]))
    assert trace.data_quality()["rows_all_missing"] == 1
    assert trace.geomagnetic.score.tolist() == [0.4] * 5


def test_negative_and_above_one_counted_but_kept() -> None:
    trace = compute_cycle(make_inputs(weather=[[-0.2, 1.5, 0.5, 0.4, 0.3]]))
    dq = trace.data_quality()
    assert dq["scores_negative"] == 1 and dq["scores_above_one"] == 1
    assert trace.weather.present[0] and trace.weather.present[1]


def test_empty_task_lists_produce_no_weights_with_a_reason() -> None:
    trace = compute_cycle(make_inputs(n_uids=8))
    assert not trace.weights_produced
    assert trace.no_weights_reason == "all_zero"
    assert trace.miners == {}
    out = trace.to_json_dict()
    assert out["final_weights"] is None and out["submitted_uids"] == []


def test_zero_uids() -> None:
    trace = compute_cycle(make_inputs(nodes=None))
    assert trace.n_uids == 0 and not trace.weights_produced


def test_huge_values_do_not_crash() -> None:
    trace = compute_cycle(make_inputs(weather=[[1e308, 0.5, 0.4, 0.3, 0.2, 10**400]]))
    assert trace.data_quality()["missing_inf"] == 1
    assert trace.weights_produced
    assert trace.final is not None and np.isfinite(trace.final).all()


def test_numpy_array_rows_are_accepted() -> None:
    row = np.array([0.5, np.nan, 0.7, np.inf, 0.2])
    as_list = compute_cycle(make_inputs(weather=[[0.5, None, 0.7, None, 0.2]]))
    trace = compute_cycle(make_inputs(weather=[row]))  # type: ignore[list-item]
    assert trace.final is not None and as_list.final is not None
    assert np.array_equal(trace.final, as_list.final)
    assert trace.data_quality()["missing_inf"] == 1


def test_duplicate_node_uids_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate UID"):
        make_inputs(weather=[[0.5, 0.6]], nodes=[(0, "a", "x"), (0, "b", "y")])


def test_naive_timestamps_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ScoreRow("weather", "t", [0.5], datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="now"):
        CycleInputs([], [], [], now=datetime(2025, 1, 1))


def test_short_node_list_drops_unregistered_uids() -> None:
    row = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    nodes = [(0, "a", "ka"), (1, "b", "kb"), (2, "c", "kc")]
    trace = compute_cycle(make_inputs(weather=[row], nodes=nodes))
    assert trace.submitted_uids.tolist() == [0, 1, 2]
    assert trace.dropped_unregistered.tolist() == [3, 4, 5]
    assert trace.submitted is not None
    assert trace.submitted[3:].tolist() == [0.0, 0.0, 0.0]
    assert math.isclose(float(trace.submitted.sum()), 1.0, rel_tol=1e-12)


def test_nodes_beyond_the_score_arrays_are_submitted_with_zero() -> None:
    nodes = [(u, f"h{u}", f"c{u}") for u in (0, 1, 2, 7)]
    trace = compute_cycle(make_inputs(weather=[[0.9, 0.8, 0.7]], nodes=nodes))
    assert trace.submitted_uids.tolist() == [0, 1, 2, 7]
    assert trace.submitted_weights[-1] == 0.0 and trace.submitted_u16[-1] == 0


def test_node_list_accepts_rows_slots_and_objects() -> None:
    class Row:
        def __init__(self, uid: int) -> None:
            self.uid, self.hotkey, self.coldkey = uid, f"h{uid}", None

    a = NodeList.from_rows([None, {"hotkey": "h1", "coldkey": "c1"}, (2, "h2", "c2")])
    b = NodeList.from_rows([Row(5), Row(3)])
    assert a.uids.tolist() == [1, 2] and b.uids.tolist() == [3, 5]
    with pytest.raises(ValueError):
        NodeList.from_rows([("x", "h", "c")])


def test_invalid_submission_parameters_rejected() -> None:
    with pytest.raises(ValueError, match="max_weight_limit"):
        make_inputs(weather=[[0.5]], max_weight_limit=0)
    with pytest.raises(ValueError, match="active_validator_uids"):
        make_inputs(weather=[[0.5]], active_validator_uids=[-1])


def test_cli_json_prints_the_expected_object() -> None:
    path = CONFORMANCE_DIR / "case_14.json"
    result = CliRunner().invoke(app, ["weights", "compute", "--input", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    expected = json.loads(path.read_text())["expected"]
    assert set(out) == set(expected) - {"deviations"}
    assert out["submitted_uids"] == expected["submitted_uids"]
    assert out["final_weights"] == pytest.approx(expected["final_weights"])


def test_cli_summary_and_bad_file(tmp_path: object) -> None:
    path = CONFORMANCE_DIR / "case_01.json"
    result = CliRunner().invoke(app, ["weights", "compute", "--input", str(path)])
    assert result.exit_code == 0
    assert "data quality" in result.output and "curve_midpoint" in result.output
    result = CliRunner().invoke(app, ["weights", "compute", "--input", "/nonexistent.json"])
    assert result.exit_code == 2


def test_trace_persistence_views_are_json_safe() -> None:
    path = CONFORMANCE_DIR / "case_16.json"
    trace = compute_cycle(CycleInputs.from_json(path))
    json.dumps(trace.scalars(), allow_nan=False)
    json.dumps(trace.data_quality(), allow_nan=False)
    json.dumps(trace.input_rows(), allow_nan=False)
    vectors = trace.stage_vectors()
    assert all(v.shape == (256,) for v in vectors.values())
    assert {"raw_weight", "after_coldkey", "final", "submitted", "u16"} <= set(vectors)
    assert trace.scalars()["zeroed_validators"] == [10, 13, 36, 39, 102, 124, 146, 246]
    rows = trace.input_rows()
    assert rows[0]["task_name"] == "weather" and "created_at" in rows[0]
    assert len(rows) == 1 + len(json.loads(path.read_text())["geomagnetic_results"]) + len(
        json.loads(path.read_text())["soil_results"]
    )
    assert NOW.tzinfo is not None
