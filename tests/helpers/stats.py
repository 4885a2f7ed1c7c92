"""Helpers shared by the stats tests: write node and score rows, read stats rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from minertrace.db.tables import miner_performance_stats as mps
from minertrace.db.tables import node_table, score_table


def insert_runs(engine: Engine, runs: list[tuple[str, str, str, datetime, list[float]]]) -> None:
    with engine.begin() as conn:
        conn.execute(
            score_table.insert(),
            [
                {"task_name": n, "task_id": i, "status": s, "created_at": t, "score": v}
                for n, i, s, t, v in runs
            ],
        )


def insert_nodes(engine: Engine, hotkeys: dict[int, str | None]) -> None:
    with engine.begin() as conn:
        conn.execute(node_table.insert(), [{"uid": u, "hotkey": k} for u, k in hotkeys.items()])


def rows(engine: Engine, period_type: str) -> dict[int, dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(select(mps).where(mps.c.period_type == period_type))
        return {r["miner_uid"]: dict(r) for r in result.mappings()}
