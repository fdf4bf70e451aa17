"""Issue 25's case: a copy of a sample changed the way an app release changes its logs.

2018-11-15 renames userId to user_id, 2018-11-16 gains a key on every line, one song file
renames artist_name. ``sparkify load`` must fail with one line naming the day's file and userId,
load every other day, name the new key and the song file's missing artist_name, and once the
files are fixed give the sample's exact figures again. Run on the public sample (skipped without
../shared) and on the bundled sample (always).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from sparkify_assets.cli.load import format_report, run_load
from sparkify_assets.ingest.open import open_source
from sparkify_assets.sql.checks import RULES
from sparkify_assets.warehouse.base import RejectThresholdExceeded

from .builders import day_key, event, json_line, song, song_file_key, write_file
from .conftest import PUBLIC_SAMPLE_COUNTS, REPO, definitions_for, table_rows, upload
from .rule_results import evaluate

RENAMED_DAY = "2018-11-15"
NEW_KEY_DAY = "2018-11-16"
DAY_FILE = "log_data/2018/11/{}-events.json"


def drift(root: Path) -> str:
    """Change the copy at ``root`` as the issue does; returns the renamed song file's key."""
    renamed = root / DAY_FILE.format(RENAMED_DAY)
    renamed.write_bytes(renamed.read_bytes().replace(b'"userId":', b'"user_id":'))
    added = root / DAY_FILE.format(NEW_KEY_DAY)
    lines = added.read_bytes().split(b"\n")
    added.write_bytes(
        b"\n".join(line[:-1] + b',"mood":"calm"}' if line.strip() else line for line in lines)
    )
    song = sorted((root / "song_data").rglob("*.json"))[0]
    song.write_bytes(song.read_bytes().replace(b'"artist_name":', b'"artistName":'))
    return song.relative_to(root).as_posix()


def load_cli(data: Path, database_url: str, home: Path) -> subprocess.CompletedProcess:
    env = os.environ | {
        "SPARKIFY_DATA_URI": str(data),
        "SPARKIFY_WAREHOUSE_URL": database_url,
        "SPARKIFY_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "PYTHONPATH": str(REPO),
    }
    return subprocess.run(
        [sys.executable, "-m", "sparkify_assets.cli.main", "load"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def staged_days(warehouse) -> dict[str, int]:
    rows = warehouse.query(
        "SELECT TO_CHAR(event_date, 'YYYY-MM-DD'), COUNT(*) FROM staging_events GROUP BY 1"
    )
    return dict(rows)


@pytest.fixture(params=["public_sample", "bundled_sample"])
def sample(request) -> Path:
    return request.getfixturevalue(request.param)


@pytest.mark.slow
def test_a_changed_record_shape_fails_its_day_names_it_and_loads_the_rest(
    sample, warehouse, database_url, tmp_path
):
    data = tmp_path / "data"
    shutil.copytree(sample, data, ignore=shutil.ignore_patterns("*.md", "MANIFEST*"))
    clean = run_load(definitions_for(warehouse, data), str(data))
    assert clean.ok, clean.failures
    before = staged_days(warehouse)
    clean_counts = clean.row_counts

    song_key = drift(data)
    loaded = load_cli(data, database_url, tmp_path / "home")

    assert loaded.returncode == 1, loaded.stdout + loaded.stderr
    failed = [line for line in loaded.stdout.splitlines() if line.startswith("  FAILED")]
    assert len(failed) == 1, loaded.stdout
    assert RENAMED_DAY in failed[0] and "userId" in failed[0]
    assert f"{RENAMED_DAY}-events.json: no record has userId" in failed[0]
    # The rejected day kept its previous rows; every other day is loaded as before.
    assert staged_days(warehouse) == before
    out = loaded.stdout
    new_key = "every record has an unknown key mood"
    assert re.search(rf"DRIFT .*{NEW_KEY_DAY}-events\.json: {new_key}", out)
    assert re.search(rf"DRIFT .*{re.escape(song_key)}: no record has artist_name", out)
    assert re.search(rf"new key mood in staging_events since {NEW_KEY_DAY} \(1 file\)", out)
    # (staging_events failed, so Dagster skipped its checks: the closing lines say it instead.)
    assert "load FAILED" in out

    shutil.rmtree(data)
    shutil.copytree(sample, data, ignore=shutil.ignore_patterns("*.md", "MANIFEST*"))
    fixed = run_load(definitions_for(warehouse, data), str(data))

    assert fixed.ok, fixed.failures
    assert fixed.drift.files == [] and fixed.drift.new_keys == []
    assert fixed.row_counts == clean_counts
    if sample.name == "udacity_sample":
        assert {name: fixed.row_counts[name] for name in PUBLIC_SAMPLE_COUNTS} == (
            PUBLIC_SAMPLE_COUNTS
        )


# --- each kind of drift, one day file (or song file) at a time, from a folder and from S3 ------

DAY = date(2018, 11, 15)
NEXT_DAY = date(2018, 11, 16)
EVENTS = 40
SONGS = 30  # one broken song file of 30 is 3.3%, under the 5% tolerance


def good_lines(day: date) -> list[dict]:
    return [event(day, n) for n in range(1, EVENTS + 1)]


def rename(record: dict, old: str, new: str) -> dict:
    return {(new if key == old else key): value for key, value in record.items()}


def half_renamed(records: list[dict]) -> list[dict]:
    return [rename(r, "userId", "user_id") if n % 2 else r for n, r in enumerate(records)]


def level_removed(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k != "level"} for record in records]


def type_changed(records: list[dict]) -> list[dict]:
    return [records[0] | {"sessionId": "115"}, *records[1:]]


def new_key(records: list[dict]) -> list[dict]:
    return [record | {"mood": "calm"} for record in records]


def write_data(root: Path, change=None) -> dict[str, bytes]:
    """Two good days, ``change`` applied to DAY's records, and SONGS song files."""
    objects = {}
    for day in (DAY, NEXT_DAY):
        records = good_lines(day)
        if change is not None and day == DAY:
            records = change(records)
        objects[day_key(day)] = b"\n".join(map(json_line, records)) + b"\n"
    for number in range(SONGS):
        objects[song_file_key(f"TRSONG{number:05d}")] = json_line(song(number))
    for key, content in objects.items():
        write_file(root, key, content)
    return objects


@pytest.fixture(params=["folder", "s3"])
def open_data(request, tmp_path):
    """Writes a data set and opens it as a source, from a folder or from (moto) S3."""
    counter = iter(range(100))

    def make(change=None, songs=None):
        root = tmp_path / f"data{next(counter)}"
        objects = write_data(root, change)
        if songs is not None:
            key = song_file_key("TRSONG00000")
            objects[key] = songs
            write_file(root, key, songs)
        if request.param == "folder":
            return open_source(str(root))
        client = request.getfixturevalue("moto_s3")
        return open_source(upload(client, f"drift-{root.name}", "raw", objects))

    return make


def stage_day(warehouse, source, day: date = DAY):
    return warehouse.stage_events_day(source, day, source.event_files()[day])


def drift_rows(warehouse, asset: str = "staging_events") -> list[tuple]:
    return warehouse.query(
        "SELECT source, key, change, records, first_line FROM load_drift WHERE asset = %s "
        "ORDER BY source, change, key",
        (asset,),
    )


@pytest.mark.parametrize(
    "change, message",
    [
        (
            half_renamed,
            "20 of 40 records lack userId (first at line 2); 20 of 40 records have "
            "an unknown key user_id (first at line 2); 20 of 40 records rejected",
        ),
        (level_removed, "no record has level (40 records); 40 of 40 records rejected"),
    ],
    ids=["half_renamed", "level_removed"],
)
def test_a_renamed_or_removed_key_fails_its_day_and_keeps_the_previous_rows(
    warehouse, open_data, change, message
):
    stage_day(warehouse, open_data())
    before = table_rows(warehouse, "staging_events")

    with pytest.raises(RejectThresholdExceeded) as failed:
        stage_day(warehouse, open_data(change))

    text = str(failed.value)
    assert "\n" not in text
    assert text.startswith(f"{DAY}: {day_key(DAY)}: {message}")
    assert table_rows(warehouse, "staging_events") == before
    assert drift_rows(warehouse) != []  # the failed load's drift is kept, like its rejects


def test_a_key_that_changes_type_is_quarantined_and_no_drift(warehouse, open_data):
    result = stage_day(warehouse, open_data(type_changed))

    assert (result.loaded, result.rejected, result.drift) == (EVENTS - 1, 1, [])
    reasons = warehouse.query("SELECT line_number, reason FROM load_rejects")
    assert reasons == [(1, "sessionId is not an integer")]
    assert drift_rows(warehouse) == []


def test_a_new_key_on_every_line_loads_the_day_and_is_recorded(warehouse, open_data):
    result = stage_day(warehouse, open_data(new_key))

    assert (result.loaded, result.rejected) == (EVENTS, 0)
    assert result.drift == [f"{day_key(DAY)}: every record has an unknown key mood"]
    assert drift_rows(warehouse) == [(day_key(DAY), "mood", "unknown", EVENTS, 1)]
    # Reloading the day as it was replaces its drift too.
    stage_day(warehouse, open_data())
    assert drift_rows(warehouse) == []


def test_a_song_file_with_a_renamed_key_is_quarantined_and_recorded(warehouse, open_data):
    renamed = json_line(rename(song(0), "artist_name", "artistName"))
    source = open_data(songs=renamed)

    result = warehouse.stage_songs(source, full=True)

    assert (result.loaded, result.rejected) == (SONGS - 1, 1)
    key = song_file_key("TRSONG00000")
    assert result.drift == [
        f"{key}: no record has artist_name (1 records); every record has an unknown key artistName"
    ]
    assert drift_rows(warehouse, "staging_songs") == [
        (key, "artist_name", "missing", 1, 1),
        (key, "artistName", "unknown", 1, 1),
    ]
    reasons = warehouse.query("SELECT source, reason FROM load_rejects")
    assert reasons == [(key, "artist_name is missing or empty")]


def test_a_song_file_fixed_later_is_reloaded_and_its_drift_forgotten(warehouse, tmp_path):
    """A song refresh reloads the changed file only; the share is the partition's."""
    root = tmp_path / "data"
    write_data(root)
    source = open_source(str(root))
    warehouse.stage_songs(source, full=True)
    key = song_file_key("TRSONG00000")
    write_file(root, key, json_line(rename(song(0), "artist_name", "artistName")))

    broken = warehouse.stage_songs(open_source(str(root)))
    assert (broken.records, broken.rejected) == (1, 1)  # 1 of SONGS in the partition: loads
    assert [row[2] for row in drift_rows(warehouse, "staging_songs")] == ["missing", "unknown"]

    write_file(root, key, json_line(song(0)))
    fixed = warehouse.stage_songs(open_source(str(root)))
    assert (fixed.records, fixed.rejected) == (1, 0)
    assert drift_rows(warehouse, "staging_songs") == []


def test_new_keys_are_a_warn_check_naming_keys_days_and_files(warehouse, tmp_path):
    root = tmp_path / "data"
    write_data(root, new_key)
    report = run_load(definitions_for(warehouse, root), str(root))

    assert report.ok, report.failures  # a WARN does not fail the load
    check = next(c for c in report.checks if (c.asset, c.check) == ("staging_events", "new_keys"))
    assert (check.passed, check.severity, check.violations) == (False, "WARN", 1)
    text = format_report(report)
    assert f"new key mood in staging_events since {DAY} (1 file)" in text
    assert f"DRIFT {day_key(DAY)}: every record has an unknown key mood" in text
    rule = next(r for r in RULES["staging_events"] if r.name == "new_keys")
    with warehouse.transaction() as cursor:
        result = evaluate(rule, cursor, warehouse.schema_name)
    assert f"mood, {DAY}, {DAY}, 1, {EVENTS}, {day_key(DAY)}" in result.metadata["sample"].value
