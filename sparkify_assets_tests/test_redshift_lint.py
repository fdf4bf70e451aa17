"""The Redshift lint (``redshift_lint``) over every statement ``sparkify sql --target redshift``
prints, and over one deliberately broken statement per rule.

The statements come from ``deployment_sql``, the same list ``sparkify sql`` prints and the
warehouse runs, so any statement added there (the incremental loads included) is linted with no
change here. Column widths come from the ``Table`` model (``sql.catalog``), from each CREATE TABLE
of the script itself (the temp tables COPY lands in, rendered from the model too), and from the
documented types of the load-error views (SYS_LOAD_ERROR_DETAIL.html, r_STL_LOAD_ERRORS.html).
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlglot import exp

from sparkify_assets.sql import changes, render
from sparkify_assets.sql.analytics import TOP_SONGS
from sparkify_assets.sql.catalog import ALL_TABLES
from sparkify_assets.sql.dialect import REDSHIFT

from .redshift_lint import RULES, Widths, lint, parse
from .test_redshift_sql import (
    redshift_env,  # noqa: F401 (fixture)
    redshift_statements,
)

DAYS = {date(2018, 11, day): [f"log_data/2018/11/2018-11-{day:02d}-events.json"] for day in (1, 2)}
DAYS[date(2018, 11, 2)].append("log_data/2018/11/2018-11-02-events-late.json")

# Documented column types of the views COPY's rejects are read from.
LOAD_ERROR_VIEWS = {
    "sys_load_error_detail": {
        "session_id": "INTEGER",
        "start_time": "TIMESTAMP",
        "file_name": "CHAR(256)",
        "line_number": "BIGINT",
        "column_name": "CHAR(127)",
        "error_code": "INTEGER",
        "error_message": "CHAR(512)",
    },
    "stl_load_errors": {
        "session": "INTEGER",
        "starttime": "TIMESTAMP",
        "filename": "CHAR(256)",
        "line_number": "BIGINT",
        "colname": "CHAR(127)",
        "err_code": "INTEGER",
        "err_reason": "CHAR(100)",
        "raw_line": "CHAR(1024)",
    },
}


def model_widths(statements: list[str]) -> Widths:
    tables = {t.name: {c.name: c.type for c in t.columns} for t in ALL_TABLES}
    for text in statements:
        for create in (e for e in parse(text) if isinstance(e, exp.Create)):
            if create.kind == "TABLE" and isinstance(create.this, exp.Schema):
                name = create.this.this.name
                columns = {
                    d.name: d.args["kind"].sql("redshift")
                    for d in create.this.expressions
                    if isinstance(d, exp.ColumnDef)
                }
                assert tables.setdefault(name, columns) == columns, f"{name} differs from model"
    return {"public": {**tables, **LOAD_ERROR_VIEWS}}


@pytest.fixture
def script(redshift_env) -> list[str]:  # noqa: F811
    return redshift_statements(DAYS)


@pytest.mark.parametrize("view", sorted(LOAD_ERROR_VIEWS))
def test_every_printed_statement_passes_the_lint(script, view, monkeypatch) -> None:
    monkeypatch.setenv("REDSHIFT_LOAD_ERRORS_VIEW", view)
    statements = redshift_statements(DAYS)
    widths = model_widths(statements)

    findings = [
        f"{finding}\n  in: {text[:200]}" for text in statements for finding in lint(text, widths)
    ]

    assert findings == []
    kinds = {type(e).__name__ for text in statements for e in parse(text)}
    assert kinds >= {"Create", "Copy", "Insert", "Delete", "Select", "Update", "Drop"}
    assert sum(text.startswith("INSERT INTO") for text in statements) > 20


def test_the_audits_finding_fails_the_lint(script) -> None:
    """The audit's item 1: analytics titles narrower in bytes than the song titles they copy."""
    narrow = dataclasses.replace(
        TOP_SONGS,
        columns=tuple(
            dataclasses.replace(c, type="VARCHAR(512)") if c.name == "title" else c
            for c in TOP_SONGS.columns
        ),
    )
    widths = model_widths(script)
    widths["public"]["top_songs"] = {c.name: c.type for c in narrow.columns}
    (insert,) = [
        render.to_text(s)
        for s in changes.replace_all(narrow, ALL_TABLES, "public", "batch", REDSHIFT)
        if render.to_text(s).startswith("INSERT")
    ]

    (finding,) = lint(insert, widths)

    assert finding.rule == "varchar_width"
    assert finding.message.startswith(
        "top_songs.title is VARCHAR(512) but is filled with up to 1024 bytes"
    )


WIDTHS: Widths = {
    "public": {
        "t": {"k": "INTEGER", "a": "VARCHAR(16)", "b": "INTEGER", "c": "VARCHAR(1024)"},
        "s": {"k": "INTEGER", "a": "VARCHAR(16)", "b": "INTEGER", "c": "VARCHAR(1024)"},
        "u": {"k": "INTEGER", "x": "INTEGER"},
        "v": {"msg": "CHAR(512)", "name": "VARCHAR(1024)"},
    }
}

# One deliberately broken statement per rule, each next to the documented way that passes.
BROKEN = {
    "varchar_width": (
        "INSERT INTO t (a) WITH x AS (SELECT s.* FROM s) SELECT c FROM (SELECT * FROM x) y",
        "INSERT INTO t (a) WITH x AS (SELECT s.* FROM s) SELECT a FROM (SELECT * FROM x) y",
    ),
    "distinct_on": ("SELECT DISTINCT ON (a) a, b FROM t", "SELECT DISTINCT a, b FROM t"),
    "on_conflict": (
        "INSERT INTO t (k) SELECT k FROM s ON CONFLICT (k) DO NOTHING",
        "INSERT INTO t (k) SELECT k FROM s WHERE k NOT IN (SELECT k FROM t)",
    ),
    "returning": ("DELETE FROM t WHERE k = 1 RETURNING k", "DELETE FROM t WHERE k = 1"),
    "unsupported_function": (
        "SELECT a FROM t WHERE a IS DISTINCT FROM c",
        "SELECT a FROM t WHERE a <> c OR (a IS NULL) <> (c IS NULL)",
    ),
    "leader_node_only": ("SELECT NOW(), a FROM t", "SELECT GETDATE(), a FROM t"),
    "array_or_json": ("SELECT c -> 'key' FROM t", "SELECT JSON_EXTRACT_PATH_TEXT(c, 'key') FROM t"),
    "unsupported_type": ("CREATE TABLE w (a TEXT)", "CREATE TABLE w (a VARCHAR(256))"),
    "aggregate_filter": (
        "SELECT COUNT(*) FILTER (WHERE b > 1) FROM t",
        "SELECT SUM(CASE WHEN b > 1 THEN 1 ELSE 0 END) FROM t",
    ),
    "window_frame": (
        "SELECT SUM(b) OVER (PARTITION BY k ORDER BY b) FROM t",
        "SELECT SUM(b) OVER (PARTITION BY k ORDER BY b ROWS UNBOUNDED PRECEDING) FROM t",
    ),
    "count_distinct_window": (
        "SELECT COUNT(DISTINCT b) OVER (PARTITION BY k) FROM t",
        "SELECT k, COUNT(DISTINCT b) FROM t GROUP BY k",
    ),
    "correlated_subquery": (
        "SELECT a, (SELECT MAX(u.x) FROM u WHERE u.k = t.k) FROM t",
        "SELECT t.a, m.x FROM t LEFT JOIN (SELECT k, MAX(x) AS x FROM u GROUP BY k) m ON m.k = t.k",
    ),
    "merge_source": (
        "MERGE INTO t USING (SELECT * FROM s) src ON t.k = src.k "
        "WHEN MATCHED THEN UPDATE SET b = src.b "
        "WHEN NOT MATCHED THEN INSERT (k, b) VALUES (src.k, src.b)",
        "MERGE INTO t USING s ON t.k = s.k WHEN MATCHED THEN UPDATE SET b = s.b "
        "WHEN NOT MATCHED THEN INSERT (k, b) VALUES (s.k, s.b)",
    ),
    "values_table": (
        "SELECT * FROM (VALUES (1), (2)) v (a)",
        "SELECT 1 AS a UNION ALL SELECT 2",
    ),
    "collation": ('SELECT a FROM t ORDER BY a COLLATE "C"', "SELECT a FROM t ORDER BY a"),
}


def test_every_rule_has_a_broken_case() -> None:
    assert set(BROKEN) == set(RULES)


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_each_rule_fails_its_broken_statement_and_passes_the_fixed_one(rule: str) -> None:
    broken, fixed = BROKEN[rule]

    assert {finding.rule for finding in lint(broken, WIDTHS)} == {rule}
    assert lint(fixed, WIDTHS) == []


@pytest.mark.parametrize(
    ("statement", "rule"),
    [
        ("INSERT INTO t (a) VALUES ('abc'), ('ééééééééé')", "varchar_width"),  # 18 bytes
        ("UPDATE t SET a = c", "varchar_width"),
        ("INSERT INTO t (a) SELECT LEFT(c, 16) FROM t", "varchar_width"),  # 64 bytes
        ("SELECT g FROM t, generate_series(1, 10) g", "unsupported_function"),
        ("SELECT STRING_AGG(a, ',') FROM t", "unsupported_function"),
        ("SELECT a[1] FROM t", "array_or_json"),
        ("SELECT a FROM t WHERE b @> ARRAY[1]", "array_or_json"),
        ("SELECT SUM(b) OVER (ORDER BY b RANGE UNBOUNDED PRECEDING) FROM t", "window_frame"),
        ("MERGE INTO t USING s ON t.k = s.k WHEN MATCHED AND s.b > 1 THEN DELETE", "merge_source"),
        (
            "SELECT a FROM t JOIN s ON s.k = (SELECT MAX(u.k) FROM u WHERE u.x = t.b)",
            "correlated_subquery",
        ),
    ],
)
def test_more_broken_statements(statement: str, rule: str) -> None:
    assert rule in {finding.rule for finding in lint(statement, WIDTHS)}


@pytest.mark.parametrize(
    "statement",
    [
        # The byte-safe cut of load_rejects.reason: each branch is guarded by its OCTET_LENGTH.
        "INSERT INTO t (a) SELECT CASE WHEN OCTET_LENGTH(LEFT(name, 16)) <= 16 THEN "
        "LEFT(name, 16) ELSE LEFT(name, 4) END FROM v",
        "INSERT INTO t (a) SELECT COALESCE(a, 'unknown') FROM s",
        "INSERT INTO t (c) SELECT 'x' || a || CAST(b AS VARCHAR(11)) FROM s",
        "INSERT INTO t (a) SELECT a FROM s UNION ALL SELECT CAST('day' AS VARCHAR(8))",
    ],
)
def test_bounded_fills_pass(statement: str) -> None:
    assert lint(statement, WIDTHS) == []
