"""Any PostgreSQL (by default the embedded one): staging by streamed ``COPY ... FROM STDIN``.

A day's log file flows line by line through ``records.parse_events`` into COPY text, which
``CopyStream`` hands to psycopg2's ``copy_expert`` in chunks: the file is never held in memory, and
PostgreSQL ingests one chunk while Python parses the next. Rejected records are spooled to a
temporary file and copied into ``load_rejects`` in the same transaction.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from datetime import date
from itertools import chain

import psycopg2
from psycopg2 import sql
from pydantic import PrivateAttr

from ..records import FileTally, Reject, parse_events, parse_song
from ..source import Source, SourceFile
from ..sql import render
from ..sql.tables import LOAD_REJECTS, STAGING_EVENTS, STAGING_SONGS, Table
from . import embedded
from .base import (
    StagingResult,
    Warehouse,
    WarehouseError,
    describe_error,
    lock_key,
    resolved,
    utc_now,
)

CHUNK_CHARS = 1 << 18
SPOOL_IN_MEMORY_BYTES = 4 << 20


class CopyStream:
    """A read-only file over an iterator of COPY text lines, for ``copy_expert``."""

    def __init__(self, lines: Iterator[str], chunk_chars: int = CHUNK_CHARS):
        self._lines = lines
        self._chunk_chars = chunk_chars

    def read(self, size: int = -1) -> bytes:
        parts: list[str] = []
        filled = 0
        for line in self._lines:
            parts.append(line)
            filled += len(line)
            if filled >= self._chunk_chars:
                break
        return "".join(parts).encode()

    readline = read


class RejectSpool:
    """Collects rejects as COPY text in a temp file, so a very bad file cannot exhaust memory."""

    def __init__(self, asset: str, partition_key: str):
        self._prefix = f"{asset}\t{partition_key}\t"
        self._loaded_at = f"\t{utc_now()}\n"
        self._file = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY_BYTES, mode="w+b")
        self.count = 0

    def append(self, reject: Reject) -> None:
        line = self._prefix + reject.copy_line()[:-1] + self._loaded_at
        self._file.write(line.encode())
        self.count += 1

    def rewind(self):
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._file.close()


def _copy_sql(table: Table, schema_name: str, columns: tuple[str, ...]) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(schema_name, table.name),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
    )


class PostgresWarehouse(Warehouse):
    """PostgreSQL target. An empty ``url`` means the embedded server kept in ``home``."""

    url: str = ""
    home: str = ".sparkify"

    _dsn: str | None = PrivateAttr(default=None)

    def dsn(self) -> str:
        if self._dsn is None:
            self._dsn = resolved(self.url) or embedded.ensure_running(self.home)
        return self._dsn

    def connect(self):
        try:
            return psycopg2.connect(self.dsn())
        except psycopg2.OperationalError as err:
            target = "the embedded warehouse" if not self.url else "SPARKIFY_WAREHOUSE_URL"
            raise WarehouseError(f"cannot connect to {target}: {describe_error(err)}") from None

    def lock_statement(self, key: str) -> sql.Composed:
        # Transaction-scoped advisory lock: a second writer of the same partition waits, then
        # replaces the same rows again, so concurrent runs of one day never duplicate.
        return sql.SQL("SELECT pg_advisory_xact_lock(hashtext({}))").format(sql.Literal(key))

    # --- staging ----------------------------------------------------------------------------
    def staging_statements(self, table: Table, partition: str) -> list[sql.Composed]:
        """What one staging transaction runs after its lock: delete, COPY, then the rejects."""
        return [
            render.delete_staging(table, self.schema_name, partition),
            _copy_sql(table, self.schema_name, table.column_names),
            # Fresh statistics before anything joins on the new rows: without them the
            # planner guesses a handful of rows and picks nested loops that never finish.
            render.analyze(table, self.schema_name),
            render.delete_rejects(self.schema_name, table.name, partition),
            _copy_sql(LOAD_REJECTS, self.schema_name, LOAD_REJECTS.column_names),
        ]

    def events_day_sql(self, data_uri: str, day: date, keys: list[str]) -> list[sql.Composed]:
        return self.staging_statements(STAGING_EVENTS, day.isoformat())

    def songs_sql(self, data_uri: str) -> list[sql.Composed]:
        return self.staging_statements(STAGING_SONGS, "")

    def _replace_rejects(self, cursor, spool: RejectSpool, asset: str, partition: str) -> None:
        cursor.execute(render.delete_rejects(self.schema_name, asset, partition))
        cursor.copy_expert(
            _copy_sql(LOAD_REJECTS, self.schema_name, LOAD_REJECTS.column_names), spool.rewind()
        )

    def _stage(
        self, table: Table, partition: str, rows: Iterator[str], spool: RejectSpool,
        result: StagingResult,
    ) -> StagingResult:
        """Delete-then-COPY one partition and its rejects in one transaction."""
        self.ensure_tables()
        started = time.monotonic()
        delete, copy, analyze, *_ = self.staging_statements(table, partition)
        try:
            with self.transaction(lock=lock_key(table.name, partition)) as cursor:
                cursor.execute(delete)
                cursor.copy_expert(copy, CopyStream(rows))
                cursor.execute(analyze)
                result.seconds = time.monotonic() - started
                self.check_reject_share(result)
                self._replace_rejects(cursor, spool, table.name, partition)
            return result
        except psycopg2.Error as err:
            message = f"loading {table.name} {partition}: {describe_error(err)}"
            raise WarehouseError(message) from None
        except Exception:
            # The staging rows were rolled back, but operators still need to see the rejects
            # that made the partition fail.
            if spool.count:
                with self.transaction(lock=lock_key(table.name, partition)) as cursor:
                    self._replace_rejects(cursor, spool, table.name, partition)
            raise
        finally:
            spool.close()

    def stage_events_day(self, source: Source, day: date, files: list[SourceFile]) -> StagingResult:
        partition = day.isoformat()
        spool = RejectSpool(STAGING_EVENTS.name, partition)
        result = StagingResult(partition, [FileTally(file.key) for file in files])
        rows = chain.from_iterable(
            parse_events(source.lines(file), file.key, day, tally, spool)
            for file, tally in zip(files, result.files, strict=True)
        )
        return self._stage(STAGING_EVENTS, partition, rows, spool, result)

    def stage_songs(self, source: Source) -> StagingResult:
        spool = RejectSpool(STAGING_SONGS.name, "")
        # One tally for all song files: each file is one record, and 385k tallies would not
        # fit the memory budget.
        tally = FileTally("song_data/")
        result = StagingResult("all songs", [tally])

        def rows() -> Iterator[str]:
            for file, content in source.read_all(source.song_files()):
                line = parse_song(content, file.key, tally, spool)
                if line is not None:
                    yield line

        return self._stage(STAGING_SONGS, "", rows(), spool, result)
