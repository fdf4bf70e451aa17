"""Open the source a URI names: ``s3://bucket/prefix`` or a local folder."""

from __future__ import annotations

from sparkify_assets.ingest.base import Source
from sparkify_assets.ingest.local import LocalSource


def open_source(uri: str) -> Source:
    if uri.startswith("s3://"):
        from sparkify_assets.ingest.s3 import S3Source  # only imported when S3 is the source

        return S3Source.from_uri(uri)
    return LocalSource(uri)
