"""Incremental song loads: which song files changed, and the statements that replace only them.

A song file's state is its ``load_audit`` row (one per file, written in the load's transaction)
with the fingerprint it was loaded at: the ETag in S3, mtime and size in a folder. A refresh lists
the files, loads those whose fingerprint differs or that are new, and drops the removed ones, in
one transaction that also tells the tables built from staging_songs the keys of the old and new
records (``sql.changes``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from psycopg2 import sql

from sparkify_assets.ingest.base import SourceFile
from sparkify_assets.sql import catalog, changes, render
from sparkify_assets.sql.load_log import LOAD_DRIFT
from sparkify_assets.sql.tables import LOAD_AUDIT, LOAD_REJECTS, STAGING_SONGS

TOUCHED = "sparkify_song_files"  # temp table: the keys of the files this load replaces


def song_file_changes(
    listing: Iterable[SourceFile], known: dict[str, str | None]
) -> tuple[list[SourceFile], list[str]]:
    """(files to load: new or with another fingerprint, keys of loaded files now gone)."""
    gone = dict(known)
    changed = []
    for file in listing:
        if gone.pop(file.key, None) != file.fingerprint or file.key not in known:
            changed.append(file)
    return changed, sorted(gone)


def song_files_known(schema: str) -> sql.Composed:
    return sql.SQL(
        "SELECT source, fingerprint FROM {} WHERE asset = {} AND partition_key = ''"
    ).format(render.table_ref(schema, LOAD_AUDIT.name), sql.Literal(STAGING_SONGS.name))


def copy_keys(keys: list[str]) -> bytes:
    """COPY text of one key per line."""
    escaped = (
        key.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
        for key in keys
    )
    return "".join(f"{key}\n" for key in escaped).encode()


@dataclass(frozen=True)
class SongFileStatements:
    schema: str

    @property
    def create(self) -> sql.Composed:
        return sql.SQL("CREATE TEMP TABLE {} (source VARCHAR(1024) NOT NULL)").format(
            sql.Identifier(TOUCHED)
        )

    @property
    def copy(self) -> sql.Composed:
        return sql.SQL("COPY {} (source) FROM STDIN").format(sql.Identifier(TOUCHED))

    def _touched(self) -> sql.Composed:
        return sql.SQL("source IN (SELECT source FROM {})").format(sql.Identifier(TOUCHED))

    @property
    def kept_totals(self) -> sql.Composed:
        """Records and rejects of the song files this load keeps (run after ``replace``)."""
        return sql.SQL(
            "SELECT COALESCE(SUM(records), 0), COALESCE(SUM(rejected), 0) FROM {} "
            "WHERE asset = {} AND partition_key = ''"
        ).format(render.table_ref(self.schema, LOAD_AUDIT.name), sql.Literal(STAGING_SONGS.name))

    def announce(self, batch: str) -> list[sql.Composed]:
        """The keys of the touched files' rows, to the tables built from staging_songs."""
        where = sql.SQL(" WHERE ") + self._touched()
        return changes.announce(STAGING_SONGS, catalog.ALL_TABLES, self.schema, batch, where)

    def replace(self, batch: str) -> list[sql.Composed]:
        """Before the COPY: announce the old rows, then drop the files' rows, rejects, audit and
        drift."""
        logs = [
            sql.SQL("DELETE FROM {} WHERE asset = {} AND partition_key = '' AND {}").format(
                render.table_ref(self.schema, table.name),
                sql.Literal(STAGING_SONGS.name),
                self._touched(),
            )
            for table in (LOAD_REJECTS, LOAD_AUDIT, LOAD_DRIFT)
        ]
        rows = sql.SQL("DELETE FROM {} WHERE {}").format(
            render.table_ref(self.schema, STAGING_SONGS.name), self._touched()
        )
        return [*self.announce(batch), rows, *logs]


def song_files_statements(schema: str) -> SongFileStatements:
    return SongFileStatements(schema)
