"""Fixtures: one real embedded PostgreSQL for the session, a fresh database per test.

No test talks to a mock database. Tests that need the public Udacity sample skip cleanly when
``../shared`` is not beside the repository.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
from psycopg2 import sql

from sparkify_assets.definitions import build_definitions
from sparkify_assets.resources import SparkifySource
from sparkify_assets.settings import BUNDLED_SAMPLE
from sparkify_assets.warehouse import embedded
from sparkify_assets.warehouse.postgres import PostgresWarehouse

REPO = Path(__file__).resolve().parents[1]
PUBLIC_SAMPLE = REPO.parent / "shared" / "acceptance" / "udacity_sample"
_database_numbers = itertools.count()


def pytest_configure(config):
    # The suite must never pick up a developer's own warehouse or Dagster instance.
    for variable in ("SPARKIFY_WAREHOUSE_URL", "SPARKIFY_DATA_URI", "DAGSTER_HOME",
                     "SPARKIFY_DEPLOYMENT"):
        os.environ.pop(variable, None)


@pytest.fixture(scope="session")
def server_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("sparkify-home")
    embedded.ensure_running(home)
    yield home
    embedded.stop(home)


@pytest.fixture
def database_url(server_home) -> str:
    """A DSN for a brand-new, empty database on the session server."""
    return embedded.ensure_running(server_home, f"test_{os.getpid()}_{next(_database_numbers)}")


@pytest.fixture
def warehouse(database_url) -> PostgresWarehouse:
    return PostgresWarehouse(url=database_url)


@pytest.fixture
def public_sample() -> Path:
    if not (PUBLIC_SAMPLE / "log_data").is_dir():
        pytest.skip(f"public Udacity sample not present at {PUBLIC_SAMPLE}")
    return PUBLIC_SAMPLE


@pytest.fixture
def bundled_sample() -> Path:
    return BUNDLED_SAMPLE


def definitions_for(warehouse: PostgresWarehouse, data: Path | str):
    return build_definitions({"warehouse": warehouse, "source": SparkifySource(uri=str(data))})


def table_rows(warehouse: PostgresWarehouse, table: str) -> list[tuple]:
    """Every row of a table in a stable order, to compare whole tables."""
    rows = warehouse.query(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
    return sorted(rows, key=repr)


@pytest.fixture
def moto_s3(monkeypatch):
    """An in-process moto S3 (no network) and a client on it; fake credentials only."""
    from moto import mock_aws

    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE",
                     "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "SPARKIFY_S3_UNSIGNED"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        import boto3

        yield boto3.client("s3")


def upload(client, bucket: str, prefix: str, objects: dict[str, bytes]) -> str:
    """Put ``objects`` (key relative to the prefix -> content) in a new bucket; returns the URI."""
    client.create_bucket(Bucket=bucket)
    for key, content in objects.items():
        client.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=content)
    return f"s3://{bucket}/{prefix}"


def folder_objects(root: Path) -> dict[str, bytes]:
    """Every song_data/ and log_data/ file under a folder, keyed like the S3 layout."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for folder in ("song_data", "log_data")
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }
