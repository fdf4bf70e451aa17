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
