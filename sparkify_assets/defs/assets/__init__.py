"""The warehouse tables as Dagster assets: staging, then one asset per built table."""

import warnings

from dagster import AssetsDefinition, BetaWarning, DailyPartitionsDefinition

from sparkify_assets.defs.assets.factory import built_assets
from sparkify_assets.defs.assets.staging import staging_assets


def all_assets(daily: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    """Staging and every built table of the registry, made when called."""
    with warnings.catch_warnings():
        # backfill_policy is beta in Dagster; the one-run backfills rely on it knowingly. The
        # filter covers exactly where every asset is given it, so it holds in any process and
        # under pytest, which resets the filters around every test.
        warnings.filterwarnings("ignore", category=BetaWarning, message=".*backfill_policy.*")
        return [*staging_assets(daily), *built_assets(daily)]
