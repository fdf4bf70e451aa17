"""Each target's DDL comes from its dialect object and parses with that target's grammar."""

import pytest
import sqlglot

from sparkify_assets.sql import render
from sparkify_assets.sql.catalog import ALL_TABLES
from sparkify_assets.sql.dialect import DIALECTS, POSTGRES, REDSHIFT
from sparkify_assets.sql.tables import SONGPLAYS, STAGING_EVENTS


@pytest.mark.parametrize("dialect", DIALECTS.values(), ids=DIALECTS)
def test_every_table_and_index_parses_in_its_own_dialect(dialect):
    for table in ALL_TABLES:
        for statement in (
            render.create_table(table, "public", dialect),
            *render.create_indexes(table, "public", dialect),
        ):
            sqlglot.parse_one(render.to_text(statement), read=dialect.name)


def test_redshift_places_rows_and_postgres_indexes_the_staging_day():
    redshift = render.to_text(render.create_table(SONGPLAYS, "public", REDSHIFT))
    postgres = render.to_text(render.create_table(SONGPLAYS, "public", POSTGRES))
    assert "DISTKEY(start_time)" in redshift and "SORTKEY(start_time)" in redshift
    assert "DIST" not in postgres and "SORTKEY" not in postgres

    tables_with_index = {
        (dialect.name, table.name)
        for dialect in DIALECTS.values()
        for table in ALL_TABLES
        if render.create_indexes(table, "public", dialect)
    }
    # staging_events, and the daily built tables a day's run replaces one day of.
    assert tables_with_index == {
        ("postgres", name)
        for name in (
            STAGING_EVENTS.name,
            "songplays",
            "time",
            "user_latest_by_day",
            "user_plays_by_hour",
        )
    }
