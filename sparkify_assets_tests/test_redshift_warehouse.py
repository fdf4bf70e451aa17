"""The Redshift warehouse's transactions, recorded statement by statement.

There is no Redshift here, so psycopg2.connect is replaced by a connection that records what would
be sent (with psycopg2's implicit BEGIN) and answers only what a load itself reads back: the
session marker, and the first quarantined lines after a failure. It never answers a data-quality
check: those run against the real PostgreSQL in the other tests.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import psycopg2
import pytest

from sparkify_assets.contract.layout import day_file_key
from sparkify_assets.ingest.base import SourceError, SourceFile
from sparkify_assets.sql import changes, fingerprint, render
from sparkify_assets.sql.dialect import REDSHIFT
from sparkify_assets.sql.model import Window
from sparkify_assets.sql.tables import SONGPLAYS
from sparkify_assets.warehouse import plans
from sparkify_assets.warehouse.base import RejectThresholdExceeded, WarehouseError
from sparkify_assets.warehouse.redshift import RedshiftWarehouse

PASSWORD = "Quartz-Harbor-7781"
ROLE = "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read"
JSONPATHS = "s3://sparkify-config/log_json_path.json"
DATA = "s3://sparkify-data/raw"
DAY = date(2018, 11, 15)
KEY = day_file_key(DAY)
SESSION = 4242
SINCE = datetime(2024, 5, 1, 12, 0, 0)


class FakeLoadError(psycopg2.InternalError):
    """What psycopg2 raises when Redshift aborts a COPY (pgerror is the server's text)."""

    def __init__(self, message: str):
        super().__init__(message)
        self._message = message

    @property
    def pgerror(self):
        return self._message


class FakeServerError(psycopg2.InternalError):
    """A server error with its SQLSTATE, as psycopg2 raises it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self._code, self._message = code, message

    @property
    def pgcode(self):
        return self._code

    @property
    def pgerror(self):
        return self._message


@dataclass
class Script:
    """What the fake server does: row counts per statement, failures, and the rows it reads back."""

    rowcounts: dict[str, int] = field(default_factory=dict)  # statement regex -> rowcount
    fail_on: str | None = None  # statement regex that raises FakeLoadError (or ``failure``)
    failure: Exception | None = None
    failures_left: int = -1  # how often fail_on fails; -1: every time
    first_rejects: list[tuple] = field(default_factory=list)
    transactions: list[list[str]] = field(default_factory=list)
    connects: list[dict] = field(default_factory=list)
    pending: tuple[int, int] = (0, 0)  # what a build's snapshot of pending_changes holds

    def statements(self) -> list[str]:
        return [statement for transaction in self.transactions for statement in transaction]


class RecordingCursor:
    def __init__(self, connection: "RecordingConnection"):
        self.connection = connection
        self.rowcount = -1
        self._rows: list[tuple] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, statement, params=None):
        assert params is None, "Redshift statements carry their values as sql.Literal"
        text = render.to_text(statement) if not isinstance(statement, str) else statement
        self.connection.record(text)
        script = self.connection.script
        if script.fail_on and re.search(script.fail_on, text) and script.failures_left != 0:
            script.failures_left -= 1
            raise script.failure or FakeLoadError(
                "Load into table 'staging_events_copy' failed. Check "
                "'sys_load_error_detail' system table for details.\nDETAIL: x"
            )
        self.rowcount = next(
            (n for pattern, n in script.rowcounts.items() if re.search(pattern, text)), 0
        )
        if text.startswith("SELECT pg_backend_pid(), SYSDATE"):
            self._rows = [(SESSION, SINCE)]
        elif text.startswith("SELECT source, line_number, reason FROM"):
            self._rows = list(script.first_rejects)
        elif text.startswith("SELECT COALESCE(SUM(CASE WHEN kind <> 'window'"):
            self._rows = [script.pending]  # a build's snapshot of its pending changes
        elif text.startswith("SELECT table_name, fingerprint FROM"):
            # A warehouse this release built: every table's recorded fingerprint is current.
            current = fingerprint.current(REDSHIFT)
            self._rows = [(name, current[name][0]) for name in re.findall(r"'(\w+)'", text)]
        else:
            self._rows = []

    def fetchone(self):
        return self._rows[0]

    def fetchall(self):
        return self._rows


class RecordingConnection:
    def __init__(self, script: Script):
        self.script = script
        self.open = False

    def record(self, text: str) -> None:
        if not self.open:  # psycopg2 opens a transaction before the first statement
            self.script.transactions.append(["BEGIN"])
            self.open = True
        self.script.transactions[-1].append(text)

    def cursor(self):
        return RecordingCursor(self)

    def _end(self, word: str) -> None:
        if self.open:
            self.script.transactions[-1].append(word)
            self.open = False

    def commit(self):
        self._end("COMMIT")

    def rollback(self):
        self._end("ROLLBACK")

    def close(self):
        pass


@pytest.fixture
def script(monkeypatch) -> Script:
    script = Script()

    def connect(**kwargs):
        script.connects.append(kwargs)
        return RecordingConnection(script)

    monkeypatch.setattr(psycopg2, "connect", connect)
    monkeypatch.setenv("REDSHIFT_PASSWORD", PASSWORD)
    return script


@dataclass
class S3Listing:
    """The part of a Source the Redshift loads use: where the data is (Redshift reads it)."""

    uri: str = DATA


def make_warehouse(**overrides) -> RedshiftWarehouse:
    # The resource resolves EnvVar("REDSHIFT_PASSWORD") when a run starts (test_deployment);
    # the warehouse itself holds the value.
    config = dict(
        host="sparkify.abc123.us-west-2.redshift.amazonaws.com",
        user="sparkify_admin",
        password=PASSWORD,
        iam_role_arn=ROLE,
        region="us-west-2",
        log_jsonpath=JSONPATHS,
    )
    warehouse = RedshiftWarehouse(**{**config, **overrides})
    warehouse._tables_ready = True  # the DDL is checked in test_redshift_sql
    return warehouse


def stage_day(warehouse: RedshiftWarehouse, keys=(KEY,)):
    return warehouse.stage_events_day(S3Listing(), DAY, [SourceFile(key) for key in keys])


def test_a_day_copies_first_then_replaces_the_partition_under_lock(script: Script) -> None:
    script.rowcounts = {
        r'^INSERT INTO "public"."staging_events"': 120,
        r"FROM \(SELECT '\{": 1,
        r'FROM "sys_load_error_detail"': 2,
    }

    result = stage_day(make_warehouse())

    copying, moving, tidying = script.transactions
    kinds = [[re.match(r"\w+( \w+)?", s).group(0) for s in t] for t in script.transactions]
    # The slow part, reading S3, holds no lock: readers of staging_events do not wait for it.
    assert kinds[0] == [
        "BEGIN",
        "SET timezone",
        "SELECT pg_backend_pid",
        "CREATE TEMP",
        "COPY",
        "COMMIT",
    ]
    # The lock comes first in its transaction, before anything takes a snapshot.
    assert kinds[1] == [
        "BEGIN",
        "LOCK",
        "SELECT table_name",  # the tables it writes and reads are this release's
        "DELETE FROM",
        "DELETE FROM",
        "INSERT INTO",
        "INSERT INTO",
        "INSERT INTO",
        "DELETE FROM",
        "INSERT INTO",
        "INSERT INTO",
        "INSERT INTO",
        "DELETE FROM",
        "INSERT INTO",
        "COMMIT",
    ]
    assert kinds[2] == ["BEGIN", "ANALYZE", "DROP TABLE", "COMMIT"]
    copy = copying[4]
    lock, current, delete_day, delete_rejects, move, rules, errors, *rest = moving[1:-1]
    delete_drift, missing_keys, *told, delete_audit, audit = rest
    assert current.startswith("SELECT table_name, fingerprint FROM")
    # The daily tables built from the day learn, in the same transaction, that it was rewritten.
    assert sorted(statement.split("VALUES (")[1].split(",")[0] for statement in told) == [
        "'songplays'",
        "'user_latest_by_day'",
    ]
    assert all("'window', '2018-11-15')" in statement for statement in told)
    assert lock == (
        'LOCK "public"."load_audit", "public"."load_drift", "public"."load_rejects", '
        '"public"."pending_changes", "public"."staging_events"'
    )
    # What SQL sees of drift: keys that always hold a value, counted where NULL (absent or null).
    assert delete_drift.startswith('DELETE FROM "public"."load_drift" WHERE asset = ')
    assert missing_keys.startswith('INSERT INTO "public"."load_drift"')
    assert "SELECT 'userId' AS key, SUM(CASE WHEN \"user_id\" IS NULL" in missing_keys
    assert delete_day == 'DELETE FROM "public"."staging_events" WHERE "event_date" = \'2018-11-15\''
    assert delete_rejects.endswith("asset = 'staging_events' AND partition_key = '2018-11-15'")
    assert copying[3].startswith('CREATE TEMP TABLE "staging_events_copy_0" (')
    assert "NOT NULL" not in copying[3], "COPY's own NOT NULL handling is not relied on"
    assert copy.startswith('COPY "staging_events_copy_0" ("artist", "auth", "first_name"')
    for option in (
        f"FROM '{DATA}/{KEY}'",
        f"IAM_ROLE '{ROLE}'",
        f"FORMAT AS JSON '{JSONPATHS}'",
        "REGION 'us-west-2'",
        "MAXERROR 100000",
        "COMPUPDATE OFF",
        "STATUPDATE OFF",
    ):
        assert f"\n{option}" in copy, option
    for careless in ("EMPTYASNULL", "BLANKSASNULL", "TRUNCATECOLUMNS", "ACCEPTINVCHARS"):
        assert careless not in copy
    assert f"'2018-11-15', '{KEY}', NULL\nFROM \"staging_events_copy_0\"" in move
    assert move.endswith("END IS NULL") and "ts is outside the file''s day 2018-11-15" in move
    assert "WHEN \"session_id\" IS NULL THEN 'sessionId is missing'" in move
    assert (
        'WHEN "auth" = \'Logged In\' AND ("user_id" IS NULL OR "user_id" = \'\') '
        "THEN 'Logged In event without userId'"
    ) in move
    assert rules.startswith('INSERT INTO "public"."load_rejects"') and "IS NOT NULL" in rules
    assert errors.endswith(
        f'WHERE "session_id" = {SESSION} AND "start_time" >= \'{SINCE}\' '
        f"AND TRIM(\"file_name\") = '{DATA}/{KEY}') refused"
    )
    assert tidying[1:3] == [
        'ANALYZE "public"."staging_events"',
        'DROP TABLE "staging_events_copy_0"',
    ]
    # The file's tally, as counted from the statements' row counts, is its audit row.
    assert audit.startswith('INSERT INTO "public"."load_audit"')
    assert f"('staging_events', '2018-11-15', '{KEY}', 123, 120, 3, " in audit
    assert (result.records, result.loaded, result.rejected) == (123, 120, 3)
    (connect,) = script.connects  # one session: the temp tables outlive the first transaction
    assert connect["sslmode"] == "require" and connect["password"] == PASSWORD
    assert (connect["port"], connect["dbname"]) == (5439, "sparkify")


def test_each_file_of_a_day_is_copied_and_counted_on_its_own(script: Script) -> None:
    second = KEY.replace("events.json", "events-late.json")
    script.rowcounts = {re.escape(f"'{second}', NULL\nFROM"): 7}

    result = stage_day(make_warehouse(), keys=(KEY, second))

    copies = [s for s in script.statements() if s.startswith("COPY")]
    assert [c.splitlines()[1] for c in copies] == [f"FROM '{DATA}/{k}'" for k in (KEY, second)]
    assert [(t.source, t.loaded) for t in result.files] == [(KEY, 0), (second, 7)]
    copying, moving, tidying = script.transactions
    assert copies == [s for s in copying if s.startswith("COPY")], "all copies before the lock"
    assert [c.split()[1] for c in copies] == ['"staging_events_copy_0"', '"staging_events_copy_1"']
    assert sum(s.startswith('INSERT INTO "public"."staging_events"') for s in moving) == 2
    assert tidying[2:4] == [f'DROP TABLE "staging_events_copy_{i}"' for i in (0, 1)]


def test_copy_failure_rolls_back_and_names_the_first_rejected_lines(script: Script) -> None:
    script.fail_on = r"^COPY"
    script.first_rejects = [
        (KEY, 3, "ts: Invalid digit, Value 'x' (load error 1207)"),
        (KEY, 9, "Invalid JSONPath format (load error 1216)"),
    ]

    with pytest.raises(WarehouseError) as raised:
        stage_day(make_warehouse(max_reject_share=0.0))

    load, quarantine = script.transactions
    assert load[-2].startswith("COPY") and "\nMAXERROR 0\n" in load[-2]
    assert load[-1] == "ROLLBACK"
    assert quarantine[1].startswith("LOCK") and quarantine[-1] == "COMMIT"
    assert quarantine[2].startswith('DELETE FROM "public"."load_rejects" WHERE asset')
    assert quarantine[3].endswith(
        f'"session_id" = {SESSION} AND "start_time" >= \'{SINCE}\') refused'
    )
    assert quarantine[4].startswith("SELECT source, line_number, reason FROM")
    message = str(raised.value)
    assert message.startswith("loading staging_events 2018-11-15: Load into table")
    assert f"{KEY} line 3: ts: Invalid digit" in message and f"{KEY} line 9: Invalid" in message
    assert "\n" not in message


def test_too_many_rejects_roll_the_day_back_but_keep_the_rejects(script: Script) -> None:
    script.rowcounts = {
        r'^INSERT INTO "public"."staging_events"': 90,
        r'FROM "sys_load_error_detail"': 10,
    }

    with pytest.raises(RejectThresholdExceeded, match=r"10 of 100 records rejected"):
        stage_day(make_warehouse(max_reject_share=0.05))

    copying, load, quarantine = script.transactions
    assert copying[-1] == "COMMIT", "only the temp tables: the move is what rolls back"
    assert load[-1] == "ROLLBACK" and quarantine[-1] == "COMMIT"
    assert any('FROM "sys_load_error_detail"' in s for s in quarantine)
    # The audit still records what was read, and that none of it was kept.
    assert any(
        s.startswith('INSERT INTO "public"."load_audit"') and ", 100, 90, 10, " in s
        for s in quarantine
    )
    assert any(s.startswith('UPDATE "public"."load_audit" SET loaded = 0') for s in quarantine)


def test_a_serializable_isolation_conflict_is_retried(script: Script, monkeypatch) -> None:
    """Redshift's ERROR 1023 (SQLSTATE XX000): AWS advises retrying the transaction."""
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    script.fail_on, script.failures_left = r"^INSERT INTO \"public\".\"staging_events\"", 1
    script.failure = FakeServerError(
        "XX000", "ERROR:  1023\nDETAIL:  Serializable isolation violation on table - 100133"
    )
    script.rowcounts = {r'^INSERT INTO "public"."staging_events"': 5}

    result = stage_day(make_warehouse())

    assert result.loaded == 5, "the whole load ran again, from a new session"
    assert len(script.connects) == 3  # the failed load, its failure path, the new attempt
    assert [t[-1] for t in script.transactions][-3:] == ["COMMIT"] * 3


def test_failure_before_copy_reads_no_load_errors(script: Script) -> None:
    script.fail_on = r"^SET timezone"

    with pytest.raises(WarehouseError, match="^loading staging_events 2018-11-15: Load into"):
        stage_day(make_warehouse())

    assert script.transactions == [["BEGIN", script.transactions[0][1], "ROLLBACK"]]


def test_songs_copy_the_song_data_prefix_with_json_auto(script: Script) -> None:
    script.rowcounts = {r'^INSERT INTO "public"."staging_songs"': 71}

    result = make_warehouse(load_errors_view="stl_load_errors").stage_songs(S3Listing())

    copying, transaction, _ = script.transactions
    (copy,) = [s for s in copying if s.startswith("COPY")]
    assert copy.startswith('COPY "staging_songs_copy" ("num_songs", "artist_id"')
    assert f"\nFROM '{DATA}/song_data/'\n" in copy and "\nFORMAT AS JSON 'auto'\n" in copy
    assert transaction[1] == (
        'LOCK "public"."load_audit", "public"."load_drift", "public"."load_rejects", '
        '"public"."pending_changes", "public"."staging_songs"'
    )
    (move,) = [s for s in transaction if s.startswith('INSERT INTO "public"."staging_songs"')]
    assert "WHEN \"artist_id\" IS NULL THEN 'artist_id is missing'" in move
    (errors,) = [s for s in transaction if 'FROM "stl_load_errors"' in s]
    assert 'TRIM("raw_line")' in errors and f'"session" = {SESSION}' in errors
    assert (result.records, result.loaded) == (71, 71)


@pytest.mark.parametrize("pending", [(0, 0), (3, 0), (2, 1)], ids=["none", "some", "all"])
def test_a_build_locks_its_table_and_runs_its_printed_plan(script: Script, monkeypatch, pending):
    window = Window(DAY, date(2018, 11, 16))
    script.pending = pending
    monkeypatch.setattr(changes, "new_batch", lambda: "the batch")
    warehouse = make_warehouse()

    outcome = warehouse.build(SONGPLAYS, window)

    (transaction,) = script.transactions
    plan, mode = plans.build(
        warehouse,
        SONGPLAYS,
        window,
        False,
        plans.Pending(pending[0], bool(pending[1])),
        "the batch",
    )
    assert transaction[1] == 'LOCK "public"."pending_changes", "public"."songplays"'
    assert transaction[2].startswith("SELECT table_name, fingerprint FROM")  # current?
    assert transaction[3:-1] == [render.to_text(s) for s in plan.statements]
    assert transaction[-1] == "COMMIT"
    expected = {(0, 0): "window", (3, 0): "window+scope", (2, 1): "full"}[pending]
    assert outcome.mode == mode == expected


def test_a_local_source_is_refused_with_a_clear_error(script: Script) -> None:
    with pytest.raises(
        SourceError, match="Redshift loads from S3: SPARKIFY_DATA_URI must be s3://"
    ):
        make_warehouse().stage_events_day(S3Listing(uri="/tmp/sparkify"), DAY, [])
    assert script.transactions == []


def test_password_stays_out_of_repr_logs_and_errors(
    script: Script, monkeypatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    script.fail_on = r"^COPY"
    warehouse = make_warehouse()
    with pytest.raises(WarehouseError) as load_error:
        stage_day(warehouse)
    # A real connection attempt to a closed loopback port, with the real psycopg2.
    monkeypatch.undo()
    monkeypatch.setenv("REDSHIFT_PASSWORD", PASSWORD)
    closed = make_warehouse(host="127.0.0.1", port=9, connect_timeout=2)
    with pytest.raises(WarehouseError) as connect_error:
        closed.query("SELECT 1")

    assert "cannot connect to Redshift at 127.0.0.1:9" in str(connect_error.value)
    for text in (
        repr(warehouse),
        str(warehouse),
        str(load_error.value),
        str(connect_error.value),
        caplog.text,
    ):
        assert PASSWORD not in text
