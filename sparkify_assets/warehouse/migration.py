"""Running a migration: each table's step in its own transaction, crash-safe and repeatable.

Every step ends by recording the table's new fingerprint in ``table_versions`` *in the same
transaction* as the rows it wrote: an altered table's DDL, a rebuilt table's DDL and rows. A
kill -9 anywhere leaves each table either as it was (its old fingerprint, so the next migration
plans it again) or migrated and recorded (so the next one skips it). A staging re-read is many
transactions (one per day, as a load); its fingerprint is recorded after the last, so a migration
killed half-way re-reads every day again: the same rows, since each day's load replaces it.

The migration waits for writes under way and makes new ones wait (PostgreSQL: an exclusive
session advisory lock that every write's version check takes shared; see
``warehouse.versioned``), and each step takes the lock its table's own writes take (the build
lock, or Redshift's LOCK of the table and what it tells), so a step never interleaves with a
build. On Redshift, which has no advisory locks, a write between two steps finds its table not
yet current and fails at once, naming ``sparkify migrate``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import contextmanager

from psycopg2 import sql

from sparkify_assets.ingest.base import Source
from sparkify_assets.sql import alter, catalog, changes, fingerprint, render, versions
from sparkify_assets.sql.state import PENDING_CHANGES, TABLE_VERSIONS
from sparkify_assets.sql.tables import STAGING_EVENTS, STAGING_SONGS
from sparkify_assets.warehouse.base import (
    Transaction,
    Warehouse,
    build_lock_key,
    lock_key,
    utc_now,
)
from sparkify_assets.warehouse.migration_plan import Facts, Plan, Step, decide
from sparkify_assets.warehouse.script import PRINTED_BATCH, Section, _transaction
from sparkify_assets.warehouse.versioned import MIGRATION_LOCK, existing_tables


def read_facts(warehouse: Warehouse, source: Source | None = None) -> Facts:
    """What the warehouse holds (and, given a source, what it lists), reading only."""
    schema = warehouse.schema_name
    with warehouse.transaction() as cursor:
        live = existing_tables(cursor, schema)
        cursor.execute(alter.LIVE_COLUMNS, (schema,))
        columns = alter.live_columns(cursor.fetchall())
        stored = {}
        if TABLE_VERSIONS.name in live:
            cursor.execute(versions.read(schema))
            stored = {name: (fp, json.loads(form or "{}")) for name, fp, form in cursor.fetchall()}
        rows = {}
        for name in sorted(live & (set(catalog.TABLES) | set(stored))):
            cursor.execute(render.count(render.table_ref(schema, name)))
            (rows[name],) = cursor.fetchone()
        days: tuple = ()
        if "event_date" in {c.name for c in columns.get(STAGING_EVENTS.name, [])}:
            cursor.execute(
                sql.SQL("SELECT DISTINCT event_date FROM {} ORDER BY 1").format(
                    render.table_ref(schema, STAGING_EVENTS.name)
                )
            )
            days = tuple(day for (day,) in cursor.fetchall())
    listed = songs = None
    if source is not None:
        listed = {day: len(files) for day, files in source.event_files().items()}
        songs = sum(1 for _ in source.song_files())
    return Facts(columns, stored, rows, days, listed, songs)


def plan(warehouse: Warehouse, source: Source | None = None) -> Plan:
    return decide(read_facts(warehouse, source), warehouse.dialect)


def _record(warehouse: Warehouse, name: str) -> list:
    fp, form = fingerprint.current(warehouse.dialect)[name]
    return versions.record(warehouse.schema_name, name, fp, form, utc_now())


def transactions(
    warehouse: Warehouse, step: Step, batch: str | None = None
) -> tuple[Transaction, Transaction | None]:
    """The step's transaction, and for a re-read the one that records it after the loads."""
    schema, dialect = warehouse.schema_name, warehouse.dialect
    if step.table is None:  # removed
        ref = render.table_ref(schema, step.name)
        statements = [
            sql.SQL("DROP TABLE IF EXISTS {}").format(ref),
            versions.forget(schema, step.name),
        ]
        statements.append(
            sql.SQL("DELETE FROM {} WHERE consumer = {}").format(
                render.table_ref(schema, PENDING_CHANGES.name), sql.Literal(step.name)
            )
        )
        return Transaction(statements, lock_key("ddl")), None
    table = step.table
    statements: list = []
    if step.rename_from:
        statements.append(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                render.table_ref(schema, step.rename_from), sql.Identifier(step.name)
            )
        )
        statements.append(versions.forget(schema, step.rename_from))
    if step.rebuild:
        if step.create:
            statements += alter.recreate(table, schema, dialect)
        batch = batch or changes.new_batch()
        statements += changes.replace_all(table, catalog.ALL_TABLES, schema, batch, dialect)
        lock = build_lock_key(table)
    else:
        if step.create:
            statements += [
                render.create_table(table, schema, dialect),
                *render.create_indexes(table, schema, dialect),
                *render.comments(table, schema),
            ]
        elif step.alteration is not None:
            statements += alter.statements(step.alteration, schema, dialect)
            statements += render.create_indexes(table, schema, dialect)
        lock = lock_key(table.name, "migrate")
    record = _record(warehouse, step.name)
    if step.reread:
        return Transaction(statements, lock), Transaction(record, lock)
    return Transaction(statements + record, lock), None


def _reread(warehouse: Warehouse, step: Step, source: Source, say: Callable[[str], None]) -> None:
    if step.name == STAGING_SONGS.name:
        warehouse.stage_songs(source, full=True)
        warehouse.refresh_statistics(STAGING_SONGS)
        return
    files = source.event_files()
    for number, day in enumerate(step.reread_days, 1):
        result = warehouse.stage_events_day(source, day, files.get(day, []))
        say(f"  re-read {day} ({number}/{len(step.reread_days)}): {result.loaded:,} rows")
    warehouse.refresh_statistics(STAGING_EVENTS)


@contextmanager
def exclusive(warehouse: Warehouse):
    """Hold the migration lock (PostgreSQL) for as long as the block runs."""
    if warehouse.migration_wait_statement() is None:
        yield
        return
    connection = warehouse.connect()
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", (MIGRATION_LOCK,))
        yield
    finally:
        connection.close()  # ends the session, and with it the lock


def _run(warehouse: Warehouse, transaction: Transaction, what: str) -> None:
    def attempt() -> None:
        with warehouse.transaction(lock=transaction.lock) as cursor:
            for statement in transaction.statements:
                cursor.execute(statement)

    warehouse._with_retries(what, attempt)


def migrate(
    warehouse: Warehouse, source: Source | None, say: Callable[[str], None] = print
) -> tuple[Plan, float]:
    """Bring every table to this release's definitions; returns the plan it ran and seconds."""
    started = time.monotonic()
    mine = warehouse.model_copy(update={"migrating": True})
    with exclusive(warehouse):
        mine.ensure_tables()
        # Decided under the lock: a migration run twice, or after a crash, sees what is done.
        done = plan(mine, source)
        if any(step.reread for step in done.needed) and source is None:
            raise ValueError("this migration re-reads staging: it needs the source")
        for step in done.needed:
            say(f"{step.name}: {step.action}")
            first, after = transactions(mine, step)
            _run(mine, first, f"migrating {step.name}")
            if after is not None:
                _reread(mine, step, source, say)
                _run(mine, after, f"recording {step.name}")
    return done, time.monotonic() - started


def printed(warehouse: Warehouse, plan: Plan) -> list[Section]:
    """The migration's transactions as ``sparkify sql --migration`` prints them, in order."""
    sections = []
    for step in plan.needed:
        first, after = transactions(warehouse, step, PRINTED_BATCH)
        title = f"migrate {step.name}: {step.action}"
        sections.append(_transaction(warehouse, title, first.lock, first.statements))
        if after is not None:
            reread = (
                f"-- then the staging load of each of these {len(step.reread_days)} days, as "
                "printed for a load: " + ", ".join(map(str, step.reread_days))
                if step.name == STAGING_EVENTS.name
                else "-- then the staging load of every song file, as printed for a load"
            )
            recorded = _transaction(warehouse, title, after.lock, after.statements)
            sections.append(Section(f"record {step.name}", (reread, *recorded.statements)))
    return sections
