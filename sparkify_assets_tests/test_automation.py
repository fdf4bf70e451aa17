"""The daily schedule and the log/song sensors, on a folder and on S3 (moto), with real
PostgreSQL wherever a requested run is executed."""

import json
import os
import time as clock
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, build_schedule_context, build_sensor_context

from sparkify_assets.cli.load import run_load
from sparkify_assets.defs.automation import (
    CLEAR_MISSING_DAY,
    decode_cursor,
    encode_cursor,
    log_files_sensor,
    plan_days,
    song_files_sensor,
)
from sparkify_assets.defs.resources import SparkifySource
from sparkify_assets.ingest.open import open_source
from sparkify_assets.warehouse.postgres import PostgresWarehouse

from .builders import (
    DAYS,
    SONGS,
    day_key,
    day_lines,
    json_line,
    sample_objects,
    song_key,
    song_record,
    write_file,
    write_sample,
)
from .conftest import definitions_for, upload
from .test_s3_source import snapshot

NEW_DAY = date(2018, 11, 4)


class Landing:
    """Where files land: a folder, or a bucket prefix in moto. Same operations on both."""

    def __init__(self, root: Path | None = None, client=None):
        self.root, self.client = root, client
        self.uri = "s3://landing/raw" if client else str(root)

    def put(self, key: str, content: bytes, mtime: int | None = None) -> None:
        if self.client:
            self.client.put_object(Bucket="landing", Key=f"raw/{key}", Body=content)
        else:
            path = write_file(self.root, key, content)
            if mtime is not None:
                os.utime(path, (mtime, mtime))

    def delete(self, key: str) -> None:
        if self.client:
            self.client.delete_object(Bucket="landing", Key=f"raw/{key}")
        else:
            (self.root / key).unlink()

    def day_file(self, day: date):
        (file,) = open_source(self.uri).event_files()[day]
        return file

    def modified(self, key: str) -> int:
        """LastModified (S3) or mtime, in whole seconds."""
        if self.client:
            head = self.client.head_object(Bucket="landing", Key=f"raw/{key}")
            return int(head["LastModified"].timestamp())
        return int((self.root / key).stat().st_mtime)


@pytest.fixture(params=["folder", "s3"])
def landing(request, tmp_path) -> Landing:
    if request.param == "folder":
        return Landing(root=write_sample(tmp_path / "landing"))
    client = request.getfixturevalue("moto_s3")
    upload(client, "landing", "raw", sample_objects())
    return Landing(client=client)


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as ephemeral:
        yield ephemeral


def tick(sensor, landing: Landing, instance, cursor: str | None = None):
    # The repository lets Dagster check partition keys against the job; the warehouse is not
    # touched by a sensor.
    repository = definitions_for(PostgresWarehouse(), landing.uri).get_repository_def()
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        repository_def=repository,
        resources={"source": SparkifySource(uri=landing.uri)},
    )
    return sensor.evaluate_tick(context)


def load_songs(defs, instance) -> None:
    """The songs side alone (a day's run never builds songs or artists), so the checks of a
    day run find songs and artists."""
    defs.resolve_job_def("refresh_songs").execute_in_process(
        instance=instance,
        asset_selection=[AssetKey("staging_songs"), AssetKey("songs"), AssetKey("artists")],
    )


def requested_days(result) -> list[str]:
    return [request.partition_key for request in result.run_requests]


# --- log_files_sensor -------------------------------------------------------------------------


def test_first_tick_requests_every_day_with_its_etag(landing, instance):
    result = tick(log_files_sensor, landing, instance)

    assert requested_days(result) == [day.isoformat() for day in DAYS]
    for request, day in zip(result.run_requests, DAYS, strict=True):
        assert request.run_key == f"{day.isoformat()}:{landing.day_file(day).fingerprint}"
    assert set(decode_cursor(result.cursor)) == {day_key(day) for day in DAYS}


def test_no_new_files_requests_nothing(landing, instance):
    first = tick(log_files_sensor, landing, instance)

    second = tick(log_files_sensor, landing, instance, first.cursor)

    assert second.run_requests == []
    assert second.skip_message == "no new or changed day file among 3 day(s)"
    assert second.cursor == first.cursor


def test_a_new_day_requests_that_day_only(landing, instance):
    first = tick(log_files_sensor, landing, instance)
    landing.put(day_key(NEW_DAY), day_lines(NEW_DAY))

    second = tick(log_files_sensor, landing, instance, first.cursor)

    assert requested_days(second) == ["2018-11-04"]
    assert day_key(NEW_DAY) in decode_cursor(second.cursor)


def test_a_changed_file_is_reloaded_under_a_new_run_key(landing, instance):
    first = tick(log_files_sensor, landing, instance)
    landing.put(day_key(DAYS[1]), day_lines(DAYS[1], variant=1))

    second = tick(log_files_sensor, landing, instance, first.cursor)
    third = tick(log_files_sensor, landing, instance, second.cursor)

    assert requested_days(second) == ["2018-11-02"]
    changed = landing.day_file(DAYS[1]).fingerprint
    assert second.run_requests[0].run_key.startswith(f"2018-11-02:{changed}:was:")
    assert changed not in first.run_requests[1].run_key
    if landing.client:  # the run key carries the object's real ETag
        head = landing.client.head_object(Bucket="landing", Key=f"raw/{day_key(DAYS[1])}")
        assert head["ETag"].strip('"') in second.run_requests[0].run_key
    assert third.run_requests == []


def test_two_files_in_the_same_second_are_both_seen(landing, instance):
    """The object written after a tick, in the second of the newest object seen, is not missed
    (dagster-aws's since_key/since_time cursor would skip it)."""
    earlier = tick(log_files_sensor, landing, instance)
    later_day = date(2018, 11, 5)
    for _ in range(5):
        second_start = int(clock.time()) + 1
        clock.sleep(second_start - clock.time())  # put both at the start of one second
        landing.put(day_key(NEW_DAY), day_lines(NEW_DAY), mtime=second_start)
        between = tick(log_files_sensor, landing, instance, earlier.cursor)
        landing.put(day_key(later_day), day_lines(later_day), mtime=second_start)
        if landing.modified(day_key(NEW_DAY)) == landing.modified(day_key(later_day)):
            break
        landing.delete(day_key(later_day))  # a second boundary fell in between: try again
    else:
        pytest.fail("could not write two objects within one second in 5 attempts")

    after = tick(log_files_sensor, landing, instance, between.cursor)

    assert requested_days(between) == ["2018-11-04"]
    assert requested_days(after) == ["2018-11-05"]


def test_a_deleted_file_keeps_the_cursor_and_requests_a_run_that_empties_the_day(landing, instance):
    first = tick(log_files_sensor, landing, instance)
    landing.delete(day_key(DAYS[0]))

    after_delete = tick(log_files_sensor, landing, instance, first.cursor)
    landing.put(day_key(NEW_DAY), day_lines(NEW_DAY))
    after_new_day = tick(log_files_sensor, landing, instance, after_delete.cursor)
    landing.put(day_key(DAYS[0]), day_lines(DAYS[0]))  # the same content put back
    after_restore = tick(log_files_sensor, landing, instance, after_new_day.cursor)

    (emptied,) = after_delete.run_requests
    assert emptied.partition_key == "2018-11-01"
    assert emptied.run_config == CLEAR_MISSING_DAY
    assert decode_cursor(after_delete.cursor)[day_key(DAYS[0])].startswith("deleted:")
    assert requested_days(after_new_day) == ["2018-11-04"]
    assert requested_days(after_restore) == ["2018-11-01"]
    # Not a repeat of the first tick's key, which Dagster would drop as already run.
    assert after_restore.run_requests[0].run_key != first.run_requests[0].run_key


def test_a_day_changed_back_to_an_earlier_content_gets_a_new_run_key(landing, instance):
    keys = []
    cursor = None
    for variant in (0, 1, 0):
        landing.put(day_key(NEW_DAY), day_lines(NEW_DAY, variant=variant))
        result = tick(log_files_sensor, landing, instance, cursor)
        keys += [r.run_key for r in result.run_requests if r.partition_key == "2018-11-04"]
        cursor = result.cursor

    assert len(keys) == 3 and len(set(keys)) == 3


def test_first_tick_takes_days_dagster_already_loaded_as_the_baseline(
    warehouse, tmp_path, instance
):
    landing = Landing(root=write_sample(tmp_path / "landing"))
    defs = definitions_for(warehouse, landing.uri)
    load_songs(defs, instance)
    defs.resolve_job_def("load_day").execute_in_process(
        partition_key="2018-11-02", instance=instance
    )

    result = tick(log_files_sensor, landing, instance)

    assert requested_days(result) == ["2018-11-01", "2018-11-03"]
    assert day_key(DAYS[1]) in decode_cursor(result.cursor)


def test_an_unreadable_cursor_starts_over_instead_of_failing(landing, instance):
    result = tick(log_files_sensor, landing, instance, cursor="not a cursor")

    assert requested_days(result) == [day.isoformat() for day in DAYS]


def test_cursor_round_trips_and_stays_compact():
    seen = {f"log_data/2018/11/2018-11-{n:02d}-events.json": f"{n:032x}" for n in range(1, 31)}

    encoded = encode_cursor(seen)

    assert decode_cursor(encoded) == seen
    assert len(encoded) < len(str(seen)) * 0.6


def test_plan_defers_days_beyond_the_limit_and_without_a_partition():
    days = [date(2018, 11, n) for n in range(1, 8)]
    current = {day: {day_key(day): "v2"} for day in days}
    seen = {days[0]: {day_key(days[0]): "v1"}}

    plan = plan_days(current, seen, first=days[1], last=days[5], limit=3)

    assert plan.before_start == [days[0]]
    assert plan.load == days[1:4]
    assert plan.deferred == days[4:]
    # Deferred days keep their old cursor entries (none): the next tick still sees them as new.
    assert set(plan.cursor) == {day_key(day) for day in days[:4]}


# --- song_files_sensor ------------------------------------------------------------------------


def test_song_sensor_requests_one_refresh_for_the_latest_day(landing, instance):
    first = tick(song_files_sensor, landing, instance)
    unchanged = tick(song_files_sensor, landing, instance, first.cursor)
    landing.put(song_key("SONEW0001"), b'{"song_id": "SONEW0001", "artist_id": "ARNEW"}')
    added = tick(song_files_sensor, landing, instance, first.cursor)
    landing.delete(song_key("SONEW0001"))
    deleted = tick(song_files_sensor, landing, instance, added.cursor)

    (request,) = first.run_requests
    # songplays is partitioned, so the run names a day; it re-matches plays on any day.
    assert request.partition_key == "2018-11-03"
    assert unchanged.run_requests == []
    assert unchanged.skip_message == "song_data unchanged (25 files)"
    assert len(added.run_requests) == 1 and added.cursor.startswith("26:")
    assert len(deleted.run_requests) == 1 and deleted.cursor == first.cursor
    run_keys = {
        r.run_key for r in (*first.run_requests, *added.run_requests, *deleted.run_requests)
    }
    assert len(run_keys) == 3  # the restored listing is a new delivery, not a repeat


@pytest.mark.parametrize("songs_first", [True, False], ids=["songs-first", "days-first"])
def test_sensor_runs_build_the_same_warehouse_as_a_full_load(
    warehouse, tmp_path, instance, songs_first
):
    """Executing exactly what the sensors request on a first tick, in either order, gives
    sparkify load's tables. (On an empty warehouse the first of them fails a not_empty check
    of the other side's tables, which is why docs/operations.md says to load once before the
    sensors.)"""
    landing = Landing(root=write_sample(tmp_path / "landing"))
    defs = definitions_for(warehouse, landing.uri)
    song_requests = [
        ("refresh_songs", r) for r in tick(song_files_sensor, landing, instance).run_requests
    ]
    day_requests = [("load_day", r) for r in tick(log_files_sensor, landing, instance).run_requests]
    requests = song_requests + day_requests if songs_first else day_requests + song_requests
    for job, request in requests:
        defs.resolve_job_def(job).execute_in_process(
            instance=instance,
            partition_key=request.partition_key,
            tags=request.tags,
            asset_selection=request.asset_selection,
            raise_on_error=False,
        )
    from_sensors = snapshot(warehouse)

    report = run_load(defs, landing.uri)

    assert report.ok, report.failures
    assert from_sensors == snapshot(warehouse)
    assert len(from_sensors["songplays"]) == 3 * 43


def test_a_new_song_rematches_existing_plays(warehouse, tmp_path, instance):
    landing = Landing(root=write_sample(tmp_path / "landing"))
    defs = definitions_for(warehouse, landing.uri)
    run_load(defs, landing.uri)
    unmatched = "SELECT COUNT(*) FROM songplays WHERE song_id IS NULL"
    (before,) = warehouse.query(unmatched)[0]
    baseline = tick(song_files_sensor, landing, instance)
    # The plays of "Unknown" by "Nobody" (one a day) had no song until this file arrived.
    landing.put(
        song_key("SONOBODY1"), song_json("SONOBODY1", "ARNOBODY1", "Unknown", "Nobody", 1.0)
    )

    (request,) = tick(song_files_sensor, landing, instance, baseline.cursor).run_requests
    defs.resolve_job_def("refresh_songs").execute_in_process(instance=instance, tags=request.tags)

    assert warehouse.query(unmatched) == [(before - 3,)]
    assert warehouse.query("SELECT COUNT(*) FROM songplays WHERE song_id = 'SONOBODY1'") == [(3,)]


def song_json(*fields) -> bytes:
    return json.dumps(song_record(*fields)).encode()


# --- schedule ---------------------------------------------------------------------------------


def test_schedule_loads_yesterday_and_refreshes_the_dimensions(warehouse, tmp_path, instance):
    landing = Landing(root=write_sample(tmp_path / "landing"))
    defs = definitions_for(warehouse, landing.uri)
    schedule = defs.resolve_schedule_def("load_yesterday")
    load_songs(defs, instance)

    context = build_schedule_context(
        instance=instance,
        repository_def=defs.get_repository_def(),
        scheduled_execution_time=datetime(2018, 11, 3, 1, 0, tzinfo=UTC),
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    result = defs.resolve_job_def(schedule.job_name).execute_in_process(
        instance=instance, partition_key=request.partition_key
    )

    assert schedule.cron_schedule == "0 1 * * *"
    assert schedule.job_name == "load_day"
    assert request.partition_key == "2018-11-02"
    assert result.success
    assert warehouse.query("SELECT DISTINCT event_date FROM staging_events") == [
        (date(2018, 11, 2),)
    ]
    counts = warehouse.row_counts()
    # A sample day has 43 plays (each in its own minute) by users 10, 20 and 50..54.
    assert counts["songplays"] == 43 and counts["time"] == 43
    assert counts["users"] == 7
    assert counts["songs"] == len(SONGS) and counts["artists"] == len({s[1] for s in SONGS})


def test_schedule_run_for_a_day_whose_file_has_not_landed_fails_and_says_so(
    warehouse, tmp_path, instance
):
    landing = Landing(root=write_sample(tmp_path / "landing"))
    defs = definitions_for(warehouse, landing.uri)
    load_songs(defs, instance)
    schedule = defs.resolve_schedule_def("load_yesterday")
    context = build_schedule_context(
        instance=instance,
        repository_def=defs.get_repository_def(),
        scheduled_execution_time=datetime(2018, 11, 11, 1, 0, tzinfo=UTC),
    )
    (request,) = schedule.evaluate_tick(context).run_requests

    result = defs.resolve_job_def("load_day").execute_in_process(
        instance=instance, partition_key=request.partition_key, raise_on_error=False
    )

    assert request.partition_key == "2018-11-10"
    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    assert failure.step_key == "staging_events"  # and what depends on it did not run
    assert {"songplays", "users", "time"}.isdisjoint(
        event.step_key for event in result.all_events if event.is_step_success
    )
    assert failure.step_failure_data.error.message.strip().endswith(
        f"no log file for 2018-11-10 under {landing.uri}/log_data"
    )


# --- the sensors see a changed shape as a changed file -------------------------------------------


def test_the_log_sensor_reloads_a_day_whose_key_was_renamed_in_place(landing, instance):
    """userId -> userID keeps the file's size: the ETag (S3) or mtime (folder) still changes."""
    first = tick(log_files_sensor, landing, instance)
    before = landing.day_file(DAYS[1])
    landing.put(day_key(DAYS[1]), day_lines(DAYS[1]).replace(b'"userId":', b'"userID":'))

    second = tick(log_files_sensor, landing, instance, first.cursor)

    assert landing.day_file(DAYS[1]).size == before.size
    assert requested_days(second) == [DAYS[1].isoformat()]
    assert second.run_requests[0].run_key.startswith(f"{DAYS[1].isoformat()}:")


def test_the_song_sensor_refreshes_when_a_song_file_renames_a_key(landing, instance):
    first = tick(song_files_sensor, landing, instance)
    key = song_key(SONGS[0][0])
    renamed = {
        ("artist_nam" if k == "artist_name" else k): v for k, v in song_record(*SONGS[0]).items()
    }
    landing.put(key, json_line(renamed))

    second = tick(song_files_sensor, landing, instance, first.cursor)

    assert len(second.run_requests) == 1
    assert second.cursor != first.cursor
