"""The table model every warehouse table is declared with (``tables``, ``state``, ``analytics``).

A ``Table`` carries everything the platform derives from it: DDL, the build statement, key
checks, the Dagster column schema, column lineage and its asset's dependencies. It says what
kind of table it is (``TableKind``), which tables its SQL reads (``depends_on``), which changes
it announces (``emits``) and how the changes it consumes become the rows it replaces
(``scope``). ``check_model`` proves at import that these agree with each other.

Column lineage is declared on the column itself (``lineage=derived_from("songplays",
"start_time")``) so it sits next to the SQL that implements it.

Everything here is a frozen dataclass, an enum or a tuple, so a table's definition has one
canonical form (compared, printed or fingerprinted as it is).
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import NamedTuple

# (table, column) pairs: the upstream columns a column's values are copied or computed from
# (for a matched key such as songplays.song_id, also the columns that decide the match).
Lineage = tuple[tuple[str, str], ...]


class TableKind(StrEnum):
    """How a table is filled, which decides how a run replaces its rows."""

    STAGING = "staging"  # loaded from the source files (COPY), a day or the song files at a time
    DAILY = "daily"  # built per window of UTC days; may also consume changes (``scope``)
    SCOPED = "scoped"  # built per scope, the keys its producers' changes name
    WHOLE = "whole"  # built whole every run
    LOG = "log"  # written by the loads themselves: rejects, audit, pending changes
    TEMPORARY = "temporary"  # a session's working table (a COPY landing table, a scope)


BUILT_KINDS = (TableKind.DAILY, TableKind.SCOPED, TableKind.WHOLE)


class ChangeKind(StrEnum):
    """What a row of ``pending_changes`` names (see ``sql.changes``)."""

    DAY = "day"
    USER = "user"
    SONG = "song"
    ARTIST = "artist"
    PAIR = "pair"  # a title and artist name: the plays to match again
    ALL = "all"  # every row changed: the consumer rebuilds whole
    # A day of a daily table whose input day was rewritten and which is not rebuilt yet: what
    # a check must not judge while another run is half-way (sql.changes.window_consumers).
    WINDOW = "window"

    @property
    def columns(self) -> tuple[str, ...]:
        """The ``pending_changes`` columns that hold a change of this kind."""
        return _CHANGE_COLUMNS[self]


_CHANGE_COLUMNS = {
    ChangeKind.DAY: ("day",),
    ChangeKind.USER: ("user_id",),
    ChangeKind.SONG: ("song_id",),
    ChangeKind.ARTIST: ("artist_id",),
    ChangeKind.PAIR: ("title", "artist_name"),
    ChangeKind.ALL: (),
    ChangeKind.WINDOW: ("day",),
}


class Window(NamedTuple):
    """UTC days [start, end): what a daily table's run replaces."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days


# A window that holds every day: a full rebuild of a daily table.
EVERY_DAY = Window(date(1, 1, 1), date(9999, 12, 31))


def derived_from(table: str, *columns: str) -> Lineage:
    return tuple((table, column) for column in columns)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str = ""
    nullable: bool = True
    lineage: Lineage = ()

    @property
    def documentation(self) -> str:
        """What the UI and the warehouse's own comments say: the description, else the lineage."""
        if self.description:
            return self.description
        sources = ", ".join(f"{table}.{column}" for table, column in self.lineage)
        return f"From {sources}" if sources else ""


@dataclass(frozen=True)
class Emit:
    """A change a table announces: ``keys`` are SQL over its columns, one per ``kind.columns``."""

    kind: ChangeKind
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Consumes:
    """A change of ``producer``'s rows that a table is told about in ``pending_changes``."""

    producer: str
    kind: ChangeKind


@dataclass(frozen=True)
class Hook:
    """A ``{name}`` of a build that limits its input to the scope (``TRUE`` when built whole)."""

    name: str
    predicate: str


@dataclass(frozen=True)
class Scope:
    """How a table learns what changed upstream and rebuilds only that (see ``sql.changes``).

    ``consumes``: the changes it is told about. ``columns`` / ``select``: the scope, a temp
    table ``{scope}`` filled by ``select`` from the snapshot ``{changes}`` of the table's
    pending rows (and any table it reads). ``rows``: the predicate (on the table's unqualified
    columns) selecting the rows the scope replaces. ``hooks``: the build's placeholders that
    limit its input to the scope; a full rebuild renders every hook as ``TRUE``, so both run
    the same SQL.
    """

    consumes: tuple[Consumes, ...]
    columns: tuple[Column, ...]
    select: str
    rows: str
    hooks: tuple[Hook, ...] = ()


class IndexKind(StrEnum):
    """Secondary indexes a table may ask for; a dialect builds those its engine has."""

    DAY_RANGE = "day_range"  # a block-range index on a column rows arrive in order of


@dataclass(frozen=True)
class Index:
    kind: IndexKind
    column: str


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    kind: TableKind
    primary_key: tuple[str, ...] = ()
    # The tables its SQL reads: the asset's dependencies.
    depends_on: tuple[str, ...] = ()
    # Redshift physical layout. ALL copies small dimensions to every node; KEY co-locates rows.
    diststyle: str = "EVEN"
    distkey: str | None = None
    sortkey: tuple[str, ...] = ()
    # Secondary indexes, where the target has them (see ``sql.dialect``).
    indexes: tuple[Index, ...] = ()
    # SELECT (optionally WITH ...) producing the rows; None for tables filled by COPY.
    build: str | None = None
    # Daily tables replace only the rows whose time column lies in the window.
    window_column: str | None = None
    # A SELECT over the built table whose answer each materialization shows as markdown.
    highlights: str | None = None
    # (name, SQL aggregate over the table) pairs each materialization records as numbers, so
    # the UI plots them across runs; a daily table's are over the days of the run.
    figures: tuple[tuple[str, str], ...] = ()
    # Incremental builds (sql.changes): the keys its changed rows announce to the tables built
    # from it, and how it learns its own scope.
    emits: tuple[Emit, ...] = ()
    scope: Scope | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def column_lineage(self) -> dict[str, Lineage]:
        return {column.name: column.lineage for column in self.columns if column.lineage}

    @property
    def built(self) -> bool:
        return self.kind in BUILT_KINDS

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")

    def emit(self, kind: ChangeKind) -> Emit | None:
        return next((emit for emit in self.emits if emit.kind == kind), None)


def copy_of(
    table: Table, column: str, name: str | None = None, description: str = "", nullable=True
) -> Column:
    """A column that holds another table's column as it is: same type, so the same byte size.

    Sizes then live in one place (the record contract, through staging and the star schema), and
    an INSERT ... SELECT copying the value can never overflow it on either target.
    """
    source = table.column(column)
    return Column(
        name or column,
        source.type,
        description or source.description,
        nullable,
        lineage=derived_from(table.name, column),
    )


def check_lineage(tables: Iterable[Table]) -> None:
    """Refuse lineage that names a table or column that does not exist (caught at import)."""
    tables = list(tables)
    columns = {table.name: set(table.column_names) for table in tables}
    for table in tables:
        for column, sources in table.column_lineage.items():
            for source_table, source_column in sources:
                if source_column not in columns.get(source_table, ()):
                    raise ValueError(
                        f"{table.name}.{column}: lineage names unknown column "
                        f"{source_table}.{source_column}"
                    )


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a SQL template fills in."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def templates(table: Table) -> tuple[str, ...]:
    """Every SQL template of a table: its build and its scope's."""
    texts = (table.build,) if table.build else ()
    if table.scope:
        scope = table.scope
        texts += (scope.select, scope.rows, *(hook.predicate for hook in scope.hooks))
    return texts


_NEEDS = {
    TableKind.STAGING: ("no build", lambda t: t.build is None and t.scope is None),
    TableKind.LOG: ("no build", lambda t: t.build is None and t.scope is None),
    TableKind.DAILY: ("a build and a window_column", lambda t: t.build and t.window_column),
    TableKind.SCOPED: (
        "a build and a scope, no window_column",
        lambda t: t.build and t.scope and not t.window_column,
    ),
    TableKind.WHOLE: ("a build only", lambda t: t.build and not (t.scope or t.window_column)),
    TableKind.TEMPORARY: ("no build", lambda t: t.build is None),
}


def check_model(tables: Iterable[Table]) -> None:
    """Refuse a model whose parts disagree (run at import, like ``check_lineage``).

    A table's kind has what it needs; its dependencies are exactly the tables its SQL reads;
    every change it consumes comes from a table it reads that emits that kind; every change a
    table emits names a key for each column of its kind.
    """
    tables = list(tables)
    check_lineage(tables)
    by_name = {table.name: table for table in tables}
    for table in tables:
        what, holds = _NEEDS[table.kind]
        if not holds(table):
            raise ValueError(f"{table.name}: a {table.kind.value} table needs {what}")
        read = {
            name
            for text in templates(table)
            for name in placeholders(text)
            if name in by_name and name != table.name
        }
        if read != set(table.depends_on):
            raise ValueError(
                f"{table.name}: depends_on {sorted(table.depends_on)} but its SQL reads "
                f"{sorted(read)}"
            )
        for emit in table.emits:
            if len(emit.keys) != len(emit.kind.columns):
                raise ValueError(
                    f"{table.name} emits {emit.kind.value} with {len(emit.keys)} keys, "
                    f"for the columns {emit.kind.columns}"
                )
        for consumed in table.scope.consumes if table.scope else ():
            producer = by_name.get(consumed.producer)
            if producer is None or producer.emit(consumed.kind) is None:
                raise ValueError(
                    f"{table.name} consumes {consumed.kind.value} changes of "
                    f"{consumed.producer}, which does not emit them"
                )
            if consumed.producer not in table.depends_on:
                raise ValueError(
                    f"{table.name} consumes changes of {consumed.producer} but does not read it"
                )


def check_told(tables: Iterable[Table]) -> None:
    """Refuse an incremental table that reads a table which does not tell it when it changes.

    A daily or scoped table must consume changes of every table its SQL reads (a daily table
    may read another daily table instead, whose days it follows). Otherwise another run can use up
    its pending rows while an input is not caught up yet, and nothing tells the table again
    (issue 23: recent_plays read user_plays_by_hour without being told of it).
    """
    by_name = {table.name: table for table in tables}
    for table in by_name.values():
        if table.kind not in (TableKind.DAILY, TableKind.SCOPED):
            continue  # built whole every run, or not built
        told = {consumed.producer for consumed in table.scope.consumes} if table.scope else set()
        for name in sorted(set(table.depends_on) - told):
            if not (table.window_column and by_name[name].window_column):
                raise ValueError(f"{table.name} reads {name} but is not told when it changes")
