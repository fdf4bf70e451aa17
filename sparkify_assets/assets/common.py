"""Decorator arguments and results every table asset shares, derived from its Table definition."""

from __future__ import annotations

from datetime import date, timedelta

from dagster import AssetExecutionContext, BackfillPolicy, MaterializeResult

from .. import settings
from ..sql.tables import Table
from ..warehouse.base import Warehouse
from .metadata import definition_metadata, describe, materialization_metadata

OWNERS = ["team:data-platform"]


def target_kind() -> str:
    return "redshift" if settings.deployment() == "redshift" else "postgres"


def source_kinds() -> tuple[str, ...]:
    """Where staging reads from: JSON files, in S3 when the source (or the target) is there."""
    in_s3 = settings.data_uri().startswith("s3://") or settings.deployment() == "redshift"
    return ("json", "s3") if in_s3 else ("json",)


def asset_args(table: Table, group: str, extra_kinds: tuple[str, ...] = ()) -> dict:
    """The @asset keyword arguments that come straight from the table definition."""
    return {
        "name": table.name,
        "description": describe(table),
        "group_name": group,
        "kinds": {target_kind(), *extra_kinds},
        "owners": OWNERS,
        # Every table, partitioned or not, runs a range of days as ONE run: the daily assets
        # take the whole range in one step (each day still its own transaction), and the
        # unpartitioned dimensions join that run after them, so
        # `dagster asset materialize --select '*' --partition-range A...B` is a single run.
        "backfill_policy": BackfillPolicy.single_run(),
        "metadata": definition_metadata(table),
    }


def rebuilt(
    warehouse: Warehouse, table: Table, window: tuple[date, date] | None = None
) -> MaterializeResult:
    """Rebuild a table from its SQL and report what it now holds."""
    _, seconds = warehouse.rebuild(table, window)
    return MaterializeResult(
        metadata={
            **materialization_metadata(warehouse, table, window),
            "build_seconds": round(seconds, 3),
        }
    )


def partition_days(context: AssetExecutionContext) -> list[date]:
    """The UTC days this run materializes (one, or a backfill range)."""
    window = context.partition_time_window
    first, end = window.start.date(), window.end.date()
    return [first + timedelta(days=offset) for offset in range((end - first).days)]


def partition_window(context: AssetExecutionContext) -> tuple[date, date]:
    window = context.partition_time_window
    return window.start.date(), window.end.date()
