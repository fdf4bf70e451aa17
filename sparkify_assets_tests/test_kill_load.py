"""kill -9 at any point of `sparkify load`, then load again: the same warehouse as a clean load.

Real processes, real kills, on 100,000 generated events: a `sparkify load` subprocess (its own
process group, as a terminal would start it) is killed with SIGKILL to the whole group

1. right after it starts, while initdb creates the embedded server (a half-made cluster);
2. during the staging COPY, and the server's processes with it (a crash of everything);
3. during the star-schema SQL (the server keeps running with the killed load's transaction);

and then a last load runs while its server's postmaster alone is killed under it. That load
must finish by itself and leave exactly the tables a clean, uninterrupted load builds (compared
row by row through digests; load_rejects without its loaded_at). DAGSTER_HOME is set with a
one-slot concurrency pool, so a killed run left STARTED would block the next one for ever unless
`sparkify load` fails it first.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import psutil
import psycopg2
import pytest
from dagster import DagsterInstance, DagsterRunStatus
from psycopg2 import sql

from sparkify_assets.cli.load import run_load
from sparkify_assets.defs.assets.common import WAREHOUSE_POOL
from sparkify_assets.sql.catalog import ALL_TABLES
from sparkify_assets.warehouse import embedded

from .conftest import definitions_for

pytestmark = pytest.mark.slow


def _digest_statement(table) -> sql.Composed:
    columns = [c for c in table.column_names if c != "loaded_at"]
    rows = sql.SQL("SELECT {} FROM {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table.name)
    )
    return sql.SQL(
        "SELECT COUNT(*), md5(COALESCE(string_agg(md5(r::text), '' ORDER BY md5(r::text)), '')) "
        "FROM ({}) r"
    ).format(rows)


def warehouse_digest(dsn: str) -> dict[str, tuple[int, str]]:
    """Every table's row count and an order-independent digest of its full contents."""
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        digest = {}
        for table in ALL_TABLES:
            cursor.execute(_digest_statement(table))
            digest[table.name] = cursor.fetchone()
    connection.close()
    return digest


def _active_statement(home, pattern: str) -> bool:
    """Whether the home's server is running a statement LIKE ``pattern`` right now."""
    dsn = embedded.status(home).dsn
    if dsn is None:
        return False
    try:
        connection = psycopg2.connect(dsn, connect_timeout=2)
    except psycopg2.Error:
        return False  # starting, recovering, or the database is not created yet
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_stat_activity WHERE state = 'active' "
                "AND query LIKE %s AND pid <> pg_backend_pid()",
                (pattern,),
            )
            return cursor.fetchone() is not None
    finally:
        connection.close()


def _server_processes(home) -> list[psutil.Process]:
    pgdata = str(embedded.status(home).pgdata)
    return [
        p
        for p in psutil.process_iter(["name", "cwd"])
        if p.info["name"] == "postgres" and p.info["cwd"] == pgdata
    ]


def _kill(processes: list[psutil.Process]) -> None:
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(processes, timeout=10)


def _start_load(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sparkify_assets.cli.main", "load"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_for(load: subprocess.Popen, moment: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 120
    while not moment():
        if load.poll() is not None:
            pytest.fail(f"the load ended before {what}:\n{load.stdout.read()[-3000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _kill_load(load: subprocess.Popen) -> None:
    os.killpg(load.pid, signal.SIGKILL)
    load.wait()
    load.stdout.close()


@pytest.fixture
def env(tmp_path, generated_data):
    home, dagster_home = tmp_path / "home", tmp_path / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 1)
    yield {
        **os.environ,
        "SPARKIFY_HOME": str(home),
        "SPARKIFY_DATA_URI": str(generated_data),
        "DAGSTER_HOME": str(dagster_home),
    }
    embedded.stop(home)


def test_killed_loads_leave_nothing_a_new_load_does_not_repair(
    env, warehouse, database_url, generated_data
):
    home = env["SPARKIFY_HOME"]
    timings = {}
    started = time.monotonic()
    reference_report = run_load(definitions_for(warehouse, generated_data), str(generated_data))
    assert reference_report.ok, reference_report.failures
    reference = warehouse_digest(database_url)
    assert reference["staging_events"][0] == 100_000
    timings["clean reference load"] = time.monotonic() - started

    def is_running(name: str) -> Callable[[subprocess.Popen], Callable[[], bool]]:
        return lambda load: (
            lambda: any(p.name() == name for p in psutil.Process(load.pid).children(recursive=True))
        )

    kill_points = [
        ("initdb running", is_running("initdb"), False),
        (
            "staging COPY running",
            lambda _: lambda: _active_statement(home, "COPY %staging_events%FROM STDIN%"),
            True,
        ),
        ("star SQL running", lambda _: lambda: _active_statement(home, "INSERT INTO %"), False),
    ]
    for what, moment, with_server in kill_points:
        started = time.monotonic()
        load = _start_load(env)
        _wait_for(load, moment(load), what)
        server = _server_processes(home) if with_server else []
        _kill_load(load)
        _kill(server)
        timings[f"kill at {what}"] = time.monotonic() - started

    started = time.monotonic()
    load = _start_load(env)
    _wait_for(
        load,
        lambda: _active_statement(home, "COPY %staging_events%FROM STDIN%"),
        "the last load's COPY",
    )
    postmaster = psutil.Process(embedded.status(home).pid)
    postmaster.kill()  # only the postmaster: the load itself has to bring the server back
    output, _ = load.communicate(timeout=600)
    timings["last load, postmaster killed under it"] = time.monotonic() - started
    print("\n".join(f"{name}: {seconds:.1f} s" for name, seconds in timings.items()))

    assert load.returncode == 0, output[-3000:]
    # Each load fails the run its killed predecessor left STARTED.
    assert output.count("marked failed: run") == 1
    assert embedded.status(home).pid != postmaster.pid
    assert warehouse_digest(embedded.ensure_running(home)) == reference
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        runs = instance.get_runs()  # newest first
        last_run_log = [entry.user_message for entry in instance.all_logs(runs[0].run_id)]
        storage = instance.event_log_storage
        assert storage.get_concurrency_info(WAREHOUSE_POOL).active_slot_count == 0
    # The kill during initdb leaves no run: the check before a load starts the embedded server
    # before the run is created.
    assert [run.status for run in runs] == (
        [DagsterRunStatus.SUCCESS] + [DagsterRunStatus.FAILURE] * (len(kill_points) - 1)
    )
    # The statement cut off by the dead server was run again, not skipped.
    assert any("trying again" in message for message in last_run_log)
