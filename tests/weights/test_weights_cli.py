"""`minertrace weights compute`: the readable summary and strict JSON output."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from minertrace.cli import app
from tests.helpers.weights import CONFORMANCE_DIR, NOW


def _tables(output: str) -> dict[str, list[list[str]]]:
    """Body rows of every rich table in ``output``, keyed by the table's title."""
    tables: dict[str, list[list[str]]] = {}
    title = ""
    for line in output.splitlines():
        text = line.strip()
        if line.startswith("│"):
            tables[title].append([c.strip() for c in text.strip("│").split("│")])
        elif text and text[0] not in "┏┃┡└":
            title = text
            tables[title] = []
    return tables


def _number(cell: str) -> float:
    return math.nan if cell == "-" else float(cell)


def test_summary_lists_top_miners_scalars_and_quality() -> None:
    path = CONFORMANCE_DIR / "case_16.json"
    data = json.loads(path.read_text())
    exp = data["expected"]
    top = 12
    result = CliRunner().invoke(
        app, ["weights", "compute", "--input", str(path), "--top", str(top)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("weights produced; 256 UIDs")
    tables = _tables(result.output)
    assert set(tables) >= {f"top {top} miners", "scalars", "data quality"}

    # Top miners: by final weight descending, ties by UID, only UIDs with a record.
    final = exp["final_weights"]
    ranked = sorted(
        (u for u in range(len(final)) if str(u) in exp["miners"]), key=lambda u: (-final[u], u)
    )
    rows = tables[f"top {top} miners"]
    assert [int(r[0]) for r in rows] == ranked[:top]
    submitted = exp["submitted_weights"]
    peak = max(submitted)
    for row in rows:
        uid = int(row[0])
        record = exp["miners"][str(uid)]
        assert row[1] == record["scoring_pathway"]
        details = record["pathway_details"]
        for cell, task in zip(row[2:5], ("weather", "geomagnetic", "soil"), strict=True):
            score = details[f"{task}_score"]
            if score is None:
                assert cell == "-"
            else:  # four significant digits
                assert _number(cell) == pytest.approx(score, rel=6e-4)
        wanted = (
            exp["raw_weights"][uid],
            exp["after_coldkey_adjustment"][uid],
            final[uid],
            submitted[uid],
        )
        for cell, want in zip(row[5:9], wanted, strict=True):
            assert _number(cell) == pytest.approx(want, rel=1e-5, abs=1e-12)
        assert abs(int(row[9]) - submitted[uid] / peak * 65535) <= 0.5 + 1e-6

    scalars = {r[0]: r[1] for r in tables["scalars"]}
    after = exp["after_coldkey_adjustment"]
    active = data["active_validator_uids"]
    unregistered = [u for u, node in enumerate(data["nodes"]) if node is None]
    assert scalars["n_uids"] == "256"
    assert scalars["weights_produced"] == "True"
    assert scalars["rank_based_fallback"] == str(exp["rank_based_fallback"])
    assert scalars["positive_count"] == str(sum(w > 0 for w in after))
    assert float(scalars["max_weight"]) == pytest.approx(max(after), rel=1e-5)
    zeroed = sorted(v for v in active if final[v] > 0)
    dropped = [u for u in unregistered if final[u] > 0 and u not in active]
    assert zeroed and dropped
    assert scalars["zeroed_validators"] == str(zeroed)
    assert scalars["dropped_unregistered"] == str(dropped)
    weather = [v for v in data["weather_results"][0]["score"] if v is not None and v != 0]
    assert scalars["valid_count_weather"] == str(len(weather))

    # Data quality of the rows the cycle reads: the first weather row, every geo and soil row.
    used = [data["weather_results"][0]] + data["geomagnetic_results"] + data["soil_results"]
    entries = [v for row in used for v in row["score"]]
    quality = {r[0]: int(r[1]) for r in tables["data quality"]}
    assert quality["missing_null"] == sum(v is None for v in entries) > 0
    assert quality["scores_above_one"] == sum(v is not None and v > 1 for v in entries)
    assert quality["scores_negative"] == sum(v is not None and v < 0 for v in entries)
    assert quality["rows_all_missing"] == sum(all(v is None for v in r["score"]) for r in used)
    for counter in (
        "missing_string",
        "missing_nan",
        "missing_inf",
        "missing_other",
        "missing_overflow",
        "rows_wrong_length",
        "weights_non_finite",
    ):
        assert quality[counter] == 0


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not strict JSON: {name}")


def _cycle_file(tmp_path: Path, geo: list[list[Any]]) -> Path:
    weather = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    doc = {
        "format": "minertrace-weights/1",
        "now": NOW.isoformat(),
        "weather_results": [
            {"score": weather, "created_at": NOW.isoformat(), "task_id": "final_weather_scores_1"}
        ],
        "geomagnetic_results": [{"score": row, "created_at": NOW.isoformat()} for row in geo],
        "soil_results": [],
        "nodes": [{"uid": u, "hotkey": f"h{u}", "coldkey": f"c{u}"} for u in range(6)],
        "active_validator_uids": [],
    }
    path = tmp_path / f"cycle_{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(doc, allow_nan=False))
    return path


def test_json_output_is_strict_when_a_geo_mean_overflows(tmp_path: Path) -> None:
    geo: list[list[Any]] = [[9e307, 0.5, 0.6, 0.7, 0.8, 0.3], [9e307, 0.4, 0.6, 0.2, 0.1, 0.9]]
    without: list[list[Any]] = [[None, *row[1:]] for row in geo]
    outputs = []
    for rows in (geo, without):
        path = _cycle_file(tmp_path, rows)
        result = CliRunner().invoke(app, ["weights", "compute", "--input", str(path), "--json"])
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.output, parse_constant=_reject_constant))
    absurd, reference = outputs
    # UID 0's overflowing geomagnetic score is missing: the same output as null entries.
    assert absurd == reference
    assert absurd["miners"]["0"]["pathway_details"]["geomagnetic_score"] is None
    assert absurd["weights_produced"]
