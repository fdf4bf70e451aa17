"""The star schema: one asset per table, each a shared SQL rebuild from staging.

songplays is partitioned like staging_events and rebuilds only the days of the run. The
dimensions are unpartitioned: they are rebuilt whole after the days they depend on, because a
user's latest level or an artist's details can change with any day's data.
"""

from dagster import AssetExecutionContext, MaterializeResult, ResourceParam, asset

from sparkify_assets.defs.assets.common import asset_args, partition_window, rebuilt
from sparkify_assets.defs.assets.metadata import record_partition_figures
from sparkify_assets.defs.assets.staging import staging_events, staging_songs
from sparkify_assets.defs.partitions import DAILY
from sparkify_assets.sql.tables import ARTISTS, SONGPLAYS, SONGS, TIME, USERS
from sparkify_assets.warehouse.base import Warehouse


@asset(
    deps=[staging_events, staging_songs],
    partitions_def=DAILY,
    **asset_args(SONGPLAYS, "star", ("sql",)),
)
def songplays(
    context: AssetExecutionContext, warehouse: ResourceParam[Warehouse]
) -> MaterializeResult:
    result = rebuilt(warehouse, SONGPLAYS, partition_window(context))
    record_partition_figures(context, warehouse, SONGPLAYS)
    return result


@asset(deps=[staging_events], **asset_args(USERS, "star", ("sql",)))
def users(warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    return rebuilt(warehouse, USERS)


@asset(deps=[staging_songs], **asset_args(SONGS, "star", ("sql",)))
def songs(warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    return rebuilt(warehouse, SONGS)


@asset(deps=[staging_songs], **asset_args(ARTISTS, "star", ("sql",)))
def artists(warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    return rebuilt(warehouse, ARTISTS)


@asset(deps=[songplays], **asset_args(TIME, "star", ("sql",)))
def time(warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    return rebuilt(warehouse, TIME)
