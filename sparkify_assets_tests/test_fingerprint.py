"""Fingerprints: what runs in the warehouse changes them; how the Python is written does not.

Also the migration's statements on Redshift: decided from the facts of an older warehouse (a
widened and a new staging column, a table to drop, every built table to rebuild), they stay
within what Redshift runs in a transaction block and pass the Redshift lint.
"""

from __future__ import annotations

import dataclasses

from sparkify_assets.sql import catalog, fingerprint
from sparkify_assets.sql.alter import LiveColumn
from sparkify_assets.sql.dialect import POSTGRES, REDSHIFT
from sparkify_assets.sql.render import to_text
from sparkify_assets.warehouse.migration import transactions
from sparkify_assets.warehouse.migration_plan import Facts, decide

from .redshift_lint import lint
from .test_redshift_lint import model_widths
from .test_redshift_sql import redshift_env  # noqa: F401 (fixture)
from .test_redshift_warehouse import make_warehouse

SONGS = catalog.TABLES["songs"]


def with_table(table):
    return tuple(table if t.name == table.name else t for t in catalog.ALL_TABLES)


def test_reformatting_the_sql_changes_nothing():
    reformatted = dataclasses.replace(
        SONGS,
        build="\n\n  " + " \n   ".join(SONGS.build.split()).lower().replace("'", "'") + " -- x",
    )
    assert fingerprint.current(POSTGRES, with_table(reformatted)) == fingerprint.current(POSTGRES)


def test_what_runs_changes_the_table_and_everything_downstream():
    changed = dataclasses.replace(SONGS, build=SONGS.build.replace("s.year, s.duration", "s.year"))
    before, after = (
        fingerprint.current(POSTGRES),
        fingerprint.current(POSTGRES, with_table(changed)),
    )
    differ = {name for name in before if before[name][0] != after[name][0]}
    assert differ == {"songs", "top_songs", "recent_plays"}
    assert fingerprint.changed_parts(before["songs"][1], after["songs"][1]) == ["SQL"]
    assert fingerprint.changed_parts(before["top_songs"][1], after["top_songs"][1]) == [
        "upstream songs"
    ]


def test_a_string_literal_is_compared_as_written():
    changed = dataclasses.replace(SONGS, build=SONGS.build + " AND 'a' = 'a'")
    other = dataclasses.replace(SONGS, build=SONGS.build + " AND 'a' = 'A'")
    assert fingerprint.fingerprint(changed, POSTGRES) != fingerprint.fingerprint(other, POSTGRES)


def test_the_target_layout_is_part_of_it():
    moved = dataclasses.replace(SONGS, sortkey=("title",))
    assert fingerprint.fingerprint(moved, REDSHIFT) != fingerprint.fingerprint(SONGS, REDSHIFT)
    assert fingerprint.fingerprint(moved, POSTGRES) == fingerprint.fingerprint(SONGS, POSTGRES)


def test_the_record_contract_is_part_of_stagings(monkeypatch):
    before = fingerprint.current(POSTGRES)
    fields = tuple(
        dataclasses.replace(f, max_bytes=2048) if f.key == "song" else f
        for f in fingerprint.records.EVENT_FIELDS
    )
    monkeypatch.setattr(
        fingerprint, "_CONTRACTS", {**fingerprint._CONTRACTS, "staging_events": fields}
    )
    after = fingerprint.current(POSTGRES)
    assert before["staging_events"][0] != after["staging_events"][0]
    assert before["songplays"][0] != after["songplays"][0]
    assert before["staging_songs"][0] == after["staging_songs"][0]


def _older_redshift_warehouse() -> Facts:
    """Every table as defined, but staging_events' song narrower and user_agent missing, no
    record of anything, and a table this release no longer defines."""
    columns = {}
    for table in catalog.ALL_TABLES:
        live = [LiveColumn(c.name, c.type, c.nullable) for c in table.columns]
        if table.name == "staging_events":
            live = [
                dataclasses.replace(c, type="VARCHAR(256)") if c.name == "song" else c
                for c in live
                if c.name != "user_agent"
            ]
        columns[table.name] = live
    stored = {"plays_per_user": ("0" * 32, {})}
    rows = {name: 10 for name in columns}
    return Facts(columns, stored, rows)


def test_the_migrations_redshift_statements_pass_the_lint(redshift_env):  # noqa: F811
    plan = decide(_older_redshift_warehouse(), REDSHIFT)
    step = next(s for s in plan.needed if s.name == "staging_events")
    assert step.action.startswith("alter (add user_agent; widen song), re-read")
    warehouse = make_warehouse()
    texts = [
        to_text(statement).strip()
        for s in plan.needed
        for transaction in transactions(warehouse, s, "batch")
        if transaction is not None
        for statement in transaction.statements
    ]
    # Redshift cannot ALTER COLUMN TYPE in a transaction: the widened table is swapped.
    assert not [t for t in texts if "ALTER COLUMN" in t]
    assert 'ALTER TABLE "public"."staging_events__migrating" RENAME TO "staging_events"' in texts
    assert 'DROP TABLE IF EXISTS "public"."plays_per_user"' in texts
    widths = model_widths(texts)
    findings = [
        f"{finding}\n  in: {text[:200]}" for text in texts for finding in lint(text, widths)
    ]
    assert findings == []
