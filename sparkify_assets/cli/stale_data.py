"""Rows in the warehouse that the current source does not have: days, and song files.

Loading another source (or a source whose files were removed) into the same warehouse replaces
only the days that source has; the others stay, with their songplays, and take part in the
dimensions and checks. ``sparkify load`` says so, in one line, before it loads, and names the
way out (``sparkify warehouse reset``). Both come from ``load_audit``, which has one row per
file of the latest load of every partition: a small table, read in one query.

Song files are compared only for a folder source: a load drops the song files its source lost
anyway, and listing 385k S3 keys once more would cost more than the information is worth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from psycopg2 import sql

from sparkify_assets.ingest.base import Source
from sparkify_assets.sql.tables import LOAD_AUDIT, STAGING_EVENTS, STAGING_SONGS
from sparkify_assets.warehouse.base import Warehouse


@dataclass(frozen=True)
class StaleData:
    days: list[date]
    song_files: int

    def message(self, uri: str) -> str:
        held = []
        if self.days:
            span = f"{self.days[0]} .. {self.days[-1]}"
            held.append(f"{len(self.days)} day{'s' if len(self.days) != 1 else ''} ({span})")
        if self.song_files:
            held.append(f"{self.song_files} song file{'s' if self.song_files != 1 else ''}")
        # Days stay until something replaces them; song files the source lost are dropped.
        fate = (
            "this load keeps the days and drops the song files"
            if self.days and self.song_files
            else "this load keeps them"
            if self.days
            else "this load drops them"
        )
        return (
            f"sparkify: the warehouse holds {' and '.join(held)} that {uri} does not have; "
            f"{fate}. To load this source alone instead, run `sparkify warehouse reset`, "
            "then load again."
        )


def _audited(warehouse: Warehouse, asset: str, column: str) -> list:
    statement = sql.SQL("SELECT DISTINCT {} FROM {} WHERE asset = %s").format(
        sql.Identifier(column), warehouse.table(LOAD_AUDIT.name)
    )
    return [value for (value,) in warehouse.query(statement, (asset,))]


def stale_data(warehouse: Warehouse, source: Source, source_days: set[date]) -> StaleData | None:
    """What the warehouse holds beyond ``source``, or None when it holds nothing else."""
    warehouse.ensure_tables()
    days = sorted(
        day
        for day in map(
            date.fromisoformat, _audited(warehouse, STAGING_EVENTS.name, "partition_key")
        )
        if day not in source_days
    )
    song_files = 0
    if not source.uri.startswith("s3://"):
        loaded = set(_audited(warehouse, STAGING_SONGS.name, "source"))
        if loaded:
            song_files = len(loaded - {file.key for file in source.song_files()})
    if not days and not song_files:
        return None
    return StaleData(days, song_files)
