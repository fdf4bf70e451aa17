"""Shared fakes for the Redshift resource tests: a safe AWS environment for moto, a psycopg2
connection that only records how it was opened, and a recorder of boto3 requests.

No Redshift can be reached from here: ``psycopg2.connect`` is replaced by ``FakeConnections``,
which keeps each connection's keyword arguments (host, user, password) so a test can check which
login a run used, and answers every statement with no rows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from dagster import ResourceParam, job, op
from moto import mock_aws

from sparkify_assets.warehouse.base import Warehouse

ROLE_ARN = "arn:aws:iam::123456789012:role/sparkify-redshift-s3-read"
JSONPATHS = "s3://sparkify-config/log_json_path.json"
DATA = "s3://sparkify-data/raw/"


def safe_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Fake credentials and no host AWS config, so nothing can ever reach real AWS."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@contextmanager
def moto_aws() -> Iterator[None]:
    """moto with one boto3 default session kept for the block (cheap service models)."""
    with (
        patch("boto3.DEFAULT_SESSION", None),
        mock_aws(config={"core": {"reset_boto3_session": False}}),
    ):
        yield


class _Cursor:
    rowcount = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def execute(self, statement, params=None):
        pass

    def fetchall(self):
        return []

    def fetchone(self):
        return None

    def close(self):
        pass


class _Connection:
    def cursor(self):
        return _Cursor()

    def commit(self):
        pass

    def rollback(self):
        pass

    def close(self):
        pass

    def cancel(self):
        pass


@dataclass
class FakeConnections:
    """Stands in for ``psycopg2.connect``: records the keyword arguments of every connection."""

    opened: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, **kwargs: Any) -> _Connection:
        self.opened.append(kwargs)
        return _Connection()

    @property
    def passwords(self) -> list[str]:
        return [kwargs["password"] for kwargs in self.opened]


@dataclass
class RequestLog:
    """Every request boto3 makes for the watched operations, with its parameters."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


@contextmanager
def requests_recorded(*operations: str) -> Iterator[RequestLog]:
    """Record the parameters of ``redshift.<operation>`` calls made through boto3's session."""
    log = RequestLog()
    events = boto3._get_default_session().events

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        log.calls.append((model.name, dict(params)))

    for operation in operations:
        events.register(f"provide-client-params.redshift.{operation}", record)
    try:
        yield log
    finally:
        for operation in operations:
            events.unregister(f"provide-client-params.redshift.{operation}", record)


class FakeClock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def advance(self, minutes: float) -> None:
        self.offset += minutes * 60

    def __call__(self) -> float:
        return time.time() + self.offset


@op
def connect_step(warehouse: ResourceParam[Warehouse]) -> None:
    warehouse.query("SELECT 1")


@job
def connecting_job() -> None:
    connect_step()
