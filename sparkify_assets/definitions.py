"""The code location: assets, checks, jobs and resources chosen by deployment.

``SPARKIFY_DEPLOYMENT=local`` (default) builds in PostgreSQL: the embedded server, or the one
``SPARKIFY_WAREHOUSE_URL`` names. ``redshift`` builds in Amazon Redshift. The assets are the same;
only the ``warehouse`` resource changes.
"""

from __future__ import annotations

import os

from dagster import AssetSelection, Definitions, EnvVar, define_asset_job

from . import settings
from .assets import ALL_ASSETS
from .automation import AUTOMATION_JOBS, AUTOMATION_SCHEDULES, AUTOMATION_SENSORS
from .checks import STAR_CHECKS
from .resources import SparkifySource
from .warehouse.postgres import PostgresWarehouse

# Everything, for a range of days: what `sparkify load` runs and what a backfill looks like.
load_everything = define_asset_job("load_everything", selection=AssetSelection.all())


def local_warehouse() -> PostgresWarehouse:
    # The URL may carry a password, so it is passed as an EnvVar that Dagster resolves at run
    # time and never shows in the UI.
    url = EnvVar("SPARKIFY_WAREHOUSE_URL") if os.environ.get("SPARKIFY_WAREHOUSE_URL") else ""
    return PostgresWarehouse(
        url=url, home=settings.home(), max_reject_share=settings.max_reject_share()
    )


def resources_for(deployment: str) -> dict:
    if deployment == "redshift":
        from .warehouse.redshift import redshift_warehouse_from_env

        warehouse = redshift_warehouse_from_env()
    else:
        warehouse = local_warehouse()
    return {"warehouse": warehouse, "source": SparkifySource(uri=settings.data_uri())}


def build_definitions(resources: dict) -> Definitions:
    """The code location with the given resources (tests pass their own warehouse and source)."""
    return Definitions(
        assets=ALL_ASSETS,
        asset_checks=STAR_CHECKS,
        jobs=[load_everything, *AUTOMATION_JOBS],
        schedules=AUTOMATION_SCHEDULES,
        sensors=AUTOMATION_SENSORS,
        resources=resources,
    )


defs = build_definitions(resources_for(settings.deployment()))
