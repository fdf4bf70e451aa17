"""``s3://bucket/prefix`` URIs, checked before they go anywhere near SQL.

Redshift's ``COPY ... FROM 's3://...'`` takes the URI as a string literal. It is always passed as
a quoted literal (``psycopg2.sql.Literal``), but a URI also comes from configuration, so it is
first held to what S3 itself allows: bucket names by AWS's naming rules, keys by AWS's "safe
characters". A quote, a backslash, a semicolon, whitespace or a control character is refused
with a one-line error naming the setting, instead of being quoted and sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sparkify_assets.ingest.base import SourceError

# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html "safe characters",
# without the single quote (a string delimiter in SQL), plus "=" for key=value partitions.
_KEY = re.compile(r"^[A-Za-z0-9!_.*()/=-]*$")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # no leading or trailing "/"; empty for the bucket's root

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def child(self, *parts: str) -> str:
        """The URI of a key under this location, e.g. ``child("log_data", "2018")``."""
        key = "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))
        return validate_s3_uri(f"s3://{self.bucket}/{key}").uri


def _refuse(uri: str, setting: str, why: str) -> SourceError:
    return SourceError(f"{setting} {uri!r} is not a usable S3 URI: {why}")


def validate_s3_uri(uri: str, setting: str = "SPARKIFY_DATA_URI") -> S3Location:
    """Split ``s3://bucket/prefix`` into its parts, refusing anything S3 would not name.

    The one parser of S3 URIs: the settings, the S3 source, Redshift's COPY and the cluster's
    read policy all take their bucket and prefix from here. ``setting`` names the URI in errors.
    """
    if not uri.startswith("s3://"):
        raise SourceError(f"{setting} must be s3://bucket/prefix, got {uri!r}")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise _refuse(uri, setting, "expected s3://bucket/prefix")
    if not _BUCKET.match(bucket) or ".." in bucket or _IP_ADDRESS.match(bucket):
        raise _refuse(
            uri,
            setting,
            f"{bucket!r} is not a valid bucket name (3-63 lower-case "
            "letters, digits, dots and hyphens)",
        )
    if not _KEY.match(prefix):
        bad = sorted({c for c in prefix if not _KEY.match(c)})
        raise _refuse(
            uri,
            setting,
            f"the key prefix contains {''.join(bad)!r}; use letters, digits and !-_.*()/=",
        )
    if any(part in (".", "..") for part in prefix.split("/")):
        raise _refuse(uri, setting, "the key prefix must not contain . or .. segments")
    return S3Location(bucket, prefix.strip("/"))


def copy_source_uri(uri: str) -> str:
    """SPARKIFY_DATA_URI as Redshift's COPY reads it: an S3 location, never a folder."""
    return validate_s3_uri(uri, "Redshift loads from S3: SPARKIFY_DATA_URI").uri
