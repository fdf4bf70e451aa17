"""Data-quality rules as SQL: each rule is a query for *violations*, passing when it returns none.

Because every rule has that one shape, the Dagster checks can count violations and show a few
offending keys the same way for all of them, and ``sparkify sql`` can print them for Redshift.
Rules that every keyed table gets (non-empty, primary key) are derived from its definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from psycopg2 import sql

from .render import table_ref
from .tables import ALL_TABLES, Table


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
    """Duplicate or NULL keys; a composite key is grouped by all its columns (portable SQL)."""
    keys = [sql.Identifier(column) for column in table.primary_key]
    any_null = sql.SQL(" OR ").join(sql.SQL("{} IS NULL").format(key) for key in keys)

    def violations(schema: str) -> sql.Composed:
        return sql.SQL(
            "SELECT {keys}, COUNT(*) AS copies FROM {table} "
            "GROUP BY {keys} HAVING COUNT(*) > 1 OR {any_null}"
        ).format(keys=sql.SQL(", ").join(keys), table=table_ref(schema, table.name),
                 any_null=any_null)

    key = ", ".join(table.primary_key)
    return Rule(
        table.name, "primary_key",
        f"({key}) is unique and never NULL (Redshift does not enforce primary keys).",
        violations,
    )


def rules_for(table: Table) -> list[Rule]:
    return [_not_empty(table), _primary_key(table)]


# Every table with a key (the star schema and analytics) gets the rules; staging has none.
RULES: dict[str, list[Rule]] = {
    table.name: rules_for(table) for table in ALL_TABLES if table.primary_key
}


def count_and_sample(rule: Rule, schema: str, sample: int = 5) -> tuple[sql.Composed, sql.Composed]:
    violations = rule.violations(schema)
    count = sql.SQL("SELECT COUNT(*) FROM ({}) violations").format(violations)
    return count, violations + sql.SQL(" LIMIT {}").format(sql.Literal(sample))
