"""Every yuma-golden/1 case in tests/data/conformance/yuma, all epochs, atol 1e-8."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from minertrace.chain import golden
from minertrace.chain.cli import app

CASES = sorted((Path(__file__).parents[1] / "data" / "conformance" / "yuma").glob("*.json"))
ATOL = 1e-8


def test_cases_discovered() -> None:
    assert len(CASES) >= 10


@pytest.fixture(scope="module", params=CASES, ids=[c.stem for c in CASES])
def case(request: pytest.FixtureRequest) -> tuple[dict[str, Any], golden.GoldenRun]:
    doc = golden.load(request.param)
    return doc, golden.run(doc)


def test_every_epoch_every_field(case: tuple[dict[str, Any], golden.GoldenRun]) -> None:
    doc, run = case
    assert len(run.results) == len(doc["expected"]) == len(doc["epochs"])
    n = int(doc["n"])
    for t, (res, exp) in enumerate(zip(run.results, doc["expected"], strict=True)):
        # Every field the file gives is compared: none may be skipped for want of a name.
        assert set(exp) - {"bonds", "derived_masks"} <= set(golden.VECTOR_FIELDS), t
        for name in golden.VECTOR_FIELDS:
            if name not in exp:
                continue
            got = np.asarray(getattr(res, name), dtype=np.float64)
            want = np.asarray(exp[name], dtype=np.float64)
            np.testing.assert_allclose(got, want, rtol=0, atol=ATOL, err_msg=f"epoch {t} {name}")
        # Yuma 2 files hold column-normalised EMA bonds, Yuma 3 files the raw EMA: both are
        # what `epoch` carries, so they compare entry by entry (absent entries are zero).
        np.testing.assert_allclose(
            res.bonds,
            golden.dense_bonds(exp["bonds"], n),
            rtol=0,
            atol=ATOL,
            err_msg=f"epoch {t} bonds",
        )


def test_derived_masks(case: tuple[dict[str, Any], golden.GoldenRun]) -> None:
    doc, run = case
    checked = 0
    for res, exp in zip(run.results, doc["expected"], strict=True):
        masks = exp.get("derived_masks")
        if masks is None:
            continue
        checked += 1
        assert res.inactive.tolist() == masks["inactive"]
        assert res.recently_registered.tolist() == masks["recently_registered"]
        assert sorted(map(tuple, res.outdated_pairs.tolist())) == sorted(
            map(tuple, masks["outdated_pairs"])
        )
    if doc["epochs"] and "current_block" in doc["epochs"][0]:
        assert checked == len(doc["epochs"])


def test_cli_json_matches_expected(tmp_path: Path) -> None:
    path = next(c for c in CASES if "liveness" in c.name)
    doc = golden.load(path)
    out = CliRunner().invoke(app, ["epoch", "--input", str(path), "--json"])
    assert out.exit_code == 0, out.output
    epochs = json.loads(out.stdout)["epochs"]
    assert len(epochs) == len(doc["expected"])
    for got, exp in zip(epochs, doc["expected"], strict=True):
        for name in golden.VECTOR_FIELDS:
            np.testing.assert_allclose(got[name], exp[name], rtol=0, atol=ATOL)
        n = int(doc["n"])
        np.testing.assert_allclose(
            golden.dense_bonds(got["bonds"], n),
            golden.dense_bonds(exp["bonds"], n),
            rtol=0,
            atol=ATOL,
        )
