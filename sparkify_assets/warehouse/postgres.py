"""Any PostgreSQL (by default the embedded one): staging by streamed ``COPY ... FROM STDIN``.

A day's log file flows line by line through ``records.parse_events`` into chunks of COPY text, which
``CopyStream`` hands to psycopg2's ``copy_expert``: the file is never held in memory. A
producer thread (``pipeline.BackgroundReader``) parses the next chunks while PostgreSQL ingests
this one. Rejected records are spooled to a temporary file and copied into ``load_rejects`` in the
same transaction, with one ``load_audit`` row per file (records read, loaded, rejected) for the
reconciliation check, and a ``load_drift`` row per key a file's records lacked or added.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from itertools import chain

import psycopg2
from psycopg2 import sql
from pydantic import PrivateAttr

from sparkify_assets.contract.records import (
    FileTally,
    KeyChangeRow,
    Reject,
    parse_events,
    parse_song,
)
from sparkify_assets.ingest.base import Source, SourceFile
from sparkify_assets.sql import catalog, changes, render
from sparkify_assets.sql.drift import delete_drift
from sparkify_assets.sql.load_log import LOAD_DRIFT
from sparkify_assets.sql.tables import (
    LOAD_AUDIT,
    LOAD_REJECTS,
    STAGING_EVENTS,
    STAGING_SONGS,
    Table,
)
from sparkify_assets.warehouse import embedded, versioned
from sparkify_assets.warehouse.base import (
    RejectThresholdExceeded,
    StagingResult,
    Transaction,
    Warehouse,
    lock_key,
    retry_transient,
    utc_now,
    warehouse_error,
)
from sparkify_assets.warehouse.pipeline import BackgroundReader
from sparkify_assets.warehouse.plans import PRINTED_BATCH
from sparkify_assets.warehouse.song_files import (
    copy_keys,
    song_file_changes,
    song_files_known,
    song_files_statements,
)

CHUNK_BYTES = 1 << 18
SPOOL_IN_MEMORY_BYTES = 4 << 20


class CopyStream:
    """A read-only file over an iterator of COPY text (whole rows, one or many), for
    ``copy_expert``: each read hands out at least ``chunk_bytes``, or what is left."""

    def __init__(self, pieces: Iterator[bytes], chunk_bytes: int = CHUNK_BYTES):
        self._pieces = pieces
        self._chunk_bytes = chunk_bytes

    def read(self, size: int = -1) -> bytes:
        parts: list[bytes] = []
        filled = 0
        for piece in self._pieces:
            parts.append(piece)
            filled += len(piece)
            if filled >= self._chunk_bytes:
                break
        return b"".join(parts)

    readline = read


class Spool:
    """COPY text for the ``load_rejects``, ``load_audit`` or ``load_drift`` rows of one load,
    in a temp file.

    A very bad file (or a few hundred thousand song files) cannot exhaust memory this way.
    ``append`` takes a ``Reject``, a ``FileTally`` or a ``KeyChangeRow``: each renders its own
    columns.
    """

    def __init__(self, asset: str, partition_key: str, loaded_at: str):
        self._prefix = f"{asset}\t{partition_key}\t"
        self._loaded_at = f"\t{loaded_at}\n"
        self._file = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY_BYTES, mode="w+b")
        self.count = 0

    def append(self, record: Reject | FileTally | KeyChangeRow) -> None:
        line = self._prefix + record.copy_line()[:-1] + self._loaded_at
        self._file.write(line.encode())
        self.count += 1

    def rewind(self):
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._file.close()


class LoadLog:
    """What one staging load writes besides its rows: rejects, per-file audit tallies and the
    keys that drifted."""

    def __init__(self, asset: str, partition_key: str):
        self.asset = asset
        self.partition_key = partition_key
        loaded_at = utc_now()
        self.rejects = Spool(asset, partition_key, loaded_at)
        self.audit = Spool(asset, partition_key, loaded_at)
        self.drift = Spool(asset, partition_key, loaded_at)

    def audited(self, rows: Iterator[bytes], tally: FileTally) -> Iterator[bytes]:
        """Pass a file's rows through, then log its tally (final once its rows are consumed)."""
        yield from rows
        self.log_file(tally)

    def log_file(self, tally: FileTally) -> None:
        """A file's audit row and its drifted keys."""
        self.audit.append(tally)
        for change in tally.keys.changes() if tally.keys else ():
            self.drift.append(KeyChangeRow(tally.source, change))

    def close(self) -> None:
        self.rejects.close()
        self.audit.close()
        self.drift.close()


def _copy_sql(table: Table, schema_name: str, columns: tuple[str, ...]) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(schema_name, table.name),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
    )


def _song_rows(
    source: Source, files: Iterator[SourceFile], log: LoadLog, result: StagingResult
) -> Iterator[bytes]:
    """COPY rows of song files; each file's tally (with its fingerprint) goes to the audit,
    into the result's one running total, and its drift into the result."""
    (totals,) = result.files
    for file, content in source.read_all(files):
        tally = FileTally(file.key, fingerprint=file.fingerprint)
        line = parse_song(content, file.key, tally, log.rejects)
        totals.add(tally)
        log.log_file(tally)
        result.note_drift(tally)
        if line is not None:
            yield line.encode()


def _days_told(table: Table, schema: str, partition: str, batch: str | None = None) -> list:
    """A day's staging tells the daily tables built from it that the day was rewritten."""
    if not table.window_column:
        return []
    day = date.fromisoformat(partition)
    return changes.mark_days(table, catalog.ALL_TABLES, schema, batch or changes.new_batch(), [day])


class PostgresWarehouse(Warehouse):
    """PostgreSQL target. An empty ``url`` means the embedded server kept in ``home``."""

    url: str = ""
    home: str = ".sparkify"

    _dsn: str | None = PrivateAttr(default=None)

    def dsn(self) -> str:
        if self._dsn is None:
            self._dsn = self.url or embedded.ensure_running(self.home)
        return self._dsn

    def connect(self):
        try:
            return psycopg2.connect(self.dsn())
        except psycopg2.Error as err:  # OperationalError, or ProgrammingError for a bad DSN
            raise warehouse_error(f"cannot connect to {self.target_name()}", err) from None

    def target_name(self) -> str:
        return "the embedded warehouse" if not self.url else "SPARKIFY_WAREHOUSE_URL"

    def prepare_connection(self) -> None:
        if not self.url:
            self.dsn()  # starts the embedded server (and says why it cannot), however long

    def reset_connection(self) -> None:
        # The embedded server may have died (killed, crashed): looking up the DSN again runs
        # ensure_running, which restarts it. A configured URL stays as it is.
        if not self.url:
            self._dsn = None

    def migration_wait_statement(self) -> sql.Composed:
        # Shared against the migration's exclusive session lock: writes run side by side, and
        # all of them wait while a migration runs (warehouse.versioned).
        return sql.SQL("SELECT pg_advisory_xact_lock_shared(hashtext({}))").format(
            sql.Literal(versioned.MIGRATION_LOCK)
        )

    def lock_statement(self, key: str) -> sql.Composed:
        # Transaction-scoped advisory lock: a second writer of the same partition waits, then
        # replaces the same rows again, so concurrent runs of one day never duplicate.
        return sql.SQL("SELECT pg_advisory_xact_lock(hashtext({}))").format(sql.Literal(key))

    # --- staging ----------------------------------------------------------------------------
    def _staging_steps(self, table: Table, partition: str) -> tuple[list, sql.Composed, list]:
        """The statements before the staging COPY, the COPY, and those right after it."""
        schema = self.schema_name
        return (
            render.delete_staging_day_by_index(table, schema, partition, self.dialect),
            _copy_sql(table, schema, table.column_names),
            render.summarize_day_index(table, schema, self.dialect),
        )

    def staging_statements(self, table: Table, partition: str) -> list[sql.Composed]:
        """What one staging transaction runs after its lock: delete, COPY, then rejects, audit."""
        before, copy, after = self._staging_steps(table, partition)
        told = _days_told(table, self.schema_name, partition, PRINTED_BATCH)
        return [*before, copy, *after, *told, *self._log_statements(table.name, partition)]

    def _log_statements(self, asset: str, partition: str) -> list[sql.Composed]:
        """Replace the partition's load_rejects, load_audit and load_drift rows (COPY FROM
        STDIN), in that order."""
        return [
            render.delete_rejects(self.schema_name, asset, partition),
            _copy_sql(LOAD_REJECTS, self.schema_name, LOAD_REJECTS.column_names),
            render.delete_audit(self.schema_name, asset, partition),
            _copy_sql(LOAD_AUDIT, self.schema_name, LOAD_AUDIT.column_names),
            delete_drift(self.schema_name, asset, partition),
            _copy_sql(LOAD_DRIFT, self.schema_name, LOAD_DRIFT.column_names),
        ]

    def statistics_statements(self, table: Table) -> list[sql.Composed]:
        # Once per staging asset, not per day: ANALYZE samples the whole table, so analyzing
        # after each of 30 days costs more than loading them. Without fresh statistics the
        # planner guesses a handful of rows and picks nested loops that never finish.
        return [render.analyze(table, self.schema_name)]

    def day_statistics_statements(self, table: Table) -> list[sql.Composed]:
        return render.analyze_sampled(table, self.schema_name)

    def events_day_sql(self, data_uri: str, day: date, keys: list[str]) -> list[Transaction]:
        return self._printed(STAGING_EVENTS, day.isoformat())

    def songs_sql(self, data_uri: str) -> list[Transaction]:
        return self._printed(STAGING_SONGS, "")

    def _printed(self, table: Table, partition: str) -> list[Transaction]:
        """Both paths of a staging load: the load, and the log kept after a rolled-back one."""
        lock = lock_key(table.name, partition)
        return [
            Transaction(self.staging_statements(table, partition), lock),
            Transaction(
                self._failed_log_statements(table.name, partition),
                lock,
                when=(
                    "only when the load above rejected more than SPARKIFY_MAX_REJECT_SHARE of "
                    "its records: it is rolled back, and this keeps its rejects and audit"
                ),
            ),
        ]

    def _failed_log_statements(self, asset: str, partition: str) -> list[sql.Composed]:
        return [
            *self._log_statements(asset, partition),
            render.audit_nothing_loaded(self.schema_name, asset, partition),
        ]

    def _write_log(self, cursor, log: LoadLog, kept: bool) -> None:
        """Replace the partition's rejects and audit with this load's.

        ``kept`` is False when the load's rows were rolled back: the audit then says that
        nothing was loaded, so the reconciliation check flags the partition until it reloads.
        """
        statements = (
            self._failed_log_statements(log.asset, log.partition_key)
            if not kept
            else self._log_statements(log.asset, log.partition_key)
        )
        logs, nothing_loaded = statements[:6], statements[6:]
        spools = (log.rejects, log.audit, log.drift)
        for delete, copy, spool in zip(logs[::2], logs[1::2], spools, strict=True):
            cursor.execute(delete)
            cursor.copy_expert(copy, spool.rewind())
        for statement in nothing_loaded:
            cursor.execute(statement)

    def _stage(
        self,
        table: Table,
        rows: Iterator[bytes],
        log: LoadLog,
        result: StagingResult,
        announce: list | None = None,
    ) -> StagingResult:
        """Delete-then-COPY one partition, its rejects and its audit in one transaction.

        ``announce``: what the load tells the tables built from it (``sql.changes``).
        """
        self.ensure_tables()
        started = time.monotonic()
        lock = lock_key(table.name, log.partition_key)
        before, copy, after = self._staging_steps(table, log.partition_key)
        after = [*after, *_days_told(table, self.schema_name, log.partition_key)]
        try:
            with self.transaction(lock=lock) as cursor:
                versioned.require_current(self, cursor, table)
                for statement in before:
                    cursor.execute(statement)
                # The producer thread also writes the log's rejects and audit; leaving the block
                # joins it, so they are complete below.
                with BackgroundReader(CopyStream(rows)) as stream:
                    cursor.copy_expert(copy, stream)
                for statement in [*after, *(announce or [])]:
                    cursor.execute(statement)
                result.seconds = time.monotonic() - started
                if table is STAGING_EVENTS:  # song files note theirs as they are read
                    for tally in result.files:
                        result.note_drift(tally)
                self.check_reject_share(result)
                self._write_log(cursor, log, kept=True)
            return result
        except psycopg2.Error as err:
            raise warehouse_error(f"loading {table.name} {result.partition}", err) from None
        except RejectThresholdExceeded:
            # The partition's rows were rolled back (its previous rows stay), but operators
            # still need to see the rejects that made it fail, and the audit of what was read.
            with self.transaction(lock=lock) as cursor:
                self._write_log(cursor, log, kept=False)
            raise
        finally:
            log.close()

    @retry_transient("loading staging_events {day}")
    def stage_events_day(self, source: Source, day: date, files: list[SourceFile]) -> StagingResult:
        partition = day.isoformat()
        log = LoadLog(STAGING_EVENTS.name, partition)
        result = StagingResult(partition, [FileTally(file.key) for file in files])
        rows = chain.from_iterable(
            log.audited(parse_events(source.lines(file), file.key, day, tally, log.rejects), tally)
            for file, tally in zip(files, result.files, strict=True)
        )
        return self._stage(STAGING_EVENTS, rows, log, result)

    @retry_transient("loading staging_songs")
    def stage_songs(self, source: Source, full: bool = False) -> StagingResult:
        """The song files whose fingerprint changed, and the removed ones dropped; every file
        when ``full`` or when nothing is loaded yet."""
        self.ensure_tables()
        known = {} if full else self.song_fingerprints()
        if not known:
            return self._stage_all_songs(source)
        changed, removed = song_file_changes(source.song_files(), known)
        return self._stage_song_files(source, changed, removed)

    def _stage_all_songs(self, source: Source) -> StagingResult:
        log = LoadLog(STAGING_SONGS.name, "")
        # The result keeps one running total; each file's own tally goes to the audit spool,
        # because 385k tallies would not fit the memory budget.
        result = StagingResult("all songs", [FileTally("song_data/")])

        rows = _song_rows(source, source.song_files(), log, result)
        batch = changes.new_batch()
        everything = changes.announce_all(
            STAGING_SONGS, catalog.ALL_TABLES, self.schema_name, batch
        )
        return self._stage(STAGING_SONGS, rows, log, result, everything)

    def _stage_song_files(
        self, source: Source, changed: list[SourceFile], removed: list[str]
    ) -> StagingResult:
        """Replace the rows, rejects and audit of the changed and removed files only."""
        result = StagingResult("changed song files", [FileTally("song_data/")])
        touched = [file.key for file in changed] + removed
        if not touched:
            return result
        log = LoadLog(STAGING_SONGS.name, "")
        rows = _song_rows(source, iter(changed), log, result)
        schema, batch = self.schema_name, changes.new_batch()
        files = song_files_statements(schema)
        try:
            with self.transaction(lock=lock_key(STAGING_SONGS.name, "")) as cursor:
                versioned.require_current(self, cursor, STAGING_SONGS)
                cursor.execute(files.create)
                cursor.copy_expert(files.copy, io.BytesIO(copy_keys(touched)))
                for statement in files.replace(batch):
                    cursor.execute(statement)
                with BackgroundReader(CopyStream(rows)) as stream:
                    cursor.copy_expert(
                        _copy_sql(STAGING_SONGS, schema, STAGING_SONGS.column_names), stream
                    )
                # The share is the partition's, as a full load of the same files would count
                # it: one broken file among thousands unchanged is not a broken partition.
                cursor.execute(files.kept_totals)
                self.check_reject_share(result.with_unchanged(*cursor.fetchone()))
                cursor.copy_expert(
                    _copy_sql(LOAD_REJECTS, schema, LOAD_REJECTS.column_names), log.rejects.rewind()
                )
                cursor.copy_expert(
                    _copy_sql(LOAD_AUDIT, schema, LOAD_AUDIT.column_names), log.audit.rewind()
                )
                cursor.copy_expert(
                    _copy_sql(LOAD_DRIFT, schema, LOAD_DRIFT.column_names), log.drift.rewind()
                )
                for statement in files.announce(batch):
                    cursor.execute(statement)
            return result
        except psycopg2.Error as err:
            raise warehouse_error("loading changed song files", err) from None
        finally:
            log.close()

    def song_fingerprints(self) -> dict[str, str | None]:
        """Every song file loaded, with the fingerprint it was loaded at (its audit row)."""
        rows = self.query(song_files_known(self.schema_name))
        return dict(rows)
