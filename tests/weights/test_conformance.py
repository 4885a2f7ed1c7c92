"""Every conformance case in tests/data/conformance/weights/, under its README's rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from minertrace.weights import CycleInputs, compute_cycle
from tests.helpers.weights import CONFORMANCE_DIR

CASES = sorted(CONFORMANCE_DIR.glob("*.json"))
RTOL, ATOL = 1e-4, 1e-12
EXACT_KEYS = {
    "scoring_pathway",
    "weights_produced",
    "rank_based_fallback",
    "percentile_ranks",
    "excellence_qualified_tasks",
    "submitted_uids",
    "num_active_tasks",
}


def compare(actual: Any, expected: Any, path: str, exact: bool, errors: list[str]) -> None:
    """The README rule: exact for labels, booleans, ranks, lists of tasks/UIDs, keys, nulls;
    floats within rtol 1e-4 / atol 1e-12."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            errors.append(f"{path}: keys differ")
            return
        for key, value in expected.items():
            compare(actual[key], value, f"{path}.{key}", exact or key in EXACT_KEYS, errors)
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            errors.append(f"{path}: list length differs")
            return
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            compare(a, e, f"{path}[{i}]", exact, errors)
    elif expected is None or isinstance(expected, (bool, str)):
        if actual is not expected and (type(actual) is not type(expected) or actual != expected):
            errors.append(f"{path}: {actual!r} != {expected!r}")
    else:
        if actual is None or isinstance(actual, (bool, str)):
            errors.append(f"{path}: {actual!r} is not a number")
        elif exact:
            if actual != expected:
                errors.append(f"{path}: {actual!r} != {expected!r} (exact)")
        elif not (abs(actual - expected) <= ATOL or abs(actual - expected) <= RTOL * abs(expected)):
            errors.append(f"{path}: {actual!r} != {expected!r}")


def test_cases_are_discovered() -> None:
    assert len(CASES) >= 12


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_conformance_case(path: Path) -> None:
    data = json.loads(path.read_text())
    trace = compute_cycle(CycleInputs.from_json(data))
    actual = trace.to_json_dict()
    expected = {k: v for k, v in data["expected"].items() if k != "deviations"}
    errors: list[str] = []
    compare({k: actual[k] for k in expected}, expected, "expected", False, errors)
    assert not errors, "\n".join(errors[:20])


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_conformance_from_file_path(path: Path) -> None:
    data = json.loads(path.read_text())
    trace = compute_cycle(CycleInputs.from_json(path))
    assert trace.weights_produced == data["expected"]["weights_produced"]
    assert trace.submitted_uids.tolist() == data["expected"]["submitted_uids"]
