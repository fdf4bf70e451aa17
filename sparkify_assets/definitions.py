"""The code location: assets, checks, jobs and resources chosen by deployment.

``SPARKIFY_DEPLOYMENT=local`` (default) builds in PostgreSQL: the embedded server, or the one
``SPARKIFY_WAREHOUSE_URL`` names. ``redshift`` builds in Amazon Redshift. The assets are the same;
only the ``warehouse`` resource changes (and the source must then be ``s3://``). Every deployment
also carries the Redshift cluster jobs and their ``cluster`` resource.
"""

from __future__ import annotations

import os

from dagster import AssetSelection, Definitions, EnvVar, define_asset_job

from . import settings
from .assets import ALL_ASSETS
from .automation import AUTOMATION_JOBS, AUTOMATION_SCHEDULES, AUTOMATION_SENSORS
from .checks import TABLE_CHECKS
from .cluster import CLUSTER_JOBS, RedshiftCluster
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


def cluster() -> RedshiftCluster:
    # Every deployment gets the cluster jobs, so a laptop can bring the production cluster up.
    # The password only matters to `up`; without it the other jobs still work.
    password = EnvVar("REDSHIFT_PASSWORD") if os.environ.get("REDSHIFT_PASSWORD") else ""
    return RedshiftCluster.from_env(master_password=password)


def resources_for(deployment: str) -> dict:
    if deployment == "redshift":
        from .warehouse.redshift import redshift_warehouse_from_env

        warehouse = redshift_warehouse_from_env()
        uri = settings.s3_data_uri()
    else:
        warehouse = local_warehouse()
        uri = settings.data_uri()
    return {"warehouse": warehouse, "source": SparkifySource(uri=uri), "cluster": cluster()}


def build_definitions(resources: dict) -> Definitions:
    """The code location with the given resources (tests pass their own warehouse and source)."""
    return Definitions(
        assets=ALL_ASSETS,
        asset_checks=TABLE_CHECKS,
        jobs=[load_everything, *CLUSTER_JOBS, *AUTOMATION_JOBS],
        schedules=AUTOMATION_SCHEDULES,
        sensors=AUTOMATION_SENSORS,
        resources={"cluster": RedshiftCluster(), **resources},
    )


defs = build_definitions(resources_for(settings.deployment()))
