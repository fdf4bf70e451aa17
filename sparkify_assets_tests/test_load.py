"""`sparkify load` on the bundled sample against an independent Python oracle; idempotency; one day.

The oracle re-derives the star schema straight from the JSON files with plain Python, so it shares
no code (and no SQL) with the platform.
"""

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
from dagster import AssetKey

from sparkify_assets.cli.load import run_load
from sparkify_assets.sql.tables import songplay_id

from .conftest import definitions_for, table_rows

TABLES = ("staging_events", "staging_songs", "songplays", "users", "songs", "artists", "time")


def oracle(data: Path) -> dict:
    events = [
        json.loads(raw)
        for path in sorted((data / "log_data").rglob("*.json"))
        for raw in path.read_bytes().splitlines()
        if raw.strip()
    ]
    songs = [json.loads(p.read_bytes()) for p in sorted((data / "song_data").rglob("*.json"))]
    by_title_artist = defaultdict(list)
    for song in songs:
        by_title_artist[(song["title"], song["artist_name"])].append(song)
    plays = [e for e in events if e["page"] == "NextSong" and e["userId"] != ""]
    matched = 0
    for play in plays:
        candidates = by_title_artist.get((play["song"], play["artist"]), [])
        matched += bool(candidates)
    latest = {}
    for event in sorted(events, key=lambda e: (e["ts"], e["sessionId"], e["itemInSession"])):
        if event["userId"] != "":
            latest[int(event["userId"])] = event["level"]
    return {
        "staging_events": len(events),
        "staging_songs": len(songs),
        "songplays": len(plays),
        "matched": matched,
        "users": len(latest),
        "paid": sum(level == "paid" for level in latest.values()),
        "songs": len({s["song_id"] for s in songs}),
        "artists": len({s["artist_id"] for s in songs}),
        "time": len({p["ts"] for p in plays}),
    }


def snapshot(warehouse) -> dict:
    return {table: table_rows(warehouse, table) for table in TABLES}


def test_bundled_sample_matches_the_oracle(warehouse, bundled_sample):
    expected = oracle(bundled_sample)
    report = run_load(definitions_for(warehouse, bundled_sample), str(bundled_sample))
    assert report.ok, report.failures

    counts = report.row_counts
    assert {t: counts[t] for t in TABLES} == {t: expected[t] for t in TABLES}
    assert counts["load_rejects"] == 0
    (matched,) = warehouse.query("SELECT COUNT(*) FROM songplays WHERE song_id IS NOT NULL")[0]
    assert matched == expected["matched"] and matched > counts["songplays"] // 10
    (paid,) = warehouse.query("SELECT COUNT(*) FROM users WHERE level = 'paid'")[0]
    assert paid == expected["paid"]


def test_bundled_sample_plays_take_the_song_with_the_nearest_duration(warehouse, bundled_sample):
    run_load(definitions_for(warehouse, bundled_sample), str(bundled_sample))
    # Where several songs share title and artist, the chosen one is at least as close as any.
    worse = warehouse.query(f"""
        SELECT COUNT(*) FROM songplays p
        JOIN staging_events e
          ON p.songplay_id = {songplay_id("e")}
        JOIN staging_songs chosen ON chosen.song_id = p.song_id
        JOIN staging_songs other ON other.title = e.song AND other.artist_name = e.artist
        WHERE ABS(other.duration - e.length) < ABS(chosen.duration - e.length)
    """)
    assert worse == [(0,)]


def test_loading_twice_and_rerunning_a_day_leave_identical_tables(warehouse, bundled_sample):
    defs = definitions_for(warehouse, bundled_sample)
    run_load(defs, str(bundled_sample))
    first = snapshot(warehouse)
    assert run_load(defs, str(bundled_sample)).ok
    assert snapshot(warehouse) == first

    day = min(
        date.fromisoformat(row[0].isoformat())
        for row in warehouse.query("SELECT DISTINCT event_date FROM staging_events")
    ).isoformat()
    result = defs.resolve_job_def("load_everything").execute_in_process(
        partition_key=day,
        asset_selection=[AssetKey("staging_events"), AssetKey("songplays")],
    )
    assert result.success
    assert snapshot(warehouse) == first


def test_dagster_cli_rebuilds_one_day_on_its_own(database_url, warehouse, public_sample):
    env = {
        **os.environ,
        "SPARKIFY_WAREHOUSE_URL": database_url,
        "SPARKIFY_DATA_URI": str(public_sample),
    }
    command = [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        "sparkify_assets.definitions",
        "--select",
        "staging_events,songplays",
        "--partition",
        "2018-11-15",
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]

    assert warehouse.query("SELECT COUNT(*) FROM staging_events") == [(533,)]
    assert warehouse.query(
        "SELECT COUNT(*) FROM songplays WHERE start_time >= '2018-11-15' "
        "AND start_time < '2018-11-16'"
    ) == [(479,)]


def test_missing_source_folder_is_a_one_line_error(tmp_path):
    env = {
        **os.environ,
        "SPARKIFY_DATA_URI": str(tmp_path / "nowhere"),
        "SPARKIFY_HOME": str(tmp_path / "home"),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "sparkify_assets.cli.main", "load"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert "does not exist" in completed.stderr and "Traceback" not in completed.stderr
    assert str(tmp_path / "nowhere") in completed.stderr


@pytest.fixture(autouse=True)
def _need_bundled_sample(bundled_sample):
    if not (bundled_sample / "log_data").is_dir():
        pytest.fail("the bundled sample is missing from sparkify_assets/sample_data")
