"""What differs between the two targets' SQL, as one object per target instead of string ifs.

The star-schema SQL, the checks and the staging statements are shared. A dialect carries only
what the engines do differently with the same table definition:

* **Redshift** places rows: ``DISTSTYLE``/``DISTKEY``/``SORTKEY`` after the column list (from the
  ``Table``'s diststyle, distkey and sortkey), and has no secondary indexes.
* **PostgreSQL** has no sort keys. staging_events is appended day by day, so its pages are in
  event_date order, and a BRIN index on it (a few kB, next to free to maintain during COPY) lets
  the per-day DELETE read that day's pages only, not the whole table.

``name`` is also the name sqlglot gives the dialect, so tests parse each target's statements
with its own grammar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sparkify_assets.sql.state import USER_LATEST_BY_DAY
from sparkify_assets.sql.summaries import USER_PLAYS_BY_HOUR
from sparkify_assets.sql.tables import SONGPLAYS, STAGING_EVENTS, TIME, Table


@dataclass(frozen=True)
class DayIndex:
    """A BRIN index on the column that holds a staging row's day."""

    name: str
    column: str


class Dialect:
    """A target's DDL differences; the base is what both engines accept."""

    name: ClassVar[str]
    # A full rebuild drops the table's indexes, inserts, then builds them in one pass each,
    # instead of updating them row by row (where the engine has indexes: PostgreSQL).
    indexes_after_full_rebuild: ClassVar[bool] = False
    # A primary key the engine enforces needs no scan to check (Redshift only plans with it).
    enforces_primary_keys: ClassVar[bool] = False
    # What a read-only transaction runs first so that all its statements read one snapshot
    # (the checks, see docs/concurrency.md). Redshift's transactions always do.
    consistent_reads: ClassVar[tuple[str, ...]] = ()

    def layout(self, table: Table) -> str:
        """Text after a CREATE TABLE's column list ("" when the engine takes none)."""
        return ""

    def day_index(self, table: Table) -> DayIndex | None:
        """The index the per-day staging DELETE reads through, where the engine has one."""
        return None


class Postgres(Dialect):
    name = "postgres"
    indexes_after_full_rebuild = True
    enforces_primary_keys = True
    consistent_reads = ("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",)

    _DAY_INDEXES: ClassVar[dict[str, DayIndex]] = {
        STAGING_EVENTS.name: DayIndex("staging_events_event_date_brin", "event_date"),
        # The daily built tables: a day's run replaces (and announces) one day of them.
        SONGPLAYS.name: DayIndex("songplays_start_time_brin", "start_time"),
        TIME.name: DayIndex("time_start_time_brin", "start_time"),
        USER_LATEST_BY_DAY.name: DayIndex("user_latest_by_day_day_brin", "day"),
        USER_PLAYS_BY_HOUR.name: DayIndex("user_plays_by_hour_hour_start_brin", "hour_start"),
    }

    def day_index(self, table: Table) -> DayIndex | None:
        return self._DAY_INDEXES.get(table.name)


class Redshift(Dialect):
    name = "redshift"

    def layout(self, table: Table) -> str:
        parts = [f"DISTSTYLE {table.diststyle}"]
        if table.distkey:
            parts.append(f"DISTKEY({table.distkey})")
        if table.sortkey:
            parts.append(f"SORTKEY({', '.join(table.sortkey)})")
        return "\n" + "\n".join(parts)


POSTGRES = Postgres()
REDSHIFT = Redshift()
DIALECTS = {dialect.name: dialect for dialect in (POSTGRES, REDSHIFT)}
