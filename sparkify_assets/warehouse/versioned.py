"""The guard every write passes: the rows it builds on were made by this release's definitions.

Each build and staging transaction, after its lock, reads ``table_versions`` and compares the
fingerprints of the table it writes and of the tables it reads with this release's
(``sql.fingerprint``). Equal: it goes on. Different or missing: it fails at once, before any
statement touches a row, with one line naming the tables and ``sparkify migrate``. So no run (a
schedule, a sensor, a backfill, the UI, ``sparkify load``) ever builds incrementally on rows that
another definition made. On PostgreSQL every write first waits for a migration under way (a
shared advisory lock against the migration's exclusive one, taken before the write's own lock in
``Warehouse._lock``), so the two never interleave.

A warehouse with none of the tables is new: its tables are created and recorded as built by this
release, in one transaction (they are empty, which every definition agrees on). A warehouse with
tables but no record of them was built by an older release: ``ensure`` adds the ledger and
touches nothing else; ``sparkify plan`` says what the migration will do.
"""

from __future__ import annotations

from psycopg2 import sql

from sparkify_assets.core.errors import UserError
from sparkify_assets.sql import catalog, fingerprint, render, versions
from sparkify_assets.sql.model import Table
from sparkify_assets.sql.state import TABLE_VERSIONS

MIGRATION_LOCK = "sparkify:migration"


class MigrationRequired(UserError):
    """The warehouse holds rows built by other definitions than this release's."""


def migration_required(table: str, stale: list[str]) -> MigrationRequired:
    return MigrationRequired(
        f"{table}: not built by this release's definitions ({', '.join(stale)}); run "
        "`sparkify migrate` first (`sparkify plan` shows what it will do)"
    )


def existing_tables(cursor, schema: str) -> set[str]:
    cursor.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
    )
    return {name for (name,) in cursor.fetchall()}


def record_statements(schema: str, dialect, names, loaded_at: str) -> list:
    defined = fingerprint.current(dialect)
    return [
        statement
        for name in names
        for statement in versions.record(schema, name, *defined[name], loaded_at)
    ]


def ensure(warehouse, cursor, loaded_at: str) -> None:
    """Create a new warehouse whole and record it; on an existing one, only add the ledger."""
    schema = warehouse.schema_name
    if schema != "public":
        cursor.execute(render.create_schema(schema))
    ours = {table.name for table in catalog.ALL_TABLES} - {TABLE_VERSIONS.name}
    if existing_tables(cursor, schema) & ours:
        ledger = [
            render.create_table(TABLE_VERSIONS, schema, warehouse.dialect),
            *render.comments(TABLE_VERSIONS, schema),
        ]
        cursor.execute(sql.SQL(";\n").join(ledger))
        return
    recorded = record_statements(schema, warehouse.dialect, sorted(ours), loaded_at)
    # One round trip: with a COMMENT ON per column the script is some two hundred statements.
    cursor.execute(sql.SQL(";\n").join(warehouse.ddl() + recorded))


def stale_tables(warehouse, cursor, names: list[str]) -> list[str]:
    """Those of ``names`` whose rows were not built by this release's definitions."""
    cursor.execute(versions.of(warehouse.schema_name, names))
    stored = dict(cursor.fetchall())
    defined = fingerprint.current(warehouse.dialect)
    return [name for name in names if stored.get(name) != defined[name][0]]


def require_current(warehouse, cursor, table: Table) -> None:
    """Fail before writing ``table`` when it, or a table it reads, needs migrating."""
    if warehouse.migrating:
        return  # the migration writes tables on its way to recording them
    names = [table.name, *fingerprint.upstream(table)]
    stale = stale_tables(warehouse, cursor, names)
    if stale:
        raise migration_required(table.name, stale)
