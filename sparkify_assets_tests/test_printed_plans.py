"""The printout is the plan that runs: each write statement a run sends is one `sparkify sql` shows.

A PostgreSQL server of its own logs every statement of the test database (``log_statement =
'all'``). On it: a full load of the public sample's first 29 days, the day's run of the 30th
(the schedule's ``load_day``), a song refresh after one song file changed (``refresh_songs``),
and a full refresh (``sparkify load --full-refresh``). After each, every transaction the server
saw that wrote anything is compared with the transactions ``sparkify sql`` prints for that run
(``deployment_sql`` with the run's plan): its write statements, in order, must be those of a
printed transaction (its statements, then one of its branches). Statements are compared as
shapes: string and number literals blanked (the batch ids, days and counts a run fills in),
whitespace collapsed. Then the public sample's figures are checked.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import psycopg2
import pytest
from dagster import DagsterInstance

from sparkify_assets.cli.load import run_load
from sparkify_assets.contract.layout import day_file_key
from sparkify_assets.ingest.local import LocalSource
from sparkify_assets.warehouse import embedded
from sparkify_assets.warehouse.postgres import PostgresWarehouse
from sparkify_assets.warehouse.script import deployment_sql

from .conftest import PUBLIC_SAMPLE_COUNTS, definitions_for, run_as_admin

pytestmark = pytest.mark.slow

DATABASE = "statements"
LAST_DAY = date(2018, 11, 30)
ENTRY = re.compile(r"^@@(\d+)@@ (.*)$")
WRITES = re.compile(
    r"^(INSERT|UPDATE|DELETE|COPY|CREATE|DROP|ALTER|ANALYZE|TRUNCATE|COMMENT|LOCK|SET|RESET)\b"
    r"|^SELECT (pg_advisory_xact_lock|brin_summarize_new_values)\(",
    re.IGNORECASE,
)
BRANCH = re.compile(r"^-- when .*: ", re.MULTILINE)  # a build's branch, inside its transaction


def shape(statement: str) -> str:
    """A statement with its literals blanked and its whitespace collapsed."""
    text = re.sub(r"(?<![\w\"])[Ee]?'(?:[^']|'')*'", "'?'", statement)
    text = re.sub(r"(?<![\w\"])-?\d+(\.\d+)?(?![\w\"])", "0", text)
    return " ".join(text.split()).rstrip(";").strip()


def writes(statements) -> tuple[str, ...]:
    return tuple(shape(s) for s in statements if WRITES.match(s.strip()))


class StatementLog:
    """The statements the server logs for the test database, a run at a time, as the write
    statements of each transaction (by backend, from BEGIN to COMMIT)."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = path.stat().st_size

    def _statements(self) -> list[tuple[str, str]]:
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        self.offset += len(data)
        entries: list[tuple[str, list[str]]] = []
        for line in data.decode("utf-8", "replace").splitlines():
            if match := ENTRY.match(line):
                entries.append((match[1], [match[2]]))
            elif line.startswith("\t") and entries:  # a multi-line message goes on with a tab
                entries[-1][1].append(line[1:])
        found = []
        for backend, lines in entries:
            message = "\n".join(lines)
            if message.startswith("LOG:  statement: "):
                # The DDL is sent as one script of statements joined by ";\n".
                for statement in message.removeprefix("LOG:  statement: ").split(";\n"):
                    found.append((backend, statement.strip()))
        return found

    def transactions(self) -> list[tuple[str, tuple[str, ...]]]:
        """(COMMIT or ROLLBACK, write shapes) of each transaction that wrote."""
        open_by_backend: dict[str, list[str]] = defaultdict(list)
        done = []
        for backend, statement in self._statements():
            word = statement.upper().rstrip(";")
            if word == "BEGIN":
                open_by_backend[backend] = []
            elif word in ("COMMIT", "ROLLBACK"):
                if shapes := writes(open_by_backend.pop(backend, [])):
                    done.append((word, shapes))
            else:
                open_by_backend[backend].append(statement)
        return done


def printed_transactions(sections) -> set[tuple[str, ...]]:
    """The write shapes each printed transaction may run: its statements, then each branch."""
    found: set[tuple[str, ...]] = set()
    common: list[str] | None = None
    branches: list[list[str]] = []
    for section in sections:
        for text in section.statements:
            statement = re.sub(r"^--.*\n", "", text, flags=re.MULTILINE)
            if statement == "BEGIN;":
                common, branches = [], []
                continue
            if BRANCH.search(text):
                branches.append([])
            if statement == "COMMIT;":
                for branch in branches or [[]]:
                    found.add(writes([*common, *branch]))
                common = None
            elif branches:  # the DDL is printed, and sent, as one script: split like the log
                branches[-1] += statement.split(";\n")
            else:
                common += statement.split(";\n")
    return found


@pytest.fixture
def logged(tmp_path):
    """A warehouse on a server of its own whose test database logs every statement."""
    home = tmp_path / "home"
    dsn = embedded.ensure_running(home, DATABASE)
    try:
        run_as_admin(dsn, "ALTER SYSTEM SET log_line_prefix = '@@%p@@ '")
        run_as_admin(dsn, "SELECT pg_reload_conf()")
        run_as_admin(dsn, f"ALTER DATABASE {DATABASE} SET log_statement = 'all'")
        with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('data_directory')")
            (data_directory,) = cursor.fetchone()
        yield PostgresWarehouse(url=dsn), StatementLog(Path(data_directory) / "log")
    finally:
        embedded.stop(home)


def history(sample: Path, folder: Path, days: int) -> Path:
    """The sample's first ``days`` day files (links) and a copy of its song files."""
    shutil.copytree(sample / "song_data", folder / "song_data")
    for offset in range(days):
        add_day(sample, folder, date(2018, 11, 1) + timedelta(days=offset))
    return folder


def add_day(sample: Path, folder: Path, day: date) -> None:
    key = day_file_key(day)
    (folder / key).parent.mkdir(parents=True, exist_ok=True)
    (folder / key).symlink_to(sample / key)


def printed(warehouse, folder: Path, plan: str, days: list[date] | None = None):
    listing = LocalSource(folder).event_files()
    keys = {day: [f.key for f in listing[day]] for day in (days or sorted(listing))}
    return printed_transactions(deployment_sql(warehouse, str(folder), keys, plan))


def run_job(defs, name: str, day: date) -> None:
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(name).execute_in_process(
            instance=instance, partition_key=day.isoformat(), raise_on_error=False
        )
    assert result.success, name


def test_every_transaction_of_each_run_is_printed(logged, public_sample, tmp_path):
    warehouse, log = logged
    folder = history(public_sample, tmp_path / "source", days=29)
    defs = definitions_for(warehouse, folder)
    seen: dict[str, list[tuple[str, ...]]] = {}
    unprinted: dict[str, list[tuple[str, ...]]] = {}

    def compare(run: str, expected: set[tuple[str, ...]]) -> None:
        transactions = log.transactions()
        assert all(end == "COMMIT" for end, _ in transactions), run
        seen[run] = [shapes for _, shapes in transactions]
        unprinted[run] = [shapes for shapes in seen[run] if shapes not in expected]

    assert run_load(defs, str(folder)).success
    compare("full load", printed(warehouse, folder, "load"))

    add_day(public_sample, folder, LAST_DAY)
    run_job(defs, "load_day", LAST_DAY)
    compare("day's run", printed(warehouse, folder, "day", [LAST_DAY]))

    song = min((folder / "song_data").rglob("*.json"))
    original = song.read_text()
    record = json.loads(original)
    record["year"] = int(record["year"] or 0) + 1
    song.write_text(json.dumps(record))
    run_job(defs, "refresh_songs", LAST_DAY)
    compare("song refresh", printed(warehouse, folder, "songs", [LAST_DAY]))

    song.write_text(original)
    assert run_load(defs, str(folder), full_refresh=True).success
    compare("full refresh", printed(warehouse, folder, "full-refresh"))

    assert unprinted == {run: [] for run in seen}
    for run, transactions in seen.items():  # each run wrote, and built songplays
        statements = [s for shapes in transactions for s in shapes]
        assert any(s.startswith('INSERT INTO "public"."songplays"') for s in statements), run
    refresh = [s for shapes in seen["song refresh"] for s in shapes]
    assert 'CREATE TEMP TABLE "sparkify_song_files" (source VARCHAR(0) NOT NULL)' in refresh
    counts = warehouse.row_counts()
    assert {name: counts[name] for name in PUBLIC_SAMPLE_COUNTS} == PUBLIC_SAMPLE_COUNTS
