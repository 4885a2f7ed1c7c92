"""The dashboard: server-rendered pages (Jinja2) over the same views as the API."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import Connection

from minertrace.explain import UnknownCycleError, UnknownUidError, explain
from minertrace.store import views
from minertrace.vocabulary import SubmissionStatus
from minertrace.web import charts
from minertrace.web.api import run_replay
from minertrace.web.db import connection
from minertrace.web.params import INT64_MAX, TEXT_PATTERN, CycleId, Uid, ValidatorQuery
from minertrace.web.svg import PATHWAY_COLORS, STATUS_COLORS
from minertrace.weights.rules import DEFAULT_RULES, RULES, rules_by_name, rules_name

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters["num"] = lambda v, spec=".5f": "-" if v is None else format(v, spec)


def _stage_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format(value, ".6g")
    return str(value)


TEMPLATES.env.filters["stage"] = _stage_value
TEMPLATES.env.globals.update(status_colors=STATUS_COLORS, pathway_colors=PATHWAY_COLORS)

router = APIRouter(include_in_schema=False)
Conn = Annotated[Connection, Depends(connection)]

# The cycle table's columns: (stage, heading, format).
CYCLE_COLUMNS = (
    ("score_weather", "weather score", ".4f"),
    ("score_geomagnetic", "geomag. score", ".4f"),
    ("score_soil", "soil score", ".4f"),
    ("rank_weather", "weather pct", ".1f"),
    ("rank_geomagnetic", "geomag. pct", ".1f"),
    ("rank_soil", "soil pct", ".1f"),
    ("excellence", "E", ".4f"),
    ("diversity", "D", ".4f"),
    ("raw_weight", "raw", ".4f"),
    ("coldkey_multiplier", "coldkey ×", ".3f"),
    ("normalized", "normalised", ".4f"),
    ("transformed", "transformed", ".4f"),
    ("final", "final", ".5f"),
    ("submitted", "submitted", ".5f"),
    ("u16", "u16", "d"),
)
PATHWAY_NAMES = {-1: "no record", 0: "none", 1: "excellence", 2: "diversity"}


def _config_fields(rules: str) -> list[str]:
    """The config fields a what-if replay of a cycle of `rules` accepts (Gaia's when unknown)."""
    config = rules_by_name(rules if rules in RULES else DEFAULT_RULES).config
    return sorted(f.name for f in dataclasses.fields(cast(Any, config)))


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the request in its context."""
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, conn: Conn, validator: ValidatorQuery = None) -> HTMLResponse:
    """Subnet overview: latest cycle, timeline, weight against incentive, pathways, coldkeys."""
    latest = views.get_cycle(conn, None)
    miners = views.list_miners(conn, validator=validator)
    scored = sorted(
        (m for m in miners if not m.validator_permit),
        key=lambda m: -(m.submitted_weight or 0.0),
    )
    return render(
        request,
        "overview.html",
        latest=latest,
        miners=scored,
        timeline=Markup(charts.timeline(views.cycle_timeline(conn, validator=validator))),
        scatter=Markup(charts.weight_vs_incentive(scored)),
        pathways=Markup(charts.pathway_mix(miners)),
        cuts=charts.coldkey_cuts(miners),
    )


@router.get("/miners/{uid}", response_class=HTMLResponse)
def miner_page(request: Request, conn: Conn, uid: Uid) -> HTMLResponse:
    """One miner: the why in words, the waterfall of its stages, its history."""
    try:
        exp = explain(request.app.state.engine, uid)
    except (UnknownUidError, UnknownCycleError) as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    values = {s.name: s.value for s in exp.stages}
    maxima = (
        views.stage_maxima(conn, exp.cycle.id, [n for n, _ in charts.WATERFALL])
        if exp.cycle is not None
        else {}
    )
    history = charts.history(views.miner_history(conn, uid))
    tasks = [
        {
            "task": task,
            "score": values.get(f"score_{task}"),
            "present": values.get(f"present_{task}"),
            "rank": values.get(f"rank_{task}"),
            "qualified": values.get(f"qualified_{task}"),
            "contribution": values.get(f"contribution_{task}"),
        }
        for task in ("weather", "geomagnetic", "soil")
    ]
    return render(
        request,
        "miner.html",
        exp=exp,
        tasks=tasks,
        waterfall=Markup(charts.waterfall(values, maxima)),
        history={k: [(t, Markup(s)) for t, s in v] for k, v in history.items()},
    )


@router.get("/cycles", response_class=HTMLResponse)
def cycles_page(
    request: Request,
    conn: Conn,
    validator: ValidatorQuery = None,
    status: SubmissionStatus | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> HTMLResponse:
    """Cycles, newest first, 100 a page."""
    rows = views.list_cycles(
        conn,
        validator=validator,
        status=status.value if status else None,
        before_id=before_id,
        limit=100,
    )
    return render(
        request,
        "cycles.html",
        cycles=rows,
        status=status.value if status else "",
        validator=validator or "",
        statuses=[s.value for s in SubmissionStatus],
        next_before_id=rows[-1].id if len(rows) == 100 else None,
    )


@router.get("/cycles/{cycle_id}", response_class=HTMLResponse)
def cycle_page(request: Request, conn: Conn, cycle_id: CycleId) -> HTMLResponse:
    """One cycle: every stage per UID, the attempts, the verification, the chain's outcome."""
    detail = views.get_cycle(conn, cycle_id)
    if detail is None:
        raise HTTPException(status_code=404, detail=f"cycle {cycle_id} does not exist")
    stages = views.cycle_stages(conn, cycle_id) or {}
    rows: list[tuple[Any, ...]] = []
    if stages:
        n = detail.summary.n_uids
        pathway = [PATHWAY_NAMES.get(p, "?") for p in stages.get("pathway", [None] * n)]
        cols = [stages.get(name, [None] * n) for name, _, _ in CYCLE_COLUMNS]
        rows = list(zip(range(n), stages.get("hotkey", [None] * n), pathway, *cols, strict=False))
    return render(
        request,
        "cycle.html",
        c=detail,
        columns=CYCLE_COLUMNS,
        rows=rows,
        fields=_config_fields(rules_name(detail.scalars)),
    )


@router.get("/cycles/{cycle_id}/replay", response_class=HTMLResponse)
def replay_page(
    request: Request,
    cycle_id: CycleId,
    overrides: Annotated[list[str], Query(alias="set", max_length=64)] = [],  # noqa: B006
) -> HTMLResponse:
    """What-if replay of a cycle, with the per-UID changes."""
    pairs = [p for p in overrides if p.strip()]
    report = run_replay(request, cycle_id, pairs)
    fields = _config_fields(str(report.get("rules", DEFAULT_RULES)))
    return render(request, "replay.html", r=report, cycle_id=cycle_id, pairs=pairs, fields=fields)


@router.get("/validators", response_class=HTMLResponse)
def validators_page(request: Request, conn: Conn) -> HTMLResponse:
    """Every validator in the record and how far its weights are from consensus."""
    return render(request, "validators.html", validators=views.list_validators(conn))


@router.get("/search", response_class=HTMLResponse, response_model=None)
def search(
    request: Request,
    conn: Conn,
    q: Annotated[str, Query(min_length=1, max_length=256, pattern=TEXT_PATTERN)],
) -> Response:
    """A UID or a hotkey: straight to the miner's page when there is one answer."""
    term = q.strip()
    if term.isdigit() and len(term) <= 9:
        return RedirectResponse(f"/miners/{int(term)}", status_code=303)
    matches = views.find_hotkey(conn, term)
    current = [m for m in matches if m.current]
    if len(current) == 1:
        return RedirectResponse(f"/miners/{current[0].uid}", status_code=303)
    return render(
        request, "search.html", q=term, matches=matches, status_code=200 if matches else 404
    )


__all__ = ["TEMPLATES", "render", "router"]
