"""Dagster asset checks built from the SQL rules: one multi-asset check per keyed table.

Each check runs in the same run as its asset. A blocking rule fails with ERROR severity, which
stops downstream assets and fails the run; other rules report WARN. Results carry the violation
count and a few offending rows.
"""


from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    MetadataValue,
    multi_asset_check,
)

from .sql.checks import RULES, Rule, count_and_sample
from .warehouse.base import Warehouse


def evaluate(rule: Rule, warehouse: Warehouse) -> AssetCheckResult:
    count_query, sample_query = count_and_sample(rule, warehouse.schema_name)
    with warehouse.transaction() as cursor:
        cursor.execute(count_query)
        (violations,) = cursor.fetchone()
        sample = []
        if violations:
            cursor.execute(sample_query)
            sample = [", ".join(map(str, row)) for row in cursor.fetchall()]
    return AssetCheckResult(
        asset_key=rule.table,
        check_name=rule.name,
        passed=violations == 0,
        severity=AssetCheckSeverity.ERROR if rule.blocking else AssetCheckSeverity.WARN,
        description=rule.description,
        metadata={
            "violations": violations,
            "sample": MetadataValue.md("\n".join(f"- `{row}`" for row in sample) or "none"),
        },
    )


def table_checks(table_name: str, rules: list[Rule]) -> AssetChecksDefinition:
    specs = [
        AssetCheckSpec(rule.name, asset=rule.table, description=rule.description,
                       blocking=rule.blocking)
        for rule in rules
    ]

    @multi_asset_check(specs=specs, name=f"{table_name}_checks", can_subset=True)
    def _checks(context, warehouse: Warehouse):
        selected = {key.name for key in context.selected_asset_check_keys}
        for rule in rules:
            if rule.name in selected:
                yield evaluate(rule, warehouse)

    return _checks


TABLE_CHECKS = [table_checks(name, rules) for name, rules in RULES.items()]
