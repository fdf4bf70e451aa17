"""One rule's check result on an open cursor, for tests that judge a single rule.

The check steps themselves run a table's rules together (``defs.checks.evaluate_all``).
"""

from dagster import AssetCheckResult

from sparkify_assets.defs.checks import check_result, count_rows, find_violations
from sparkify_assets.sql.checks import Rule


def evaluate(rule: Rule, cursor, schema: str) -> AssetCheckResult:
    """Run one rule and count its table."""
    violations, sample = find_violations(rule, cursor, schema)
    return check_result(rule, violations, sample, count_rows(cursor, schema, rule.table))
