"""The embedded PostgreSQL comes back from whatever a kill -9 leaves behind.

Every test kills real processes of this module's own server (never the session server) and then
asks ``ensure_running`` for it again; each starts from whatever the previous one left.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time

import psutil
import psycopg2
import pytest

from sparkify_assets.warehouse import embedded

# Fault injection: killed servers, stale lock files, an initdb killed half way.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crash") / "home"
    yield folder
    embedded.stop(folder)


def _kill_server(home, keep: psutil.Process | None = None) -> None:
    """kill -9 the postmaster, then every child except ``keep``."""
    postmaster = psutil.Process(embedded.status(home).pid)
    children = [c for c in postmaster.children(recursive=True) if keep is None or c.pid != keep.pid]
    postmaster.kill()
    for process in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs([postmaster, *children], timeout=10)


def _store_and_read(dsn: str, table: str, value: int | None = None) -> list[tuple]:
    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        if value is not None:
            cursor.execute(
                f"CREATE TABLE {table} (x int); INSERT INTO {table} VALUES (%s)", (value,)
            )
        cursor.execute(f"SELECT x FROM {table}")
        return cursor.fetchall()


def _point_lock_file_at(path, pid: int) -> None:
    lines = path.read_text().splitlines()
    lines[0] = str(pid)
    path.write_text("\n".join(lines) + "\n")


def test_stale_lock_files_whose_pid_went_to_another_server_are_cleared(home, server_home):
    dsn = embedded.ensure_running(home)
    _store_and_read(dsn, "kept_locks", 7)
    pgdata = embedded.status(home).pgdata
    _kill_server(home)
    # The worst pid reuse: the dead postmaster's pid now belongs to a live postgres of the same
    # system user (here the session's server). PostgreSQL itself then takes both lock files for
    # live ones and refuses to start ("lock file ... already exists").
    other_postmaster = embedded.status(server_home).pid
    for name in ("postmaster.pid", ".s.PGSQL.5432.lock"):
        assert (pgdata / name).exists(), f"kill -9 should leave {name} behind"
        _point_lock_file_at(pgdata / name, other_postmaster)

    dsn = embedded.ensure_running(home)
    assert _store_and_read(dsn, "kept_locks") == [(7,)]
    assert embedded.status(server_home).running, "the other server must not be touched"


def _crash_leaving_an_orphan(home, dsn: str):
    """kill -9 the server but one backend, stopped so it cannot notice; (its session, it)."""
    session = psycopg2.connect(dsn)
    with session.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (backend_pid,) = cursor.fetchone()
    backend = psutil.Process(backend_pid)
    backend.suspend()
    _kill_server(home, keep=backend)
    assert backend.is_running()
    return session, backend


def test_orphaned_server_processes_are_stopped_before_a_restart(home):
    dsn = embedded.ensure_running(home)
    _store_and_read(dsn, "kept_orphans", 11)
    # The orphan keeps the old server's shared memory attached, and a new postmaster refuses to
    # start while that memory is in use.
    session, backend = _crash_leaving_an_orphan(home, dsn)

    dsn = embedded.ensure_running(home)
    assert _store_and_read(dsn, "kept_orphans") == [(11,)]
    assert not backend.is_running() or backend.status() == psutil.STATUS_ZOMBIE
    session.close()


def test_an_initdb_killed_half_way_is_done_again(tmp_path):
    home = tmp_path / "fresh"
    pgdata = home / "pgdata"
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from sparkify_assets.warehouse import embedded; "
            "embedded.ensure_running(sys.argv[1])",
            str(home),
        ],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        # Kill once initdb has written part of the cluster (PG_VERSION is among its first files).
        while not (pgdata / "PG_VERSION").exists():
            assert starter.poll() is None and time.monotonic() < deadline, "initdb never started"
            time.sleep(0.01)
        initdb = [
            p for p in psutil.Process(starter.pid).children(recursive=True) if p.name() == "initdb"
        ]
        os.killpg(starter.pid, signal.SIGKILL)
    finally:
        starter.wait()
    assert initdb, "the kill should land while initdb runs"
    psutil.wait_procs(initdb, timeout=10)

    try:
        dsn = embedded.ensure_running(home)
        assert _store_and_read(dsn, "kept_initdb", 5) == [(5,)]
        assert not (home / embedded.INITDB_PENDING).exists()
    finally:
        embedded.stop(home)


def test_stop_after_a_crash_stops_the_leftovers_so_home_can_be_deleted(home):
    session, backend = _crash_leaving_an_orphan(home, embedded.ensure_running(home))

    assert embedded.stop(home) is False  # no server was running...
    with contextlib.suppress(psutil.NoSuchProcess):  # ...but its leftover is gone too
        assert backend.status() == psutil.STATUS_ZOMBIE
    session.close()
