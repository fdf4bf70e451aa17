"""Turns the table definitions into executable statements for one target dialect.

Statements are ``psycopg2.sql.Composed`` objects: table names are ``sql.Identifier`` and values are
``sql.Literal``, so nothing from configuration is ever pasted into SQL text. ``to_text`` renders a
statement without a connection, for ``sparkify sql`` and for SQL parsers in tests.

What differs between the targets is asked of a ``sql.dialect.Dialect`` (Redshift's DISTSTYLE,
DISTKEY and SORTKEY; PostgreSQL's indexes). Both declare primary keys, which PostgreSQL enforces
and Redshift only uses for planning; the asset checks verify uniqueness on both.
"""

from __future__ import annotations

import re

from psycopg2 import sql

from sparkify_assets.sql.catalog import TABLES
from sparkify_assets.sql.dialect import Dialect
from sparkify_assets.sql.model import Table, Window

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_identifier(name: str, what: str = "identifier") -> str:
    """Schema and table names come from configuration, so refuse anything but plain names."""
    if not _IDENTIFIER.match(name or ""):
        raise ValueError(f"invalid {what} {name!r}: use lower-case letters, digits and _")
    return name


def table_ref(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(check_identifier(schema, "schema"), check_identifier(name, "table"))


def _table_refs(schema: str) -> dict[str, sql.Identifier]:
    return {name: table_ref(schema, name) for name in TABLES}


def statement(template: str, schema: str, **values: sql.Composable) -> sql.Composed:
    """A SQL template whose ``{table}`` placeholders become schema-qualified identifiers."""
    return sql.SQL(template.strip()).format(**_table_refs(schema), **values)


def create_schema(schema: str) -> sql.Composed:
    return sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
        sql.Identifier(check_identifier(schema, "schema"))
    )


def _column_definitions(table: Table) -> list[sql.Composed]:
    return [
        sql.SQL("{} {}{}").format(
            sql.Identifier(column.name),
            sql.SQL(column.type),
            sql.SQL("" if column.nullable else " NOT NULL"),
        )
        for column in table.columns
    ]


def create_temp_table(table: Table, dialect: Dialect | None = None) -> sql.Composed:
    """A session-private table (Redshift stages COPY output in one); dropped with the session.

    With a dialect it takes the table's layout (a COPY landing table keeps its target's
    distribution); without one, the engine's default.
    """
    check_identifier(table.name, "table")
    layout = dialect.layout(table) if dialect else ""
    return sql.SQL("CREATE TEMP TABLE {} (\n    {}\n){}").format(
        sql.Identifier(table.name),
        sql.SQL(",\n    ").join(_column_definitions(table)),
        sql.SQL(layout),
    )


def create_table(table: Table, schema: str, dialect: Dialect) -> sql.Composed:
    definitions = _column_definitions(table)
    if table.primary_key:
        definitions.append(
            sql.SQL("PRIMARY KEY ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, table.primary_key))
            )
        )
    layout = dialect.layout(table)
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} (\n    {}\n){}").format(
        table_ref(schema, table.name), sql.SQL(",\n    ").join(definitions), sql.SQL(layout)
    )


def comments(table: Table, schema: str) -> list[sql.Composed]:
    """``COMMENT ON`` the table and each column, from the descriptions the UI shows, so psql,
    BI tools and Redshift's catalog document the warehouse too (same syntax on both targets)."""
    ref = table_ref(schema, table.name)
    statements = [sql.SQL("COMMENT ON TABLE {} IS {}").format(ref, sql.Literal(table.description))]
    statements += [
        sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
            ref, sql.Identifier(column.name), sql.Literal(column.documentation or None)
        )
        for column in table.columns
    ]
    return statements


def create_indexes(table: Table, schema: str, dialect: Dialect) -> list[sql.Composed]:
    """Indexes beyond the primary key: those the table declares that the dialect builds."""
    return [
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING {} ({})").format(
            sql.Identifier(index.name),
            table_ref(schema, table.name),
            sql.SQL(index.method),
            sql.Identifier(index.column),
        )
        for index in dialect.indexes(table)
    ]


def primary_key_name(table: Table) -> str:
    """The name PostgreSQL gives the inline ``PRIMARY KEY`` of ``create_table``."""
    return f"{table.name[: 63 - len('_pkey')]}_pkey"


def primary_key_constraint(table: Table, schema: str) -> sql.Composed:
    """PostgreSQL: a row when the table's primary key constraint is on exactly its declared key.

    A committed primary key constraint has a valid unique index and NOT NULL columns, so the
    primary key rule (``sql.checks``) cannot be violated while it exists; without it (dropped,
    or on other columns) the rule scans the table as on Redshift.
    """
    parts = (check_identifier(schema, "schema"), table.name)
    relation = ".".join(map(quote_identifier, parts))
    columns = sql.SQL(", ").join(
        sql.SQL(
            "(SELECT a.attnum FROM pg_catalog.pg_attribute a "
            "WHERE a.attrelid = c.conrelid AND a.attname = {})"
        ).format(sql.Literal(column))
        for column in table.primary_key
    )
    return sql.SQL(
        "SELECT 1 FROM pg_catalog.pg_constraint c "
        "WHERE c.conrelid = CAST({} AS regclass) AND c.contype = 'p' "
        "AND c.conkey = CAST(ARRAY[{}] AS int2[])"
    ).format(sql.Literal(relation), columns)


def drop_indexes(table: Table, schema: str, dialect: Dialect) -> list[sql.Composed]:
    """Drop the primary key's index and the other indexes, which ``create_indexes_after``
    restores."""
    ref = table_ref(schema, table.name)
    statements = []
    if table.primary_key:
        statements.append(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                ref, sql.Identifier(primary_key_name(table))
            )
        )
    statements += [
        sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, index.name))
        for index in dialect.indexes(table)
    ]
    return statements


def create_indexes_after(table: Table, schema: str, dialect: Dialect) -> list[sql.Composed]:
    """The primary key and the other indexes again, built from the rows in one pass each."""
    statements = []
    if table.primary_key:
        statements.append(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                table_ref(schema, table.name),
                sql.Identifier(primary_key_name(table)),
                sql.SQL(", ").join(map(sql.Identifier, table.primary_key)),
            )
        )
    return statements + create_indexes(table, schema, dialect)


def delete_staging_day_by_index(
    table: Table, schema: str, partition: str, dialect: Dialect
) -> list[sql.Composed]:
    """``delete_staging`` through the day index where the dialect built one.

    A first load has no statistics yet, so the planner would scan the whole table for every day;
    the index is always the right path for one day, so the scan is ruled out for this statement.
    """
    delete = delete_staging(table, schema, partition)
    if dialect.day_index(table) is None:
        return [delete]
    return [sql.SQL("SET LOCAL enable_seqscan = off"), delete, sql.SQL("RESET enable_seqscan")]


def summarize_day_index(table: Table, schema: str, dialect: Dialect) -> list[sql.Composed]:
    """Summarize the pages just appended to a BRIN day index, so the next day's DELETE can skip
    them (none where the dialect built no such index)."""
    day_index = dialect.day_index(table)
    if day_index is None or day_index.method != "brin":
        return []
    index = ".".join(map(quote_identifier, (check_identifier(schema, "schema"), day_index.name)))
    return [sql.SQL("SELECT brin_summarize_new_values({}::regclass)").format(sql.Literal(index))]


def delete_staging(table: Table, schema: str, partition: str) -> sql.Composed:
    """Empty one staging partition: a day of a daily staging table (``partition`` is the day),
    or all of one loaded whole."""
    if table.window_column:
        return sql.SQL("DELETE FROM {} WHERE {} = {}").format(
            table_ref(schema, table.name),
            sql.Identifier(table.window_column),
            sql.Literal(partition),
        )
    return sql.SQL("DELETE FROM {}").format(table_ref(schema, table.name))


def delete_partition_log(schema: str, log: str, asset: str, partition: str) -> sql.Composed:
    """Forget what a load log table (rejects, audit, drift) holds of one partition before the
    partition is loaded again."""
    return sql.SQL("DELETE FROM {} WHERE asset = {} AND partition_key = {}").format(
        table_ref(schema, log), sql.Literal(asset), sql.Literal(partition)
    )


def delete_rejects(schema: str, asset: str, partition: str) -> sql.Composed:
    return delete_partition_log(schema, "load_rejects", asset, partition)


def delete_audit(schema: str, asset: str, partition: str) -> sql.Composed:
    return delete_partition_log(schema, "load_audit", asset, partition)


def insert_values(schema: str, name: str, columns, rows) -> sql.Composed:
    """One INSERT of literal rows (for targets that cannot COPY FROM STDIN)."""
    values = [sql.SQL("({})").format(sql.SQL(", ").join(map(sql.Literal, row))) for row in rows]
    return sql.SQL("INSERT INTO {} ({}) VALUES {}").format(
        table_ref(schema, name),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(values),
    )


def insert_audit(schema: str, asset: str, partition: str, tallies: list, loaded_at: str):
    """One load_audit row per file tally."""
    return insert_values(
        schema,
        "load_audit",
        ("asset", "partition_key", "source", "records", "loaded", "rejected", "loaded_at"),
        [
            (asset, partition, tally.source, tally.records, tally.loaded, tally.rejected, loaded_at)
            for tally in tallies
        ],
    )


def audit_nothing_loaded(schema: str, asset: str, partition: str) -> sql.Composed:
    """Mark a rolled-back load in its audit: records were read and rejected, none kept."""
    return sql.SQL("UPDATE {} SET loaded = 0 WHERE asset = {} AND partition_key = {}").format(
        table_ref(schema, "load_audit"), sql.Literal(asset), sql.Literal(partition)
    )


def analyze(table: Table, schema: str) -> sql.Composed:
    """Refresh a table's planner statistics (both engines accept it inside a transaction)."""
    return sql.SQL("ANALYZE {}").format(table_ref(schema, table.name))


# A one-day change puts its values past the end of the planner's histograms, which PostgreSQL then
# estimates at one row and answers with nested loops over thousands of rows. A tenth of the usual
# sample moves the histograms' ends at a cost that barely grows with history. Every column, not
# just the day: a new day's session ids lie past their histogram too, and a plan joining on them
# is as wrong as one filtering on the day.
DAY_STATISTICS_TARGET = 10


def analyze_sampled(table: Table, schema: str) -> list[sql.Composed]:
    """PostgreSQL: ANALYZE on a small sample, inside the caller's transaction."""
    return [
        sql.SQL("SET LOCAL default_statistics_target = {}").format(
            sql.Literal(DAY_STATISTICS_TARGET)
        ),
        analyze(table, schema),
    ]


def count(relation: sql.Composable) -> sql.Composed:
    """``SELECT COUNT(*)`` of a table or a subquery: every row count is built here."""
    return sql.SQL("SELECT COUNT(*) FROM {}").format(relation)


def count_rows(table: Table, schema: str, window: Window | None = None):
    """Rows in the table, or in the window of a partitioned table."""
    return count(table_ref(schema, table.name)) + in_window(table, window)


def in_window(table: Table, window: Window | None) -> sql.Composable:
    """`` WHERE`` clause keeping a partitioned table's rows in [start, end); empty otherwise."""
    if window is None or not table.window_column:
        return sql.SQL("")
    start, end = window
    column = sql.Identifier(table.window_column)
    return sql.SQL(" WHERE {} >= {} AND {} < {}").format(
        column, sql.Literal(start.isoformat()), column, sql.Literal(end.isoformat())
    )


def counts_by_day(table: Table, schema: str, window: Window) -> sql.Composed:
    """(day, rows, *figures) of a partitioned table for every day of ``window`` with rows."""
    day = sql.SQL("CAST({} AS DATE)").format(sql.Identifier(table.window_column))
    figures = [
        sql.SQL("{} AS {}").format(sql.SQL(expression), sql.Identifier(name))
        for name, expression in table.figures
    ]
    return sql.SQL("SELECT {} FROM {}{} GROUP BY 1").format(
        sql.SQL(", ").join([day, sql.SQL("COUNT(*)"), *figures]),
        table_ref(schema, table.name),
        in_window(table, window),
    )


def query(text: str, schema: str) -> sql.Composed:
    """A SELECT written with ``{table}`` placeholders (a build, highlights), made runnable."""
    return sql.SQL(text.strip()).format(**_table_refs(schema))


def preview(table: Table, schema: str, limit: int, window: Window | None = None) -> sql.Composed:
    """A few rows in sort key order, then key order (or every column): the same ones each time."""
    order = tuple(dict.fromkeys((*table.sortkey, *(table.primary_key or table.column_names))))
    return sql.SQL("SELECT {} FROM {}{} ORDER BY {} LIMIT {}").format(
        sql.SQL(", ").join(map(sql.Identifier, table.column_names)),
        table_ref(schema, table.name),
        in_window(table, window),
        sql.SQL(", ").join(map(sql.Identifier, order)),
        sql.Literal(limit),
    )


def figures(table: Table, schema: str, window: Window | None = None) -> sql.Composed:
    """One row of the table's figures (its declared aggregates), over ``window`` if partitioned."""
    return sql.SQL("SELECT {} FROM {}{}").format(
        sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(sql.SQL(expression), sql.Identifier(name))
            for name, expression in table.figures
        ),
        table_ref(schema, table.name),
        in_window(table, window),
    )


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def to_text(statement: sql.Composable) -> str:
    """Render a statement offline (psycopg2 needs a live connection for ``as_string``)."""
    if isinstance(statement, sql.Composed):
        return "".join(to_text(part) for part in statement.seq)
    if isinstance(statement, sql.Identifier):
        return ".".join(quote_identifier(part) for part in statement.strings)
    if isinstance(statement, sql.Literal):
        return _quote_literal(statement.wrapped)
    if isinstance(statement, sql.SQL):
        return statement.string
    raise TypeError(f"cannot render {type(statement).__name__}")
