"""Dagster resources that are not warehouses: where the source JSON lives."""

from __future__ import annotations

from dagster import ConfigurableResource

from .source import Source, open_source


class SparkifySource(ConfigurableResource):
    """The raw JSON: a local folder, or ``s3://bucket/prefix`` (any S3 API)."""

    uri: str

    def open(self) -> Source:
        return open_source(self.uri)
