"""The embedded PostgreSQL: a DSN psql accepts, persistence, stop, and recovery after kill -9."""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from sparkify_assets.warehouse import embedded

PSQL = Path(sys.prefix).joinpath("lib").glob("python*/site-packages/pgserver/pginstall/bin/psql")


def _psql() -> str:
    found = next(iter(PSQL), None)
    if found is None:
        pytest.skip("pgserver's psql binary not found in this environment")
    return str(found)


@pytest.fixture
def home(tmp_path):
    yield tmp_path / "home"
    embedded.stop(tmp_path / "home")


def test_url_is_accepted_by_psql_and_server_persists(home):
    dsn = embedded.ensure_running(home)
    output = subprocess.run(
        [_psql(), dsn, "-Atc", "SELECT current_database()"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert output.strip() == "sparkify"
    # A second call reuses the running server instead of starting another.
    first_pid = embedded.status(home).pid
    assert embedded.ensure_running(home) == dsn
    assert embedded.status(home).pid == first_pid


def test_cli_prints_the_dsn_as_last_line_and_reports_status(home):
    env = {**os.environ, "SPARKIFY_HOME": str(home)}
    url = subprocess.run(
        [sys.executable, "-m", "sparkify_assets.cli.main", "warehouse", "url"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    dsn = url.stdout.strip().splitlines()[-1]
    assert dsn.startswith("postgresql://")
    status = subprocess.run(
        [sys.executable, "-m", "sparkify_assets.cli.main", "warehouse", "status"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "running" in status.stdout
    stop = subprocess.run(
        [sys.executable, "-m", "sparkify_assets.cli.main", "warehouse", "stop"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert stop.stdout.strip() == "stopped"
    assert not embedded.status(home).running


def test_restarts_cleanly_after_kill_9_and_keeps_data(home):
    import psycopg2

    dsn = embedded.ensure_running(home)
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)")
    postmaster = psutil.Process(embedded.status(home).pid)
    # Postmaster first, so it cannot restart children; then every child still alive.
    children = postmaster.children(recursive=True)
    postmaster.send_signal(signal.SIGKILL)
    for process in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
    psutil.wait_procs([postmaster, *children], timeout=10)

    assert not embedded.status(home).running
    dsn = embedded.ensure_running(home)
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT x FROM kept")
        assert cursor.fetchall() == [(42,)]


def test_stale_pid_file_of_an_unrelated_process_is_cleared(home):
    embedded.ensure_running(home)
    embedded.stop(home)
    pgdata = home / "pgdata"
    # Simulate a crash whose pid was since reused by some other process (here: this one).
    (pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{pgdata}\n0\n5432\n{pgdata}\n\n\n")
    dsn = embedded.ensure_running(home)
    assert embedded.status(home).running and dsn.startswith("postgresql://")


def test_unusable_home_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(embedded.EmbeddedWarehouseError, match="SPARKIFY_HOME"):
        embedded.ensure_running(blocker / "home")
