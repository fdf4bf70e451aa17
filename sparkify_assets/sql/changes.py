"""Incremental state: what changed, told to the tables built from it, in the same transactions.

Every built table is replaced one *scope* at a time: the rows a change can reach, deleted and
built again from the same SQL a full rebuild runs (its ``{in_...}`` hooks become ``TRUE`` then).
A daily-partitioned table's scope is its window of days, which Dagster hands it. Every other
table learns its scope from ``pending_changes``: when a table's rows change, the transaction
that changes them also writes, for each table that consumes them, the keys of the rows it deleted
and inserted (a day, a user, a song, an artist, a title and artist name). The consumer, in its own
transaction, snapshots its pending rows, turns them into its scope (``Scope.select``), replaces
the scope's rows, announces its own changed keys downstream, and deletes exactly the rows it
snapshotted (by batch). So the state is in the warehouse, committed with the data: a crash
anywhere leaves the pending rows of the work not yet done, and running again finishes it.

A full rebuild (``sparkify load``, ``--full-refresh``, or a pending ``all``) replaces the whole
table, forgets its pending rows and tells its consumers ``all``.

Daily tables follow their input's days instead (Dagster hands a run its days), but they are told
too, with ``window`` rows: a write of a day of ``staging_events`` or ``songplays`` names that day
for each daily table built from it (``window_consumers``), and the daily table's own rebuild of
the day deletes the row. So the warehouse itself says which days of which daily table another run
has rewritten the input of but not yet the table: what a check must not judge yet (see
``docs/concurrency.md``). Scope rebuilds neither count nor delete ``window`` rows.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date

from psycopg2 import sql

from sparkify_assets.contract.layout import days_in
from sparkify_assets.sql import render
from sparkify_assets.sql.dialect import Dialect
from sparkify_assets.sql.model import EVERY_DAY, ChangeKind, Table, TableKind, Window

CHANGES = "sparkify_changes"  # this transaction's snapshot of its pending rows (a temp table)
WINDOW = ChangeKind.WINDOW.value


def new_batch() -> str:
    """Names the pending rows one transaction writes, so a consumer deletes exactly those."""
    return uuid.uuid4().hex


def scope_table_name(table: Table) -> str:
    """The temp table of the keys to replace, derived from the snapshot."""
    return render.check_identifier(table.name + "_scope", "table")


def _temp_refs(table: Table) -> dict[str, sql.Identifier]:
    return {"changes": sql.Identifier(CHANGES), "scope": sql.Identifier(scope_table_name(table))}


def _format(template: str, schema: str, table: Table, **values: sql.Composable) -> sql.Composed:
    return render.statement(template, schema, **_temp_refs(table), **values)


def consumers_of(table: Table, tables) -> list[tuple[Table, ChangeKind]]:
    """(consumer, kind) for every table that is told when ``table``'s rows change."""
    return [
        (consumer, consumed.kind)
        for consumer in tables
        if consumer.scope
        for consumed in consumer.scope.consumes
        if consumed.producer == table.name
    ]


def window_consumers(table: Table, tables) -> list[Table]:
    """The daily tables built from a daily table's days (staging_events -> songplays, ...)."""
    if not table.window_column:
        return []
    return [t for t in tables if t.window_column and t is not table and table.name in t.depends_on]


def tells_days(table: Table, tables) -> bool:
    """Whether ``table`` is told ``window`` rows, and its builds snapshot and delete them."""
    return any(table in window_consumers(producer, tables) for producer in tables)


def _pending(schema: str) -> sql.Identifier:
    return render.table_ref(schema, "pending_changes")


def announce(table: Table, tables, schema: str, batch: str, where: sql.Composable) -> list:
    """Tell each consumer the keys of ``table``'s rows that ``where`` selects (``" WHERE ..."``)."""
    statements = []
    for consumer, kind in consumers_of(table, tables):
        expressions = sql.SQL(", ").join(sql.SQL(text) for text in table.emit(kind).keys)
        statements.append(
            sql.SQL(
                "INSERT INTO {pending} (consumer, batch, kind, {columns})\n"
                "SELECT DISTINCT {consumer}, {batch}, {kind}, {expressions} FROM {table}"
            ).format(
                pending=_pending(schema),
                columns=sql.SQL(", ").join(map(sql.Identifier, kind.columns)),
                consumer=sql.Literal(consumer.name),
                batch=sql.Literal(batch),
                kind=sql.Literal(kind.value),
                expressions=expressions,
                table=render.table_ref(schema, table.name),
            )
            + where
        )
    return statements


def announce_all(table: Table, tables, schema: str, batch: str) -> list:
    """Tell every consumer that all of ``table`` changed (after a full rebuild)."""
    names = sorted({consumer.name for consumer, _ in consumers_of(table, tables)})
    return [
        sql.SQL("INSERT INTO {} (consumer, batch, kind) VALUES ({}, {}, {})").format(
            _pending(schema),
            sql.Literal(name),
            sql.Literal(batch),
            sql.Literal(ChangeKind.ALL.value),
        )
        for name in names
    ]


def mark_days(table: Table, tables, schema: str, batch: str, days: list[date]) -> list:
    """Tell each daily table built from ``table`` that these days of its input were rewritten."""
    statements = []
    for consumer in window_consumers(table, tables):
        rows = sql.SQL(", ").join(
            sql.SQL("({}, {}, {}, {})").format(
                sql.Literal(consumer.name),
                sql.Literal(batch),
                sql.Literal(WINDOW),
                sql.Literal(day.isoformat()),
            )
            for day in days
        )
        if days:
            statements.append(
                sql.SQL("INSERT INTO {} (consumer, batch, kind, day) VALUES {}").format(
                    _pending(schema), rows
                )
            )
    return statements


def pass_days_on(table: Table, tables, schema: str, batch: str, snapshotted: bool) -> list:
    """A full rebuild took in every day it was told of (its snapshot's, when it took one): it
    names them in turn downstream."""
    source, mine = (
        (sql.Identifier(CHANGES), sql.SQL(""))
        if snapshotted
        else (_pending(schema), sql.SQL("consumer = {} AND ").format(sql.Literal(table.name)))
    )
    return [
        sql.SQL(
            "INSERT INTO {} (consumer, batch, kind, day)\n"
            "SELECT DISTINCT {}, {}, {}, day FROM {} WHERE {}kind = {}"
        ).format(
            _pending(schema),
            sql.Literal(consumer.name),
            sql.Literal(batch),
            sql.Literal(WINDOW),
            source,
            mine,
            sql.Literal(WINDOW),
        )
        for consumer in window_consumers(table, tables)
    ]


def days_caught_up(table: Table, schema: str, window: Window) -> sql.Composed:
    """Delete the snapshot's ``window`` rows of the days a window rebuild read again (and no
    row committed after the snapshot, whose input this transaction may not have seen)."""
    start, end = window
    return sql.SQL(
        "DELETE FROM {} WHERE consumer = {} AND kind = {} AND day >= {} AND day < {}\n"
        "  AND batch IN (SELECT DISTINCT batch FROM {} WHERE kind = {})"
    ).format(
        _pending(schema),
        sql.Literal(table.name),
        sql.Literal(WINDOW),
        sql.Literal(start.isoformat()),
        sql.Literal(end.isoformat()),
        sql.Identifier(CHANGES),
        sql.Literal(WINDOW),
    )


def snapshot(table: Table, pending: Table, schema: str) -> list:
    """Copy the table's pending rows into the transaction's own temp table."""
    return [
        render.create_temp_table(
            dataclasses.replace(pending, name=CHANGES, kind=TableKind.TEMPORARY)
        ),
        sql.SQL("INSERT INTO {} SELECT * FROM {} WHERE consumer = {}").format(
            sql.Identifier(CHANGES), _pending(schema), sql.Literal(table.name)
        ),
    ]


def snapshot_size() -> sql.Composed:
    """(pending rows for the scope, of which 'all') in the snapshot; ``window`` rows apart."""
    return sql.SQL(
        "SELECT COALESCE(SUM(CASE WHEN kind <> {} THEN 1 ELSE 0 END), 0),"
        " COALESCE(SUM(CASE WHEN kind = {} THEN 1 ELSE 0 END), 0) FROM {}"
    ).format(sql.Literal(WINDOW), sql.Literal(ChangeKind.ALL.value), sql.Identifier(CHANGES))


def consumed(table: Table, schema: str) -> sql.Composed:
    """Delete the scope's pending rows the snapshot holds, and no row committed after it."""
    return sql.SQL(
        "DELETE FROM {} WHERE consumer = {} AND kind <> {}\n"
        "  AND batch IN (SELECT DISTINCT batch FROM {})"
    ).format(
        _pending(schema), sql.Literal(table.name), sql.Literal(WINDOW), sql.Identifier(CHANGES)
    )


def forget(table: Table, schema: str, snapshotted: bool) -> sql.Composed:
    """A full rebuild answers every pending change of the table; of its ``window`` rows, those
    of the snapshot (which it passes on), not one committed after it."""
    statement = sql.SQL("DELETE FROM {} WHERE consumer = {}").format(
        _pending(schema), sql.Literal(table.name)
    )
    if not snapshotted:
        return statement
    return statement + sql.SQL(
        " AND (kind <> {} OR batch IN (SELECT DISTINCT batch FROM {}))"
    ).format(sql.Literal(WINDOW), sql.Identifier(CHANGES))


def _hooks(table: Table, schema: str, scoped: bool) -> dict[str, sql.Composable]:
    hooks = table.scope.hooks if table.scope else ()
    return {
        hook.name: _format(hook.predicate, schema, table) if scoped else sql.SQL("TRUE")
        for hook in hooks
    }


def insert(table: Table, schema: str, window: Window | None, scoped: bool):
    """INSERT ... SELECT of the table's build: whole, one window, or the scope's rows."""
    values: dict[str, sql.Composable] = _hooks(table, schema, scoped)
    if table.window_column:
        start, end = window or EVERY_DAY
        values.update(
            window_start=sql.Literal(start.isoformat()), window_end=sql.Literal(end.isoformat())
        )
    return sql.SQL("INSERT INTO {} ({})\n").format(
        render.table_ref(schema, table.name),
        sql.SQL(", ").join(map(sql.Identifier, table.column_names)),
    ) + _format(table.build, schema, table, **values)


def scope_rows(table: Table, schema: str) -> sql.Composed:
    return sql.SQL(" WHERE ") + _format(table.scope.rows, schema, table)


def fill_scope(table: Table, schema: str) -> list:
    scope = table.scope
    definition = Table(scope_table_name(table), "", scope.columns, TableKind.TEMPORARY)
    return [
        render.create_temp_table(definition),
        sql.SQL("INSERT INTO {} ").format(sql.Identifier(definition.name))
        + _format(scope.select, schema, table),
    ]


def replace_scope(table: Table, tables, schema: str, batch: str) -> list:
    """Replace the scope's rows, telling consumers the keys of the rows before and after."""
    rows = scope_rows(table, schema)
    delete = sql.SQL("DELETE FROM {}").format(render.table_ref(schema, table.name)) + rows
    return [
        *announce(table, tables, schema, batch, rows),
        delete,
        insert(table, schema, None, scoped=True),
        *announce(table, tables, schema, batch, rows),
    ]


def replace_window(table: Table, tables, schema: str, batch: str, window) -> list:
    """Replace a partitioned table's window, telling consumers its keys before and after, and
    the daily tables built from it its days; the days it was told of are caught up."""
    where = render.in_window(table, window)
    delete = sql.SQL("DELETE FROM {}").format(render.table_ref(schema, table.name)) + where
    caught_up = [days_caught_up(table, schema, window)] if tells_days(table, tables) else []
    return [
        *caught_up,
        *announce(table, tables, schema, batch, where),
        delete,
        insert(table, schema, window, scoped=False),
        *announce(table, tables, schema, batch, where),
        *mark_days(table, tables, schema, batch, days_in(*window)),
    ]


def replace_all(
    table: Table, tables, schema: str, batch: str, dialect: Dialect, snapshotted: bool = False
) -> list:
    """The full rebuild: every row from the build SQL; consumers are told ``all``.

    ``snapshotted``: the transaction took its snapshot of pending rows first (a build does, see
    ``warehouse.plans.build_head``); it then forgets only the ``window`` rows of the snapshot.
    A migration, which holds every write off, forgets them all.

    Where the dialect has indexes, they are dropped first and built again after the insert, in
    the same transaction: one sort per index instead of a B-tree insert per row. Dropping takes
    the table's exclusive lock until the commit, so readers wait for a full rebuild instead of
    reading the old rows meanwhile.
    """
    delete = sql.SQL("DELETE FROM {}").format(render.table_ref(schema, table.name))
    told_days = tells_days(table, tables)
    forgotten = [
        *(pass_days_on(table, tables, schema, batch, snapshotted) if told_days else []),
        *([forget(table, schema, told_days and snapshotted)] if table.scope or told_days else []),
    ]
    replace = [delete, insert(table, schema, EVERY_DAY if table.window_column else None, False)]
    if dialect.indexes_after_full_rebuild:
        drop, create = render.drop_indexes, render.create_indexes_after
        replace = [*drop(table, schema, dialect), *replace, *create(table, schema, dialect)]
    return [
        *forgotten,
        *replace,
        render.analyze(table, schema),
        *announce_all(table, tables, schema, batch),
    ]
