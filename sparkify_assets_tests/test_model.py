"""The typed model checks itself at import: kinds, dependencies, and what is consumed is emitted.

Each rule has a breaking case: a table definition changed in one place, refused with a message
that names the table and the disagreement.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from sparkify_assets.sql import catalog
from sparkify_assets.sql.model import (
    ChangeKind,
    Consumes,
    Emit,
    TableKind,
    Window,
    check_model,
)
from sparkify_assets.sql.tables import SONGPLAYS, USERS


def _with(table, **changes):
    tables = [dataclasses.replace(t, **changes) if t is table else t for t in catalog.ALL_TABLES]
    return tables


def test_the_catalog_is_consistent():
    check_model(catalog.ALL_TABLES)
    kinds = {table.name: table.kind for table in catalog.ALL_TABLES}
    assert kinds["staging_events"] is TableKind.STAGING
    assert kinds["songplays"] is TableKind.DAILY
    assert kinds["users"] is TableKind.SCOPED
    assert {t.kind for t in catalog.BUILT_TABLES} <= {TableKind.DAILY, TableKind.SCOPED}


def test_a_consumed_change_that_is_not_emitted_is_refused():
    # users is told about users of user_latest_by_day; that table emits no days.
    scope = dataclasses.replace(
        USERS.scope, consumes=(Consumes("user_latest_by_day", ChangeKind.DAY),)
    )
    with pytest.raises(ValueError, match="users consumes day changes of user_latest_by_day"):
        check_model(_with(USERS, scope=scope))


def test_a_producer_that_stops_emitting_is_refused():
    # songplays consumes staging_songs' pairs: staging_songs without them breaks it.
    staging_songs = catalog.TABLES["staging_songs"]
    emits = tuple(e for e in staging_songs.emits if e.kind is not ChangeKind.PAIR)
    with pytest.raises(ValueError, match="songplays consumes pair changes of staging_songs"):
        check_model(_with(staging_songs, emits=emits))


def test_dependencies_must_be_what_the_sql_reads():
    with pytest.raises(ValueError, match=r"songplays: depends_on \['staging_events'\]"):
        check_model(_with(SONGPLAYS, depends_on=("staging_events",)))


def test_an_emit_names_a_key_per_column_of_its_kind():
    emits = (Emit(ChangeKind.PAIR, ("title",)),)
    staging_songs = catalog.TABLES["staging_songs"]
    with pytest.raises(ValueError, match="staging_songs emits pair with 1 keys"):
        check_model(_with(staging_songs, emits=(*staging_songs.emits[1:], *emits)))


def test_a_kind_needs_its_parts():
    with pytest.raises(ValueError, match="songplays: a daily table needs"):
        check_model(_with(SONGPLAYS, window_column=None))
    with pytest.raises(ValueError, match="users: a scoped table needs"):
        check_model(_with(USERS, scope=None))


def test_a_window_is_a_pair_of_days():
    window = Window(date(2018, 11, 1), date(2018, 11, 3))
    start, end = window
    assert window.days == 2 and start < end
