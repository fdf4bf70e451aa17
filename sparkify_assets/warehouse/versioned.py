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

from sparkify_assets.core.errors import UserError
from sparkify_assets.sql import catalog, fingerprint, render, versions
from sparkify_assets.sql.model import Table
from sparkify_assets.sql.state import TABLE_VERSIONS
from sparkify_assets.warehouse import plans
from sparkify_assets.warehouse.plans import Branch, Script, Transaction, lock_key

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


def ensure_plan(warehouse, loaded_at: str) -> Transaction:
    """The transaction that readies the warehouse: on a new one every table, recorded as this
    release's; on one with any of the tables, only the ledger (the branch the tables found
    pick: ``existing`` or ``new``)."""
    schema = warehouse.schema_name
    head = [render.create_schema(schema)] if schema != "public" else []
    ours = sorted({table.name for table in catalog.ALL_TABLES} - {TABLE_VERSIONS.name})
    ledger = [
        render.create_table(TABLE_VERSIONS, schema, warehouse.dialect),
        *render.comments(TABLE_VERSIONS, schema),
    ]
    recorded = record_statements(schema, warehouse.dialect, ours, loaded_at)
    # One round trip each: with a COMMENT ON per column the script is some two hundred statements.
    return Transaction(
        head,
        lock_key("ddl"),
        branches=(
            Branch(
                "existing",
                "when any of its tables exists: only the ledger",
                (Script(tuple(ledger)),),
            ),
            Branch(
                "new",
                "when none does: every table, recorded as this release's",
                (Script((*warehouse.ddl(), *recorded)),),
            ),
        ),
    )


def ensure(warehouse, cursor, loaded_at: str) -> None:
    """Create a new warehouse whole and record it; on an existing one, only add the ledger."""
    plan = ensure_plan(warehouse, loaded_at)
    plans.execute(cursor, plan.statements)
    ours = {table.name for table in catalog.ALL_TABLES} - {TABLE_VERSIONS.name}
    found = existing_tables(cursor, warehouse.schema_name) & ours
    plans.execute(cursor, plan.branch("existing" if found else "new").statements)


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
