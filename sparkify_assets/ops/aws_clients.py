"""The boto3 clients the lifecycle uses, made on first use and shared by one operation.

Plain boto3 clients honour ``AWS_ENDPOINT_URL``, so the same code runs against a local
``moto_server``. Tests of services moto lacks (redshift-serverless) hand in clients wrapped in
botocore's ``Stubber`` through ``AwsClients(region, given={...})``.
"""

from __future__ import annotations

import os
from typing import Any

import boto3


class AwsClients:
    """iam, ec2, sts, redshift and serverless (redshift-serverless) clients for one region."""

    SERVICES = {
        "iam": "iam",
        "ec2": "ec2",
        "sts": "sts",
        "redshift": "redshift",
        "serverless": "redshift-serverless",
    }

    def __init__(self, region: str | None, given: dict[str, Any] | None = None) -> None:
        # Explicit config wins; AWS_REGION is checked because botocore only reads
        # AWS_DEFAULT_REGION. None lets boto3 fall back to AWS_DEFAULT_REGION or ~/.aws/config.
        self.region = region or os.environ.get("AWS_REGION") or None
        self._made: dict[str, Any] = dict(given or {})

    def _client(self, name: str) -> Any:
        if name not in self._made:
            # boto3.client reuses the default session, whose parsed service models make each
            # client cheap, and still reads AWS_ENDPOINT_URL afresh.
            self._made[name] = boto3.client(self.SERVICES[name], region_name=self.region)
        return self._made[name]

    @property
    def iam(self) -> Any:
        return self._client("iam")

    @property
    def ec2(self) -> Any:
        return self._client("ec2")

    @property
    def sts(self) -> Any:
        return self._client("sts")

    @property
    def redshift(self) -> Any:
        return self._client("redshift")

    @property
    def serverless(self) -> Any:
        return self._client("serverless")

    def account(self) -> str:
        return self.sts.get_caller_identity()["Account"]

    def arn(self, service: str, resource: str) -> str:
        """``arn:<partition>:<service>:<region>:<account>:<resource>`` for this region."""
        meta = (self.redshift if service == "redshift" else self.serverless).meta
        return f"arn:{meta.partition}:{service}:{meta.region_name}:{self.account()}:{resource}"
