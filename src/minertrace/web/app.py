"""`create_app(engine)`: the FastAPI application (JSON API, dashboard, API reference).

Errors never leak: a bad parameter is a 422 with one sentence, an unknown UID or cycle a 404
with one sentence, a database that cannot answer a 503 without its URL; anything else is a
500 that says nothing about the internals (and is logged without parameters). The API
reference at `/docs` is rendered on the server from the OpenAPI document (`/openapi.json`),
so it needs nothing from the network either.
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, ProgrammingError
from starlette.exceptions import HTTPException

from minertrace.observe import mount_metrics, probing_registry
from minertrace.web import api, pages
from minertrace.web.params import Replayer

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path.endswith(".json")


def _error(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    return pages.render(request, "error.html", status_code=status, status=status, message=message)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
        where = f"{err['loc'][0]} parameter '{'.'.join(loc)}'" if loc else "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 422, _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        undefined = isinstance(exc, ProgrammingError) and "does not exist" in str(exc.orig)
        message = (
            "the database has no minertrace tables yet: run `minertrace db upgrade`"
            if undefined
            else "the database is unavailable"
        )
        logger.warning("%s %s: %s", request.method, request.url.path, type(exc.orig).__name__)
        return _error(request, 503, message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        return _error(request, 500, "internal error")


def _reference(app: FastAPI) -> list[dict[str, Any]]:
    """The OpenAPI document as rows for the reference page."""
    spec = app.openapi()
    components = spec.get("components", {}).get("schemas", {})
    out = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            out.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": [
                        {
                            "name": p["name"],
                            "in": p["in"],
                            "required": p.get("required", False),
                            "description": p.get("description")
                            or p.get("schema", {}).get("description", ""),
                            "schema": _schema_text(p.get("schema", {}), components),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "responses": sorted(op.get("responses", {})),
                }
            )
    return out


def _schema_text(schema: dict[str, Any], components: dict[str, Any]) -> str:
    if "anyOf" in schema:
        return " | ".join(_schema_text(s, components) for s in schema["anyOf"])
    if "$ref" in schema:
        return _schema_text(components.get(str(schema["$ref"]).rsplit("/", 1)[-1], {}), components)
    kind = str(schema.get("format") or schema.get("type", "any"))
    if kind == "array":
        kind = f"array of {_schema_text(schema.get('items', {}), components)}"
    limits = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "maxLength") if k in schema]
    if "enum" in schema:
        limits.append("one of " + ", ".join(map(str, schema["enum"])))
    return kind + (f" ({'; '.join(limits)})" if limits else "")


def _version() -> str:
    try:
        return version("minertrace")
    except PackageNotFoundError:
        return "unknown"


def create_app(
    engine: Engine, *, replay: Replayer | None = None, cors_origins: list[str] | None = None
) -> FastAPI:
    """The application over `engine` (give it a read-only engine: `web.db.read_only_engine`).

    `replay` serves what-if replay (`minertrace serve` passes
    `minertrace.validator.replay.replay_request`); without it the replay routes answer 503.
    CORS is off unless `cors_origins` lists the origins allowed to read the API.
    """
    app = FastAPI(
        title="minertrace",
        version=_version(),
        summary="Read-only API over a validator's weight record: cycles, stages, miners.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.replay = replay
    if cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=cors_origins, allow_methods=["GET"], allow_headers=[]
        )
    _install_handlers(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    mount_metrics(app, probing_registry(engine))

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def reference(request: Request) -> HTMLResponse:
        return pages.render(request, "docs.html", routes=_reference(app))

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    return app


__all__ = ["create_app"]
