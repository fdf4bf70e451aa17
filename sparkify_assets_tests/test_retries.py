"""Transient failures are retried with backoff; permanent ones fail at once with a clear message.

All against the real server: connections are really terminated (pg_terminate_backend) or refused
(a role's connection limit), and the SQL really is bad.
"""

import logging
import os
import threading
import time

import psycopg2
import pytest
from botocore.exceptions import ClientError
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    materialize,
)
from psycopg2 import sql

from sparkify_assets.core.faults import is_transient
from sparkify_assets.defs.assets import all_assets
from sparkify_assets.defs.partitions import daily_partitions
from sparkify_assets.defs.resources import SparkifySource
from sparkify_assets.ingest.base import SourceError, TransientSourceError
from sparkify_assets.ingest.local import LocalSource
from sparkify_assets.ingest.s3 import S3Source
from sparkify_assets.warehouse.base import TransientWarehouseError, WarehouseError
from sparkify_assets.warehouse.postgres import PostgresWarehouse

from .conftest import run_as_admin

WAREHOUSE_LOGGER = "dagster.builtin.sparkify.warehouse"

(staging_songs,) = [a for a in all_assets(daily_partitions()) if a.key.path == ["staging_songs"]]


def _retries_logged(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == WAREHOUSE_LOGGER and "trying again" in r.getMessage()
    ]


def _terminate_first_copy(dsn: str, table: str, terminated: list[int], give_up: float) -> None:
    """Wait until a COPY into ``table`` is running, then terminate its backend."""
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            while time.monotonic() < give_up:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND query LIKE %s AND pid <> pg_backend_pid()",
                    (f"COPY %{table}%FROM STDIN%",),
                )
                row = cursor.fetchone()
                if row:
                    cursor.execute("SELECT pg_terminate_backend(%s)", row)
                    terminated.append(row[0])
                    return
                time.sleep(0.005)
    finally:
        connection.close()


@pytest.mark.slow  # fault injection, on 100,000 generated events
def test_a_copy_whose_connection_is_terminated_is_loaded_again_exactly_once(
    warehouse, database_url, generated_data, caplog
):
    source = LocalSource(generated_data)
    day, files = sorted(source.event_files().items())[0]
    lines = sum(1 for file in files for line in source.lines(file) if line.strip())
    assert lines > 10_000, "the day must be large enough for the COPY to be caught running"
    terminated: list[int] = []
    killer = threading.Thread(
        target=_terminate_first_copy,
        args=(database_url, "staging_events", terminated, time.monotonic() + 120),
    )
    killer.start()
    with caplog.at_level(logging.WARNING, logger=WAREHOUSE_LOGGER):
        result = warehouse.stage_events_day(source, day, files)
    killer.join()

    assert len(terminated) == 1, "the COPY was never caught running"
    retries = _retries_logged(caplog)
    assert len(retries) == 1 and retries[0].startswith(f"loading staging_events {day}: ")
    assert result.loaded == lines and result.rejected == 0
    assert warehouse.query(
        "SELECT COUNT(*), COUNT(DISTINCT (session_id, item_in_session, ts)) FROM staging_events"
    ) == [(lines, lines)]


def test_a_refused_connection_is_retried_until_the_server_takes_it(
    database_role, database_url, caplog
):
    role = f"refused_{os.getpid()}"
    url = database_role(role, connection_limit=0)  # "too many connections for role"
    lift = threading.Timer(
        1.5,
        run_as_admin,
        args=(
            database_url,
            sql.SQL("ALTER ROLE {} CONNECTION LIMIT -1").format(sql.Identifier(role)),
        ),
    )
    lift.start()
    with caplog.at_level(logging.WARNING, logger=WAREHOUSE_LOGGER):
        assert PostgresWarehouse(url=url).query("SELECT current_user") == [(role,)]
    lift.join()
    retries = _retries_logged(caplog)
    assert retries and all("too many connections" in message for message in retries)


def test_bad_sql_fails_at_once_with_the_servers_message(warehouse, caplog):
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger=WAREHOUSE_LOGGER):
        with pytest.raises(WarehouseError) as raised:
            warehouse.query("SELEC 1")
    assert not isinstance(raised.value, TransientWarehouseError)
    assert str(raised.value) == 'querying the warehouse: ERROR:  syntax error at or near "SELEC"'
    assert _retries_logged(caplog) == []
    assert time.monotonic() - started < 5


def _step_events(result, step: str) -> list[DagsterEventType]:
    return [e.event_type for e in result.all_events if e.step_key == step]


def test_permanent_errors_fail_the_step_without_a_retry(warehouse, tmp_path):
    result = materialize(
        [staging_songs],
        resources={
            "warehouse": warehouse,
            "source": SparkifySource(uri=str(tmp_path / "no-such-folder")),
        },
        raise_on_error=False,
    )
    events = _step_events(result, "staging_songs")
    assert DagsterEventType.STEP_FAILURE in events
    assert DagsterEventType.STEP_UP_FOR_RETRY not in events
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    assert "does not exist" in failure.step_failure_data.user_failure_data.description


def _step_retried(instance) -> bool:
    return any(
        instance.all_logs(run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY)
        for run_id in instance.get_run_ids()
    )


def _lift_after_first_step_retry(instance, database_url, role: str, give_up: float) -> None:
    while time.monotonic() < give_up and not _step_retried(instance):
        time.sleep(0.1)
    run_as_admin(
        database_url, sql.SQL("ALTER ROLE {} CONNECTION LIMIT -1").format(sql.Identifier(role))
    )


@pytest.mark.slow  # fault injection
def test_a_failure_outlasting_the_warehouse_retries_gets_the_step_retried(
    database_role, database_url, bundled_sample, tmp_path
):
    role = f"outage_{os.getpid()}"
    url = database_role(role, connection_limit=0)
    with DagsterInstance.local_temp(str(tmp_path)) as instance:
        # The "outage" ends only once Dagster has scheduled the step again: the warehouse's own
        # attempts (seconds) must have been used up first.
        lift = threading.Thread(
            target=_lift_after_first_step_retry,
            args=(instance, database_url, role, time.monotonic() + 120),
        )
        lift.start()
        result = materialize(
            [staging_songs],
            instance=instance,
            raise_on_error=False,
            resources={
                "warehouse": PostgresWarehouse(url=url),
                "source": SparkifySource(uri=str(bundled_sample)),
            },
        )
        lift.join()
    events = _step_events(result, "staging_songs")
    assert result.success, events
    assert events.count(DagsterEventType.STEP_UP_FOR_RETRY) >= 1
    assert [m.asset_key for m in result.asset_materializations_for_node("staging_songs")] == [
        AssetKey("staging_songs")
    ]


@pytest.mark.parametrize(
    "code, status, transient",
    [
        ("SlowDown", 503, True),
        ("Throttling", 400, True),
        ("InternalError", 500, True),
        ("NoSuchBucket", 404, False),
        ("AccessDenied", 403, False),
        ("InvalidAccessKeyId", 403, False),
    ],
)
def test_s3_throttling_is_left_to_the_retry_policy_and_missing_buckets_fail_fast(
    code, status, transient
):
    error = ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "ListObjectsV2",
    )
    source = S3Source("raw", "data", client=object())
    with pytest.raises(SourceError) as raised, source._errors("the bucket listing"):
        raise error
    assert isinstance(raised.value, TransientSourceError) is transient
    assert is_transient(raised.value) is transient
    assert str(raised.value).startswith("s3://raw/data: ")
