"""Analytics: the business questions, one asset per table in ``sql/analytics.py``.

Each is a full rebuild from the star schema (the tables are small), runs after the star tables
it reads, and shows its answer as a markdown ``summary`` on every materialization.
"""

from dagster import MaterializeResult, ResourceParam, asset

from sparkify_assets.defs.assets.common import asset_args, rebuilt
from sparkify_assets.defs.assets.star import artists, songplays, songs, time, users
from sparkify_assets.sql.analytics import (
    LEVEL_CHANGES,
    PLAYS_BY_LEVEL,
    PLAYS_BY_WEEKDAY_HOUR,
    RECENT_PLAYS,
    TOP_ARTISTS,
    TOP_SONGS,
)
from sparkify_assets.warehouse.base import Warehouse

GROUP = "analytics"
KINDS = ("sql",)


@asset(deps=[songplays, songs, artists], **asset_args(TOP_SONGS, GROUP, KINDS))
def top_songs(warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    return rebuilt(warehouse, TOP_SONGS)


@asset(deps=[songplays, artists], **asset_args(TOP_ARTISTS, GROUP, KINDS))
def top_artists(warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    return rebuilt(warehouse, TOP_ARTISTS)


@asset(deps=[songplays, time], **asset_args(PLAYS_BY_WEEKDAY_HOUR, GROUP, KINDS))
def plays_by_weekday_hour(warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    return rebuilt(warehouse, PLAYS_BY_WEEKDAY_HOUR)


@asset(deps=[songplays], **asset_args(PLAYS_BY_LEVEL, GROUP, KINDS))
def plays_by_level(warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    return rebuilt(warehouse, PLAYS_BY_LEVEL)


@asset(deps=[songplays, users], **asset_args(LEVEL_CHANGES, GROUP, KINDS))
def level_changes(warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    return rebuilt(warehouse, LEVEL_CHANGES)


@asset(deps=[songplays, songs, artists], **asset_args(RECENT_PLAYS, GROUP, KINDS))
def recent_plays(warehouse: ResourceParam[Warehouse]) -> MaterializeResult:
    return rebuilt(warehouse, RECENT_PLAYS)
