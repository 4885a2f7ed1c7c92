"""`weights compute` and `chain epoch`: every bad input is one `error:` line and exit 2.

Named cases from issue 11, then a fuzz test: random mutations of the conformance files give
exit 0 or 2, never a traceback or a warning, and stdout under --json is strict JSON.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minertrace.chain import golden
from minertrace.weights import CycleInputError, CycleInputs
from tests.helpers.json_fuzz import (
    WEIGHT_SEEDS,
    YUMA_SEEDS,
    assert_clean,
    invoke,
    load_seed,
    mutate,
)

WEIGHTS = load_seed("weights", "case_14.json")
YUMA = load_seed("yuma", "12_liveness_registration.json")


def _write(tmp_path: Path, doc: Any, name: str = "in.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _weights(tmp_path: Path, doc: Any) -> tuple[int, str]:
    outcome = invoke(["weights", "compute", "--json", "-i", str(_write(tmp_path, doc))])
    assert_clean(outcome, as_json=True)
    return outcome.code, outcome.stderr


def _epoch(tmp_path: Path, doc: Any) -> tuple[int, str]:
    outcome = invoke(["chain", "epoch", "--json", "-i", str(_write(tmp_path, doc))])
    assert_clean(outcome, as_json=True)
    return outcome.code, outcome.stderr


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    doc.update(changes)
    return doc


def test_the_seeds_run(tmp_path: Path) -> None:
    assert _weights(tmp_path, WEIGHTS)[0] == 0
    assert _epoch(tmp_path, YUMA)[0] == 0


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"nodes": 5}, "nodes"),
        ({"nodes": True}, "nodes"),
        ({"nodes": {"uid": 1}}, "nodes"),
        ({"active_validator_uids": 5}, "active_validator_uids"),
        ({"active_validator_uids": [2**63]}, "active_validator_uids"),
        ({"nodes": [{"uid": 2**63, "hotkey": "h", "coldkey": "c"}]}, "uid"),
        ({"nodes": [{"uid": 65536, "hotkey": "h", "coldkey": "c"}]}, "uid"),
        ({"nodes": [{"uid": 1, "hotkey": "h", "coldkey": ["c"]}]}, "coldkey"),
        ({"nodes": [{"uid": 1, "hotkey": {"h": 1}, "coldkey": "c"}]}, "hotkey"),
        ({"n_uids": 10**12}, "n_uids"),
        ({"n_uids": 65537}, "n_uids"),
        ({"min_allowed_weights": 10**30}, "min_allowed_weights"),
        ({"max_weight_limit": math.nan}, "max_weight_limit"),
        ({"now": 5}, "now"),
        ({"now": "2025-13-45T00:00:00+00:00"}, "now"),
        ({"weather_results": {"a": 1}}, "weather_results"),
        (
            {"weather_results": [{"created_at": "2025-07-27T00:00:00+00:00", "task_id": [1]}]},
            "task_id",
        ),
        ({"format": ["minertrace-weights/1"]}, "format"),
    ],
)
def test_weights_compute_bad_inputs(tmp_path: Path, changes: dict[str, Any], says: str) -> None:
    code, err = _weights(tmp_path, _with(WEIGHTS, **changes))
    assert code == 2
    assert says in err


def test_weights_input_errors_are_one_type(tmp_path: Path) -> None:
    with pytest.raises(CycleInputError):
        CycleInputs.from_json(_with(WEIGHTS, nodes=5))
    with pytest.raises(CycleInputError, match="nest"):
        CycleInputs.from_json(_nested(tmp_path))


def _nested(tmp_path: Path) -> Path:
    path = tmp_path / "nested.json"
    path.write_text('{"now": ' + "[" * 200_000 + "]" * 200_000 + "}")
    return path


def test_deeply_nested_json_is_an_input_error(tmp_path: Path) -> None:
    for command in (["weights", "compute"], ["chain", "epoch"]):
        outcome = invoke([*command, "--json", "-i", str(_nested(tmp_path))])
        assert_clean(outcome, as_json=True)
        assert outcome.code == 2 and "nest" in outcome.stderr


def test_unreadable_inputs_are_input_errors(tmp_path: Path) -> None:
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    for command in (["weights", "compute"], ["chain", "epoch"]):
        for path in (tmp_path / "missing.json", tmp_path, binary):
            outcome = invoke([*command, "-i", str(path)])
            assert_clean(outcome, as_json=False)
            assert outcome.code == 2


def _params(**changes: Any) -> dict[str, Any]:
    return _with(YUMA, params={**YUMA["params"], **changes})


def _epoch0(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(YUMA)
    doc["epochs"][0].update(changes)
    return doc


N = len(YUMA["stake"])


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        (_with(YUMA, params=[1, 2]), "params"),
        (_with(YUMA, params="yuma3"), "params"),
        (_with(YUMA, params=None), "params"),
        (_params(kappa_u16="x", kappa=None), "kappa_u16"),
        (_params(kappa=2), "kappa"),
        (_params(kappa=-1), "kappa"),
        (_params(kappa=math.nan), "kappa"),
        (_params(kappa_u16=70000, kappa=None), "kappa_u16"),
        (_params(max_allowed_validators=-1), "max_allowed_validators"),
        (_params(max_allowed_validators=2**70), "max_allowed_validators"),
        (_params(owner_uid=N), "owner_uid"),
        (_params(owner_uid=-1), "owner_uid"),
        (_params(bonds_moving_average=2_000_000), "bonds_moving_average"),
        (_params(bonds_penalty=1.5), "bonds_penalty"),
        (_params(stake_threshold=-1), "stake_threshold"),
        (_params(yuma_version="yuma9"), "yuma_version"),
        (_params(tempo=0), "tempo"),
        (_params(activity_cutoff_blocks=-5), "activity_cutoff_blocks"),
        (_with(YUMA, stake=[math.nan] * N), "stake"),
        (_with(YUMA, stake=[math.inf] + [1] * (N - 1)), "stake"),
        (_with(YUMA, stake=[-1] + [1] * (N - 1)), "stake"),
        (_with(YUMA, stake="x"), "stake"),
        (_with(YUMA, validator_permit=[True]), "validator_permit"),
        (_with(YUMA, epochs={"W": []}), "epochs"),
        (_with(YUMA, epochs=[5]), "epochs[0]"),
        (_epoch0(W=[[math.nan] * N] * N), "W"),
        (_epoch0(W=[[math.inf] * N] * N), "W"),
        (_epoch0(W=[[-1.0] * N] * N), "W"),
        (_epoch0(W=[[1.0] * N] * (N - 1)), "W"),
        (_epoch0(last_update=[0] * (N - 1)), "last_update"),
        (_epoch0(block_at_registration=[2**64] * N), "block_at_registration"),
        (_epoch0(current_block=None), "current_block"),
        (_epoch0(current_block=-1), "current_block"),
        (_epoch0(stake=[1] * (N + 1)), "stake"),
    ],
)
def test_chain_epoch_bad_inputs(tmp_path: Path, doc: dict[str, Any], says: str) -> None:
    code, err = _epoch(tmp_path, doc)
    assert code == 2
    assert says in err


def test_golden_errors_are_one_type() -> None:
    with pytest.raises(golden.GoldenFormatError, match="kappa"):
        golden.run(_params(kappa=2))


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.sampled_from(WEIGHT_SEEDS), data=st.data(), as_json=st.booleans())
def test_fuzz_weights_compute(
    tmp_path: Path, seed: str, data: st.DataObject, as_json: bool
) -> None:
    doc: Any = load_seed("weights", seed)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        doc = mutate(doc, data)
    args = ["weights", "compute", "-i", str(_write(tmp_path, doc))]
    assert_clean(invoke([*args, "--json"] if as_json else args), as_json=as_json)


@settings(
    max_examples=3 * int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.sampled_from(YUMA_SEEDS), data=st.data(), as_json=st.booleans())
def test_fuzz_chain_epoch(tmp_path: Path, seed: str, data: st.DataObject, as_json: bool) -> None:
    doc: Any = load_seed("yuma", seed)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        doc = mutate(doc, data)
    args = ["chain", "epoch", "-i", str(_write(tmp_path, doc))]
    assert_clean(invoke([*args, "--json"] if as_json else args), as_json=as_json)
