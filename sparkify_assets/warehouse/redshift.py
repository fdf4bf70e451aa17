"""Amazon Redshift target: staging by ``COPY ... FROM 's3://…'``; star SQL and checks are shared.

Built alongside dagster-aws's ``RedshiftClientResource``, not on top of it, because:

* it logs every query it runs, in full, to the Dagster event log; this resource logs no SQL at all
  (``sparkify sql`` prints it on request instead);
* it accepts only ``str`` queries, so table names would be pasted into SQL text; here every
  statement is a ``psycopg2.sql.Composed`` with ``Identifier``/``Literal`` parts;
* each call is its own connection and commit; a partition load needs one transaction holding a
  lock, reading a value mid-way and per-statement row counts, and rolling back as a whole;
* the assets talk to the ``Warehouse`` interface both targets share, whose ``transaction()`` hands
  out a cursor.

It keeps dagster-aws's vocabulary (host, port, database, user, password; psycopg2 with
``sslmode=require``) so the configuration reads the same. Each connection asks ``login()`` who to
be: with a ``login_source`` (the ``redshift`` resource's, in ``defs.redshift``) temporary IAM
credentials, renewed as they age, after resuming a paused cluster; without one the fixed
host/user/password (``EnvVar("REDSHIFT_PASSWORD")``, resolved by Dagster at run time). Passwords
are excluded from ``repr`` and masked out of every error message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

import psycopg2
from psycopg2 import sql
from pydantic import Field

from sparkify_assets.contract.records import EVENT_KEYS, FileTally, KeyChangeRow
from sparkify_assets.contract.shape import SAMPLE_BYTES_PER_LINE, KeyChange, sample_drift
from sparkify_assets.core import settings
from sparkify_assets.core.login import DatabaseLogin
from sparkify_assets.core.redact import environment_secrets, redact
from sparkify_assets.ingest.base import Source, SourceFile
from sparkify_assets.ingest.s3_uri import copy_source_uri, validate_s3_uri
from sparkify_assets.sql import catalog, changes
from sparkify_assets.sql import redshift_errors as errors
from sparkify_assets.sql import redshift_load as load
from sparkify_assets.sql.dialect import REDSHIFT, Dialect
from sparkify_assets.sql.drift import insert_drift
from sparkify_assets.sql.load_log import LOAD_DRIFT
from sparkify_assets.sql.redshift_drift import COUNTED_BY_SQL
from sparkify_assets.sql.state import PENDING_CHANGES
from sparkify_assets.sql.tables import (
    LOAD_AUDIT,
    LOAD_REJECTS,
    STAGING_EVENTS,
    STAGING_SONGS,
    Table,
)
from sparkify_assets.warehouse import versioned
from sparkify_assets.warehouse.base import (
    RejectThresholdExceeded,
    StagingResult,
    Transaction,
    Warehouse,
    WarehouseError,
    describe_error,
    lock_key,
    locked_table,
    retry_transient,
    utc_now,
    warehouse_error,
)

_STAGING = (STAGING_EVENTS.name, STAGING_SONGS.name)
_SQL_SEES = {f.key for f in COUNTED_BY_SQL[STAGING_EVENTS.name]}


class RedshiftWarehouse(Warehouse):
    """The Sparkify warehouse in Amazon Redshift (provisioned or Serverless)."""

    host: str = ""
    port: int = settings.REDSHIFT_DEFAULT_PORT
    database: str = settings.REDSHIFT_DEFAULT_DATABASE
    user: str = ""
    password: str = Field(default="", repr=False, description="From REDSHIFT_PASSWORD")
    iam_role_arn: str = Field(description="Role the cluster assumes to read S3 in COPY")
    region: str = Field(description="Region of the data bucket (COPY's REGION)")
    log_jsonpath: str = Field(description="s3:// URI of the uploaded sql/log_json_path.json")
    load_errors_view: str = errors.DEFAULT_LOAD_ERROR_VIEW
    connect_timeout: int = 15
    drift_sample_lines: int = Field(
        default=0, description="SPARKIFY_DRIFT_SAMPLE_LINES: lines of each day file read for keys"
    )
    # Where each connection's login comes from when it is not the fixed host/user/password
    # above: temporary IAM credentials, after resuming a paused cluster (``ops.credentials``).
    # A ``core.login.LoginSource``; typed loosely because pydantic cannot check a Protocol.
    login_source: Any = Field(default=None, exclude=True, repr=False)

    dialect: ClassVar[Dialect] = REDSHIFT

    # --- connection -------------------------------------------------------------------------
    def _redact(self, text: str, secrets: tuple[str, ...] = ()) -> str:
        # The password may have been handed over without being in the environment.
        known = [secret for secret in (self.password, *secrets) if secret]
        return redact(text, known + environment_secrets())

    def _error(
        self, context: str, err: psycopg2.Error, detail: str = "", secrets: tuple[str, ...] = ()
    ) -> WarehouseError:
        """The user-facing error (transient or not, see faults), without the password."""
        error = warehouse_error(context, err)
        return type(error)(self._redact(f"{error}{detail}", secrets))

    def login(self) -> DatabaseLogin:
        """This connection's login; a login source renews temporary credentials as they age."""
        if self.login_source is None:
            return DatabaseLogin(self.host, self.port, self.user, self.password)
        return self.login_source.login()

    def prepare_connection(self) -> None:
        self.login()  # resumes a paused cluster and looks up its endpoint, once

    def reset_connection(self) -> None:
        forget = getattr(self.login_source, "forget", None)
        if forget is not None:
            forget()  # a retry logs in with fresh credentials

    def connect(self):
        login = self.login()
        try:
            return psycopg2.connect(
                host=login.host,
                port=login.port,
                dbname=self.database,
                user=login.user,
                password=login.password,
                sslmode="require",
                connect_timeout=self.connect_timeout,
                application_name="sparkify",
            )
        except psycopg2.Error as err:
            context = f"cannot connect to Redshift at {login.host}:{login.port}"
            raise self._error(context, err, secrets=(login.password,)) from None

    def target_name(self) -> str:
        if self.login_source is not None and not self.host:
            return f"Redshift ({self.login_source!r})"
        return f"Redshift at {self.host}:{self.port}"

    def lock_statement(self, key: str) -> sql.Composed | None:
        table = locked_table(key)
        if table is None:
            return None  # e.g. the DDL: CREATE ... IF NOT EXISTS needs no lock
        # A staging load also replaces its partition's rows in load_rejects, load_audit and
        # load_drift; every write may tell its consumers in pending_changes (load.lock takes
        # them in name order, one global order, so two writers cannot deadlock).
        logs = [LOAD_REJECTS.name, LOAD_AUDIT.name, LOAD_DRIFT.name] if table in _STAGING else []
        return load.lock(self.schema_name, [table, *logs, PENDING_CHANGES.name])

    # --- staging ----------------------------------------------------------------------------
    def copy_config(self, data_uri: str) -> load.CopyConfig:
        # Both URIs become string literals in COPY: refuse what S3 would not name anyway.
        copy_source_uri(data_uri)
        validate_s3_uri(self.log_jsonpath, "SPARKIFY_LOG_JSONPATH")
        return load.CopyConfig(
            schema=self.schema_name,
            data_uri=data_uri,
            iam_role_arn=self.iam_role_arn,
            region=self.region,
            log_jsonpath=self.log_jsonpath,
            max_errors=load.max_errors_for(self.max_reject_share),
            errors_view=load.LOAD_ERROR_VIEWS[self.load_errors_view],
            loaded_at=utc_now(),
        )

    # A load is one session and three transactions (see sql/redshift_load): copy, no lock;
    # move, locked; tidy, no lock; and after a failure a fourth that keeps COPY's rejects.
    def _events_load(
        self, config: load.CopyConfig, day: date, keys: list[str], sampled: list | None = None
    ) -> _Load:
        """``sampled``: the load_drift rows the first lines of the day's files show (read from
        S3 before the load, see ``_sample``)."""
        files = load.event_files(config, keys)
        partition = day.isoformat()
        found = insert_drift(
            config.schema, STAGING_EVENTS.name, partition, sampled or [], config.loaded_at
        )
        # The daily tables built from staging_events learn that the day was rewritten.
        told = changes.mark_days(
            STAGING_EVENTS, catalog.ALL_TABLES, self.schema_name, changes.new_batch(), [day]
        )
        return _Load(
            STAGING_EVENTS,
            partition,
            files,
            lambda marker: [
                *load.events_move_steps(config, day, files, marker),
                *([load.Step(found)] if found is not None else []),
                *map(load.Step, told),
            ],
        )

    def _sample(self, source: Source, files: list[SourceFile], result: StagingResult) -> list:
        """What the first ``drift_sample_lines`` lines of each file show that SQL cannot: keys
        the contract does not know, and absent keys SQL would take for nulls. One ranged GET
        per file; the drift goes into ``result`` too, described per sampled lines."""
        lines, rows = self.drift_sample_lines, []
        size = lines * SAMPLE_BYTES_PER_LINE
        for file in files:
            head = source.head(file, size)
            records, drift = sample_drift(head, lines, EVENT_KEYS, len(head) < size)
            drift.missing = {k: v for k, v in drift.missing.items() if k not in _SQL_SEES}
            tally = FileTally(f"{file.key} (first {records} lines)", records, keys=drift or None)
            result.note_drift(tally)
            rows += [KeyChangeRow(file.key, change) for change in drift.changes()]
        return rows

    def _songs_load(self, config: load.CopyConfig) -> _Load:
        files = load.song_files(config)
        # One COPY of the prefix cannot say which file a row came from: no per-file
        # fingerprints here, so the tables built from staging_songs are told ``all``.
        told = changes.announce_all(
            STAGING_SONGS, catalog.ALL_TABLES, self.schema_name, changes.new_batch()
        )
        return _Load(
            STAGING_SONGS,
            "",
            files,
            lambda marker: [*load.songs_move_steps(config, files, marker), *map(load.Step, told)],
        )

    def events_day_sql(self, data_uri: str, day: date, keys: list[str]) -> list[Transaction]:
        config = self.copy_config(data_uri)
        # With SPARKIFY_DRIFT_SAMPLE_LINES, the move ends with the rows the sample showed: one
        # stand-in row per file here.
        stand_in = [KeyChangeRow(key, KeyChange("(a key)", "unknown", 0, 0)) for key in keys]
        sampled = stand_in if self.drift_sample_lines else None
        return self._printed(config, self._events_load(config, day, keys, sampled))

    def songs_sql(self, data_uri: str) -> list[Transaction]:
        config = self.copy_config(data_uri)
        return self._printed(config, self._songs_load(config))

    def _printed(self, config: load.CopyConfig, plan: _Load) -> list[Transaction]:
        """Every transaction of a load, both paths, from the functions ``_stage`` runs."""
        marker = config.printed_marker
        lock = lock_key(plan.table.name, plan.partition)
        read = [FileTally(f.tally) for f in plan.files]
        move = plan.move(marker)
        audit = load.audit_steps(config, plan.table.name, plan.partition, read)
        stand_in = (
            f"the session {marker.session} and start time '{marker.since}' below stand for the "
            "values this returns at run time"
        )
        counts = "one row per file, with the row counts of the statements above (printed as 0)"
        failed = load.failed_load_steps(
            config, plan.table.name, plan.partition, marker, read, plan.files
        )
        return [
            Transaction(
                [errors.SET_UTC, errors.MARKER, *_statements(load.copy_steps(config, plan.files))],
                notes={1: stand_in},
            ),
            Transaction(
                _statements(move + audit), lock, notes=self._move_notes(plan, move, counts)
            ),
            Transaction(_statements(load.tidy_steps(config, plan.table, plan.files))),
            Transaction(
                _statements(failed),
                lock,
                when=(
                    "only when the copy or the move above fails (a COPY error, or more rejects "
                    "than SPARKIFY_MAX_REJECT_SHARE allows): both are rolled back, and this "
                    "keeps COPY's refused lines and reads the first ones for the error message. "
                    "The load_audit statements run only after a reject-share failure."
                ),
            ),
        ]

    def _move_notes(self, plan: _Load, move: list, counts: str) -> dict[int, str]:
        notes = {len(move) + 1: counts}
        if self.drift_sample_lines and plan.table is STAGING_EVENTS:
            notes[len(move) - 1] = (
                "one row per key the first SPARKIFY_DRIFT_SAMPLE_LINES lines of each file show "
                "drifted, read from S3 before the load; printed as a stand-in row per file"
            )
        return notes

    @retry_transient("loading staging_events {day}")
    def stage_events_day(self, source: Source, day: date, files: list[SourceFile]) -> StagingResult:
        config = self.copy_config(source.uri)
        keys = [file.key for file in files]
        result = StagingResult(day.isoformat(), [FileTally(key) for key in keys])
        sampled = self._sample(source, files, result) if self.drift_sample_lines else None
        return self._stage(config, self._events_load(config, day, keys, sampled), result)

    @retry_transient("loading staging_songs")
    def stage_songs(self, source: Source, full: bool = False) -> StagingResult:
        """Every song file, in one COPY of the prefix (which cannot say which file a row came
        from, so there are no per-file fingerprints here); consumers are told ``all``."""
        config = self.copy_config(source.uri)
        result = StagingResult("all songs", [FileTally(load.SONGS_PREFIX)])
        return self._stage(config, self._songs_load(config), result)

    def _stage(self, config: load.CopyConfig, plan: _Load, result: StagingResult) -> StagingResult:
        """Replace one partition: COPY each file, then delete, move and quarantine under LOCK."""
        self.ensure_tables()
        started = time.monotonic()
        name, partition = plan.table.name, plan.partition
        marker = None
        connection = self.connect()
        try:
            with self.transaction_on(connection) as cursor:
                cursor.execute(errors.SET_UTC)
                cursor.execute(errors.MARKER)
                marker = load.Marker(*cursor.fetchone())
                self._run(cursor, load.copy_steps(config, plan.files), result)
            with self.transaction_on(connection, lock=lock_key(name, partition)) as cursor:
                versioned.require_current(self, cursor, plan.table)
                self._run(cursor, plan.move(marker), result)
                result.seconds = time.monotonic() - started
                self.check_reject_share(result)
                self._run(cursor, load.audit_steps(config, name, partition, result.files), result)
            with self.transaction_on(connection) as cursor:
                self._run(cursor, load.tidy_steps(config, plan.table, plan.files), result)
            return result
        except psycopg2.Error as err:
            detail = self._quarantine_failed_load(config, plan, marker)
            raise self._error(f"loading {name} {result.partition}", err, detail) from None
        except RejectThresholdExceeded as err:
            detail = self._quarantine_failed_load(config, plan, marker, result)
            raise RejectThresholdExceeded(f"{err}{detail}") from None
        finally:
            connection.close()

    @staticmethod
    def _run(cursor, steps: list[load.Step], result: StagingResult) -> None:
        tallies = {tally.source: tally for tally in result.files}
        for step in steps:
            cursor.execute(step.statement)
            if step.counts is None:
                continue
            rows = max(cursor.rowcount, 0)
            tally = tallies[step.file]
            tally.records += rows
            if step.counts == "loaded":
                tally.loaded += rows
            else:
                tally.rejected += rows

    def _quarantine_failed_load(
        self,
        config: load.CopyConfig,
        plan: _Load,
        marker: load.Marker | None,
        read: StagingResult | None = None,
    ) -> str:
        """After a rollback: keep the lines COPY refused in load_rejects and name the first ones.

        Operators need the rejects that made a partition fail even though its rows were rolled
        back. Rows the INSERT ... SELECT rules rejected went with the rollback; their count is in
        the error. Returns text for the error message ("" when there is nothing to add).
        """
        if marker is None:
            return ""  # failed before COPY ran: there are no load errors to read
        name, partition = plan.table.name, plan.partition
        tallies = read.files if read is not None else None
        steps = load.failed_load_steps(config, name, partition, marker, tallies, plan.files)
        try:
            with self.transaction(lock=lock_key(name, partition)) as cursor:
                for step in steps:
                    cursor.execute(step.statement)
                first = cursor.fetchall()
        except (psycopg2.Error, WarehouseError) as err:
            reason = describe_error(err) if isinstance(err, psycopg2.Error) else str(err)
            return f"; the load errors could not be read ({reason})"
        if not first:
            return ""
        lines = "; ".join(f"{source} line {line}: {reason}" for source, line, reason in first)
        return f"; first rejected lines (see {LOAD_REJECTS.name}): {lines}"


def load_errors_view(name: str) -> str:
    """REDSHIFT_LOAD_ERRORS_VIEW, one of the views ``redshift_errors`` can read (empty: default)."""
    view = name or errors.DEFAULT_LOAD_ERROR_VIEW
    if view not in errors.LOAD_ERROR_VIEWS:
        raise settings.SettingsError(
            f"REDSHIFT_LOAD_ERRORS_VIEW must be one of {', '.join(errors.LOAD_ERROR_VIEWS)}, "
            f"got {view!r}"
        )
    return view


@dataclass(frozen=True)
class _Load:
    """What one staging load copies and how it moves the copied rows (given the marker)."""

    table: Table
    partition: str
    files: list[load.CopiedFile]
    move: Callable[[load.Marker], list[load.Step]]


def _statements(steps: list[load.Step]) -> list:
    return [step.statement for step in steps]


def redshift_warehouse_from_env(
    require_connection: bool = True, password: str = ""
) -> RedshiftWarehouse:
    """The warehouse for SPARKIFY_DEPLOYMENT=redshift, configured from the environment.

    ``require_connection=False`` builds one that can only render SQL (``sparkify sql``). The
    password is the caller's to give: the Dagster resource resolves it from
    ``EnvVar("REDSHIFT_PASSWORD")`` at run time.
    """
    config = settings.redshift(require_connection)
    return RedshiftWarehouse(
        host=config.host,
        port=config.port,
        database=config.database,
        user=config.user,
        password=password,
        iam_role_arn=config.iam_role_arn,
        region=config.region,
        log_jsonpath=config.log_jsonpath,
        load_errors_view=load_errors_view(config.load_errors_view),
        max_reject_share=settings.max_reject_share(),
        drift_sample_lines=settings.drift_sample_lines(),
    )
