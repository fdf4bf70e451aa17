"""S3 as a source, on moto: same tables and rejects as a folder, streamed, clear errors."""

import logging
import os
import re
import socket
import subprocess
import sys

import pytest
from psycopg2 import sql

from sparkify_assets.cli.load import run_load
from sparkify_assets.ingest import s3 as s3_source
from sparkify_assets.ingest.base import SourceError, SourceFile
from sparkify_assets.ingest.local import LocalSource
from sparkify_assets.ingest.open import open_source
from sparkify_assets.ingest.s3 import S3Source
from sparkify_assets.sql.catalog import TABLES

from .builders import DAYS, day_key, sample_objects, write_sample
from .conftest import PUBLIC_SAMPLE_COUNTS, REPO, definitions_for, folder_objects, upload


def snapshot(warehouse) -> dict[str, list]:
    """Every table's rows, order-independent; the load logs without their load timestamp and a
    song file's fingerprint (an ETag in S3, mtime and size in a folder)."""
    tables = {}
    for name in TABLES:
        columns = [
            c.name for c in TABLES[name].columns if c.name not in ("loaded_at", "fingerprint")
        ]
        rows = warehouse.query(
            sql.SQL("SELECT {} FROM {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(name)
            )
        )
        tables[name] = sorted(rows, key=repr)
    return tables


def load_snapshot(warehouse, uri: str) -> dict[str, list]:
    report = run_load(definitions_for(warehouse, uri), uri)
    assert report.ok, report.failures
    return snapshot(warehouse)


def test_s3_load_equals_folder_load(moto_s3, warehouse, tmp_path):
    folder = write_sample(tmp_path / "data")
    uri = upload(moto_s3, "sparkify-raw", "landing/v1", sample_objects())

    from_s3 = load_snapshot(warehouse, uri)
    from_folder = load_snapshot(warehouse, str(folder))

    assert from_s3 == from_folder
    assert len(from_s3["staging_events"]) == 3 * 43  # 46 lines a day: 1 blank, 2 rejected
    assert len(from_s3["staging_songs"]) == 24
    # Rejects name the key relative to the prefix, exactly as the folder load does.
    assert {row[2] for row in from_s3["load_rejects"]} == {
        "song_data/A/A/X/TRBROKEN.json",
        *(day_key(day) for day in DAYS),
    }
    assert len(from_s3["load_rejects"]) == 1 + 2 * 3


@pytest.mark.slow
def test_bundled_sample_from_s3_equals_folder(moto_s3, warehouse, bundled_sample):
    uri = upload(moto_s3, "sparkify-bundled", "sample", folder_objects(bundled_sample))

    from_s3 = load_snapshot(warehouse, uri)
    from_folder = load_snapshot(warehouse, str(bundled_sample))

    assert from_s3 == from_folder
    # Every table has rows, but the quarantine, the key drift (the sample keeps its shape) and
    # the state of unfinished work (none is left).
    empty = ("load_rejects", "load_drift", "pending_changes")
    assert all(from_s3[name] for name in TABLES if name not in empty)


def test_public_sample_from_s3_equals_folder(moto_s3, warehouse, public_sample):
    uri = upload(moto_s3, "udacity-dend-copy", "sample", folder_objects(public_sample))

    from_s3 = load_snapshot(warehouse, uri)
    from_folder = load_snapshot(warehouse, str(public_sample))

    assert from_s3 == from_folder
    counts = {name: len(rows) for name, rows in from_s3.items()}
    assert {name: counts[name] for name in PUBLIC_SAMPLE_COUNTS} == PUBLIC_SAMPLE_COUNTS


def test_listing_matches_the_folder_and_carries_etags(moto_s3, tmp_path):
    folder = LocalSource(write_sample(tmp_path / "data"))
    source = S3Source.from_uri(upload(moto_s3, "raw", "p/q", sample_objects()))

    assert {day: [f.key for f in files] for day, files in source.event_files().items()} == {
        day: [f.key for f in files] for day, files in folder.event_files().items()
    }
    assert sorted((f.key, f.size) for f in source.song_files()) == sorted(
        (f.key, f.size) for f in folder.song_files()
    )
    (first,) = source.event_files()[DAYS[0]]
    etag = moto_s3.head_object(Bucket="raw", Key=f"p/q/{first.key}")["ETag"].strip('"')
    assert first.fingerprint == etag


def test_lines_split_on_newline_only_across_chunk_boundaries(moto_s3, tmp_path, monkeypatch):
    content = b"a\r\nbb\rcc\n" + b"x" * 50 + b"\n\n" + b"\r" + b"y" * 23 + b"\nlast-no-newline"
    uri = upload(moto_s3, "raw", "p", {"log_data/2018/11/2018-11-01-events.json": content})
    (tmp_path / "log_data/2018/11").mkdir(parents=True)
    (tmp_path / "log_data/2018/11/2018-11-01-events.json").write_bytes(content)
    file = SourceFile("log_data/2018/11/2018-11-01-events.json")

    monkeypatch.setattr(s3_source, "LINE_CHUNK_BYTES", 7)  # lines span many chunks
    lines = list(S3Source.from_uri(uri).lines(file))

    assert lines == list(LocalSource(tmp_path).lines(file))
    assert lines[:2] == [b"a\r\n", b"bb\rcc\n"]
    assert b"".join(lines) == content


def test_read_all_keeps_order_and_bounds_requests_in_flight(moto_s3):
    objects = {f"song_data/A/B/C/TR{n:05d}.json": b'{"n": %d}' % n for n in range(120)}
    uri = upload(moto_s3, "raw", "p", objects)
    source = S3Source.from_uri(uri)
    source.workers = 2
    requested = []
    source._client.meta.events.register(
        "before-call.s3.GetObject", lambda **kwargs: requested.append(1)
    )

    consumed = []
    for file, content in source.read_all(source.song_files()):
        consumed.append((file.key, content))
        # Never more than the window ahead of the consumer.
        assert len(requested) <= len(consumed) + 2 * s3_source.IN_FLIGHT_PER_WORKER

    assert consumed == sorted(objects.items())


def test_read_all_stops_fetching_when_the_consumer_stops(moto_s3):
    uri = upload(moto_s3, "raw", "p", {f"song_data/TR{n:04d}.json": b"{}" for n in range(200)})
    source = S3Source.from_uri(uri)
    source.workers = 2
    requested = []
    source._client.meta.events.register(
        "before-call.s3.GetObject", lambda **kwargs: requested.append(1)
    )

    reader = source.read_all(source.song_files())
    next(reader)
    reader.close()

    assert len(requested) <= 2 * s3_source.IN_FLIGHT_PER_WORKER


def test_missing_bucket_names_the_uri(moto_s3):
    with pytest.raises(SourceError) as raised:
        open_source("s3://no-such-bucket/data")
    assert str(raised.value) == (
        "s3://no-such-bucket/data: the bucket does not exist (reading the bucket listing)"
    )


def test_missing_prefix_names_the_uri(moto_s3):
    upload(moto_s3, "raw", "p", {"song_data/a.json": b"{}"})

    with pytest.raises(SourceError, match=r"^s3://raw/nothing-here: no objects under this prefix"):
        open_source("s3://raw/nothing-here")
    with pytest.raises(SourceError, match=r"^s3://raw/p has no log_data/ objects$"):
        open_source("s3://raw/p").event_files()


def test_not_an_s3_uri_is_refused():
    with pytest.raises(SourceError, match="expected s3://bucket/prefix"):
        S3Source.from_uri("s3:///prefix-without-bucket")


def test_rejected_credentials_name_the_uri_and_not_the_key(moto_s3):
    from moto.core import set_initial_no_auth_action_count

    upload(moto_s3, "raw", "p", {"log_data/x.json": b"{}"})

    @set_initial_no_auth_action_count(0)  # from here on moto checks keys like AWS does
    def open_with_unknown_key():
        return open_source("s3://raw/p")

    with pytest.raises(SourceError) as raised:
        open_with_unknown_key()
    assert str(raised.value).startswith("s3://raw/p: the AWS access key was rejected")
    assert "testing" not in str(raised.value)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_endpoint_names_the_uri(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    with pytest.raises(SourceError, match=r"^s3://raw/p: Could not connect to the endpoint URL"):
        open_source("s3://raw/p")


@pytest.fixture
def moto_server(monkeypatch):
    """moto as a real HTTP server on loopback, for subprocesses that reach it by URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def run_cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sparkify_assets.cli.main", *args],
        cwd=REPO,
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_sparkify_load_reads_s3_through_aws_endpoint_url(moto_server, database_url, tmp_path):
    import boto3

    aws = {
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    client = boto3.client(
        "s3",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    uri = upload(client, "landing", "sparkify", sample_objects())
    env = aws | {
        "SPARKIFY_DATA_URI": uri,
        "SPARKIFY_WAREHOUSE_URL": database_url,
        "PYTHONPATH": str(REPO),
        "SPARKIFY_HOME": str(tmp_path),
    }

    loaded = run_cli("load", env=env)
    missing = run_cli("load", env=env | {"SPARKIFY_DATA_URI": "s3://landing/elsewhere"})

    assert loaded.returncode == 0, loaded.stderr
    assert re.search(r"^  staging_events +129$", loaded.stdout, re.MULTILINE)
    assert "load succeeded" in loaded.stdout
    assert missing.returncode == 2
    assert missing.stderr == (
        "sparkify: s3://landing/elsewhere: no objects under this prefix (is the URI right?)\n"
    )


def test_without_credentials_says_so_and_unsigned_reads_a_public_bucket(
    moto_s3, monkeypatch, tmp_path
):
    upload(moto_s3, "public-data", "p", {"log_data/2018/11/2018-11-01-events.json": b"{}\n"})
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable, raising=False)
    # Nothing else in the chain may answer: no files, no instance metadata endpoint.
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    with pytest.raises(SourceError, match=r"^s3://public-data/p: no AWS credentials found"):
        open_source("s3://public-data/p")
    monkeypatch.setenv("SPARKIFY_S3_UNSIGNED", "1")
    assert list(open_source("s3://public-data/p").event_files()) == [DAYS[0]]
