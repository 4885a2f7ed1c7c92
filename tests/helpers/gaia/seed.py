"""Realistic and odd rows for a Gaia fixture database (any of its layouts)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, text

from tests.helpers.gaia.layouts import N_UIDS

NOW = datetime(2025, 8, 20, 12, tzinfo=timezone.utc)
TEXT_UIDS = ["07", "7", "007", "", " 5", "-1", "4294967296", "3", "12", "0012"]


def score_rows() -> list[tuple[str, str, list[float | None] | None, datetime, str]]:
    """(task_name, task_id, scores, created_at, status): NULL and NaN entries, a NULL row."""
    rows: list[tuple[str, str, list[float | None] | None, datetime, str]] = []
    for k in range(6):
        scores: list[float | None] = [
            None if (i + k) % 7 == 0 else math.nan if (i + k) % 11 == 0 else (i % 50) / 50.0
            for i in range(N_UIDS)
        ]
        rows.append(
            ("weather", f"final_weather_scores_{k}", scores, NOW - timedelta(days=k), "completed")
        )
        rows.append(
            ("geomagnetic", f"geo_{k}", scores[::-1], NOW - timedelta(hours=k), "completed")
        )
        rows.append(
            (f"soil_moisture_region_{k}", f"soil_{k}", scores, NOW - timedelta(hours=k), "pending")
        )
    rows.append(("geomagnetic", "geo_null", None, NOW - timedelta(hours=9), "completed"))
    return rows


def _score_columns(conn: Connection) -> bool:
    return bool(
        conn.execute(
            text(
                "SELECT NOT EXISTS (SELECT FROM information_schema.columns WHERE "
                "table_schema = 'public' AND table_name = 'score_table' AND column_name = 'score')"
            )
        ).scalar()
    )


def seed(conn: Connection, mps: str | None) -> None:
    """Nodes, score rows, and Gaia miner_performance_stats rows (`mps`: None, 'original',
    'text' or 'integer' uid)."""
    conn.execute(
        text(
            "INSERT INTO public.node_table (uid, hotkey, coldkey, stake) "
            "SELECT i, 'hk' || i, 'ck' || i, i * 1.5 FROM generate_series(0, 40) AS i"
        )
    )
    columns = _score_columns(conn)
    for name, task_id, scores, created, status in score_rows():
        if columns:
            cols = ", ".join(f"uid_{i}_score" for i in range(N_UIDS))
            vals = ", ".join(f"(CAST(:s AS float8[]))[{i + 1}]" for i in range(N_UIDS))
            sql = (
                f"INSERT INTO public.score_table (task_name, task_id, {cols}, created_at, status) "
                f"VALUES (:n, :t, {vals}, :c, :st)"
            )
        else:
            sql = (
                "INSERT INTO public.score_table (task_name, task_id, score, created_at, status) "
                "VALUES (:n, :t, :s, :c, :st)"
            )
        conn.execute(text(sql), {"n": name, "t": task_id, "s": scores, "c": created, "st": status})
    if mps is None:
        return
    uids = ["7", "3", "12", "20"] if mps == "integer" else TEXT_UIDS
    enhanced = mps != "original"
    extra_cols = ", submitted_weight, scoring_pathway, excellence_qualified_tasks, validator_hotkey"
    extra_vals = ", :n * 0.001, 'excellence', ARRAY['weather'], 'vk'"
    periods = [("daily", "1 day"), ("hourly", "1 hour"), ("DAILY", "1 day"), ("weekly", "0 days")]
    params = []
    for n, uid in enumerate(uids):
        for p, (ptype, length) in enumerate(periods):
            params.append({"uid": uid, "pt": ptype, "len": length, "n": n, "p": p})
    cast = "CAST(:uid AS integer)" if mps == "integer" else ":uid"
    conn.execute(
        text(
            f"""
            INSERT INTO public.miner_performance_stats (miner_uid, miner_hotkey, period_start,
                period_end, period_type, overall_avg_score, weather_avg_score, updated_at
                {extra_cols if enhanced else ""})
            VALUES ({cast}, 'hk' || :n, timestamptz '2025-08-01' + :p * interval '1 day',
                timestamptz '2025-08-01' + :p * interval '1 day' + CAST(:len AS interval), :pt,
                CASE WHEN :n % 3 = 0 THEN 'NaN'::float8 WHEN :n % 3 = 1 THEN NULL ELSE :n * 0.1 END,
                :n * 0.01, timestamptz '2025-08-02' + :n * interval '1 minute'
                {extra_vals if enhanced else ""})
            """
        ),
        params,
    )
