"""Shared helpers for the weight-engine tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from minertrace.weights import CycleInputs, ScoreRow

CONFORMANCE_DIR = Path(__file__).resolve().parents[1] / "data" / "conformance" / "weights"
NOW = datetime(2025, 7, 27, 12, 0, tzinfo=timezone.utc)


def make_inputs(
    weather: list[list[Any]] | None = None,
    geo: list[list[Any]] | None = None,
    soil: list[list[Any]] | None = None,
    *,
    soil_ages_hours: list[float] | None = None,
    nodes: Any = "all",
    n_uids: int | None = None,
    **kwargs: Any,
) -> CycleInputs:
    """Inputs from plain score lists; every UID registered with its own coldkey by default."""
    weather = weather or []
    geo = geo or []
    soil = soil or []
    ages = soil_ages_hours or [float(j) for j in range(len(soil))]
    width = next((len(r) for r in (*weather, *geo, *soil) if isinstance(r, list)), 0)
    if nodes == "all":
        nodes = [(u, f"hk{u}", f"ck{u}") for u in range(n_uids or width)]
    return CycleInputs(
        weather_results=[
            ScoreRow("weather", f"final_weather_scores_{j}", s, NOW - timedelta(hours=j))
            for j, s in enumerate(weather)
        ],
        geomagnetic_results=[
            ScoreRow("geomagnetic", f"geo_{j}", s, NOW - timedelta(hours=j))
            for j, s in enumerate(geo)
        ],
        soil_results=[
            ScoreRow("soil_moisture_region_1", f"soil_{j}", s, NOW - timedelta(hours=ages[j]))
            for j, s in enumerate(soil)
        ],
        now=NOW,
        nodes=nodes,
        n_uids=n_uids,
        **kwargs,
    )
