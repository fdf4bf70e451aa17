"""What every warehouse target offers the assets, and the pieces both targets share.

A target differs only in how staging is filled (streamed COPY FROM STDIN vs. Redshift COPY FROM S3)
and in DDL layout options; building the star schema and running checks is the same SQL on both.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import ClassVar

import psycopg2
from dagster import ConfigurableResource
from psycopg2 import sql
from pydantic import PrivateAttr

from ..records import FileTally
from ..source import Source, SourceFile
from ..sql import render
from ..sql.tables import ALL_TABLES, TABLES, Table


class RejectThresholdExceeded(RuntimeError):
    """Too large a share of a partition's records were rejected; nothing of it was loaded."""


class WarehouseError(RuntimeError):
    """A warehouse operation failed; the message is meant for the user (no secrets, no DSN)."""


@dataclass
class StagingResult:
    """What one staging load read, loaded and quarantined."""

    partition: str
    files: list[FileTally] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return sum(tally.records for tally in self.files)

    @property
    def loaded(self) -> int:
        return sum(tally.loaded for tally in self.files)

    @property
    def rejected(self) -> int:
        return sum(tally.rejected for tally in self.files)

    def reject_share(self) -> float:
        return self.rejected / self.records if self.records else 0.0


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")


def lock_key(*parts: str) -> str:
    return ":".join(("sparkify", *parts))


class Warehouse(ConfigurableResource):
    """Base of both targets. Subclasses provide ``dialect``, ``connect`` and the staging loads."""

    schema_name: str = "public"
    max_reject_share: float = 0.05

    _tables_ready: bool = PrivateAttr(default=False)

    dialect: ClassVar[str] = "postgres"

    # --- connection -------------------------------------------------------------------------
    def connect(self):  # -> psycopg2 connection
        raise NotImplementedError

    def _lock(self, cursor, key: str) -> None:
        """Serialize writers of the same table/partition. No-op where the engine lacks it."""

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator:
        """One transaction: commit on success, roll back on any error, always close."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                if lock:
                    self._lock(cursor, lock)
                yield cursor
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()

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
            render.create_table(table, self.schema_name, self.dialect) for table in ALL_TABLES
        ]

    def ensure_tables(self) -> None:
        if self._tables_ready:
            return
        with self.transaction(lock=lock_key("ddl")) as cursor:
            for statement in self.ddl():
                cursor.execute(statement)
        self._tables_ready = True

    # --- staging (target-specific) ----------------------------------------------------------
    def stage_events_day(self, source: Source, day: date, files: list[SourceFile]) -> StagingResult:
        raise NotImplementedError

    def stage_songs(self, source: Source) -> StagingResult:
        raise NotImplementedError

    def check_reject_share(self, result: StagingResult) -> None:
        if result.records and result.reject_share() > self.max_reject_share:
            raise RejectThresholdExceeded(
                f"{result.partition}: {result.rejected} of {result.records} records rejected "
                f"({result.reject_share():.1%}), above the {self.max_reject_share:.1%} allowed "
                "(SPARKIFY_MAX_REJECT_SHARE); the partition was not loaded. See load_rejects."
            )

    # --- star schema (shared SQL) -----------------------------------------------------------
    def rebuild(self, table: Table, window: tuple[date, date] | None = None) -> tuple[int, float]:
        """Replace a star table's rows (or one window's) in one transaction.

        Returns the rows now in the table (or window) and the seconds it took.
        """
        self.ensure_tables()
        started = time.monotonic()
        # One lock per table, not per window: a song refresh rebuilds songplays over a range
        # that overlaps the day a sensor run rebuilds, and overlapping delete-then-insert
        # transactions would collide on the primary key.
        with self.transaction(lock=lock_key(table.name)) as cursor:
            for statement in render.rebuild(table, self.schema_name, window):
                cursor.execute(statement)
            cursor.execute(*self._count_statement(table, window))
            (rows,) = cursor.fetchone()
        return rows, time.monotonic() - started

    def _count_statement(self, table: Table, window: tuple[date, date] | None):
        statement = sql.SQL("SELECT COUNT(*) FROM {}").format(self.table(table.name))
        if window and table.window_column:
            statement += sql.SQL(" WHERE {} >= %s AND {} < %s").format(
                sql.Identifier(table.window_column), sql.Identifier(table.window_column)
            )
            return statement, (window[0], window[1])
        return statement, None

    def row_counts(self) -> dict[str, int]:
        counts = {}
        for name in TABLES:
            (counts[name],) = self.query(
                sql.SQL("SELECT COUNT(*) FROM {}").format(self.table(name))
            )[0]
        return counts


def describe_error(err: psycopg2.Error) -> str:
    """The server's message without the DSN or parameters (which may hold secrets)."""
    return (getattr(err, "pgerror", None) or str(err)).strip().splitlines()[0]
