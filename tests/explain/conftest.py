"""The `explain` command on an app of its own, as the root app will register it."""

from __future__ import annotations

import pytest
import typer

from minertrace.cli.explain import register


@pytest.fixture
def cli_app() -> typer.Typer:
    """A root app with a callback (so `explain` stays a sub-command) and `explain` on it."""
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """minertrace (test root)."""

    register(app)
    return app
