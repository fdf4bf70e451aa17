"""Data-quality rules as SQL: each rule is a query for *violations*, passing when it returns none.

Because every rule has that one shape, the Dagster checks can count violations and show a few
offending keys the same way for all of them, and ``sparkify sql`` can print them for Redshift.
Rules that every star table gets (non-empty, primary key) are derived from its definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from psycopg2 import sql

from .render import table_ref
from .tables import STAR_TABLES, Table


@dataclass(frozen=True)
class Rule:
    table: str
    name: str
    description: str
    violations: Callable[[str], sql.Composed]  # schema -> SELECT returning offending rows
    blocking: bool = True  # ERROR and stops downstream assets; False means WARN


def _not_empty(table: Table) -> Rule:
    def violations(schema: str) -> sql.Composed:
        return sql.SQL(
            "SELECT 'no rows' AS problem WHERE NOT EXISTS (SELECT 1 FROM {})"
        ).format(table_ref(schema, table.name))

    return Rule(table.name, "not_empty", f"{table.name} has at least one row.", violations)


def _primary_key(table: Table) -> Rule:
    (key,) = table.primary_key  # every star table has a single-column key

    def violations(schema: str) -> sql.Composed:
        return sql.SQL(
            "SELECT {key} AS key_value, COUNT(*) AS copies FROM {table} "
            "GROUP BY {key} HAVING COUNT(*) > 1 OR {key} IS NULL"
        ).format(key=sql.Identifier(key), table=table_ref(schema, table.name))

    return Rule(
        table.name, "primary_key",
        f"{key} is unique and never NULL (Redshift does not enforce primary keys).",
        violations,
    )


def rules_for(table: Table) -> list[Rule]:
    return [_not_empty(table), _primary_key(table)]


RULES: dict[str, list[Rule]] = {table.name: rules_for(table) for table in STAR_TABLES}


def count_and_sample(rule: Rule, schema: str, sample: int = 5) -> tuple[sql.Composed, sql.Composed]:
    violations = rule.violations(schema)
    count = sql.SQL("SELECT COUNT(*) FROM ({}) violations").format(violations)
    return count, violations + sql.SQL(" LIMIT {}").format(sql.Literal(sample))
