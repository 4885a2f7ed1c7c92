"""Revision 0002 on a large legacy table: upgrade, downgrade, upgrade loses nothing.

Builds a 1,000,000-row legacy miner_performance_stats (about 2% of the rows to quarantine:
non-numeric and out-of-range uids, '07'-style collisions, 'hourly' periods, empty periods),
then times upgrade -> downgrade -> upgrade and checks by content hash that the downgrade gives
every table back exactly and the second upgrade gives the first one's tables back. Hashes are
order-independent sums computed in the server, so neither side holds a table in memory.
Prints the time of each step and the client's peak RSS.

    python bench/migration_roundtrip.py [ROWS]
"""

from __future__ import annotations

import resource
import sys
import time

import sqlalchemy as sa

from benchdb import bench_engine
from minertrace.db import migrate, tables

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
VOLATILE = ["quarantined_at", "quarantine_id", "archived_at"]


def populate(engine: sa.Engine, rows: int) -> None:
    """`rows` legacy rows: 250 miners per day, plus about 2% odd rows."""
    cols = ", ".join(tables.MPS_LEGACY_COLUMNS)
    values = """
        {uid}, 'hk' || (i % 250), {start}, {start} + interval '{length}', {ptype},
        i % 7, i % 5, i % 3, i * 0.001, i * 0.5, i % 250,
        i % 11, i % 9, i % 4, i * 0.25, 0.5, i % 13, i * 1.5, i * 0.125,
        i % 6, i % 4, i % 2, i * 0.3, 0.75, i % 17, i * 0.01, i * 0.02, i * 0.4, i * 0.6,
        i % 8, i % 3, i % 2, i * 0.7, 'NaN', i % 19, i * 0.8, i * 0.9, NULL,
        'stable', 0.42, timestamptz '2024-05-01' + i * interval '1 second', i % 10, 99.5,
        jsonb_build_object('i', i), NULL, timestamptz '2024-06-01', {updated}
    """
    start = "timestamptz '2020-01-01' + (i / 250) * interval '1 day'"
    odd = max(rows // 250, 1)
    batches = [
        ("(i % 250)::text", "'daily'", "1 day", "timestamptz '2024-06-01'", rows - 5 * odd),
        ("'0' || (i % 250)::text", "'daily'", "1 day", "timestamptz '2025-01-01'", odd),
        ("'x' || i", "'daily'", "1 day", "now()", odd),
        ("'9999999999' || i", "'daily'", "1 day", "now()", odd),
        ("(i % 250)::text", "'hourly'", "1 hour", "now()", odd),
        ("(i % 250)::text", "'weekly'", "0 days", "now()", odd),
    ]
    with engine.begin() as conn:
        for uid, ptype, length, updated, n in batches:
            conn.execute(
                sa.text(
                    f"INSERT INTO miner_performance_stats ({cols}) SELECT "
                    + values.format(
                        uid=uid, start=start, length=length, ptype=ptype, updated=updated
                    )
                    + " FROM generate_series(1, :n) AS i"
                ),
                {"n": n},
            )


def hashes(engine: sa.Engine) -> dict[str, tuple[int, int]]:
    """(row count, sum of 60-bit row hashes) of every table but the version table."""
    out: dict[str, tuple[int, int]] = {}
    with engine.connect() as conn:
        names = conn.execute(
            sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename <> :v ORDER BY 1"
            ),
            {"v": migrate.VERSION_TABLE},
        ).scalars()
        for name in list(names):
            n, total = conn.execute(
                sa.text(
                    "SELECT count(*), coalesce(sum(('x' || substr(md5((to_jsonb(r) - "
                    f'CAST(:v AS text[]))::text), 1, 15))::bit(60)::bigint), 0) FROM "{name}" r'
                ),
                {"v": VOLATILE},
            ).one()
            out[name] = (int(n), int(total))
    return out


def timed(label: str, step: object) -> None:
    start = time.perf_counter()
    report = step() if callable(step) else None
    extra = ""
    if isinstance(report, migrate.MigrationReport) and report.converted_rows:
        extra = f" (converted {report.converted_rows}, quarantined {report.quarantined_total})"
    print(f"{label:<12} {time.perf_counter() - start:8.2f} s{extra}")


def main() -> None:
    with bench_engine("minertrace_bench_migration") as engine:
        migrate.upgrade(engine, "0001")
        timed("populate", lambda: populate(engine, ROWS))
        legacy = hashes(engine)
        print(f"legacy rows: {legacy['miner_performance_stats'][0]}")
        timed("upgrade", lambda: migrate.upgrade(engine))
        head = hashes(engine)
        timed("downgrade", lambda: migrate.downgrade(engine, "0001"))
        back = hashes(engine)
        timed("upgrade", lambda: migrate.upgrade(engine))
        again = hashes(engine)
    print(f"downgrade gives the legacy tables back exactly: {back == legacy}")
    print(f"second upgrade gives the head tables back exactly: {again == head}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS (this process): {peak:.0f} MiB")
    if back != legacy or again != head:
        sys.exit(1)


if __name__ == "__main__":
    main()
