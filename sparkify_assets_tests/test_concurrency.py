"""Concurrent `dagster asset materialize` runs: different days in parallel, the same day in turn.

Three real processes against one fresh database: day A, and day B twice. The test itself holds
two of the platform's advisory locks at first, to make the races certain rather than likely:

* the DDL lock, until all three wait for it: then they all create the tables at once (without
  the lock, concurrent CREATE TABLE IF NOT EXISTS fails on pg_type's unique index);
* day B's staging lock, until day A's run has finished: so day A never waits for day B, and the
  two day-B runs then race for the same partition.
"""

import json
import os
import subprocess
import sys
import time

import psycopg2
import pytest

from sparkify_assets.warehouse.base import lock_key

DAY_A, DAY_B = "2018-11-05", "2018-11-06"


def _materialize(env: dict, day: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster",
            "asset",
            "materialize",
            "-m",
            "sparkify_assets.definitions",
            "--select",
            "staging_events,songplays",
            "--partition",
            day,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _advisory_waiters(cursor) -> int:
    cursor.execute(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
    )
    return cursor.fetchone()[0]


def _wait_until(condition, runs: list[subprocess.Popen], what: str) -> None:
    deadline = time.monotonic() + 180
    while not condition():
        for run in runs:
            if run.poll() not in (None, 0):
                pytest.fail(f"a run failed while waiting for {what}:\n{run.stdout.read()[-3000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _expected(sample, day: str) -> tuple[int, int]:
    """(staging rows, songplays) of one day file, straight from the JSON."""
    path = next((sample / "log_data").rglob(f"{day}-events.json"))
    events = [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    plays = [e for e in events if e["page"] == "NextSong" and e["userId"] != ""]
    return len(events), len(plays)


def _day_counts(warehouse, day: str) -> tuple[int, int]:
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
    env = {
        **os.environ,
        "SPARKIFY_WAREHOUSE_URL": database_url,
        "SPARKIFY_DATA_URI": str(bundled_sample),
    }
    ddl, day_b = lock_key("ddl"), lock_key("staging_events", DAY_B)
    holder = psycopg2.connect(database_url)
    holder.autocommit = True
    cursor = holder.cursor()
    cursor.execute(
        "SELECT pg_advisory_lock(hashtext(%s)), pg_advisory_lock(hashtext(%s))", (ddl, day_b)
    )
    runs = [_materialize(env, DAY_A), _materialize(env, DAY_B), _materialize(env, DAY_B)]
    try:
        _wait_until(lambda: _advisory_waiters(cursor) == 3, runs, "all three runs at the DDL")
        cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", (ddl,))

        _wait_until(
            lambda: runs[0].poll() == 0 and _advisory_waiters(cursor) == 2,
            runs,
            f"{DAY_A} to finish while both {DAY_B} runs wait for their day",
        )
        assert _day_counts(warehouse, DAY_A) == _expected(bundled_sample, DAY_A)
        assert _day_counts(warehouse, DAY_B) == (0, 0)
        cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", (day_b,))

        outputs = [run.communicate(timeout=300)[0] for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
        holder.close()
    assert [run.returncode for run in runs] == [0, 0, 0], "\n".join(o[-2000:] for o in outputs)
    assert not any("deadlock" in output for output in outputs)

    for day in (DAY_A, DAY_B):
        assert _day_counts(warehouse, day) == _expected(bundled_sample, day)
    (total,) = warehouse.query("SELECT COUNT(*) FROM staging_events")[0]
    assert total == _expected(bundled_sample, DAY_A)[0] + _expected(bundled_sample, DAY_B)[0]
