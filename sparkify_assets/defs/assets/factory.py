"""One asset per built table, made from its ``Table``: a new table is one definition.

The factory reads everything from the definition: the asset's deps are the table's
``depends_on``, a daily table is daily partitioned,
and the description, schema and lineage come from ``metadata``. Each step is one
``Warehouse.build`` (see ``sql.changes``): a partitioned table replaces the run's days, a table
with a scope replaces what its pending changes reach, and a full refresh replaces everything.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DailyPartitionsDefinition,
    MaterializeResult,
    ResourceParam,
    asset,
)

from sparkify_assets.defs.assets.common import asset_args, failing_fast, partition_window
from sparkify_assets.defs.assets.metadata import (
    materialization_metadata,
    record_partition_figures,
)
from sparkify_assets.sql import catalog
from sparkify_assets.sql.model import Table, TableKind
from sparkify_assets.warehouse.base import Warehouse

# Run tag asking for a full rebuild: "derived" rebuilds every built table whole from staging
# (`sparkify load`), "all" also re-reads every song file (`sparkify load --full-refresh`, the
# `full_refresh` job). Without it a run builds only what changed.
FULL_REFRESH_TAG = "sparkify/full_refresh"
FULL_REFRESH_VALUES = ("derived", "all")
# The song refresh re-matches plays on any day; it does not rebuild the day it is launched for.
SONG_REFRESH_JOB = "refresh_songs"


def full_refresh(context: AssetExecutionContext, songs: bool = False) -> bool:
    """Whether this run rebuilds everything (``songs``: re-reading every song file too)."""
    value = context.run.tags.get(FULL_REFRESH_TAG, "")
    return value == "all" if songs else value in FULL_REFRESH_VALUES


def table_asset(table: Table, group: str, daily: DailyPartitionsDefinition) -> AssetsDefinition:
    partitioned = table.kind is TableKind.DAILY

    @asset(
        deps=[AssetKey(name) for name in table.depends_on],
        partitions_def=daily if partitioned else None,
        **asset_args(table, group, ("sql",)),
    )
    def _build(context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]):
        window = partition_window(context) if partitioned else None
        days = None if context.job_name == SONG_REFRESH_JOB else window
        with failing_fast():
            outcome = warehouse.build(table, days, full=full_refresh(context))
            metadata = materialization_metadata(warehouse, table, window)
            if partitioned:  # each day of a multi-day run gets its own figures
                record_partition_figures(context, warehouse, table)
        return MaterializeResult(
            metadata={
                **metadata,
                "build_mode": outcome.mode,
                "pending_changes_applied": outcome.pending,
                "build_seconds": round(outcome.seconds, 3),
            }
        )

    return _build


def built_assets(daily: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    """Every built table's asset, in run order, read from the registry when called."""
    return [
        table_asset(table, group, daily)
        for group, tables in catalog.BUILT_GROUPS
        for table in tables
    ]
