"""The dashboard's charts, built from the views' rows. Pure (no database, no request)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from minertrace.store.views import MinerRow, PeriodRow, TimelineBucket
from minertrace.vocabulary import PeriodType
from minertrace.web.svg import (
    PATHWAY_COLORS,
    SERIES_COLORS,
    STATUS_COLORS,
    Point,
    Series,
    hbars,
    line_chart,
    scatter,
    stacked_bars,
)

# The stages of the miner page's waterfall, raw weight to what the chain received.
WATERFALL = (
    ("raw_weight", "raw weight max(E, D)"),
    ("after_coldkey", "after coldkey smoothing"),
    ("normalized", "normalised by the max"),
    ("transformed", "logistic curve"),
    ("final", "final weight"),
    ("submitted", "submitted weight"),
    ("u16", "u16 on chain"),
)


def timeline(buckets: Sequence[TimelineBucket]) -> str:
    """Cycles per day, stacked by status."""
    return stacked_bars(
        [(b.day.strftime("%Y-%m-%d"), b.statuses) for b in buckets],
        "cycles per day by status",
        STATUS_COLORS,
    )


def weight_vs_incentive(miners: Sequence[MinerRow]) -> str:
    """Each miner's submitted weight (x) against the incentive the chain gave it (y)."""
    points = [
        Point(
            x=m.submitted_weight,
            y=m.incentive,
            title=f"UID {m.uid} {m.hotkey or ''}: weight {m.submitted_weight:.5f}, "
            f"incentive {m.incentive:.5f}",
            href=f"/miners/{m.uid}",
            color=PATHWAY_COLORS.get(m.pathway or "no record", SERIES_COLORS[0]),
        )
        for m in miners
        if m.submitted_weight is not None and m.incentive is not None
    ]
    return scatter(points, "submitted weight against incentive", "submitted weight", "incentive")


def pathway_mix(miners: Sequence[MinerRow]) -> str:
    """How many registered miners took each pathway in the latest cycle."""
    counts: dict[str, int] = defaultdict(int)
    for m in miners:
        if not m.validator_permit:
            counts[m.pathway or "no record"] += 1
    items = [
        (name, float(counts[name]), color)
        for name, color in PATHWAY_COLORS.items()
        if counts.get(name)
    ]
    return hbars(items, "pathway mix of the latest cycle", value_fmt="{:.0f}")


@dataclass(frozen=True)
class ColdkeyCut:
    """A coldkey whose hotkeys coldkey smoothing scaled down."""

    coldkey: str
    size: int
    multiplier: float
    uids: list[int]


def coldkey_cuts(miners: Sequence[MinerRow]) -> list[ColdkeyCut]:
    """Coldkey groups that smoothing cut in the latest cycle, hardest cut first."""
    groups: dict[str, list[MinerRow]] = defaultdict(list)
    for m in miners:
        if m.coldkey_multiplier is not None and m.coldkey_multiplier < 1 and m.coldkey:
            groups[m.coldkey].append(m)
    cuts = [
        ColdkeyCut(
            coldkey=key,
            size=max(m.coldkey_group_size or 0 for m in rows),
            multiplier=min(m.coldkey_multiplier or 0.0 for m in rows),
            uids=sorted(m.uid for m in rows),
        )
        for key, rows in groups.items()
    ]
    return sorted(cuts, key=lambda c: (c.multiplier, -c.size))


def waterfall(values: dict[str, Any], maxima: dict[str, float]) -> str:
    """The miner's stages as bars, each relative to the cycle's largest value of that stage."""
    items, notes = [], []
    for name, label in WATERFALL:
        value = values.get(name)
        if value is None:
            continue
        top = maxima.get(name) or 0.0
        share = float(value) / top if top > 0 else 0.0
        items.append((label, share, SERIES_COLORS[0]))
        notes.append(f"{float(value):.4g} ({share:.0%} of best)")
    return hbars(items, "stages relative to the cycle's best", left=190, notes=notes)


def history(rows: Sequence[PeriodRow]) -> dict[str, list[tuple[str, str]]]:
    """Per period type: (title, svg) of the miner's weight, incentive, rank and task ranks."""
    by_type: dict[str, list[PeriodRow]] = defaultdict(list)
    for r in rows:
        by_type[r.period_type].append(r)
    out: dict[str, list[tuple[str, str]]] = {}
    for period in PeriodType:
        pr = by_type.get(period.value, [])
        if not pr:
            continue
        xs = [r.period_start for r in pr]
        out[period.value] = [
            (
                "submitted weight and incentive",
                line_chart(
                    [
                        Series("submitted weight", xs, [r.submitted_weight for r in pr]),
                        Series("incentive", xs, [r.incentive for r in pr], SERIES_COLORS[2]),
                    ],
                    f"{period.value} submitted weight and incentive",
                ),
            ),
            (
                "consensus rank (1 = best)",
                line_chart(
                    [Series("consensus rank", xs, [r.consensus_rank for r in pr])],
                    f"{period.value} consensus rank",
                    invert=True,
                    y_min=1.0,
                ),
            ),
            (
                "percentile rank per task",
                line_chart(
                    [
                        Series("weather", xs, [r.percentile_rank_weather for r in pr]),
                        Series(
                            "geomagnetic",
                            xs,
                            [r.percentile_rank_geomagnetic for r in pr],
                            SERIES_COLORS[1],
                        ),
                        Series("soil", xs, [r.percentile_rank_soil for r in pr], SERIES_COLORS[2]),
                    ],
                    f"{period.value} percentile ranks",
                    y_min=0.0,
                    y_max=100.0,
                ),
            ),
            (
                "pathway per period",
                hbars(
                    [
                        (
                            f"{r.period_start:%Y-%m-%d} {r.scoring_pathway or 'no record'}",
                            1.0,
                            PATHWAY_COLORS.get(r.scoring_pathway or "no record", "#dee2e6"),
                        )
                        for r in pr[-12:]
                    ],
                    f"{period.value} pathway",
                    value_fmt="",
                ),
            ),
        ]
    return out


__all__ = [
    "WATERFALL",
    "ColdkeyCut",
    "coldkey_cuts",
    "history",
    "pathway_mix",
    "timeline",
    "waterfall",
    "weight_vs_incentive",
]
