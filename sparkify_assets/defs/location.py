"""The code location's contents: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

import warnings

from dagster import AssetSelection, BetaWarning, Definitions, define_asset_job

# backfill_policy is beta in Dagster; the one-run backfills rely on it knowingly.
warnings.filterwarnings("ignore", category=BetaWarning, message=".*backfill_policy.*")

from sparkify_assets.defs.assets import ALL_ASSETS  # noqa: E402
from sparkify_assets.defs.automation import (  # noqa: E402
    AUTOMATION_JOBS,
    AUTOMATION_SCHEDULES,
    AUTOMATION_SENSORS,
)
from sparkify_assets.defs.checks import TABLE_CHECKS  # noqa: E402
from sparkify_assets.defs.cluster_jobs import CLUSTER_JOBS, cluster_resource  # noqa: E402
from sparkify_assets.defs.resources import source_resource, warehouse_resource  # noqa: E402

# Everything, for a range of days: what `sparkify load` runs and what a backfill looks like.
load_everything = define_asset_job("load_everything", selection=AssetSelection.all())


def resources_for(deployment: str) -> dict:
    return {
        "warehouse": warehouse_resource(deployment),
        "source": source_resource(deployment),
        "cluster": cluster_resource(),
    }


def build_definitions(resources: dict) -> Definitions:
    """The code location with the given resources (tests pass their own warehouse and source)."""
    return Definitions(
        assets=ALL_ASSETS,
        asset_checks=TABLE_CHECKS,
        jobs=[load_everything, *CLUSTER_JOBS, *AUTOMATION_JOBS],
        schedules=AUTOMATION_SCHEDULES,
        sensors=AUTOMATION_SENSORS,
        resources={"cluster": cluster_resource(), **resources},
    )
