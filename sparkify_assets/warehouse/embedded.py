"""The embedded warehouse: a real PostgreSQL from the ``pgserver`` wheel, kept in SPARKIFY_HOME.

The server outlives the command that started it (``cleanup_mode=None``) so users can query it and
so Dagster's step subprocesses share one server instead of starting one each. It listens on a Unix
socket only: nothing is exposed on the network. A server killed uncleanly leaves a stale
``postmaster.pid``; ``ensure_running`` clears it when its pid is not a live postgres process.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg2
from psycopg2 import errors, sql

DATABASE = "sparkify"
READY_TIMEOUT_SECONDS = 60
# pgserver logs every pg_ctl call at INFO; that is noise in a Dagster run log.
logging.getLogger("pgserver").setLevel(logging.WARNING)
# pgserver keeps its start-up lock under XDG_RUNTIME_DIR and warns when it falls back to /tmp.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


class EmbeddedWarehouseError(RuntimeError):
    """The embedded server cannot be started or reached; the message says what to do."""


@dataclass(frozen=True)
class EmbeddedStatus:
    pgdata: Path
    running: bool
    pid: int | None
    dsn: str | None


def _pgdata(home: str | Path) -> Path:
    return Path(home).expanduser().resolve() / "pgdata"


def _postmaster(pgdata: Path) -> tuple[int | None, list[str]]:
    pid_file = pgdata / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
    except FileNotFoundError:
        return None, []
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        return None, lines
    # A negative pid marks a single-user backend (e.g. initdb's bootstrap), never a server.
    return (pid if pid > 0 else None), lines


def _is_our_postgres(pid: int, pgdata: Path) -> bool:
    try:
        process = psutil.Process(pid)
        return process.name() == "postgres" and str(pgdata) in " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _clear_stale_pid_file(pgdata: Path) -> None:
    # After kill -9 the pid in postmaster.pid may be dead or reused by an unrelated process;
    # PostgreSQL would then refuse to start ("lock file already exists").
    pid, lines = _postmaster(pgdata)
    if lines and (pid is None or not _is_our_postgres(pid, pgdata)):
        (pgdata / "postmaster.pid").unlink(missing_ok=True)


def _dsn(lines: list[str], database: str) -> str:
    # postmaster.pid line 4 is the port, line 5 the socket directory.
    port, socket_dir = lines[3].strip(), lines[4].strip()
    return f"postgresql://postgres@/{database}?host={socket_dir}&port={port}"


def _wait_until_ready(pgdata: Path) -> list[str]:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        pid, lines = _postmaster(pgdata)
        if pid and len(lines) >= 8 and lines[7].strip() == "ready" and _is_our_postgres(
            pid, pgdata
        ):
            return lines
        time.sleep(0.1)
    raise EmbeddedWarehouseError(
        f"the embedded PostgreSQL in {pgdata} did not become ready; see {pgdata / 'log'}"
    )


def _prepare_home(pgdata: Path) -> None:
    try:
        pgdata.mkdir(parents=True, exist_ok=True)
        probe = pgdata.parent / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise EmbeddedWarehouseError(
            f"SPARKIFY_HOME {pgdata.parent} is not usable ({err.strerror}); point SPARKIFY_HOME "
            "at a writable folder"
        ) from None


def _start(pgdata: Path) -> None:
    import pgserver  # imported lazily: it is only needed when the embedded target is used

    _clear_stale_pid_file(pgdata)
    try:
        # The constructor, not get_server(): get_server caches a handle per process, which would
        # hide a server that died since (e.g. killed) and skip restarting it.
        pgserver.PostgresServer(pgdata, cleanup_mode=None)
    except (AssertionError, subprocess.TimeoutExpired):
        # pgserver asserts the server is 'ready' right after pg_ctl and gives pg_ctl only 10 s;
        # a slow start (crash recovery after kill -9, a busy machine) only needs more time,
        # which _wait_until_ready gives it.
        if _postmaster(pgdata)[0] is None:
            raise EmbeddedWarehouseError(
                f"the embedded PostgreSQL in {pgdata} did not start; see {pgdata / 'log'}"
            ) from None
    except Exception as err:  # pgserver raises CalledProcessError/TimeoutExpired/OSError
        raise EmbeddedWarehouseError(
            f"cannot start the embedded PostgreSQL in {pgdata}: {err}; see {pgdata / 'log'}"
        ) from None


def _ensure_database(admin_dsn: str, database: str) -> None:
    connection = psycopg2.connect(admin_dsn)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    except (errors.DuplicateDatabase, errors.UniqueViolation):
        pass  # another process created it between our check and our CREATE
    finally:
        connection.close()


def ensure_running(home: str | Path, database: str = DATABASE) -> str:
    """Start the server if needed and return a DSN for ``database`` that psql accepts."""
    pgdata = _pgdata(home)
    _prepare_home(pgdata)
    pid, lines = _postmaster(pgdata)
    if not (pid and _is_our_postgres(pid, pgdata)):
        _start(pgdata)
    lines = _wait_until_ready(pgdata)
    _ensure_database(_dsn(lines, "postgres"), database)
    return _dsn(lines, database)


def status(home: str | Path, database: str = DATABASE) -> EmbeddedStatus:
    pgdata = _pgdata(home)
    pid, lines = _postmaster(pgdata)
    running = bool(pid) and _is_our_postgres(pid, pgdata)
    return EmbeddedStatus(pgdata, running, pid if running else None,
                          _dsn(lines, database) if running else None)


def stop(home: str | Path) -> bool:
    """Stop the server (fast shutdown). Returns False when it was not running."""
    pgdata = _pgdata(home)
    pid, _ = _postmaster(pgdata)
    if not (pid and _is_our_postgres(pid, pgdata)):
        if pgdata.exists():
            _clear_stale_pid_file(pgdata)
        return False
    process = psutil.Process(pid)
    # SIGINT is PostgreSQL's "fast" shutdown: roll back open sessions, checkpoint, exit.
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    return True
