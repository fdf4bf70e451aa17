"""The code location's contents: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

import warnings

from dagster import AssetSelection, BetaWarning, Definitions, define_asset_job

# backfill_policy is beta in Dagster; the one-run backfills rely on it knowingly.
warnings.filterwarnings("ignore", category=BetaWarning, message=".*backfill_policy.*")

from sparkify_assets.defs.alerts import FailureAlerts, run_failure_alert  # noqa: E402
from sparkify_assets.defs.assets import all_assets  # noqa: E402
from sparkify_assets.defs.assets.factory import FULL_REFRESH_TAG  # noqa: E402
from sparkify_assets.defs.automation import (  # noqa: E402
    AUTOMATION_JOBS,
    AUTOMATION_SCHEDULES,
    AUTOMATION_SENSORS,
    load_day,
)
from sparkify_assets.defs.checks import TABLE_CHECKS  # noqa: E402
from sparkify_assets.defs.cluster_jobs import CLUSTER_JOBS, redshift_idle_pause  # noqa: E402
from sparkify_assets.defs.freshness import with_freshness  # noqa: E402
from sparkify_assets.defs.redshift import redshift_resource  # noqa: E402
from sparkify_assets.defs.resources import (  # noqa: E402
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
    # One Redshift resource in every deployment (the cluster jobs, so a laptop can bring the
    # production cluster up); on Redshift the assets' warehouse is its connection.
    redshift = redshift_resource()
    return {
        "warehouse": warehouse_resource(deployment, redshift),
        "redshift": redshift,
        "source": source_resource(deployment),
        "alerts": alerts_resource(),
    }


def build_definitions(resources: dict) -> Definitions:
    """The code location with the given resources (tests pass their own warehouse and source)."""
    defs = Definitions(
        assets=all_assets(),
        asset_checks=TABLE_CHECKS,
        jobs=[load_everything, full_refresh, full_audit, *CLUSTER_JOBS, *AUTOMATION_JOBS],
        schedules=AUTOMATION_SCHEDULES,
        sensors=[*AUTOMATION_SENSORS, run_failure_alert, redshift_idle_pause],
        resources={"redshift": redshift_resource(), "alerts": FailureAlerts(), **resources},
    )
    return with_freshness(defs, load_day.selection)
