"""The Dagster resources: the raw JSON source and the warehouse of the chosen deployment.

The warehouses themselves (``warehouse/``) are plain Python. Here they become resources whose
secrets arrive as ``dagster.EnvVar``: Dagster resolves them when a run starts and never shows
them in the UI. Each factory hands the run a ready ``Warehouse``; outside a run (``sparkify
load``'s closing row counts) ``warehouse()`` resolves the same variables itself.
"""

from __future__ import annotations

import os

from dagster import ConfigurableResource, InitResourceContext

from sparkify_assets.core import settings
from sparkify_assets.defs.env import secret_from_env
from sparkify_assets.defs.env import value_of as _value
from sparkify_assets.defs.redshift import RedshiftResource, redshift_resource
from sparkify_assets.ingest.base import Source
from sparkify_assets.ingest.open import open_source
from sparkify_assets.ingest.s3_uri import copy_source_uri
from sparkify_assets.warehouse.base import Warehouse


class SparkifySource(ConfigurableResource):
    """The raw JSON: a local folder, or ``s3://bucket/prefix`` (any S3 API)."""

    uri: str

    def open(self) -> Source:
        return open_source(self.uri)


class WarehouseResource(ConfigurableResource):
    """Configuration that hands a run a ready ``Warehouse`` (Dagster's documented
    ``create_resource`` override: assets ask for ``ResourceParam[Warehouse]``)."""

    def warehouse(self) -> Warehouse:
        raise NotImplementedError

    def create_resource(self, context: InitResourceContext) -> Warehouse:
        return self.warehouse()


class PostgresWarehouseResource(WarehouseResource):
    """Any PostgreSQL: the embedded server kept in ``home``, or the one ``url`` names."""

    url: str = ""
    home: str = ".sparkify"
    max_reject_share: float = 0.05

    def warehouse(self) -> Warehouse:
        from sparkify_assets.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(
            url=_value(self.url), home=self.home, max_reject_share=self.max_reject_share
        )


class RedshiftWarehouseResource(WarehouseResource):
    """The assets' warehouse on Amazon Redshift: the connection of the ``redshift`` resource.

    It has no configuration of its own: everything is the ``redshift`` resource's (see
    ``defs.redshift``), which the cluster jobs, the idle sensor and ``sparkify cluster`` use too.
    """

    redshift: RedshiftResource

    def warehouse(self) -> Warehouse:
        return self.redshift.warehouse()

    def create_resource(self, context: InitResourceContext) -> Warehouse:
        # The run's log hears of a resume; the instance records it (``redshift_cluster``).
        return self.redshift.warehouse(progress=context.log, instance=context.instance)


def warehouse_resource(
    deployment: str, redshift: RedshiftResource | None = None
) -> WarehouseResource:
    """The assets' warehouse; on Redshift, the connection of the ``redshift`` resource given."""
    if deployment == "redshift":
        return RedshiftWarehouseResource(redshift=redshift or redshift_resource())
    return PostgresWarehouseResource(
        url=secret_from_env("SPARKIFY_WAREHOUSE_URL"),
        home=settings.home(),
        max_reject_share=settings.max_reject_share(),
    )


def source_resource(deployment: str) -> SparkifySource:
    uri = settings.data_uri()
    if deployment == "redshift":  # Redshift's COPY reads S3 only
        uri = copy_source_uri(uri)
    return SparkifySource(uri=uri)


def alerts_resource():
    """Run-failure alerts to the Slack webhook, or the token and channel, the environment names."""
    from sparkify_assets.defs.alerts import FailureAlerts

    return FailureAlerts(
        webhook_url=secret_from_env("SPARKIFY_SLACK_WEBHOOK_URL"),
        slack_token=secret_from_env("SPARKIFY_SLACK_TOKEN"),
        slack_channel=os.environ.get("SPARKIFY_SLACK_CHANNEL", ""),
    )


def plain_warehouse(resource) -> Warehouse:
    """The ``Warehouse`` behind a resource, for use outside a run."""
    return resource.warehouse() if isinstance(resource, WarehouseResource) else resource
