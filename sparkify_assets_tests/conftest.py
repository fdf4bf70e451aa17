"""Fixtures: one real embedded PostgreSQL for the session, a fresh database per test.

No test talks to a mock database. Tests that need the public Udacity sample skip cleanly when
``../shared`` is not beside the repository.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote

# The suite must never pick up a developer's own warehouse, source, deployment or Dagster
# instance, so the caller's variables go before anything of the package is imported (settings
# are read while definitions are built).
for _variable in [
    name
    for name in os.environ
    if name.startswith(("SPARKIFY_", "REDSHIFT_")) or name == "DAGSTER_HOME"
]:
    os.environ.pop(_variable)
# `sparkify load` records into the project's dagster_home when DAGSTER_HOME is unset: the suite's
# loads go to a throw-away instance instead (see in_memory_dagster_instance).
SESSION_DAGSTER_HOME = tempfile.mkdtemp(prefix="sparkify-test-dagster-home-")
Path(SESSION_DAGSTER_HOME, "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
atexit.register(shutil.rmtree, SESSION_DAGSTER_HOME, True)
os.environ["DAGSTER_HOME"] = SESSION_DAGSTER_HOME

import psycopg2  # noqa: E402
import pytest  # noqa: E402
from psycopg2 import sql  # noqa: E402

from sparkify_assets.core.settings import BUNDLED_SAMPLE  # noqa: E402
from sparkify_assets.defs.location import build_definitions  # noqa: E402
from sparkify_assets.defs.resources import SparkifySource  # noqa: E402
from sparkify_assets.synthetic.generate import generate  # noqa: E402
from sparkify_assets.warehouse import embedded  # noqa: E402
from sparkify_assets.warehouse.postgres import PostgresWarehouse  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PUBLIC_SAMPLE = REPO.parent / "shared" / "acceptance" / "udacity_sample"
# What the public sample must give (the brief's figures), wherever it is loaded from.
PUBLIC_SAMPLE_COUNTS = {
    "staging_events": 8056,
    "staging_songs": 71,
    "songplays": 6820,
    "users": 97,
    "songs": 71,
    "artists": 69,
    "time": 6813,
    "load_rejects": 0,
}
_database_numbers = itertools.count()


@pytest.fixture(autouse=True)
def in_memory_dagster_instance(monkeypatch):
    """In-process loads record into an in-memory instance, unless the test set DAGSTER_HOME.

    SQLite storage costs seconds per load on a busy machine; tests that look at what a load
    recorded point DAGSTER_HOME at their own folder, and get the real instance.
    """
    from dagster import DagsterInstance

    from sparkify_assets.cli import load

    real = load.load_instance

    def instance():
        if os.environ.get("DAGSTER_HOME") == SESSION_DAGSTER_HOME:
            return DagsterInstance.ephemeral()
        return real()

    monkeypatch.setattr(load, "load_instance", instance)


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


def run_as_admin(dsn: str, statement, params=None) -> None:
    """One autocommit statement (CREATE/ALTER/DROP ROLE, ALTER DATABASE) as the superuser."""
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
    finally:
        connection.close()


@pytest.fixture
def database_role(database_url):
    """Makes login roles that own the test database (so they can create its tables).

    ``make(name, password=None, connection_limit=-1)`` returns the role's DSN. Roles are
    cluster-wide, so every one is dropped again after the test.
    """
    database = database_url.split("/")[3].split("?")[0]
    made = []

    def make(name: str, password: str | None = None, connection_limit: int = -1) -> str:
        run_as_admin(
            database_url,
            sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT {} PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(connection_limit), sql.Literal(password)
            ),
        )
        made.append(name)
        run_as_admin(
            database_url,
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(database), sql.Identifier(name)
            ),
        )
        user = name + (f":{quote(password, safe='')}" if password else "")
        return database_url.replace("postgresql://postgres@", f"postgresql://{user}@", 1)

    yield make
    for name in made:
        run_as_admin(
            database_url,
            sql.SQL("ALTER DATABASE {} OWNER TO postgres").format(sql.Identifier(database)),
        )
        run_as_admin(
            database_url, sql.SQL("REASSIGN OWNED BY {} TO postgres").format(sql.Identifier(name))
        )
        run_as_admin(database_url, sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


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


@pytest.fixture(scope="session")
def generated_data(tmp_path_factory) -> Path:
    """100,000 synthetic events over 5 days (about 20,000 a day) and 500 songs, written once."""
    folder = tmp_path_factory.mktemp("generated")
    generate(folder, events=100_000, songs=500, days=5, seed=5)
    return folder


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    """2 days, 1,000 events, 50 songs: for tests that need a complete but quick load."""
    folder = tmp_path_factory.mktemp("small")
    generate(folder, events=1_000, songs=50, days=2, seed=3)
    return folder


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

    for variable in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_PROFILE",
        "AWS_MAX_ATTEMPTS",
        "AWS_RETRY_MODE",
        "SPARKIFY_S3_UNSIGNED",
    ):
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
