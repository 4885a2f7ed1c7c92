"""Top-level service commands: `minertrace run`, `minertrace demo`, `minertrace stats`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the service commands to the root app."""
