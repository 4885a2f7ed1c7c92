"""Adopting a Gaia validator's database: minertrace's tables in a schema of their own.

Gaia's tables stay exactly as they are (Gaia's migrations alter, rebuild and drop them). The
adoption creates schema `minertrace` with minertrace's head tables (all but score_table, which
is read where Gaia keeps it), copies node_table, and imports Gaia's miner_performance_stats
rows when Gaia still has them: every value of the 19 enhancement columns, miner_uid converted
under the quarantine rules of revision 0002 (a quarantined row keeps its Gaia `id` as
legacy_id, an imported row's Gaia `id` is kept by key in miner_performance_stats_gaia_id, and a
non-canonical uid text such as '07' is kept in the legacy-uid table). Detaching
(a downgrade) drops the schema and leaves the database as it was, and refuses when the schema
holds rows found nowhere in Gaia's tables.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from minertrace.db import gaia, tables
from minertrace.db.migrations.names import SCHEMA

GAIA_MPS = "public.miner_performance_stats"
NODE_COLUMNS = tuple(c.name for c in tables.node_table.columns)[:12]
_LEGACY = tables.MPS_LEGACY_COLUMNS
_KEY = ("miner_uid", "period_start", "period_end", "period_type")
GAIA_IDS = "miner_performance_stats_gaia_id"


class GaiaLayoutError(RuntimeError):
    """Gaia's tables are not in a layout minertrace knows."""


def _columns(conn: Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        text(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(:t) AND a.attnum > 0 AND NOT a.attisdropped"
        ),
        {"t": table},
    )
    return {str(name): str(type_) for name, type_ in rows}


def _expected_mps(kind: str) -> dict[str, str]:
    from minertrace.db.migrate import _expected_type
    from minertrace.db.migrations.schema_0001 import miner_performance_stats as legacy

    cols = {c.name: _expected_type(legacy, c.name) for c in legacy.columns}
    if kind != "original":
        head = tables.miner_performance_stats
        cols.update({c: _expected_type(head, c) for c in tables.MPS_NEW_COLUMNS})
    if kind == "enhanced_integer":
        cols["miner_uid"] = "integer"
    return cols


def mps_kind(conn: Connection) -> tuple[str | None, list[str]]:
    """Which Gaia miner_performance_stats this is, or the differences from the nearest one."""
    actual = _columns(conn, GAIA_MPS)
    if not actual:
        return None, []
    best: tuple[int, str, list[str]] | None = None
    for kind in ("original", "enhanced_text", "enhanced_integer"):
        expected = _expected_mps(kind)
        diffs = [f"missing column {c}" for c in sorted(set(expected) - set(actual))]
        diffs += [f"unexpected column {c}" for c in sorted(set(actual) - set(expected))]
        diffs += [
            f"{c}: type {actual[c]}, expected {expected[c]}"
            for c in sorted(set(expected) & set(actual))
            if actual[c] != expected[c]
        ]
        if not diffs:
            return kind, []
        if best is None or len(diffs) < best[0]:
            best = (len(diffs), kind, diffs)
    assert best is not None
    return None, [f"nearest: {best[1]}", *best[2]]


_KIND_REVISION = {
    "original": gaia.MPS_ADDED,
    "enhanced_text": gaia.MPS_ENHANCED,
    "enhanced_integer": gaia.SCORE_REFACTOR,
}


def check_layout(conn: Connection, revision: str | None, score_layout: str) -> str | None:
    """The kind of Gaia's miner_performance_stats; raises when the layout is not Gaia's."""
    kind, diffs = mps_kind(conn)
    problems: list[str] = []
    if diffs:
        nearest = diffs[0].removeprefix("nearest: ")
        problems.append(f"miner_performance_stats is closest to Gaia {_KIND_REVISION[nearest]}'s:")
        problems.extend(f"  {d}" for d in diffs[1:][:8])
    if revision is not None and gaia.is_known(revision):
        want_kind, want_score = gaia.expected_layout(revision)
        if not diffs and kind != want_kind:
            problems.append(
                f"miner_performance_stats is {kind or 'absent'}, Gaia {revision} has "
                f"{want_kind or 'none'}"
            )
        if score_layout != want_score:
            problems.append(
                f"score_table has the {score_layout} layout, Gaia {revision} has {want_score}"
            )
    if problems:
        looks = revision if gaia.is_known(revision) else _KIND_REVISION.get(kind or "", "?")
        raise GaiaLayoutError(
            f"refusing to adopt this Gaia database (it looks like Gaia revision {looks}); "
            "nothing was changed. Differences:\n  " + "\n  ".join(problems)
        )
    return kind


def _uid_text(kind: str) -> str:
    return "miner_uid::text" if kind == "enhanced_integer" else "miner_uid"


def import_select(kind: str) -> str:
    """Gaia's rows that convert, as minertrace's miner_performance_stats columns."""
    new = tables.MPS_NEW_COLUMNS if kind != "original" else ()
    others = [c for c in _LEGACY if c != "miner_uid"]
    return f"""
        SELECT t.uid::integer AS miner_uid, {", ".join(f"g.{c}" for c in others)}
               {"".join(f", g.{c}" for c in new)}
        FROM {GAIA_MPS} g JOIN _gaia_triage t ON t.id = g.id AND t.reason IS NULL AND t.rn = 1
    """


def _triage(conn: Connection, kind: str) -> None:
    uid = _uid_text(kind)
    conn.exec_driver_sql(
        f"""
        CREATE TEMPORARY TABLE _gaia_triage ON COMMIT DROP AS
        WITH c AS (
            SELECT id, updated_at, period_start, period_end, period_type, {uid} AS uid_text,
                CASE
                    WHEN NOT ({uid} ~ '^[0-9]+$') THEN 'non_numeric_uid'
                    WHEN NOT ({uid}::numeric <= 2147483647) THEN 'uid_out_of_range'
                    WHEN period_type NOT IN ('daily', 'weekly', 'monthly', 'all_time')
                        THEN 'invalid_period_type'
                    WHEN NOT (period_end > period_start) THEN 'invalid_period_order'
                END AS reason
            FROM {GAIA_MPS}
        )
        SELECT id, uid_text, reason,
            CASE WHEN reason IS NULL THEN uid_text::numeric END AS uid,
            row_number() OVER w AS rn, first_value(id) OVER w AS kept_id
        FROM c
        WINDOW w AS (
            PARTITION BY reason IS NULL,
                CASE WHEN reason IS NULL THEN uid_text::numeric END,
                period_start, period_end, period_type, CASE WHEN reason IS NOT NULL THEN id END
            ORDER BY updated_at DESC NULLS LAST, id DESC
        )
        """
    )


def adopt(conn: Connection, revision: str | None, kind: str | None) -> dict[str, int]:
    """Create schema minertrace with the head tables and import Gaia's rows; the quarantine
    counts by reason. The caller stamps the head revision."""
    conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    gaia.set_local_search_path(conn)
    for table in tables.metadata.sorted_tables:
        if table.name != tables.score_table.name:
            table.create(conn, checkfirst=False)
    cols = ", ".join(NODE_COLUMNS)
    conn.exec_driver_sql(
        f"INSERT INTO {SCHEMA}.node_table ({cols}) SELECT {cols} FROM public.node_table"
    )
    if kind is None:
        return {}
    _triage(conn, kind)
    new = tables.MPS_NEW_COLUMNS if kind != "original" else ()
    target = ", ".join([*_LEGACY, *new])
    conn.exec_driver_sql(
        f"INSERT INTO {SCHEMA}.miner_performance_stats ({target}) "
        f"SELECT {target} FROM ({import_select(kind)}) s"
    )
    others = [c for c in _LEGACY if c != "miner_uid"]
    conn.exec_driver_sql(
        f"""
        INSERT INTO {SCHEMA}.miner_performance_stats_quarantine
            (legacy_id, miner_uid, {", ".join(others)}, quarantine_reason, quarantine_detail)
        SELECT g.id, t.uid_text, {", ".join(f"g.{c}" for c in others)},
            coalesce(t.reason, 'uid_collision'),
            CASE WHEN t.reason IS NULL THEN
                format('uid %s: Gaia id %s was kept (more recently updated)', t.uid, t.kept_id)
            END
        FROM {GAIA_MPS} g JOIN _gaia_triage t ON t.id = g.id
        WHERE t.reason IS NOT NULL OR t.rn > 1
        ORDER BY g.id
        """
    )
    conn.exec_driver_sql(
        f"""
        INSERT INTO {SCHEMA}.miner_performance_stats_legacy_uid
            ({", ".join(_KEY)}, miner_hotkey, legacy_miner_uid)
        SELECT t.uid::integer, g.period_start, g.period_end, g.period_type, g.miner_hotkey,
            t.uid_text
        FROM {GAIA_MPS} g JOIN _gaia_triage t ON t.id = g.id AND t.reason IS NULL AND t.rn = 1
        WHERE t.uid_text <> t.uid::integer::text
        """
    )
    # Gaia's `id` of every imported row, kept with the row's key (Gaia may drop its table).
    conn.exec_driver_sql(
        f"CREATE TABLE {SCHEMA}.{GAIA_IDS} AS SELECT t.uid::integer AS miner_uid, "
        "g.period_start, g.period_end, g.period_type, g.id AS gaia_id "
        f"FROM {GAIA_MPS} g JOIN _gaia_triage t ON t.id = g.id AND t.reason IS NULL AND t.rn = 1"
    )
    conn.exec_driver_sql(f"ALTER TABLE {SCHEMA}.{GAIA_IDS} ADD PRIMARY KEY ({', '.join(_KEY)})")
    conn.exec_driver_sql(
        f"COMMENT ON TABLE {SCHEMA}.{GAIA_IDS} IS 'The id each imported miner_performance_stats "
        "row had in Gaia''s table.'"
    )
    counts = conn.exec_driver_sql(
        "SELECT coalesce(reason, 'uid_collision'), count(*) FROM _gaia_triage "
        "WHERE reason IS NOT NULL OR rn > 1 GROUP BY 1"
    ).all()
    return {str(reason): int(n) for reason, n in counts}


def own_rows(conn: Connection) -> list[str]:
    """minertrace tables in its schema holding rows that exist nowhere in Gaia's tables."""
    out: list[str] = []
    n = conn.exec_driver_sql(f"SELECT count(*) FROM {SCHEMA}.weight_submissions").scalar()
    if n:
        out.append(f"weight_submissions ({n} rows)")
    kind, _ = mps_kind(conn)
    new = tables.MPS_NEW_COLUMNS if kind not in (None, "original") else ()
    cols = ", ".join([*_LEGACY, *new])
    if kind is None:
        source = f"SELECT {cols} FROM {SCHEMA}.miner_performance_stats WHERE false"
    else:
        _triage(conn, kind)
        source = f"SELECT {cols} FROM ({import_select(kind)}) s"
    extra = conn.exec_driver_sql(
        f"SELECT count(*) FROM (SELECT {cols} FROM {SCHEMA}.miner_performance_stats "
        f"EXCEPT ALL {source}) x"
    ).scalar()
    if kind is not None and new == ():
        # Gaia's original table has no enhancement columns: values written there are ours.
        filled = " OR ".join(f"{c} IS NOT NULL" for c in tables.MPS_NEW_COLUMNS)
        extra = (extra or 0) + (
            conn.exec_driver_sql(
                f"SELECT count(*) FROM {SCHEMA}.miner_performance_stats WHERE {filled}"
            ).scalar()
            or 0
        )
    if extra:
        out.append(f"miner_performance_stats ({extra} rows not in Gaia's table)")
    return out


def detach(conn: Connection) -> None:
    """Drop minertrace's schema, leaving Gaia's database as it was before the adoption."""
    held = own_rows(conn)
    if held:
        raise RuntimeError(
            f"refusing to drop schema {SCHEMA}: it holds rows found nowhere in Gaia's tables: "
            + ", ".join(held)
            + f" (export them, or DROP SCHEMA {SCHEMA} CASCADE yourself to discard them)"
        )
    conn.exec_driver_sql(f"DROP SCHEMA {SCHEMA} CASCADE")
