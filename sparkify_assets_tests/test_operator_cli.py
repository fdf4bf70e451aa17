"""What an operator sees from `sparkify`: an unreachable warehouse, stale days, reset, the help.

Real `sparkify` subprocesses against the session's real PostgreSQL (and, for refused and
unanswered connections, real sockets on loopback).
"""

import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from sparkify_assets.cli.load import CheckOutcome, LoadReport, format_report
from sparkify_assets.cli.main import build_parser
from sparkify_assets.sql.catalog import TABLES
from sparkify_assets.synthetic.generate import generate
from sparkify_assets.warehouse.base import WarehouseError
from sparkify_assets.warehouse.operations import connect_once
from sparkify_assets.warehouse.postgres import PostgresWarehouse

from .conftest import run_as_admin

# A liveness bound for the one-line failure, not a speed measurement (it used to take 36-45 s).
FAILS_WITHIN_SECONDS = 15


def sparkify(*args: str, **env: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "sparkify_assets.cli.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    return completed, time.monotonic() - started


def _refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: nothing listens there


@contextmanager
def password_required(server_home: Path, role: str):
    """The session server asks ``role`` for its password (scram) instead of trusting it."""
    hba = server_home / "pgdata" / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text(f"local all {role} scram-sha-256\n{original}")
    dsn = f"postgresql://postgres@/postgres?host={server_home / 'pgdata'}"
    try:
        run_as_admin(dsn, "SELECT pg_reload_conf()")
        yield
    finally:
        hba.write_text(original)
        run_as_admin(dsn, "SELECT pg_reload_conf()")


def _assert_one_line_failure(completed, elapsed: float, reason: str) -> str:
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert completed.stdout == ""  # not even the run header: nothing ran
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith("sparkify: cannot connect to SPARKIFY_WAREHOUSE_URL: "), line
    assert reason in line and line.endswith("(checked before loading; nothing was run)"), line
    assert elapsed < FAILS_WITHIN_SECONDS, elapsed
    return line


def test_a_refused_connection_or_unknown_host_is_one_line_at_once(small_data):
    for url, reason in (
        (f"postgresql://loader:s3cret@127.0.0.1:{_refused_port()}/sparkify", "Connection refused"),
        ("postgresql://loader:s3cret@nosuchhost.invalid/sparkify", "could not translate host"),
    ):
        completed, elapsed = sparkify(
            "load", SPARKIFY_WAREHOUSE_URL=url, SPARKIFY_DATA_URI=str(small_data)
        )
        line = _assert_one_line_failure(completed, elapsed, reason)
        assert "s3cret" not in line


@pytest.mark.slow
def test_a_wrong_password_is_one_line_at_once(small_data, server_home, database_role):
    url = database_role("sparkify_pw_check", password="right-one")
    wrong = url.replace("right-one", "wrong-one")
    with password_required(server_home, "sparkify_pw_check"):
        completed, elapsed = sparkify(
            "load", SPARKIFY_WAREHOUSE_URL=wrong, SPARKIFY_DATA_URI=str(small_data)
        )
    line = _assert_one_line_failure(completed, elapsed, "password authentication failed")
    assert "wrong-one" not in line


def test_a_server_that_never_answers_fails_the_check_within_its_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # accepts the TCP connection, never speaks PostgreSQL
    accepted = []  # kept open (and silent) until the test ends
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    port = listener.getsockname()[1]
    warehouse = PostgresWarehouse(url=f"postgresql://loader@127.0.0.1:{port}/sparkify")
    started = time.monotonic()
    with pytest.raises(WarehouseError, match=r"no answer within 1 s \(checked before loading"):
        connect_once(warehouse, timeout=1)
    assert time.monotonic() - started < 5
    listener.close()


@pytest.mark.slow
def test_days_the_source_lacks_are_one_line_before_loading_and_reset_empties(
    small_data, tmp_path, database_url, warehouse
):
    other = tmp_path / "other"
    generate(other, events=300, songs=20, days=1, seed=11)  # 2018-11-01 only, other songs
    env = {"SPARKIFY_WAREHOUSE_URL": database_url}
    first, _ = sparkify("load", SPARKIFY_DATA_URI=str(small_data), **env)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "holds" not in first.stderr

    second, _ = sparkify("load", SPARKIFY_DATA_URI=str(other), **env)
    assert "Traceback" not in second.stdout + second.stderr
    stale = [line for line in second.stderr.splitlines() if "does not have" in line]
    assert stale == [
        f"sparkify: the warehouse holds 1 day (2018-11-02 .. 2018-11-02) and 50 song files "
        f"that {other} does not have; this load keeps the days and drops the song files. To load "
        "this source alone instead, run `sparkify warehouse reset`, then load again."
    ]
    assert second.stdout.splitlines()[0].startswith("run ")  # the header comes first
    assert warehouse.query("SELECT COUNT(DISTINCT event_date) FROM staging_events") == [(2,)]

    refused, _ = sparkify("warehouse", "reset", **env)  # no terminal to ask on: needs --yes
    assert refused.returncode == 2 and "add --yes" in refused.stderr
    assert warehouse.query("SELECT COUNT(*) FROM staging_events")[0][0] > 0

    reset, _ = sparkify("warehouse", "reset", "--yes", **env)
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.startswith(f"emptied all {len(TABLES)} tables of SPARKIFY_WAREHOUSE_URL")
    assert sum(warehouse.row_counts().values()) == 0

    third, _ = sparkify("load", SPARKIFY_DATA_URI=str(other), **env)
    assert third.returncode == 0 and "does not have" not in third.stderr
    assert warehouse.query("SELECT DISTINCT event_date FROM staging_events")[0][0].day == 1


def test_top_level_help_is_plain_text_and_names_reset():
    assert "``" not in build_parser().format_help()
    completed, _ = sparkify("warehouse", "--help")
    assert "reset" in completed.stdout and "--yes" in completed.stdout


def test_checks_are_printed_grouped_by_table_in_table_order():
    ran = [  # the order checks finish in, interleaved across tables
        CheckOutcome("songplays", "not_empty", True, "ERROR"),
        CheckOutcome("users", "not_empty", True, "ERROR"),
        CheckOutcome("songplays", "primary_key", False, "ERROR", 3),
        CheckOutcome("staging_events", "rejects", True, "WARN"),
        CheckOutcome("users", "primary_key", True, "ERROR"),
    ]
    report = LoadReport("r", *(None, None), success=True, checks=ran)
    lines = [
        line.split()[1]
        for line in format_report(report).splitlines()
        if line.split()[:1] in (["pass"], ["FAIL"], ["WARN"])
    ]
    assert lines == [
        "staging_events.rejects",
        "songplays.not_empty",
        "songplays.primary_key",
        "users.not_empty",
        "users.primary_key",
    ]
