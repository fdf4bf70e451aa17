"""The warehouse tables as Dagster assets: staging, then one asset per built table."""

from sparkify_assets.defs.assets.factory import built_assets
from sparkify_assets.defs.assets.staging import staging_events, staging_songs

STAGING_ASSETS = [staging_events, staging_songs]


def all_assets() -> list:
    """Staging and every built table of the registry, made when called."""
    return [*STAGING_ASSETS, *built_assets()]


ALL_ASSETS = all_assets()
