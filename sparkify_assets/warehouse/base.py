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
from dagster import ConfigurableResource, EnvVar
from psycopg2 import sql
from pydantic import PrivateAttr

from ..records import FileTally
from ..source import Source, SourceFile
from ..sql import render
from ..sql.tables import ALL_TABLES, TABLES, Table


class RejectThresholdExceeded(RuntimeError):
    """Too large a share of a partition's records were rejected; nothing of the load was kept."""


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


def resolved(value: str) -> str:
    """A config value as a string, also outside a Dagster run.

    Outside a run (e.g. ``sparkify load``'s closing row counts) a field set from ``EnvVar`` still
    holds the EnvVar itself, whose str() is the variable's *name*, not its value.
    """
    return (value.get_value() or "") if isinstance(value, EnvVar) else value


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")


def lock_key(*parts: str) -> str:
    return ":".join(("sparkify", *parts))


def rebuild_lock_key(table: Table) -> str:
    # One lock per table, not per window: a song refresh rebuilds songplays over a range that
    # overlaps the day a sensor run rebuilds, and overlapping delete-then-insert transactions
    # would collide on the primary key.
    return lock_key(table.name, "rebuild")


def locked_table(key: str) -> str | None:
    """The table a ``lock_key`` names, or None for keys that are not about one table."""
    parts = key.split(":")
    return parts[1] if len(parts) > 2 and parts[1] in TABLES else None


class Warehouse(ConfigurableResource):
    """Base of both targets. Subclasses provide ``dialect``, ``connect`` and the staging loads."""

    schema_name: str = "public"
    max_reject_share: float = 0.05

    _tables_ready: bool = PrivateAttr(default=False)

    dialect: ClassVar[str] = "postgres"

    # --- connection -------------------------------------------------------------------------
    def connect(self):  # -> psycopg2 connection
        raise NotImplementedError

    def lock_statement(self, key: str) -> sql.Composable | None:
        """The statement that serializes writers of ``key`` (see ``lock_key``), or None."""
        return None

    def _lock(self, cursor, key: str) -> None:
        """Serialize writers of the same table/partition. No-op where the engine lacks it."""
        statement = self.lock_statement(key)
        if statement is not None:
            cursor.execute(statement)

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

    # The statements a staging transaction runs after its lock, for `sparkify sql`; built by the
    # same functions the loads use, so what is printed is what runs.
    def events_day_sql(self, data_uri: str, day: date, keys: list[str]) -> list:
        raise NotImplementedError

    def songs_sql(self, data_uri: str) -> list:
        raise NotImplementedError

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
            raise RejectThresholdExceeded(
                f"{result.partition}: {result.rejected} of {result.records} records rejected "
                f"({result.reject_share():.1%}), above the {self.max_reject_share:.1%} allowed "
                "(SPARKIFY_MAX_REJECT_SHARE or run config max_reject_share); this load was rolled "
                "back and the partition keeps its previous rows. See load_rejects."
            )

    # --- star schema (shared SQL) -----------------------------------------------------------
    def rebuild(self, table: Table, window: tuple[date, date] | None = None) -> tuple[int, float]:
        """Replace a star table's rows (or one window's) in one transaction.

        Returns the rows now in the table (or window) and the seconds it took.
        """
        self.ensure_tables()
        started = time.monotonic()
        with self.transaction(lock=rebuild_lock_key(table)) as cursor:
            for statement in self.rebuild_statements(table, window):
                cursor.execute(statement)
            (rows,) = cursor.fetchone()
        return rows, time.monotonic() - started

    def rebuild_statements(self, table: Table, window: tuple[date, date] | None = None) -> list:
        """What ``rebuild`` runs: the shared delete + insert, ANALYZE, then a count of the rows."""
        # Downstream builds and checks read this table next; plan them on real statistics.
        analyze = render.analyze(table, self.schema_name)
        return [*render.rebuild(table, self.schema_name, window), analyze,
                self.count_statement(table, window)]

    def count_statement(self, table: Table, window: tuple[date, date] | None = None):
        """Rows in the table, or in the window of a partitioned table."""
        return sql.SQL("SELECT COUNT(*) FROM {}").format(self.table(table.name)) + (
            render.in_window(table, window)
        )

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
