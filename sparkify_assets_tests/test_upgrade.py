"""Upgrades: a warehouse built by older definitions is migrated, never left silently wrong.

Each case loads a warehouse with this release, then makes it what a release with *older
definitions* would have left (``built_by``: the tables whose definition differs rebuilt by the
old definition, shape and rows, and ``table_versions`` holding the old fingerprints). The old
definitions are this release's tables altered with ``dataclasses.replace``. Then this release
takes over as after an upgrade: a day's run fails at once naming ``sparkify migrate`` (it never
builds on the old rows), the migration runs, then a day's run and a song refresh, and every table
is compared with a clean load of the same files by this release.
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import time

import pytest
from psycopg2 import sql

from sparkify_assets.ingest.open import open_source
from sparkify_assets.sql import alter, catalog, changes, fingerprint, render, versions
from sparkify_assets.sql.model import Column, Table, TableKind
from sparkify_assets.sql.state import TABLE_VERSIONS
from sparkify_assets.sql.tables import STAGING_EVENTS, TIME, USERS
from sparkify_assets.warehouse import migration
from sparkify_assets.warehouse.base import utc_now

from .histories import DAYS, day_content, day_key, song_content, song_key
from .test_incremental import assert_same_as_full_load, started

# Each case loads, migrates and compares two warehouses: with the fault injection, minutes.
pytestmark = pytest.mark.slow

NEW = catalog.ALL_TABLES


def replaced(tables, name: str, **changes_) -> tuple[Table, ...]:
    return tuple(dataclasses.replace(t, **changes_) if t.name == name else t for t in tables)


def without(tables, name: str) -> tuple[Table, ...]:
    return tuple(t for t in tables if t.name != name)


def built_by(warehouse, old_tables) -> None:
    """Leave the warehouse as a release defining ``old_tables`` would have: each table whose
    fingerprint differs from this release's made by the old definition, tables it lacks dropped,
    and its fingerprints recorded."""
    dialect, schema = warehouse.dialect, warehouse.schema_name
    old = fingerprint.current(dialect, old_tables)
    new = fingerprint.current(dialect)
    with warehouse.transaction() as cursor:
        cursor.execute(alter.LIVE_COLUMNS, (schema,))
        live = alter.live_columns(cursor.fetchall())
        for table in old_tables:
            if (
                table.name == TABLE_VERSIONS.name
                or new.get(table.name, ("",))[0] == old[table.name][0]
            ):
                continue
            if table.built:
                statements = alter.recreate(table, schema, dialect) + changes.replace_all(
                    table, old_tables, schema, changes.new_batch(), dialect
                )
            else:
                statements = alter.statements(alter.diff(table, live[table.name]), schema, dialect)
            for statement in statements:
                cursor.execute(statement)
        for name in set(new) - set(old):
            cursor.execute(sql.SQL("DROP TABLE {}").format(render.table_ref(schema, name)))
            cursor.execute(versions.forget(schema, name))
        for name, (fp, form) in old.items():
            for statement in versions.record(schema, name, fp, form, utc_now()):
                cursor.execute(statement)


def failure_messages(result) -> list[str]:
    return [
        event.step_failure_data.user_failure_data.description
        for event in result.get_step_failure_events()
        if event.step_failure_data.user_failure_data
    ]


def execute(warehouse, *statements) -> None:
    with warehouse.transaction() as cursor:
        for statement in statements:
            cursor.execute(statement)


def upgraded(
    warehouse,
    server_home,
    tmp_path,
    old_tables,
    contracts=None,
    monkeypatch=None,
    then=None,
    stale=True,
):
    """Load by this release, make it the old release's, then upgrade; returns the plan."""
    pipeline, folder = started(warehouse, tmp_path)
    if contracts:
        with monkeypatch.context() as patch:
            patch.setattr(fingerprint, "_CONTRACTS", contracts)
            built_by(warehouse, old_tables)
    else:
        built_by(warehouse, old_tables)
    if then is not None:
        then()
    folder.write(day_key(DAYS[2]), day_content(DAYS[2], 0))
    before = pipeline.load_day(DAYS[2])
    if stale:  # a table the day's run builds was made by another definition
        assert not before.success, "a run built on rows made by other definitions"
        assert any("sparkify migrate" in m for m in failure_messages(before))
    else:  # a table no longer defined is in nobody's way
        assert before.success
    source = open_source(str(folder.root))
    plan = migration.plan(warehouse, source)
    migration.migrate(warehouse, source, lambda line: None)
    assert not migration.plan(warehouse, source).needed
    assert pipeline.load_day(DAYS[2]).success
    folder.write(song_key(7), song_content(7, 0))
    assert pipeline.refresh_songs().success
    assert_same_as_full_load(warehouse, server_home, folder)
    return plan


def actions(plan) -> dict[str, str]:
    return {step.name: step.action for step in plan.needed}


# time before iso_year: the column and its expression absent.
_ISO_YEAR = (
    "CAST(DATE_PART('year', DATE_TRUNC('week', start_time) + INTERVAL '3 days') AS INTEGER)\n"
    "           AS iso_year,\n"
)
OLD_TIME = dataclasses.replace(
    TIME,
    columns=tuple(c for c in TIME.columns if c.name != "iso_year"),
    build=TIME.build.replace("       " + _ISO_YEAR, ""),
)


def test_the_old_time_definition_really_lacks_iso_year():
    assert "iso_year" not in OLD_TIME.build and "iso_year" in TIME.build


def test_a_new_column_on_a_star_table(warehouse, server_home, tmp_path):
    plan = upgraded(warehouse, server_home, tmp_path, replaced(NEW, "time", **vars_of(OLD_TIME)))
    assert actions(plan) == {"time": "create and rebuild"}
    assert plan.steps[[s.name for s in plan.steps].index("time")].changed == ["columns", "SQL"]


def vars_of(table: Table) -> dict:
    return {"columns": table.columns, "build": table.build}


def test_a_changed_rule_in_a_dimension(warehouse, server_home, tmp_path):
    """users took each user's earliest day instead of the latest: users and what reads it."""
    old_users = USERS.build.replace("MAX(l.day)", "MIN(l.day)")
    assert old_users != USERS.build
    plan = upgraded(warehouse, server_home, tmp_path, replaced(NEW, "users", build=old_users))
    assert actions(plan) == {"users": "rebuild", "level_changes": "rebuild"}
    changed = {step.name: step.changed for step in plan.needed}
    assert changed == {"users": ["SQL"], "level_changes": ["upstream users"]}


def test_a_new_analytics_table(warehouse, server_home, tmp_path):
    plan = upgraded(warehouse, server_home, tmp_path, without(NEW, "plays_by_level"))
    assert actions(plan) == {"plays_by_level": "create and rebuild"}


EXTRA = Table(
    name="plays_per_user",
    description="An analytics table a later release dropped.",
    kind=TableKind.WHOLE,
    depends_on=("songplays",),
    columns=(Column("user_id", "INTEGER", nullable=False), Column("plays", "BIGINT")),
    primary_key=("user_id",),
    build="SELECT user_id, COUNT(*) AS plays FROM {songplays} GROUP BY user_id",
)


def test_a_removed_table(warehouse, server_home, tmp_path):
    plan = upgraded(warehouse, server_home, tmp_path, (*NEW, EXTRA), stale=False)
    assert actions(plan) == {"plays_per_user": "drop"}
    assert warehouse.query("SELECT to_regclass('plays_per_user')") == [(None,)]
    assert warehouse.query(versions.of("public", ["plays_per_user"])) == []


def test_a_new_summary_table_that_incremental_steps_read(warehouse, server_home, tmp_path):
    """The measured case: user_plays_by_hour created empty (by CREATE TABLE IF NOT EXISTS)
    beside a full songplays, and read by the per-user analytics."""
    summary = catalog.TABLES["user_plays_by_hour"]

    def created_empty():
        execute(warehouse, render.create_table(summary, "public", warehouse.dialect))

    plan = upgraded(
        warehouse, server_home, tmp_path, without(NEW, summary.name), then=created_empty
    )
    readers = ("plays_by_weekday_hour", "level_changes", "recent_plays")
    # Without a record nothing says how it was laid out: dropped and created again.
    assert actions(plan) == {"user_plays_by_hour": "create and rebuild"} | {
        name: "rebuild" for name in readers
    }
    step = next(s for s in plan.needed if s.name == summary.name)
    assert (step.status, step.rows) == ("no record", 0)


def test_a_staging_field_added_to_the_record_contract(
    warehouse, server_home, tmp_path, monkeypatch
):
    """The old contract had no `registration`: the column is added and both days re-read."""
    old_fields = tuple(f for f in fingerprint.records.EVENT_FIELDS if f.key != "registration")
    contracts = {**fingerprint._CONTRACTS, "staging_events": old_fields}
    old_staging = dataclasses.replace(
        STAGING_EVENTS,
        columns=tuple(c for c in STAGING_EVENTS.columns if c.name != "registration"),
    )
    old_tables = replaced(NEW, "staging_events", columns=old_staging.columns)
    plan = upgraded(warehouse, server_home, tmp_path, old_tables, contracts, monkeypatch)
    step = next(s for s in plan.needed if s.name == "staging_events")
    assert step.action == "alter (add registration), re-read 2 days (2 files)"
    assert step.changed[:2] == ["columns", "record contract"]
    assert {s.name for s in plan.needed if s.rebuild} == {
        t.name for t in catalog.BUILT_TABLES if t.name not in ("songs", "artists")
    }


def test_a_warehouse_without_fingerprints_is_kept_where_it_can_be(warehouse, server_home, tmp_path):
    """An older release kept no record: staging and logs are kept, every built table rebuilt."""
    pipeline, folder = started(warehouse, tmp_path)
    execute(warehouse, "DELETE FROM table_versions", "ALTER TABLE time DROP COLUMN iso_year")
    plan = migration.plan(warehouse)
    kept = {s.name for s in plan.needed if s.action == "record (rows kept)"}
    assert kept == {
        "staging_events",
        "staging_songs",
        "load_rejects",
        "load_audit",
        "load_drift",
        "pending_changes",
    }
    assert {s.name for s in plan.needed if s.rebuild} == {t.name for t in catalog.BUILT_TABLES}
    migration.migrate(warehouse, open_source(str(folder.root)), lambda line: None)
    assert pipeline.load_day(DAYS[1]).success
    assert_same_as_full_load(warehouse, server_home, folder)


KILLED_MIGRATION = """
import sys
from sparkify_assets.ingest.open import open_source
from sparkify_assets.warehouse import migration
from sparkify_assets.warehouse.postgres import PostgresWarehouse
migration.migrate(PostgresWarehouse(url=sys.argv[1]), open_source(sys.argv[2]), print)
"""


def _recorded_as_new(warehouse) -> int:
    current = fingerprint.current(warehouse.dialect)
    rows = warehouse.query("SELECT table_name, fingerprint FROM table_versions")
    return sum(current.get(name, ("",))[0] == fp for name, fp in rows)


def test_kill_9_part_way_through_a_migration_then_the_migration_again(
    warehouse, server_home, tmp_path, monkeypatch
):
    """A real process killed with SIGKILL once some tables are migrated and others not; the
    migration run again finishes it, and the result is a clean load's."""
    old_fields = tuple(f for f in fingerprint.records.EVENT_FIELDS if f.key != "registration")
    contracts = {**fingerprint._CONTRACTS, "staging_events": old_fields}
    old_tables = replaced(
        NEW,
        "staging_events",
        columns=tuple(c for c in STAGING_EVENTS.columns if c.name != "registration"),
    )
    old_tables = replaced(
        old_tables, "users", build=USERS.build.replace("MAX(l.day)", "MIN(l.day)")
    )

    def killed_migration():
        before = _recorded_as_new(warehouse)
        process = subprocess.Popen(
            [sys.executable, "-c", KILLED_MIGRATION, warehouse.url, str(tmp_path / "source")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        try:
            while process.poll() is None and time.monotonic() < deadline:
                if _recorded_as_new(warehouse) > before + 3:
                    process.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.002)
        finally:
            process.kill()
            process.wait()
        assert process.returncode == -signal.SIGKILL, "the migration finished before the kill"
        left = migration.plan(warehouse, open_source(str(tmp_path / "source")))
        assert 0 < len(left.needed) < 12, "killed neither part-way nor after a step"

    pipeline, folder = started(warehouse, tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(fingerprint, "_CONTRACTS", contracts)
        built_by(warehouse, old_tables)
    killed_migration()
    source = open_source(str(folder.root))
    migration.migrate(warehouse, source, lambda line: None)
    assert not migration.plan(warehouse, source).needed
    folder.write(day_key(DAYS[2]), day_content(DAYS[2], 0))
    assert pipeline.load_day(DAYS[2]).success
    folder.write(song_key(7), song_content(7, 0))
    assert pipeline.refresh_songs().success
    assert_same_as_full_load(warehouse, server_home, folder)
