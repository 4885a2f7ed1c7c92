"""The JSON API, `/api/v1`: every route GET, read only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from minertrace.explain import UnknownCycleError, UnknownUidError, explain
from minertrace.store import views
from minertrace.vocabulary import PeriodType, SubmissionStatus
from minertrace.web import models as m
from minertrace.web.db import connection
from minertrace.web.params import (
    INT64_MAX,
    CycleId,
    HotkeyPath,
    HotkeyQuery,
    Replayer,
    Uid,
    UidsQuery,
    ValidatorQuery,
    parse_uids,
)

router = APIRouter(prefix="/api/v1", tags=["api"])
Conn = Annotated[Connection, Depends(connection)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": m.ErrorOut}}


def not_found(message: str) -> HTTPException:
    """A 404 with a message."""
    return HTTPException(status_code=404, detail=message)


@router.get("/health", response_model=m.HealthOut)
def health(request: Request, conn: Conn) -> m.HealthOut:
    """Liveness: the database answers; the latest recorded cycle."""
    cycle_id, at = views.latest_cycle(conn)
    return m.HealthOut(
        status="ok",
        database="ok",
        version=request.app.version,
        latest_cycle_id=cycle_id,
        latest_cycle_at=at,
    )


@router.get("/cycles", response_model=m.CyclePageOut)
def cycles(
    conn: Conn,
    validator: ValidatorQuery = None,
    status: Annotated[SubmissionStatus | None, Query(description="Only this status.")] = None,
    before_id: Annotated[
        int | None, Query(ge=1, le=INT64_MAX, description="Page: ids below this one.")
    ] = None,
    since: Annotated[datetime | None, Query(description="computed_at >= since.")] = None,
    until: Annotated[datetime | None, Query(description="computed_at < until.")] = None,
    limit: Annotated[int, Query(ge=1, le=views.CYCLES_MAX)] = 50,
) -> m.CyclePageOut:
    """Cycles, newest first, filtered by validator, status and time; paginated by id."""
    rows = views.list_cycles(
        conn,
        validator=validator,
        status=status.value if status else None,
        before_id=before_id,
        since=since,
        until=until,
        limit=limit,
    )
    items = [m.CycleSummaryOut.model_validate(r) for r in rows]
    return m.CyclePageOut(items=items, next_before_id=rows[-1].id if len(rows) == limit else None)


def _cycle_or_404(conn: Connection, cycle_id: int) -> views.CycleDetail:
    detail = views.get_cycle(conn, cycle_id)
    if detail is None:
        raise not_found(f"cycle {cycle_id} does not exist")
    return detail


@router.get("/cycles/{cycle_id}", response_model=m.CycleOut, responses=NOT_FOUND)
def cycle(conn: Conn, cycle_id: CycleId) -> m.CycleOut:
    """One cycle: status, attempts, verification, chain outcome, scalars, data quality, config."""
    d = _cycle_or_404(conn, cycle_id)
    fields = {k: getattr(d, k) for k in m.CycleOut.model_fields if hasattr(d, k)}
    return m.CycleOut(**vars(d.summary), **fields)


@router.get("/cycles/{cycle_id}/stages", response_model=m.StagesOut, responses=NOT_FOUND)
def stages(conn: Conn, cycle_id: CycleId, uids: UidsQuery = None) -> m.StagesOut:
    """Every stage vector of a cycle, optionally only some UIDs' elements (in `uids` order)."""
    wanted = parse_uids(uids)
    _cycle_or_404(conn, cycle_id)
    vectors = views.cycle_stages(conn, cycle_id, wanted)
    if vectors is None:
        raise not_found(
            f"cycle {cycle_id} stored no stage vectors (enable_detailed_pathways was off)"
        )
    return m.StagesOut(cycle_id=cycle_id, uids=wanted, stages=vectors)


@router.get(
    "/cycles/{cycle_id}/replay",
    responses={**NOT_FOUND, 409: {"model": m.ErrorOut}, 503: {"model": m.ErrorOut}},
)
def replay(
    request: Request,
    cycle_id: CycleId,
    overrides: Annotated[
        list[str],
        Query(
            alias="set",
            max_length=64,
            description="WeightConfig overrides FIELD=VALUE, repeatable (set=coldkey_upper=5).",
        ),
    ] = [],  # noqa: B006 - FastAPI copies query defaults
) -> dict[str, Any]:
    """What-if replay: recompute the cycle from its stored inputs (with overrides, a diff).

    409 when the cycle cannot be replayed (score rows removed by retention, recorded before
    replay inputs were stored, or stored data this version cannot read).
    """
    return run_replay(request, cycle_id, overrides)


def run_replay(request: Request, cycle_id: int, overrides: list[str]) -> dict[str, Any]:
    """The app's replayer on the request's parameters; its errors as 404, 422, 409 or 503."""
    replayer: Replayer | None = request.app.state.replay
    if replayer is None:
        raise HTTPException(status_code=503, detail="replay is not enabled on this server")
    try:
        return replayer(request.app.state.engine, cycle_id, overrides)
    except LookupError as exc:
        raise not_found(str(exc)) from None
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except RuntimeError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None


@router.get("/miners", response_model=m.MinerPageOut)
def miners(
    conn: Conn,
    validator: ValidatorQuery = None,
    hotkey: HotkeyQuery = None,
    limit: Annotated[int, Query(ge=1, le=views.MINERS_MAX)] = 256,
    offset: Annotated[int, Query(ge=0, le=views.MINERS_MAX)] = 0,
) -> m.MinerPageOut:
    """Registered UIDs with hotkey, pathway, submitted weight, incentive, consensus rank."""
    rows = views.list_miners(conn, validator=validator, hotkey=hotkey, limit=limit, offset=offset)
    items = [m.MinerOut.model_validate(r) for r in rows]
    return m.MinerPageOut(items=items, offset=offset, limit=limit)


@router.get("/miners/{uid}", response_class=JSONResponse, responses=NOT_FOUND)
def miner(
    request: Request,
    uid: Uid,
    validator_hotkey: ValidatorQuery = None,
    cycle_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
) -> JSONResponse:
    """Why the UID has its weight: the model of `minertrace explain --json`."""
    try:
        exp = explain(
            request.app.state.engine, uid, validator_hotkey=validator_hotkey, cycle_id=cycle_id
        )
    except (UnknownUidError, UnknownCycleError) as exc:
        raise not_found(str(exc)) from None
    # to_dict() is already JSON-safe: skipping FastAPI's generic encoder saves most of the
    # serialisation time of this, the most requested route.
    return JSONResponse(exp.to_dict())


@router.get("/miners/{uid}/history", response_model=m.HistoryOut, responses=NOT_FOUND)
def history(
    conn: Conn,
    uid: Uid,
    period: Annotated[
        PeriodType | None, Query(description="daily, weekly, monthly, all_time")
    ] = None,
    since: Annotated[datetime | None, Query(alias="from")] = None,
    until: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=views.HISTORY_MAX)] = 500,
) -> m.HistoryOut:
    """The UID's period rows (miner_performance_stats) overlapping [from, to)."""
    if not views.uid_known(conn, uid):
        raise not_found(f"UID {uid} is unknown: not in node_table and no period rows")
    rows = views.miner_history(
        conn, uid, period=period.value if period else None, since=since, until=until, limit=limit
    )
    return m.HistoryOut(uid=uid, items=[m.PeriodRowOut.model_validate(r) for r in rows])


@router.get("/hotkeys/{hotkey}", response_model=m.HotkeyOut, responses=NOT_FOUND)
def hotkey(conn: Conn, hotkey: HotkeyPath) -> m.HotkeyOut:
    """Which UID carries a hotkey now, and which carried it before."""
    found = views.find_hotkey(conn, hotkey)
    if not found:
        raise not_found(f"hotkey {hotkey} is not in node_table nor in any period row")
    return m.HotkeyOut(hotkey=hotkey, matches=[m.HotkeyMatchOut.model_validate(r) for r in found])


@router.get("/validators", response_model=m.ValidatorsOut)
def validators(conn: Conn) -> m.ValidatorsOut:
    """Every validator hotkey: cycles, statuses, last submission, agreement with consensus."""
    rows = views.list_validators(conn)
    return m.ValidatorsOut(items=[m.ValidatorOut.model_validate(r) for r in rows])


__all__ = ["router", "run_replay"]
