"""DDL that turns a table as it is in the warehouse into the table as it is defined.

``diff`` compares the live columns (from ``information_schema.columns``) with the definition;
``statements`` says how, on one target, inside one transaction:

* **PostgreSQL** alters every column in place: ADD, DROP, ALTER TYPE ... USING CAST, SET/DROP
  NOT NULL (its indexes are created IF NOT EXISTS by the migration step).
* **Redshift** allows ADD COLUMN (one per statement) and DROP COLUMN inside a transaction block,
  but not ALTER COLUMN TYPE (even widening a VARCHAR), nor a change of NOT NULL, DISTKEY,
  DISTSTYLE or SORTKEY (r_ALTER_TABLE.html). Those changes *swap*: a new table is created with
  the definition, filled from the old one (each kept column CAST to its new type), the old one
  dropped and the new one renamed, all in the caller's transaction, so a reader sees either
  table and a crash leaves the old one.

A column added to a table that holds rows is nullable whatever the definition says: its old rows
have no value for it (a staging table's are filled by re-reading its days).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from psycopg2 import sql

from sparkify_assets.sql import render
from sparkify_assets.sql.dialect import Dialect
from sparkify_assets.sql.model import Table

# information_schema.columns.data_type -> the type names the model writes.
_TYPE_NAMES = {
    "character varying": "VARCHAR",
    "character": "CHAR",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "double precision": "DOUBLE PRECISION",
    "real": "REAL",
    "timestamp without time zone": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMPTZ",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "numeric": "NUMERIC",
    "text": "TEXT",
}
SWAP_SUFFIX = "__migrating"

LIVE_COLUMNS = (
    "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable "
    "FROM information_schema.columns WHERE table_schema = %s "
    "ORDER BY table_name, ordinal_position"
)


@dataclass(frozen=True)
class LiveColumn:
    name: str
    type: str
    nullable: bool


def live_columns(rows) -> dict[str, list[LiveColumn]]:
    """Rows of ``LIVE_COLUMNS`` -> table -> its columns in order, types as the model writes them."""
    tables: dict[str, list[LiveColumn]] = {}
    for table, column, data_type, length, nullable in rows:
        name = _TYPE_NAMES.get(data_type, data_type.upper())
        if length is not None and name in ("VARCHAR", "CHAR"):
            name = f"{name}({length})"
        tables.setdefault(table, []).append(LiveColumn(column, name, nullable == "YES"))
    return tables


def _varchar_width(type_name: str) -> int | None:
    if type_name.startswith("VARCHAR(") and type_name.endswith(")"):
        return int(type_name[len("VARCHAR(") : -1])
    return None


@dataclass(frozen=True)
class Alteration:
    """What differs between a live table and its definition, column by column."""

    table: Table
    added: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    widened: tuple[str, ...] = ()
    retyped: tuple[str, ...] = ()
    nullability: tuple[str, ...] = ()
    layout: bool = False  # the target's layout options changed (Redshift: swap)

    @property
    def empty(self) -> bool:
        return not (
            self.added
            or self.dropped
            or self.widened
            or self.retyped
            or self.nullability
            or self.layout
        )

    def describe(self) -> str:
        parts = [
            f"{verb} {', '.join(names)}"
            for verb, names in (
                ("add", self.added),
                ("drop", self.dropped),
                ("widen", self.widened),
                ("retype", self.retyped),
                ("NOT NULL of", self.nullability),
            )
            if names
        ]
        return "; ".join(parts + (["layout"] if self.layout else [])) or "nothing"

    def swaps(self, dialect: Dialect) -> bool:
        """Whether the target must build a new table instead of altering this one in place."""
        if dialect.name != "redshift":
            return False
        return bool(self.widened or self.retyped or self.nullability or self.layout)


def diff(table: Table, live: list[LiveColumn], layout_changed: bool = False) -> Alteration:
    columns = {column.name: column for column in live}
    defined = {column.name for column in table.columns}
    widened, retyped, nullability = [], [], []
    for column in table.columns:
        old = columns.get(column.name)
        if old is None:
            continue
        new_type = " ".join(column.type.upper().split())
        if old.type != new_type:
            old_width, new_width = _varchar_width(old.type), _varchar_width(new_type)
            wider = old_width is not None and new_width is not None and new_width > old_width
            (widened if wider else retyped).append(column.name)
        elif old.nullable != column.nullable:
            nullability.append(column.name)
    return Alteration(
        table,
        added=tuple(c.name for c in table.columns if c.name not in columns),
        dropped=tuple(c.name for c in live if c.name not in defined),
        widened=tuple(widened),
        retyped=tuple(retyped),
        nullability=tuple(nullability),
        layout=layout_changed,
    )


def statements(change: Alteration, schema: str, dialect: Dialect) -> list[sql.Composed]:
    """The DDL of ``change`` on ``dialect``, to run inside one transaction."""
    if change.empty:
        return []
    if change.swaps(dialect):
        return swap(change, schema, dialect)
    table = change.table
    ref = render.table_ref(schema, table.name)
    out = []
    for name in change.added:
        column = table.column(name)
        out.append(
            sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                ref, sql.Identifier(name), sql.SQL(column.type)
            )
        )
    for name in change.dropped:
        out.append(sql.SQL("ALTER TABLE {} DROP COLUMN {}").format(ref, sql.Identifier(name)))
    for name in (*change.widened, *change.retyped):
        column = table.column(name)
        out.append(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING CAST({} AS {})").format(
                ref,
                sql.Identifier(name),
                sql.SQL(column.type),
                sql.Identifier(name),
                sql.SQL(column.type),
            )
        )
    for name in change.nullability:
        verb = "DROP NOT NULL" if table.column(name).nullable else "SET NOT NULL"
        out.append(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} {}").format(
                ref, sql.Identifier(name), sql.SQL(verb)
            )
        )
    return out


def swap(change: Alteration, schema: str, dialect: Dialect) -> list[sql.Composed]:
    """Create the table anew, fill it from the old one, drop that and take its name."""
    table = change.table
    temporary = table.name[: 63 - len(SWAP_SUFFIX)] + SWAP_SUFFIX
    added = set(change.added)
    shape = dataclasses.replace(
        table,
        name=temporary,
        primary_key=(),
        columns=tuple(
            dataclasses.replace(c, nullable=True) if c.name in added else c for c in table.columns
        ),
    )
    kept = [c for c in table.columns if c.name not in added]
    fill = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
        render.table_ref(schema, temporary),
        sql.SQL(", ").join(sql.Identifier(c.name) for c in kept),
        sql.SQL(", ").join(
            sql.SQL("CAST({} AS {})").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in kept
        ),
        render.table_ref(schema, table.name),
    )
    out = [
        sql.SQL("DROP TABLE IF EXISTS {}").format(render.table_ref(schema, temporary)),
        render.create_table(shape, schema, dialect),
        fill,
        sql.SQL("DROP TABLE {}").format(render.table_ref(schema, table.name)),
        sql.SQL("ALTER TABLE {} RENAME TO {}").format(
            render.table_ref(schema, temporary), sql.Identifier(table.name)
        ),
    ]
    if table.primary_key:
        out.append(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                render.table_ref(schema, table.name),
                sql.Identifier(render.primary_key_name(table)),
                sql.SQL(", ").join(map(sql.Identifier, table.primary_key)),
            )
        )
    return out + render.create_indexes(table, schema, dialect) + render.comments(table, schema)


def recreate(table: Table, schema: str, dialect: Dialect) -> list[sql.Composed]:
    """Drop the table and create it as defined (for a table rebuilt whole right after)."""
    return [
        sql.SQL("DROP TABLE IF EXISTS {}").format(render.table_ref(schema, table.name)),
        render.create_table(table, schema, dialect),
        *render.create_indexes(table, schema, dialect),
        *render.comments(table, schema),
    ]
