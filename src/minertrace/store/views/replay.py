"""Replay's reads: a cycle's stored inputs and results, its score rows by key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class ReplaySource:
    """What replay reads for one cycle: its stored inputs, config and results."""

    id: int
    n_uids: int
    config: dict[str, Any]
    score_rows: list[dict[str, Any]]
    inputs: dict[str, Any] | None
    stages: dict[str, Any] | None
    final_weights: list[float] | None
    submitted_uids: list[int] | None
    submitted_weights: list[float] | None
    submitted_u16: list[int] | None
    rules: str | None
    """The `rules` scalar: which weight rules computed the cycle (None: Gaia's, the default)."""
    scalars: dict[str, Any] | None
    """Every scalar of the cycle (stateful rules keep the state they started from here)."""


_REPLAY = text(
    """
    SELECT id, n_uids, config, score_rows, inputs, stages, final_weights, submitted_uids,
           submitted_weights, submitted_u16, scalars ->> 'rules' AS rules, scalars
      FROM weight_submissions WHERE id = :id
    """
)


def replay_source(conn: Connection, cycle_id: int) -> ReplaySource | None:
    """The stored inputs and results of cycle `cycle_id`, or None when there is none."""
    row = conn.execute(_REPLAY, {"id": cycle_id}).mappings().first()
    return None if row is None else ReplaySource(**row)


@dataclass(frozen=True)
class StoredScoreRow:
    """A score row looked up by (task_name, task_id); `score` None when it is gone."""

    task_name: str
    task_id: str | None
    score: list[float | None] | None
    created_at: datetime | None
    found: bool


_SCORE_ROWS = text(
    """
    SELECT r.task_name, r.task_id, s.score, s.created_at, s.task_name IS NOT NULL AS found
      FROM unnest(CAST(:names AS text[]), CAST(:ids AS text[])) WITH ORDINALITY
           AS r(task_name, task_id, ord)
      LEFT JOIN score_table AS s
             ON s.task_name = r.task_name AND s.task_id IS NOT DISTINCT FROM r.task_id
     ORDER BY r.ord
    """
)


def score_rows_by_key(conn: Connection, keys: list[tuple[str, str | None]]) -> list[StoredScoreRow]:
    """The score rows with these (task_name, task_id) keys, in the given order (one query)."""
    if not keys:
        return []
    params = {"names": [k[0] for k in keys], "ids": [k[1] for k in keys]}
    return [StoredScoreRow(**r) for r in conn.execute(_SCORE_ROWS, params).mappings()]


__all__ = ["ReplaySource", "StoredScoreRow", "replay_source", "score_rows_by_key"]
