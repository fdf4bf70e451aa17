"""The Dagster resources: the raw JSON source and the warehouse of the chosen deployment.

The warehouses themselves (``warehouse/``) are plain Python. Here they become resources whose
secrets arrive as ``dagster.EnvVar``: Dagster resolves them when a run starts and never shows
them in the UI. Each factory hands the run a ready ``Warehouse``; outside a run (``sparkify
load``'s closing row counts) ``warehouse()`` resolves the same variables itself.
"""

from __future__ import annotations

import os

from dagster import ConfigurableResource, EnvVar, InitResourceContext

# Public in Dagster's docs (a resource that hands the run another object) but not re-exported
# at the top level.
from dagster._config.pythonic_config import ConfigurableResourceFactory

from sparkify_assets.core import settings
from sparkify_assets.ingest.base import Source
from sparkify_assets.ingest.open import open_source
from sparkify_assets.ingest.s3_uri import copy_source_uri
from sparkify_assets.warehouse.base import Warehouse


class SparkifySource(ConfigurableResource):
    """The raw JSON: a local folder, or ``s3://bucket/prefix`` (any S3 API)."""

    uri: str

    def open(self) -> Source:
        return open_source(self.uri)


def _value(field: str) -> str:
    """A field's value in or outside a run (outside, an EnvVar field still holds the EnvVar)."""
    return (field.get_value() or "") if isinstance(field, EnvVar) else field


def secret_from_env(variable: str) -> str | EnvVar:
    return EnvVar(variable) if os.environ.get(variable) else ""


class PostgresWarehouseResource(ConfigurableResourceFactory[Warehouse]):
    """Any PostgreSQL: the embedded server kept in ``home``, or the one ``url`` names."""

    url: str = ""
    home: str = ".sparkify"
    max_reject_share: float = 0.05

    def warehouse(self) -> Warehouse:
        from sparkify_assets.warehouse.postgres import PostgresWarehouse

        return PostgresWarehouse(
            url=_value(self.url), home=self.home, max_reject_share=self.max_reject_share
        )

    def create_resource(self, context: InitResourceContext) -> Warehouse:
        return self.warehouse()


def warehouse_resource(deployment: str, redshift=None) -> ConfigurableResourceFactory[Warehouse]:
    """The assets' warehouse; on Redshift, the connection of the ``redshift`` resource given."""
    if deployment == "redshift":
        from sparkify_assets.defs.redshift import RedshiftWarehouseResource, redshift_resource

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
    return resource.warehouse() if isinstance(resource, ConfigurableResourceFactory) else resource
