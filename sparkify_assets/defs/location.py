"""The code location's contents: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

import warnings

from dagster import AssetSelection, BetaWarning, Definitions, PreviewWarning, define_asset_job

# backfill_policy is beta in Dagster and mapping over asset specs a preview; the one-run
# backfills and the freshness policy (applied in one place) rely on them knowingly.
warnings.filterwarnings("ignore", category=BetaWarning, message=".*backfill_policy.*")
warnings.filterwarnings("ignore", category=PreviewWarning, message=".*map_resolved_asset_specs.*")

from sparkify_assets.defs.assets import ALL_ASSETS  # noqa: E402
from sparkify_assets.defs.automation import (  # noqa: E402
    AUTOMATION_JOBS,
    AUTOMATION_SCHEDULES,
    AUTOMATION_SENSORS,
)
from sparkify_assets.defs.automation import load_day  # noqa: E402
from sparkify_assets.defs.checks import TABLE_CHECKS  # noqa: E402
from sparkify_assets.defs.freshness import with_freshness  # noqa: E402
from sparkify_assets.defs.resources import source_resource, warehouse_resource  # noqa: E402
from sparkify_assets.ops.cluster import CLUSTER_JOBS, RedshiftCluster  # noqa: E402

# Everything, for a range of days: what `sparkify load` runs and what a backfill looks like.
load_everything = define_asset_job("load_everything", selection=AssetSelection.all())


def cluster() -> RedshiftCluster:
    # Every deployment gets the cluster jobs, so a laptop can bring the production cluster up.
    # The password only matters to `up`; without it the other jobs still work.
    from sparkify_assets.defs.resources import secret_from_env

    return RedshiftCluster.from_env(master_password=secret_from_env("REDSHIFT_PASSWORD"))


def resources_for(deployment: str) -> dict:
    return {
        "warehouse": warehouse_resource(deployment),
        "source": source_resource(deployment),
        "cluster": cluster(),
    }


def build_definitions(resources: dict) -> Definitions:
    """The code location with the given resources (tests pass their own warehouse and source)."""
    defs = Definitions(
        assets=ALL_ASSETS,
        asset_checks=TABLE_CHECKS,
        jobs=[load_everything, *CLUSTER_JOBS, *AUTOMATION_JOBS],
        schedules=AUTOMATION_SCHEDULES,
        sensors=AUTOMATION_SENSORS,
        resources={"cluster": RedshiftCluster(), **resources},
    )
    return with_freshness(defs, load_day.selection)
