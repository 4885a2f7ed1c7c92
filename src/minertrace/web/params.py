"""Validated request parameters shared by the API and the pages (bad values → 422)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import Path, Query
from sqlalchemy import Engine

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# Printable text only: PostgreSQL text cannot hold NUL, and no hotkey has control characters.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]+$"
UIDS_PATTERN = r"^[0-9]{1,9}(,[0-9]{1,9})*$"

Uid = Annotated[int, Path(ge=0, le=INT32_MAX, description="A subnet UID.")]
CycleId = Annotated[int, Path(ge=1, le=INT64_MAX, description="A weight_submissions id.")]
HotkeyPath = Annotated[
    str, Path(min_length=1, max_length=256, pattern=TEXT_PATTERN, description="An SS58 hotkey.")
]
ValidatorQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=256,
        pattern=TEXT_PATTERN,
        description="Only this validator hotkey's cycles.",
    ),
]
HotkeyQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=256, pattern=TEXT_PATTERN, description="Only this hotkey."),
]
UidsQuery = Annotated[
    str | None,
    Query(
        max_length=50_000,
        pattern=UIDS_PATTERN,
        description="Comma-separated UIDs, e.g. 3,17,42.",
    ),
]


# What-if replay, handed to `create_app` by its caller (`minertrace serve` passes
# `minertrace.validator.replay.replay_request`): (engine, cycle id, ["FIELD=VALUE", ...]) →
# strict-JSON report. It raises LookupError (no such cycle), ValueError (bad override) or
# RuntimeError (the cycle cannot be replayed).
Replayer = Callable[[Engine, int, Sequence[str]], dict[str, Any]]


def parse_uids(value: str | None) -> list[int] | None:
    """'3,17,42' → [3, 17, 42] (the pattern has already been checked)."""
    return None if value is None else [int(v) for v in value.split(",")]


__all__ = [
    "INT32_MAX",
    "INT64_MAX",
    "TEXT_PATTERN",
    "CycleId",
    "HotkeyPath",
    "HotkeyQuery",
    "Replayer",
    "Uid",
    "UidsQuery",
    "ValidatorQuery",
    "parse_uids",
]
