"""Concurrent loads: different days side by side, the same day in turn, the DDL once at a time.

Three writers against one fresh database: day A, and day B twice. Each is a thread with its own
warehouse object, so its own connections and advisory locks, doing what a
``staging_events,songplays`` run of one partition does: create the tables, stage the day,
build the day's songplays. The locks are PostgreSQL sessions' locks, so threads race for
them exactly as processes do; what a separate process adds (Dagster's run machinery) is the same
code path every ``sparkify load`` test runs.

The test itself holds two of the platform's advisory locks at first, to make the races certain
rather than likely:

* the DDL lock, until all three wait for it: then they all create the tables at once (without
  the lock, concurrent CREATE TABLE IF NOT EXISTS fails on pg_type's unique index);
* day B's staging lock, until day A's writer has finished: so day A never waits for day B, and
  the two day-B writers then race for the same partition.
"""

import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta

import psycopg2
import pytest

from sparkify_assets.ingest.local import LocalSource
from sparkify_assets.sql.model import Window
from sparkify_assets.sql.tables import SONGPLAYS
from sparkify_assets.warehouse.base import lock_key
from sparkify_assets.warehouse.postgres import PostgresWarehouse

DAY_A, DAY_B = date(2018, 11, 5), date(2018, 11, 6)


def _load_day(database_url: str, sample, day: date) -> None:
    warehouse = PostgresWarehouse(url=database_url)
    source = LocalSource(sample)
    warehouse.ensure_tables()
    warehouse.stage_events_day(source, day, source.event_files()[day])
    warehouse.build(SONGPLAYS, Window(day, day + timedelta(days=1)))


def _advisory_waiters(cursor) -> int:
    cursor.execute(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
    )
    return cursor.fetchone()[0]


def _wait_until(condition, writers: list[Future], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        for writer in writers:
            if writer.done() and writer.exception() is not None:
                pytest.fail(f"a writer failed while waiting for {what}: {writer.exception()}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _expected(sample, day: date) -> tuple[int, int]:
    """(staging rows, songplays) of one day file, straight from the JSON."""
    path = next((sample / "log_data").rglob(f"{day.isoformat()}-events.json"))
    events = [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    plays = [e for e in events if e["page"] == "NextSong" and e["userId"] != ""]
    return len(events), len(plays)


def _day_counts(warehouse, day: date) -> tuple[int, int]:
    (staged,) = warehouse.query(
        "SELECT COUNT(*) FROM staging_events WHERE event_date = %s", (day,)
    )[0]
    (plays,) = warehouse.query(
        "SELECT COUNT(*) FROM songplays WHERE start_time >= %s::date AND start_time < %s::date + 1",
        (day, day),
    )[0]
    return staged, plays


def test_different_days_run_side_by_side_and_the_same_day_never_duplicates(
    database_url, warehouse, bundled_sample
):
    ddl, day_b = lock_key("ddl"), lock_key("staging_events", DAY_B.isoformat())
    holder = psycopg2.connect(database_url)
    holder.autocommit = True
    cursor = holder.cursor()
    cursor.execute(
        "SELECT pg_advisory_lock(hashtext(%s)), pg_advisory_lock(hashtext(%s))", (ddl, day_b)
    )
    with ThreadPoolExecutor(3, thread_name_prefix="writer") as pool:
        try:
            writers = [
                pool.submit(_load_day, database_url, bundled_sample, day)
                for day in (DAY_A, DAY_B, DAY_B)
            ]
            _wait_until(lambda: _advisory_waiters(cursor) == 3, writers, "all three at the DDL")
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", (ddl,))

            _wait_until(
                lambda: writers[0].done() and _advisory_waiters(cursor) == 2,
                writers,
                f"{DAY_A} to finish while both {DAY_B} writers wait for their day",
            )
            writers[0].result()
            assert _day_counts(warehouse, DAY_A) == _expected(bundled_sample, DAY_A)
            assert _day_counts(warehouse, DAY_B) == (0, 0)
        finally:
            holder.close()  # releases day B's lock (and the DDL lock, if a wait failed)
        for writer in writers:
            writer.result(timeout=60)  # re-raises a writer's error, e.g. a deadlock

    for day in (DAY_A, DAY_B):
        assert _day_counts(warehouse, day) == _expected(bundled_sample, day)
    (total,) = warehouse.query("SELECT COUNT(*) FROM staging_events")[0]
    assert total == _expected(bundled_sample, DAY_A)[0] + _expected(bundled_sample, DAY_B)[0]
