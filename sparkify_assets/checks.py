"""Dagster asset checks built from the SQL rules in ``sql.checks``.

Each table gets one multi-asset check for the rules that read only it and what is built before
it, so they run right after the asset in the same run; a blocking rule that fails with ERROR stops
the downstream assets. Rules that read tables built later (songplays' references into users,
time, songs, artists) go in a second check that declares those tables as ``additional_deps``, so
in a run that builds them it runs after they are materialized. Results carry the violation
count, the table's row count and a few offending rows.
"""


from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    multi_asset_check,
)
from psycopg2 import sql

from .sql.checks import RULES, WARN, Rule, count_and_sample
from .warehouse.base import Warehouse


def evaluate(rule: Rule, cursor, schema: str) -> AssetCheckResult:
    """Run one rule on an open cursor: its violation count and, when it fails, a sample."""
    count_query, sample_query = count_and_sample(rule, schema)
    cursor.execute(count_query)
    (violations,) = cursor.fetchone()
    sample = []
    if violations:
        cursor.execute(sample_query)
        sample = [", ".join(map(str, row)) for row in cursor.fetchall()]
    cursor.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(schema, rule.table)))
    (rows,) = cursor.fetchone()
    return AssetCheckResult(
        asset_key=rule.table,
        check_name=rule.name,
        passed=violations == 0,
        severity=AssetCheckSeverity.WARN if rule.severity == WARN else AssetCheckSeverity.ERROR,
        description=rule.description,
        metadata={
            "violations": violations,
            "table_rows": rows,
            "sample": MetadataValue.md("\n".join(f"- `{row}`" for row in sample) or "none"),
        },
    )


def table_checks(name: str, rules: list[Rule]) -> AssetChecksDefinition:
    specs = [
        AssetCheckSpec(rule.name, asset=rule.table, description=rule.description,
                       blocking=rule.blocking, additional_deps=list(rule.after))
        for rule in rules
    ]

    @multi_asset_check(specs=specs, name=name, can_subset=True)
    def _checks(context, warehouse: Warehouse):
        selected = {key.name for key in context.selected_asset_check_keys}
        warehouse.ensure_tables()  # on an empty warehouse, not_empty fails instead of erroring
        with warehouse.transaction() as cursor:
            results = [evaluate(rule, cursor, warehouse.schema_name)
                       for rule in rules if rule.name in selected]
        yield from results

    return _checks


def checks_for(table: str, rules: list[Rule]) -> list[AssetChecksDefinition]:
    own = [rule for rule in rules if not rule.after]
    later = [rule for rule in rules if rule.after]
    groups = [(f"{table}_checks", own), (f"{table}_integrity_checks", later)]
    return [table_checks(name, group) for name, group in groups if group]


TABLE_CHECKS = [check for table, rules in RULES.items() for check in checks_for(table, rules)]
