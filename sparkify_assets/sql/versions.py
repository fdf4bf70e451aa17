"""``table_versions``: which definition built each table's rows, kept in the warehouse.

One row per table: the fingerprint of the definition (``sql.fingerprint``) that built the rows it
holds, and that definition's canonical form, so ``sparkify plan`` can say what changed since. A
row is written in the transaction that makes the rows (the migration's rebuild, or the creation
of an empty warehouse), so the two can never disagree. A table without a row was made by a
release that kept none, or created empty beside rows it should have been built from.
"""

from __future__ import annotations

import json

from psycopg2 import sql

from sparkify_assets.sql import render
from sparkify_assets.sql.state import TABLE_VERSIONS


def _ref(schema: str) -> sql.Identifier:
    return render.table_ref(schema, TABLE_VERSIONS.name)


def read(schema: str) -> sql.Composed:
    """(table_name, fingerprint, definition) of every recorded table."""
    return sql.SQL("SELECT table_name, fingerprint, definition FROM {}").format(_ref(schema))


def of(schema: str, names: list[str]) -> sql.Composed:
    """(table_name, fingerprint) of the named tables that have a row."""
    return sql.SQL("SELECT table_name, fingerprint FROM {} WHERE table_name IN ({})").format(
        _ref(schema), sql.SQL(", ").join(map(sql.Literal, names))
    )


def forget(schema: str, name: str) -> sql.Composed:
    return sql.SQL("DELETE FROM {} WHERE table_name = {}").format(_ref(schema), sql.Literal(name))


def record(
    schema: str, name: str, fingerprint: str, form: dict, loaded_at: str
) -> list[sql.Composed]:
    """Replace the table's row: its rows are now the ones ``form`` builds."""
    insert = sql.SQL(
        "INSERT INTO {} (table_name, fingerprint, definition, loaded_at) VALUES ({}, {}, {}, {})"
    ).format(
        _ref(schema),
        sql.Literal(name),
        sql.Literal(fingerprint),
        sql.Literal(json.dumps(form, sort_keys=True)),
        sql.Literal(loaded_at),
    )
    return [forget(schema, name), insert]
