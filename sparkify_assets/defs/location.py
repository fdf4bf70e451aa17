"""The code location's contents: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

from dagster import AssetSelection, Definitions, define_asset_job

from sparkify_assets.defs.alerts import run_failure_alert
from sparkify_assets.defs.assets import all_assets
from sparkify_assets.defs.assets.factory import FULL_REFRESH_TAG
from sparkify_assets.defs.automation import (
    AUTOMATION_JOBS,
    AUTOMATION_SCHEDULES,
    AUTOMATION_SENSORS,
    load_day,
)
from sparkify_assets.defs.checks import TABLE_CHECKS
from sparkify_assets.defs.cluster_jobs import CLUSTER_JOBS, redshift_idle_pause
from sparkify_assets.defs.freshness import with_freshness
from sparkify_assets.defs.migration_job import MIGRATION_JOBS
from sparkify_assets.defs.partitions import daily_partitions
from sparkify_assets.defs.redshift import redshift_resource
from sparkify_assets.defs.resources import (
    alerts_resource,
    source_resource,
    warehouse_resource,
)

# Everything, for a range of days: what `sparkify load` runs and what a backfill looks like.
load_everything = define_asset_job("load_everything", selection=AssetSelection.all())
# The oracle and the recovery after a change of SQL: every table rebuilt from staging, every
# song file re-read. Run it over the range of days to reload (or all of them).
full_refresh = define_asset_job(
    "full_refresh",
    selection=AssetSelection.all(),
    tags={FULL_REFRESH_TAG: "all"},
    description="Every table rebuilt whole from staging; every song file re-read.",
)
# A run's checks look at the days it wrote; this one checks every rule over every day.
full_audit = define_asset_job(
    "full_audit",
    selection=AssetSelection.all_asset_checks(),
    description="Every asset check over all the data (a run's own checks see only its days).",
)


def resources_for(deployment: str) -> dict:
    """The deployment's warehouse and source, and its Redshift resource: every deployment has one
    (the cluster jobs, so a laptop can bring the production cluster up), and on Redshift the
    warehouse is its connection, one object for both. ``build_definitions`` adds the rest."""
    redshift = redshift_resource()
    return {
        "warehouse": warehouse_resource(deployment, redshift),
        "redshift": redshift,
        "source": source_resource(deployment),
    }


def build_definitions(resources: dict) -> Definitions:
    """The code location with the given resources (tests pass their own warehouse and source).

    Everything is made here, when Dagster loads the location, not at import: the daily
    partitions list a folder source once, and every daily asset shares that one definition.
    """
    defs = Definitions(
        assets=all_assets(daily_partitions()),
        asset_checks=TABLE_CHECKS,
        jobs=[
            load_everything,
            full_refresh,
            full_audit,
            *CLUSTER_JOBS,
            *AUTOMATION_JOBS,
            *MIGRATION_JOBS,
        ],
        schedules=AUTOMATION_SCHEDULES,
        sensors=[*AUTOMATION_SENSORS, run_failure_alert, redshift_idle_pause],
        resources={"redshift": redshift_resource(), "alerts": alerts_resource(), **resources},
    )
    return with_freshness(defs, load_day.selection)
