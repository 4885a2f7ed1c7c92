"""`minertrace serve` for real: a uvicorn process on a local port, then stopped."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx
import typer
from typer.testing import CliRunner

from minertrace.cli import serve as serve_cli
from minertrace.db.urls import sync_url
from tests.helpers.web import RecordedDb

SCRIPT = """
import sys, typer
from minertrace.cli.serve import register
app = typer.Typer()
register(app)
app.command("noop")(lambda: None)
app(sys.argv[1:])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_binds_localhost_and_answers(recorded_db: RecordedDb) -> None:
    port = _free_port()
    parsed = sync_url(recorded_db.url)
    if parsed.password in (None, "***"):
        # The embedded test server trusts local sockets: any password works, so a sentinel
        # shows whether the command ever prints the one it was given.
        parsed = parsed.set(password="sentinel-pw-8c1f")
    url = parsed.render_as_string(hide_password=False)
    password = str(parsed.password)
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "serve", "--port", str(port), "--database-url", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert body is not None, proc.stderr.read() if proc.stderr else ""
        assert body["latest_cycle_id"] == recorded_db.rec.cycle_ids[-1]
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in out
    assert password not in out and password not in err


def test_serve_refuses_a_database_without_tables(db_url: str) -> None:
    app = typer.Typer()
    serve_cli.register(app)
    app.command("noop")(lambda: None)
    r = CliRunner().invoke(app, ["serve", "--database-url", db_url])
    assert r.exit_code == 1
    assert "no minertrace tables" in r.stderr and "Traceback" not in r.stderr
