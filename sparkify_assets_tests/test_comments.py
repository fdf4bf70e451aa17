"""The warehouse documents itself: COMMENT ON every table and column, from the Table definitions.

Checked the way an analyst sees it, with psql's ``\\d+`` and ``\\dt+`` (the psql that ships with
the embedded server), and through the catalog for every table; the Redshift DDL carries the same.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pgserver
import pytest
import sqlglot
from sqlglot import exp

from sparkify_assets.sql.catalog import ALL_TABLES, TABLES
from sparkify_assets.sql.render import to_text
from sparkify_assets.warehouse.redshift import redshift_warehouse_from_env
from sparkify_assets_tests.test_redshift_sql import redshift_env  # noqa: F401 (fixture)


def psql_binary() -> str:
    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    found = str(bundled) if bundled.is_file() else shutil.which("psql")
    if not found:
        pytest.skip("no psql binary (neither pgserver's nor on PATH)")
    return found


def psql(url: str, command: str) -> str:
    done = subprocess.run(
        [psql_binary(), url, "-X", "-c", command], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def cells(output: str) -> list[list[str]]:
    """psql's aligned output as rows of stripped cells (header and body)."""
    return [[c.strip() for c in line.split("|")] for line in output.splitlines() if "|" in line]


def test_psql_describe_shows_every_songplays_column_comment(warehouse, database_url):
    warehouse.ensure_tables()
    rows = cells(psql(database_url, r"\d+ songplays"))
    header, body = rows[0], rows[1:]
    described = {row[0]: row[header.index("Description")] for row in body}
    expected = {column.name: column.documentation for column in TABLES["songplays"].columns}
    assert described == expected
    assert described["song_id"] == "Matched song, NULL when unmatched"


def test_psql_lists_the_table_comment(warehouse, database_url):
    warehouse.ensure_tables()
    rows = cells(psql(database_url, r"\dt+ songplays"))
    header, (row,) = rows[0], rows[1:]
    assert row[header.index("Description")] == TABLES["songplays"].description


def test_every_table_and_column_carries_its_definition(warehouse):
    warehouse.ensure_tables()
    found = dict(
        ((table, column), text)
        for table, column, text in warehouse.query(
            "SELECT c.relname, COALESCE(a.attname, ''), d.description "
            "FROM pg_description d JOIN pg_class c ON c.oid = d.objoid "
            "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid "
            "WHERE d.classoid = 'pg_class'::regclass AND c.relkind = 'r'"
        )
    )
    for table in ALL_TABLES:
        assert found[(table.name, "")] == table.description
        for column in table.columns:
            assert column.documentation, f"{table.name}.{column.name} has nothing to say"
            assert found[(table.name, column.name)] == column.documentation


def test_redshift_ddl_comments_every_column(redshift_env):  # noqa: F811
    warehouse = redshift_warehouse_from_env(require_connection=False)

    comments = [
        parsed
        for statement in warehouse.ddl()
        for parsed in sqlglot.parse(to_text(statement), read="redshift")
        if isinstance(parsed, exp.Comment)
    ]
    columns = {c.this.sql("redshift") for c in comments if c.args.get("kind") == "COLUMN"}
    schema = warehouse.schema_name
    assert columns == {
        f'"{schema}"."{table.name}"."{column.name}"'
        for table in ALL_TABLES
        for column in table.columns
    }
