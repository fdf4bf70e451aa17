"""The code location's contents: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

import warnings

from dagster import AssetSelection, BetaWarning, Definitions, define_asset_job

# backfill_policy is beta in Dagster; the one-run backfills rely on it knowingly.
warnings.filterwarnings("ignore", category=BetaWarning, message=".*backfill_policy.*")

from sparkify_assets.defs.alerts import FailureAlerts, run_failure_alert  # noqa: E402
from sparkify_assets.defs.assets import ALL_ASSETS  # noqa: E402
from sparkify_assets.defs.automation import (  # noqa: E402
    AUTOMATION_JOBS,
    AUTOMATION_SCHEDULES,
    AUTOMATION_SENSORS,
    load_day,
)
from sparkify_assets.defs.checks import TABLE_CHECKS  # noqa: E402
from sparkify_assets.defs.cluster_jobs import CLUSTER_JOBS, cluster_resource  # noqa: E402
from sparkify_assets.defs.freshness import with_freshness  # noqa: E402
from sparkify_assets.defs.resources import (  # noqa: E402
    alerts_resource,
    source_resource,
    warehouse_resource,
)

# Everything, for a range of days: what `sparkify load` runs and what a backfill looks like.
load_everything = define_asset_job("load_everything", selection=AssetSelection.all())


def resources_for(deployment: str) -> dict:
    return {
        "warehouse": warehouse_resource(deployment),
        "source": source_resource(deployment),
        "cluster": cluster_resource(),
        "alerts": alerts_resource(),
    }


def build_definitions(resources: dict) -> Definitions:
    """The code location with the given resources (tests pass their own warehouse and source)."""
    defs = Definitions(
        assets=ALL_ASSETS,
        asset_checks=TABLE_CHECKS,
        jobs=[load_everything, *CLUSTER_JOBS, *AUTOMATION_JOBS],
        schedules=AUTOMATION_SCHEDULES,
        sensors=[*AUTOMATION_SENSORS, run_failure_alert],
        resources={"cluster": cluster_resource(), "alerts": FailureAlerts(), **resources},
    )
    return with_freshness(defs, load_day.selection)
