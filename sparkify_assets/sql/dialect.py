"""What differs between the two targets' SQL, as one object per target instead of string ifs.

The star-schema SQL, the checks and the staging statements are shared. A dialect carries only
what the engines do differently with the same table definition; the rest of the code asks it
(never a table's name):

* **Redshift** places rows: ``DISTSTYLE``/``DISTKEY``/``SORTKEY`` after the column list (from the
  ``Table``'s diststyle, distkey and sortkey), and has no secondary indexes.
* **PostgreSQL** has no sort keys. It builds the indexes a table declares: a ``DAY_RANGE``
  index is BRIN (a few kB, next to free to maintain during COPY), which lets a day's DELETE of a
  table appended in day order read that day's pages only.

``name`` is also the name sqlglot gives the dialect, so tests parse each target's statements
with its own grammar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sparkify_assets.sql.model import Index, IndexKind, Table


@dataclass(frozen=True)
class BuiltIndex:
    """An index as a target builds it: its name and access method."""

    name: str
    method: str
    column: str


class Dialect:
    """A target's DDL differences; the base is what both engines accept."""

    name: ClassVar[str]
    # Index kinds the engine has, and the access method and name suffix each is built with.
    index_methods: ClassVar[dict[IndexKind, str]] = {}
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

    def indexes(self, table: Table) -> tuple[BuiltIndex, ...]:
        """The table's declared indexes that this engine builds."""
        return tuple(
            self._built(table, index) for index in table.indexes if index.kind in self.index_methods
        )

    def _built(self, table: Table, index: Index) -> BuiltIndex:
        method = self.index_methods[index.kind]
        return BuiltIndex(f"{table.name}_{index.column}_{method}", method, index.column)

    def day_index(self, table: Table) -> BuiltIndex | None:
        """The index a day's DELETE reads through, where the engine built one."""
        return next(
            (
                self._built(table, index)
                for index in table.indexes
                if index.kind == IndexKind.DAY_RANGE and index.kind in self.index_methods
            ),
            None,
        )


class Postgres(Dialect):
    name = "postgres"
    index_methods = {IndexKind.DAY_RANGE: "brin"}
    indexes_after_full_rebuild = True
    enforces_primary_keys = True
    consistent_reads = ("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",)


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
