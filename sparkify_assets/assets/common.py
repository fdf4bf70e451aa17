"""Decorator arguments and metadata every table asset shares, derived from its Table definition."""

from __future__ import annotations

from datetime import date, timedelta

from dagster import AssetExecutionContext, BackfillPolicy, TableColumn, TableSchema

from .. import settings
from ..sql.tables import Table

OWNERS = ["team:data-platform"]


def target_kind() -> str:
    return "redshift" if settings.deployment() == "redshift" else "postgres"


def column_schema(table: Table) -> TableSchema:
    return TableSchema(
        columns=[
            TableColumn(column.name, column.type, description=column.description or None)
            for column in table.columns
        ]
    )


def asset_args(table: Table, group: str, extra_kinds: tuple[str, ...] = ()) -> dict:
    """The @asset keyword arguments that come straight from the table definition."""
    return {
        "name": table.name,
        "description": table.description,
        "group_name": group,
        "kinds": {target_kind(), *extra_kinds},
        "owners": OWNERS,
        # Every table, partitioned or not, runs a range of days as ONE run: the daily assets
        # take the whole range in one step (each day still its own transaction), and the
        # unpartitioned dimensions join that run after them, so
        # `dagster asset materialize --select '*' --partition-range A...B` is a single run.
        "backfill_policy": BackfillPolicy.single_run(),
        "metadata": {
            "dagster/table_name": table.name,
            "dagster/column_schema": column_schema(table),
        },
    }


def partition_days(context: AssetExecutionContext) -> list[date]:
    """The UTC days this run materializes (one, or a backfill range)."""
    window = context.partition_time_window
    first, end = window.start.date(), window.end.date()
    return [first + timedelta(days=offset) for offset in range((end - first).days)]


def partition_window(context: AssetExecutionContext) -> tuple[date, date]:
    window = context.partition_time_window
    return window.start.date(), window.end.date()
