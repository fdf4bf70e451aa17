"""The table model every warehouse table is declared with (``tables`` and ``analytics``).

A ``Table`` carries everything the platform derives from it: DDL, the rebuild statement, key
checks, and the Dagster column schema and column lineage. Column lineage is declared on the
column itself (``lineage=derived_from("songplays", "start_time")``) so it sits next to the SQL
that implements it and a new table needs nothing but its definition.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass

# (table, column) pairs: the upstream columns a column's values are copied or computed from
# (for a matched key such as songplays.song_id, also the columns that decide the match).
Lineage = tuple[tuple[str, str], ...]


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
class Scope:
    """How a table learns what changed upstream and rebuilds only that (see ``sql.changes``).

    ``consumes``: (producer table, kind) pairs the table is told about in ``pending_changes``.
    ``columns`` / ``select``: the scope, a temp table ``{scope}`` filled by ``select`` from the
    snapshot ``{changes}`` of the table's pending rows (and any table it reads).
    ``rows``: the predicate (on the table's unqualified columns) selecting the rows the scope
    replaces. ``hooks``: placeholders of ``build`` -> predicates that limit the build's input to
    the scope; a full rebuild renders every hook as ``TRUE``, so both run the same SQL.
    """

    consumes: tuple[tuple[str, str], ...]
    columns: tuple[Column, ...]
    select: str
    rows: str
    hooks: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    # Redshift physical layout. ALL copies small dimensions to every node; KEY co-locates rows.
    diststyle: str = "EVEN"
    distkey: str | None = None
    sortkey: tuple[str, ...] = ()
    # SELECT (optionally WITH ...) producing the rows; None for tables filled by COPY.
    build: str | None = None
    # Partitioned tables replace only the rows whose time column lies in the window.
    window_column: str | None = None
    # A SELECT over the built table whose answer each materialization shows as markdown.
    summary: str | None = None
    # (name, SQL aggregate over the table) pairs each materialization records as numbers, so
    # the UI plots them across runs; a partitioned table's are over the days of the run.
    figures: tuple[tuple[str, str], ...] = ()
    # Incremental builds (sql.changes): the keys (kind -> SQL over the table's columns) its
    # changed rows announce to the tables built from it, and how it learns its own scope.
    emits: tuple[tuple[str, tuple[str, ...]], ...] = ()
    scope: Scope | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def column_lineage(self) -> dict[str, Lineage]:
        return {column.name: column.lineage for column in self.columns if column.lineage}

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}")


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


def check_told(tables: Iterable[Table]) -> None:
    """Refuse a built table that reads a table which does not tell it when its rows change.

    An incremental build is right only if every input it reads tells it what changed: a table
    with a scope must consume each table its build reads (a daily table may read another daily
    table instead, whose days it follows). Otherwise another run can use up the pending rows
    while an input not yet caught up, and nothing would ever tell the table again (issue 23:
    recent_plays read user_plays_by_hour without being told of it). Caught at import.
    """
    tables = list(tables)
    by_name = {table.name: table for table in tables}
    for table in tables:
        fields = {field for _, field, _, _ in string.Formatter().parse(table.build or "")}
        told = {producer for producer, _ in table.scope.consumes} if table.scope else set()
        for name in sorted(fields & set(by_name) - {table.name, *told}):
            if not (table.window_column and by_name[name].window_column):
                raise ValueError(f"{table.name} reads {name} but is not told when it changes")
