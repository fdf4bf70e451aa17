"""How well songplay_id hashes in PostgreSQL: the old and the current scheme over 1M plays.

PostgreSQL's int8 hash XORs the high and low 32-bit words. ``session * 2^32 + item`` therefore
hashes like ``session XOR item``: a few tens of thousands of distinct values for a million
plays, and any hash plan on the key (GROUP BY, hash join) degenerates into long collision
chains. The current scheme (``sql.tables.songplay_id``) scrambles the low word with the session.

    python benchmarks/songplay_id_hash.py              # 1M plays: 20,000 sessions x 50 items
    python benchmarks/songplay_id_hash.py --sessions 40000 --items 25 --old-timeout 60

Prints, per scheme, the distinct hash values and the time of a primary-key style check
(``GROUP BY songplay_id HAVING COUNT(*) > 1``) forced into a HashAggregate with
``SET enable_sort = off``. The old scheme runs under a statement timeout (default 20 s).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import psycopg2

from sparkify_assets.sql.tables import songplay_id
from sparkify_assets.warehouse import embedded

OLD = "CAST(p.session_id AS BIGINT) * 4294967296 + p.item_in_session"
SCHEMES = {
    "old: session * 2^32 + item": OLD,
    "current": songplay_id("p"),
    "reference: 1..n": "ROW_NUMBER() OVER ()",
}
CHECK = "SELECT COUNT(*) FROM (SELECT id FROM ids GROUP BY id HAVING COUNT(*) > 1) duplicates"


def run(cursor, scheme: str, expression: str, timeout_s: int) -> None:
    cursor.execute("DROP TABLE IF EXISTS ids")
    cursor.execute(f"CREATE TABLE ids AS SELECT {expression} AS id FROM plays p")
    cursor.execute("ANALYZE ids")
    cursor.execute("SELECT COUNT(*), COUNT(DISTINCT id), COUNT(DISTINCT hashint8(id)) FROM ids")
    rows, ids, hashes = cursor.fetchone()
    cursor.execute("SET enable_sort = off")
    cursor.execute(f"EXPLAIN {CHECK}")
    plan = " ".join(line for (line,) in cursor.fetchall())
    assert "HashAggregate" in plan, plan
    cursor.execute(f"SET statement_timeout = {timeout_s * 1000}")
    started = time.perf_counter()
    try:
        cursor.execute(CHECK)
        (duplicates,) = cursor.fetchone()
        outcome = f"{time.perf_counter() - started:.3f} s, {duplicates} duplicate ids"
        cursor.execute(f"EXPLAIN ANALYZE {CHECK}")
        batches = [line for (line,) in cursor.fetchall() if "Batches" in line]
        outcome += f" ({batches[0].strip()})" if batches else ""
    except psycopg2.errors.QueryCanceled:
        outcome = f"cancelled after {timeout_s} s (still hashing)"
    cursor.execute("RESET statement_timeout")
    cursor.execute("RESET enable_sort")
    print(
        f"{scheme:<28} {rows:>9,} plays  {ids:>9,} ids  {hashes:>9,} hash values  "
        f"HashAggregate: {outcome}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--old-timeout", type=int, default=20, help="seconds")
    parser.add_argument("--home", default=str(Path(__file__).parent / "out" / "hash-home"))
    args = parser.parse_args()
    connection = psycopg2.connect(embedded.ensure_running(args.home, "songplay_id_hash"))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS plays")
        cursor.execute(
            "CREATE TABLE plays AS SELECT s AS session_id, i AS item_in_session "
            f"FROM generate_series(1, {args.sessions}) s, generate_series(0, {args.items - 1}) i"
        )
        cursor.execute("SHOW work_mem")
        print(f"work_mem {cursor.fetchone()[0]} (the server's default)")
        for scheme, expression in reversed(list(SCHEMES.items())):
            run(cursor, scheme, expression, args.old_timeout)
        cursor.execute("DROP TABLE ids")
    connection.close()


if __name__ == "__main__":
    main()
