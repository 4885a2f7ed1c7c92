"""Every yuma-golden/1 case in tests/data/conformance/yuma, all epochs, atol 1e-8."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from minertrace.chain import golden
from minertrace.cli.chain import app

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


@pytest.mark.parametrize("path", CASES, ids=[c.stem for c in CASES])
def test_cli_json_matches_expected(path: Path) -> None:
    doc = golden.load(path)
    out = CliRunner().invoke(app, ["epoch", "--input", str(path), "--json"])
    assert out.exit_code == 0, out.output
    epochs = json.loads(out.stdout)["epochs"]
    assert len(epochs) == len(doc["expected"])
    n = int(doc["n"])
    for t, (got, exp) in enumerate(zip(epochs, doc["expected"], strict=True)):
        compared = [name for name in golden.VECTOR_FIELDS if name in exp]
        assert set(exp) - {"bonds", "derived_masks"} == set(compared), t
        for name in compared:
            np.testing.assert_allclose(
                np.asarray(got[name], dtype=np.float64),
                np.asarray(exp[name], dtype=np.float64),
                rtol=0,
                atol=ATOL,
                err_msg=f"epoch {t} {name}",
            )
        np.testing.assert_allclose(
            golden.dense_bonds(got["bonds"], n),
            golden.dense_bonds(exp["bonds"], n),
            rtol=0,
            atol=ATOL,
            err_msg=f"epoch {t} bonds",
        )


def _table_rows(block: list[str]) -> list[list[str]]:
    """The body rows of one rich table: the cells of every line drawn with the body bar."""
    return [
        [c.strip() for c in line.strip().strip("│").split("│")]
        for line in block
        if line.startswith("│")
    ]


@pytest.mark.parametrize(
    ("stem", "version"), [("02_one_disagree", "Yuma 2"), ("11_yuma3_switch", "Yuma 3")]
)
def test_cli_readable_tables(stem: str, version: str) -> None:
    path = next(c for c in CASES if c.stem == stem)
    doc = golden.load(path)
    out = CliRunner().invoke(app, ["epoch", "--input", str(path)])
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    titles = [i for i, line in enumerate(lines) if f"{doc['name']}: epoch" in line]
    assert len(titles) == len(doc["expected"])
    n = int(doc["n"])
    headers = [
        "uid",
        "permit",
        "active",
        "consensus",
        "vtrust",
        "incentive",
        "dividends",
        "emission",
        "next",
    ]
    for t, (start, exp) in enumerate(zip(titles, doc["expected"], strict=True)):
        assert f"{doc['name']}: epoch {t} ({version})" in lines[start]
        end = titles[t + 1] if t + 1 < len(titles) else len(lines)
        block = lines[start:end]
        header = next(line for line in block if line.startswith("┃"))
        assert [c.strip() for c in header.strip("┃").split("┃")] == headers
        rows = _table_rows(block)
        assert [r[0] for r in rows] == [str(u) for u in range(n)]
        emission = np.add(exp["server_emission_share"], exp["validator_emission_share"])
        for uid, row in enumerate(rows):
            assert len(row) == len(headers)
            assert row[1] == ("yes" if exp["validator_permit"][uid] else ""), (t, uid)
            assert row[8] == ("yes" if exp["new_validator_permit"][uid] else ""), (t, uid)
            shown = [float(c) for c in row[2:8]]
            want = [
                exp["active_stake"][uid],
                exp["consensus"][uid],
                exp["validator_trust"][uid],
                exp["incentive"][uid],
                exp["dividends"][uid],
                float(emission[uid]),
            ]
            # Four decimals: half a unit of the last place, plus the file's tolerance.
            np.testing.assert_allclose(shown, want, rtol=0, atol=5e-5 + ATOL, err_msg=f"{t} {uid}")
