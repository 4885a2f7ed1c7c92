"""`minertrace serve`: the read-only API and dashboard on uvicorn.

Only typer and rich at module level (help stays light); the database, the web app and
uvicorn are imported when the command runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from minertrace.cli._support import (
    DatabaseUrlOption,
    DataDirOption,
    cli_settings,
    console,
    fail,
    opened_database_for,
)

if TYPE_CHECKING:
    from minertrace.config import Settings
    from minertrace.db.database import Database

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8057


@contextmanager
def serving_database(settings: Settings, *, demo: bool) -> Iterator[Database]:
    """The configured database (or the demo's schema), checked to hold minertrace's tables."""
    from minertrace.store.views import has_tables

    with opened_database_for(settings, demo=demo) as db:
        with db.engine.connect() as conn:
            found = has_tables(conn)
        if not found:
            raise fail(
                "the database has no minertrace tables; run "
                + (
                    "`minertrace demo` first"
                    if demo
                    else "`minertrace db upgrade` or `minertrace run`"
                )
            )
        yield db


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Interface to bind (anything but 127.0.0.1 is public).")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = DEFAULT_PORT,
    demo_data: Annotated[
        bool, typer.Option("--demo", help="Serve the data of the last `minertrace demo`.")
    ] = False,
    cors_origin: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--cors-origin",
            help="Allow this browser origin to read the API (repeatable; default: CORS off).",
            show_default=False,
        ),
    ] = None,
    database_url: DatabaseUrlOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Serve the read-only JSON API (/api/v1, reference at /docs) and the dashboard."""
    import uvicorn

    from minertrace.validator.replay import replay_request
    from minertrace.web import create_app, read_only_engine

    settings = cli_settings(database_url=database_url, data_dir=data_dir)
    with serving_database(settings, demo=demo_data) as db:
        engine = read_only_engine(db.url)
        try:
            app = create_app(engine, replay=replay_request, cors_origins=list(cors_origin or []))
            shown = f"[{host}]" if ":" in host else host
            console.print(
                f"minertrace dashboard on http://{shown}:{port}/ (API reference: /docs), "
                f"reading {'the demo schema of ' if demo_data else ''}{db.describe_server()}",
                highlight=False,
                markup=False,
            )
            uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())
        finally:
            engine.dispose()


def register(app: typer.Typer) -> None:
    """Attach `minertrace serve` to the root app."""
    app.command(name="serve")(serve)


__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "register", "serve", "serving_database"]
