"""Serve a `Metrics` registry: a small HTTP server of its own, or `/metrics` in an ASGI app.

`minertrace run --metrics-port` uses `start_exporter`; `minertrace serve` mounts the same
registry into its FastAPI app with `mount_metrics(app, metrics.registry)`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, make_asgi_app, start_http_server

DEFAULT_HOST = "127.0.0.1"


class ExporterError(RuntimeError):
    """The metrics endpoint could not be opened (port in use, bad address)."""


@dataclass
class MetricsServer:
    """A running `/metrics` HTTP server (in a daemon thread); `close()` stops it."""

    host: str
    port: int
    _server: WSGIServer
    _thread: threading.Thread

    @property
    def url(self) -> str:
        """The endpoint's URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_exporter(
    registry: CollectorRegistry, port: int, host: str = DEFAULT_HOST
) -> MetricsServer:
    """Serve `registry` on http://host:port/metrics (port 0: any free port).

    Bound to 127.0.0.1 unless `host` says otherwise: the metrics name the validator's hotkey.
    Raises `ExporterError` with the reason when the address cannot be bound.
    """
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ExporterError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None
    return MetricsServer(host, int(server.server_address[1]), server, thread)


class _Routable(Protocol):
    def add_route(self, path: str, route: Any, *args: Any, **kwargs: Any) -> None: ...


class MetricsApp:
    """An ASGI app that answers every request with the exposition of `registry`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._app = make_asgi_app(registry=registry)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The ASGI entry point."""
        await self._app(scope, receive, send)


def mount_metrics(app: _Routable, registry: CollectorRegistry, path: str = "/metrics") -> None:
    """Serve the exposition of `registry` at exactly `path` of a Starlette/FastAPI `app`.

    A route, not a mount: a mount would answer `/metrics` with a redirect to `/metrics/`.
    Starlette runs a callable object that is not a function as a plain ASGI app.
    """
    app.add_route(path, MetricsApp(registry), include_in_schema=False)
