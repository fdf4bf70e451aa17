"""What every warehouse target offers the assets, and the pieces both targets share.

A target differs only in how staging is filled (streamed COPY FROM STDIN vs. Redshift COPY FROM S3)
and in DDL layout options; building the star schema and running checks is the same SQL on both.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import ClassVar, TypeVar

import psycopg2
from psycopg2 import sql
from pydantic import BaseModel, PrivateAttr, field_validator

from sparkify_assets.core import faults
from sparkify_assets.core.errors import UserError
from sparkify_assets.core.redact import redact
from sparkify_assets.ingest.base import Source, SourceFile
from sparkify_assets.sql import catalog, changes, render
from sparkify_assets.sql.catalog import TABLES
from sparkify_assets.sql.dialect import POSTGRES, Dialect
from sparkify_assets.sql.model import Window
from sparkify_assets.sql.tables import Table
from sparkify_assets.warehouse import plans, versioned
from sparkify_assets.warehouse.cancel import CancellableCursor
from sparkify_assets.warehouse.plans import (  # noqa: F401 (the names the targets use)
    Transaction,
    build_lock_key,
    lock_key,
)
from sparkify_assets.warehouse.staging_result import StagingResult


class RejectThresholdExceeded(UserError):
    """Too large a share of a partition's records were rejected; nothing of the load was kept."""


class WarehouseError(UserError):
    """A warehouse operation failed; the message is meant for the user (no secrets, no DSN)."""


class TransientWarehouseError(WarehouseError):
    """A failure that may pass (connection lost, server restarting, deadlock), still there after
    the warehouse's own retries; the step may be tried again later (failing_fast)."""

    transient = True


def warehouse_error(context: str, err: psycopg2.Error) -> WarehouseError:
    """The user-facing error for a psycopg2 failure, transient or not, without secrets."""
    kind = TransientWarehouseError if faults.is_transient_db_error(err) else WarehouseError
    return kind(f"{context}: {describe_error(err)}")


# A transaction is attempted this often before a transient failure is handed on; the backoff
# between attempts adds up to a few seconds, enough for the embedded server to restart.
RETRY_ATTEMPTS = 4
# How long the check before a load waits for a first connection.
PREFLIGHT_SECONDS = 10.0
# Loggers under "dagster.builtin." are the ones Dagster captures into a run's event log without
# instance configuration (what get_dagster_logger returns); a plain logger keeps this layer free
# of Dagster while the retry warnings still show in the UI.
_log = logging.getLogger("dagster.builtin.sparkify.warehouse")
_retrying: ContextVar[bool] = ContextVar("sparkify_warehouse_retrying", default=False)
Result = TypeVar("Result")


def retry_transient(what: str) -> Callable[[Callable[..., Result]], Callable[..., Result]]:
    """Run a warehouse method again, from scratch, when it fails on a transient error.

    Only for methods that are whole transactions: a failed attempt was rolled back, so the next
    one starts from the same state, and since every write replaces its partition the end result
    is the same as one clean attempt. ``what`` names the work in messages; it is formatted with
    the method's arguments (e.g. ``"loading staging_events {day}"``). Permanent errors are raised
    at once as ``WarehouseError``.
    """

    def decorate(method: Callable[..., Result]) -> Callable[..., Result]:
        signature = inspect.signature(method)

        @functools.wraps(method)
        def wrapper(self, *args, **kwargs) -> Result:
            if _retrying.get():  # an enclosing call already retries the whole operation
                return method(self, *args, **kwargs)
            arguments = signature.bind(self, *args, **kwargs)
            arguments.apply_defaults()
            context = what.format(**arguments.arguments)
            token = _retrying.set(True)
            try:
                return self._with_retries(context, lambda: method(self, *args, **kwargs))
            finally:
                _retrying.reset(token)

        return wrapper

    return decorate


@dataclass
class BuildOutcome:
    """What one build did: ``mode`` is full, window, scope, window+scope or unchanged."""

    mode: str
    pending: int = 0
    seconds: float = 0.0


def utc_now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")


def locked_table(key: str) -> str | None:
    """The table a ``lock_key`` names, or None for keys that are not about one table."""
    parts = key.split(":")
    return parts[1] if len(parts) > 2 and parts[1] in TABLES else None


class Warehouse(BaseModel):
    """Base of both targets. Subclasses provide ``dialect``, ``connect`` and the staging loads."""

    schema_name: str = "public"
    max_reject_share: float = 0.05

    _tables_ready: bool = PrivateAttr(default=False)
    # Set on the migration's own copy: its writes skip the version guard they are completing.
    migrating: bool = False

    dialect: ClassVar[Dialect] = POSTGRES
    # Whether a song load can reload only the files whose fingerprint changed.
    loads_changed_song_files: ClassVar[bool] = False

    @field_validator("schema_name")
    @classmethod
    def _plain_schema_name(cls, value):
        # Refused when the warehouse is built, long before any SQL (render.table_ref checks
        # every name again at use).
        return render.check_identifier(value, "schema") if isinstance(value, str) else value

    # --- connection -------------------------------------------------------------------------
    def connect(self):  # -> psycopg2 connection
        raise NotImplementedError

    def reset_connection(self) -> None:
        """Forget what the last connection established, before a retry. Targets override."""

    def prepare_connection(self) -> None:
        """Whatever must happen before a first connection can work (see operations)."""

    def target_name(self) -> str:
        """How messages name this warehouse (never with a password)."""
        return "the warehouse"

    def _with_retries(self, context: str, attempt: Callable[[], Result]) -> Result:
        for delay in faults.backoff(RETRY_ATTEMPTS):
            try:
                return attempt()
            except (psycopg2.Error, TransientWarehouseError) as err:
                if not faults.is_transient(err):
                    raise warehouse_error(context, err) from None
                message = (
                    str(err)
                    if isinstance(err, WarehouseError)
                    else (f"{context}: {describe_error(err)}")
                )
                if delay is None:
                    raise TransientWarehouseError(
                        f"{message} (still failing after {RETRY_ATTEMPTS} attempts)"
                    ) from None
                _log.warning(f"{message}; trying again in {delay:.1f} s")
                self.reset_connection()
                time.sleep(delay)
        raise AssertionError("unreachable: backoff ends with None")

    def lock_statement(self, key: str) -> sql.Composable | None:
        """The statement that serializes writers of ``key`` (see ``lock_key``), or None."""
        return None

    def _lock(self, cursor, key: str) -> None:
        """Serialize writers of the same table/partition. No-op where the engine lacks it.

        Every writer first waits for a migration under way (warehouse.versioned), before its
        own lock, so the two never wait for each other.
        """
        wait = None if self.migrating else self.migration_wait_statement()
        for statement in (wait, self.lock_statement(key)):
            if statement is not None:
                cursor.execute(statement)

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator:
        """One transaction: commit on success, roll back on any error, always close.

        Its statements stop at an interrupt (see ``warehouse.cancel``).
        """
        connection = self.connect()
        try:
            with self.transaction_on(connection, lock) as cursor:
                yield cursor
        finally:
            connection.close()

    @contextmanager
    def transaction_on(self, connection, lock: str | None = None) -> Iterator:
        """One transaction on an open connection (a load whose temp tables span several)."""
        try:
            with connection.cursor() as raw_cursor:
                cursor = CancellableCursor(raw_cursor, connection)
                if lock:
                    self._lock(cursor, lock)
                yield cursor
            connection.commit()
        except BaseException:
            # On a dropped connection the rollback fails too; the original error is the news.
            with suppress(psycopg2.Error):
                connection.rollback()
            raise

    @retry_transient("querying the warehouse")
    def query(self, statement, params=None) -> list[tuple]:
        with self.transaction() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()

    def table(self, name: str):
        return render.table_ref(self.schema_name, name)

    # --- schema -----------------------------------------------------------------------------
    def ddl(self) -> list:
        schema = [render.create_schema(self.schema_name)] if self.schema_name != "public" else []
        return schema + [
            statement
            for table in catalog.ALL_TABLES
            for statement in (
                render.create_table(table, self.schema_name, self.dialect),
                *render.create_indexes(table, self.schema_name, self.dialect),
                *render.comments(table, self.schema_name),
            )
        ]

    @retry_transient("creating the tables")
    def ensure_tables(self) -> None:
        """A new warehouse's tables, recorded as this release's; else only the ledger."""
        if self._tables_ready:
            return
        with self.transaction(lock=lock_key("ddl")) as cursor:
            versioned.ensure(self, cursor, utc_now())
        self._tables_ready = True

    def migration_wait_statement(self) -> sql.Composable | None:
        """What makes a write wait for a migration under way (see warehouse.versioned)."""
        return None

    # --- staging (target-specific) ----------------------------------------------------------
    def stage_events_day(self, source: Source, day: date, files: list[SourceFile]) -> StagingResult:
        raise NotImplementedError

    def stage_songs(self, source: Source) -> StagingResult:
        raise NotImplementedError

    # The transactions of a staging load, both paths, for `sparkify sql`; built by the same
    # functions the loads use, so what is printed is what runs.
    def events_day_sql(self, data_uri: str, day: date, keys: list[str]) -> list[Transaction]:
        raise NotImplementedError

    def songs_sql(self, data_uri: str) -> list[Transaction]:
        raise NotImplementedError

    def song_files_sql(self, data_uri: str) -> list[Transaction]:
        """A song refresh's staging: the changed files where the target loads them alone."""
        return self.songs_sql(data_uri)

    def statistics_statements(self, table: Table) -> list:
        """What ``refresh_statistics`` runs once a staging asset has loaded all its partitions.

        Nothing by default: a target that refreshes statistics inside each staging transaction
        (Redshift, whose ANALYZE skips tables that barely changed) needs no more.
        """
        return []

    def day_statistics_statements(self, table: Table) -> list:
        """Statistics after one day changed; none where staging analyzes itself (Redshift)."""
        return []

    @retry_transient("analyzing {table.name}")
    def refresh_statistics(self, table: Table, one_day: bool = False) -> None:
        day = self.day_statistics_statements
        statements = day(table) if one_day else self.statistics_statements(table)
        if statements:
            with self.transaction() as cursor:
                for statement in statements:
                    cursor.execute(statement)

    def with_max_reject_share(self, share: float | None) -> Warehouse:
        """This warehouse with a run's own reject tolerance (None keeps the configured one).

        A copy rather than a parameter, so every staging path of every target (including
        Redshift's MAXERROR) reads the one ``max_reject_share`` attribute.
        """
        if share is None or share == self.max_reject_share:
            return self
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"max_reject_share must be within 0..1, got {share!r}")
        return self.model_copy(update={"max_reject_share": share})

    def check_reject_share(self, result: StagingResult) -> None:
        if result.records and result.reject_share() > self.max_reject_share:
            # The drifted keys first: a renamed key is the likeliest cause and names the fix.
            drift = f" {result.drift_summary()};" if result.drift else ""
            counts = f"{result.rejected} of {result.records} records rejected"
            raise RejectThresholdExceeded(
                f"{result.partition}:{drift} {counts} "
                f"({result.reject_share():.1%}), above the {self.max_reject_share:.1%} allowed "
                "(SPARKIFY_MAX_REJECT_SHARE or run config max_reject_share); this load was rolled "
                "back and the partition keeps its previous rows. See load_rejects."
            )

    # --- star schema (shared SQL) -----------------------------------------------------------
    @retry_transient("building {table.name}")
    def build(self, table: Table, window: Window | None = None, full: bool = False) -> BuildOutcome:
        """Bring a built table up to date in one transaction (see ``sql.changes``).

        A daily table replaces ``window``; a table with a scope then replaces what its pending
        changes reach. ``full`` (or a pending ``all``) rebuilds the whole table. What runs is
        ``plans.build``'s transaction: its head, then the branch its pending changes pick.
        """
        self.ensure_tables()
        started = time.monotonic()
        window = Window(*window) if window is not None else None
        plan = plans.build(self, table, window, full, changes.new_batch())
        with self.transaction(lock=plan.lock) as cursor:
            versioned.require_current(self, cursor, table)
            plans.execute(cursor, plan.statements)
            # A head, where there is one, ends with the count of pending changes.
            pending = plans.Pending(*cursor.fetchone()) if plan.statements else None
            branch = plan.branch((pending or plans.NOTHING_PENDING).case)
            plans.execute(cursor, branch.statements)
        return BuildOutcome(branch.mode, pending.rows if pending else 0, time.monotonic() - started)

    def count_statement(self, table: Table, window: Window | None = None):
        """Rows in the table, or in the window of a partitioned table."""
        return render.count_rows(table, self.schema_name, window)

    @retry_transient("counting rows")
    def row_counts(self) -> dict[str, int]:
        counts = {}
        for name, table in TABLES.items():
            (counts[name],) = self.query(self.count_statement(table))[0]
        return counts


def describe_error(err: psycopg2.Error) -> str:
    """The server's message without the DSN, parameters or any other secret."""
    text = (getattr(err, "pgerror", None) or str(err)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(err).__name__]
    # libpq puts the reason on the first line, except for a lost connection, where the server's
    # last words ("terminating connection due to administrator command") come first and the
    # loss itself second: keep both, they are short.
    message = lines[0]
    if len(lines) > 1 and "server closed the connection" in lines[1]:
        message += f" ({lines[1]})"
    elif len(lines) > 1 and message.removeprefix("ERROR:").strip().isdigit():
        message += f" ({lines[1]})"  # Redshift's own codes ("ERROR: 1023") say why on the next
    return redact(message)
