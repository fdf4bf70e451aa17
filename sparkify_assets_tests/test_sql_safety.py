"""Values from configuration never become SQL: names are checked, URIs validated, paths inert."""

import os
import shutil
import subprocess
import sys
from datetime import date

import pytest
from pydantic import ValidationError

from sparkify_assets.cli.load import run_load
from sparkify_assets.ingest.base import SourceError
from sparkify_assets.ingest.s3 import S3Source
from sparkify_assets.ingest.s3_uri import S3Location, validate_s3_uri
from sparkify_assets.sql.catalog import ALL_TABLES
from sparkify_assets.sql.render import table_ref
from sparkify_assets.warehouse.postgres import PostgresWarehouse
from sparkify_assets.warehouse.redshift import RedshiftWarehouse

from .conftest import definitions_for

INJECTION = "x'; DROP TABLE songs; --"
TABLES = ("staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time")


def _tables(warehouse) -> set[str]:
    rows = warehouse.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {name for (name,) in rows}


def test_a_malicious_data_uri_is_a_missing_folder_and_runs_nothing(
    tmp_path, database_url, warehouse
):
    warehouse.ensure_tables()
    before = _tables(warehouse)
    uri = str(tmp_path / INJECTION)
    env = {**os.environ, "SPARKIFY_DATA_URI": uri, "SPARKIFY_WAREHOUSE_URL": database_url}
    completed = subprocess.run(
        [sys.executable, "-m", "sparkify_assets.cli.main", "load"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert (
        completed.stderr.strip() == f"sparkify: data folder {uri} does not exist "
        "(SPARKIFY_DATA_URI)"
    )
    assert _tables(warehouse) == before and "songs" in before


def test_a_real_folder_named_like_an_injection_loads_like_any_other(
    tmp_path, warehouse, bundled_sample
):
    data = tmp_path / INJECTION
    shutil.copytree(bundled_sample / "song_data", data / "song_data")
    day_files = sorted((bundled_sample / "log_data").rglob("*.json"))[:2]
    for path in day_files:
        target = data / path.relative_to(bundled_sample)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)

    report = run_load(definitions_for(warehouse, data), str(data))
    assert report.ok, report.failures
    lines = sum(1 for path in day_files for line in path.read_bytes().splitlines() if line)
    assert report.row_counts["staging_events"] == lines
    assert set(TABLES) <= _tables(warehouse)


@pytest.mark.parametrize("schema", [INJECTION, 'x"; DROP TABLE songs; --', "Public", ""])
def test_schema_names_that_are_not_plain_identifiers_are_refused(database_url, schema):
    with pytest.raises(ValidationError, match="invalid schema"):
        PostgresWarehouse(url=database_url, schema_name=schema)
    with pytest.raises(ValueError, match="invalid schema"):
        table_ref(schema, "songs")


def test_a_plain_schema_name_is_used_quoted(warehouse, database_url):
    PostgresWarehouse(url=database_url, schema_name="sparkify_stage").ensure_tables()
    assert warehouse.query(
        "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'sparkify_stage'"
    ) == [(len(ALL_TABLES),)]


@pytest.mark.parametrize(
    "uri, location",
    [
        ("s3://udacity-dend", S3Location("udacity-dend", "")),
        ("s3://udacity-dend/", S3Location("udacity-dend", "")),
        ("s3://my.bucket-1/sparkify/raw/", S3Location("my.bucket-1", "sparkify/raw")),
        ("s3://b12/year=2018/month=11", S3Location("b12", "year=2018/month=11")),
    ],
)
def test_ordinary_s3_uris_are_split_into_bucket_and_prefix(uri, location):
    assert validate_s3_uri(uri) == location
    assert location.child("log_data", "2018/") == f"{location.uri}/log_data/2018"


@pytest.mark.parametrize(
    "uri, reason",
    [
        (f"s3://bucket/{INJECTION}", "contains"),
        ("s3://bucket/data' IAM_ROLE 'arn:aws:iam::1:role/x", "contains"),
        ("s3://bucket/a\\b", "contains"),
        ("s3://bucket/a b", "contains"),
        ("s3://bucket/new\nline", "contains"),
        ("s3://bucket/../other", ". or .."),
        ("s3://Bucket/data", "bucket name"),
        ("s3://b;drop/data", "bucket name"),
        ("s3://ab/data", "bucket name"),
        ("s3://192.168.1.1/data", "bucket name"),
        ("s3://my..bucket/data", "bucket name"),
        ("https://bucket.s3.amazonaws.com/data", "s3://"),
    ],
)
def test_s3_uris_with_anything_s3_would_not_name_are_refused(uri, reason):
    with pytest.raises(SourceError, match="SPARKIFY_DATA_URI") as raised:
        validate_s3_uri(uri)
    assert reason in str(raised.value)
    assert "\n" not in str(raised.value).replace("\\n", "")


def test_a_malicious_s3_uri_never_reaches_a_client_or_a_copy_statement():
    uri = f"s3://raw/{INJECTION}"
    with pytest.raises(SourceError, match="not a usable S3 URI"):
        S3Source.from_uri(uri)  # refused before any request is made

    redshift = RedshiftWarehouse(
        host="example.invalid",
        user="u",
        iam_role_arn="arn:aws:iam::1:role/r",
        region="us-west-2",
        log_jsonpath="s3://config/log_json_path.json",
    )
    with pytest.raises(SourceError, match="SPARKIFY_DATA_URI"):
        redshift.events_day_sql(uri, date(2018, 11, 1), ["log_data/2018/11/x.json"])
    with pytest.raises(SourceError, match="SPARKIFY_LOG_JSONPATH"):
        redshift.model_copy(
            update={"log_jsonpath": "s3://config/p.json' CREDENTIALS 'x"}
        ).songs_sql("s3://raw/data")
    statements = redshift.events_day_sql(
        "s3://raw/data", date(2018, 11, 1), ["log_data/2018/11/2018-11-01-events.json"]
    )
    assert statements  # an ordinary URI renders as before
