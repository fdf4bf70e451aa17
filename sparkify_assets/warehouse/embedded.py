"""The embedded warehouse: a real PostgreSQL from the ``pgserver`` wheel, kept in SPARKIFY_HOME.

The server outlives the command that started it (``cleanup_mode=None``) so users can query it and
so Dagster's step subprocesses share one server instead of starting one each. It listens on a Unix
socket only: nothing is exposed on the network.

``ensure_running`` also repairs what a kill -9 leaves behind, whenever it strikes:

* a stale ``postmaster.pid`` or socket lock (``.s.PGSQL.5432.lock``) whose pid is dead or now
  belongs to another process: PostgreSQL refuses to start while it believes that process is a
  postmaster (it cannot tell when the pid went to another server run by the same system user);
* server processes orphaned by a killed postmaster: they still hold its shared memory, which
  stops a new postmaster from starting;
* an ``initdb`` killed half-way: its folder is not a usable cluster, and never held data, so it
  is discarded and initialized again.

One process at a time does this (an ``flock`` in SPARKIFY_HOME, released by the kernel even when
its holder is killed), so concurrent commands and Dagster step processes never start two servers
or clean up under each other's feet.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import signal
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg2
from psycopg2 import errors, sql

from sparkify_assets.core.errors import UserError

DATABASE = "sparkify"
READY_TIMEOUT_SECONDS = 60
START_ATTEMPTS = 3
START_LOCK = ".start.lock"
# Present from the first initdb until the new server is ready: if it is still there at the next
# start, that initdb was killed, and its folder holds nothing worth keeping.
INITDB_PENDING = ".initdb-pending"
# Below this much free space a failure to start or to write is most likely a full disk.
LOW_DISK_BYTES = 64 << 20
# pgserver logs every pg_ctl call at INFO and, on a failure, the whole server log at ERROR. The
# errors raised here already say what went wrong and where the log is; the rest is kept for
# the error message (see _PgserverErrors) instead of being printed.
_pgserver_log = logging.getLogger("pgserver")
_pgserver_log.setLevel(logging.ERROR)
_pgserver_log.propagate = False
# pgserver keeps its start-up lock under XDG_RUNTIME_DIR and warns when it falls back to /tmp.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


class EmbeddedWarehouseError(UserError):
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
    except (FileNotFoundError, NotADirectoryError):
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
        # The postmaster is started as `postgres -D <pgdata> ...`: compare whole arguments, so
        # another server in <pgdata>2 does not count as ours.
        return process.name() == "postgres" and str(pgdata) in process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _server_pid(pgdata: Path) -> int | None:
    pid, _ = _postmaster(pgdata)
    return pid if pid and _is_our_postgres(pid, pgdata) else None


def _dsn(lines: list[str], database: str) -> str:
    # postmaster.pid line 4 is the port, line 5 the socket directory.
    port, socket_dir = lines[3].strip(), lines[4].strip()
    return f"postgresql://postgres@/{database}?host={socket_dir}&port={port}"


def _disk_hint(path: Path) -> str:
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return ""
    if free >= LOW_DISK_BYTES:
        return ""
    return f" The disk holding {path} is full ({free >> 20} MB free): free some space."


def _log_hint(pgdata: Path) -> str:
    return f"see {pgdata / 'log'}.{_disk_hint(pgdata)}"


# --- repairing what a killed server or start left behind ---------------------------------------
def _leftover_processes(pgdata: Path) -> list[psutil.Process]:
    """Server processes of this pgdata (and a killed initdb) with no live postmaster over them.

    Only called when the postmaster in postmaster.pid is not running. Every server process works
    in its data directory, so the working directory finds even the children, whose command line
    is only a title like ``postgres: checkpointer``.
    """
    found = []
    for process in psutil.process_iter(["name", "cmdline", "cwd"]):
        if process.info["name"] not in ("postgres", "initdb"):
            continue
        if process.info["cwd"] == str(pgdata) or str(pgdata) in (process.info["cmdline"] or ()):
            found.append(process)
    return found


def _stop_leftover_processes(pgdata: Path) -> None:
    leftovers = _leftover_processes(pgdata)
    for process in leftovers:
        with suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(leftovers, timeout=10)


def _clear_stale_lock_files(pgdata: Path) -> None:
    # After kill -9 the pid in these files may be dead or reused by another process; PostgreSQL
    # would then refuse to start ("lock file already exists").
    _, lines = _postmaster(pgdata)
    socket_dirs = {pgdata}
    if len(lines) >= 5 and lines[4].strip():
        socket_dirs.add(Path(lines[4].strip()))
    (pgdata / "postmaster.pid").unlink(missing_ok=True)
    for folder in socket_dirs:
        for lock_file in folder.glob(".s.PGSQL.*.lock"):
            lock_file.unlink(missing_ok=True)


def _discard_unfinished_initdb(pgdata: Path) -> None:
    if (pgdata.parent / INITDB_PENDING).exists():
        # The first start never finished, so no database was ever created in it.
        shutil.rmtree(pgdata, ignore_errors=True)
    elif pgdata.is_dir() and not (pgdata / "PG_VERSION").exists() and any(pgdata.iterdir()):
        raise EmbeddedWarehouseError(
            f"{pgdata} is not empty but holds no PostgreSQL data; move it away or delete it"
        )


def _recover(pgdata: Path) -> None:
    """Make a crashed or half-started server's folder startable again. Caller holds the lock."""
    _stop_leftover_processes(pgdata)
    _clear_stale_lock_files(pgdata)
    _discard_unfinished_initdb(pgdata)


# --- starting -----------------------------------------------------------------------------------
def _prepare_home(pgdata: Path) -> None:
    try:
        pgdata.mkdir(parents=True, exist_ok=True)
        probe = pgdata.parent / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as err:
        raise EmbeddedWarehouseError(
            f"SPARKIFY_HOME {pgdata.parent} is not usable ({err.strerror}); point SPARKIFY_HOME "
            f"at a writable folder.{_disk_hint(pgdata.parent)}"
        ) from None


@contextmanager
def _start_lock(home: Path) -> Iterator[None]:
    with open(home / START_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _PgserverErrors(logging.Handler):
    """Collects what pgserver logs about a failed initdb/pg_ctl, for the error message."""

    MARKERS = ("FATAL", "PANIC", "initdb:", "No space left", "Permission denied", "Read-only")

    def __init__(self):
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines += record.getMessage().splitlines()

    def reason(self, since_log: str) -> str:
        # The server log's new lines first: they say why postgres itself stopped.
        for line in [*since_log.splitlines(), *self.lines]:
            for marker in self.MARKERS:
                if marker in line:
                    # From the level on: "<timestamp> UTC [pid] FATAL:  ..." -> "FATAL: ..."
                    level = next((m for m in ("FATAL:", "PANIC:") if m in line), None)
                    text = line[line.index(level) :] if level else line
                    return " ".join(text.split())
        return ""


def _log_size(pgdata: Path) -> int:
    try:
        return (pgdata / "log").stat().st_size
    except OSError:
        return 0


def _new_log(pgdata: Path, since: int) -> str:
    try:
        with open(pgdata / "log", "rb") as handle:
            handle.seek(since)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _start(pgdata: Path) -> None:
    import pgserver  # imported lazily: it is only needed when the embedded target is used

    pgdata.mkdir(exist_ok=True)
    if not (pgdata / "PG_VERSION").exists():
        (pgdata.parent / INITDB_PENDING).touch()
    log_size = _log_size(pgdata)
    captured = _PgserverErrors()
    _pgserver_log.addHandler(captured)
    try:
        # The constructor, not get_server(): get_server caches a handle per process, which would
        # hide a server that died since (e.g. killed) and skip restarting it.
        pgserver.PostgresServer(pgdata, cleanup_mode=None)
    except (AssertionError, subprocess.TimeoutExpired):
        # pgserver asserts the server is 'ready' right after pg_ctl and gives pg_ctl only 10 s;
        # a slow start (crash recovery after kill -9, a busy machine) only needs more time,
        # which _wait_until_ready gives it.
        if _server_pid(pgdata) is None:
            reason = captured.reason(_new_log(pgdata, log_size))
            raise EmbeddedWarehouseError(
                f"the embedded PostgreSQL in {pgdata} did not start"
                f"{': ' + reason if reason else ''}; {_log_hint(pgdata)}"
            ) from None
    except Exception as err:  # pgserver raises CalledProcessError/OSError
        reason = captured.reason(_new_log(pgdata, log_size)) or type(err).__name__
        raise EmbeddedWarehouseError(
            f"cannot start the embedded PostgreSQL in {pgdata}: {reason}; {_log_hint(pgdata)}"
        ) from None
    finally:
        _pgserver_log.removeHandler(captured)


def _wait_until_ready(pgdata: Path) -> list[str] | None:
    """postmaster.pid once the server accepts connections; None if the server went away."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        pid, lines = _postmaster(pgdata)
        if not (pid and _is_our_postgres(pid, pgdata)):
            return None
        if len(lines) >= 8 and lines[7].strip() == "ready":
            return lines
        time.sleep(0.1)
    raise EmbeddedWarehouseError(
        f"the embedded PostgreSQL in {pgdata} did not become ready; {_log_hint(pgdata)}"
    )


# Redshift compares and orders VARCHAR by their binary UTF-8 bytes; PostgreSQL's "C" collation
# does the same. pgserver's initdb takes the environment's locale, so each database is created
# with "C" itself: ORDER BY name (the artists tie rule, previews) then agrees with Redshift.
COLLATION = "C"


def _ensure_database(admin_dsn: str, database: str) -> None:
    connection = psycopg2.connect(admin_dsn)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            if cursor.fetchone() is None:
                # template0: a database whose collation differs from template1's must copy it.
                cursor.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE template0 LC_COLLATE {}").format(
                        sql.Identifier(database), sql.Literal(COLLATION)
                    )
                )
    except (errors.DuplicateDatabase, errors.UniqueViolation):
        pass  # another process created it between our check and our CREATE
    finally:
        connection.close()


def _running_server(pgdata: Path) -> list[str]:
    """Start the server unless it runs, repairing a crashed one first; its postmaster.pid.

    A failed start is tried again: pgserver re-grants the server's system user access to the
    folders on each attempt (as root something may have taken it away since), and a server that
    died while starting is recovered like any crashed one. The last failure is the error.
    """
    failure = EmbeddedWarehouseError(
        f"the embedded PostgreSQL in {pgdata} keeps stopping while it starts; {_log_hint(pgdata)}"
    )
    for _ in range(START_ATTEMPTS):
        if _server_pid(pgdata) is None:
            try:
                _recover(pgdata)
                _start(pgdata)
            except EmbeddedWarehouseError as err:
                failure = err
                continue
        lines = _wait_until_ready(pgdata)
        if lines:
            (pgdata.parent / INITDB_PENDING).unlink(missing_ok=True)
            return lines
    raise failure


def ensure_running(home: str | Path, database: str = DATABASE) -> str:
    """Start the server if needed and return a DSN for ``database`` that psql accepts."""
    pgdata = _pgdata(home)
    _prepare_home(pgdata)
    with _start_lock(pgdata.parent):
        lines = _running_server(pgdata)
    try:
        _ensure_database(_dsn(lines, "postgres"), database)
    except psycopg2.OperationalError as err:
        reason = str(err).strip().splitlines()[0]
        raise EmbeddedWarehouseError(
            f"the embedded PostgreSQL in {pgdata} is running but refuses connections: {reason}; "
            f"{_log_hint(pgdata)}"
        ) from None
    return _dsn(lines, database)


def status(home: str | Path, database: str = DATABASE) -> EmbeddedStatus:
    pgdata = _pgdata(home)
    pid, lines = _postmaster(pgdata)
    running = bool(pid) and _is_our_postgres(pid, pgdata)
    return EmbeddedStatus(
        pgdata, running, pid if running else None, _dsn(lines, database) if running else None
    )


def stop(home: str | Path) -> bool:
    """Stop the server (fast shutdown). Returns False when it was not running.

    Processes a killed server left behind are stopped too, so that after ``stop`` nothing runs
    in SPARKIFY_HOME any more and it can be deleted.
    """
    pgdata = _pgdata(home)
    if not pgdata.is_dir():
        return False
    with _start_lock(pgdata.parent):
        pid = _server_pid(pgdata)
        if pid is None:
            _stop_leftover_processes(pgdata)
            return False
        _fast_shutdown(psutil.Process(pid))
    return True


def _fast_shutdown(process: psutil.Process) -> None:
    # SIGINT is PostgreSQL's "fast" shutdown: roll back open sessions, checkpoint, exit.
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
