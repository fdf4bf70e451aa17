"""The exact star schema on the public Udacity sample (skipped when ../shared is absent)."""

from datetime import datetime

from sparkify_assets.cli.load import run_load
from sparkify_assets.sql.checks import RULES
from sparkify_assets.sql.tables import songplay_id

from .conftest import PUBLIC_SAMPLE_COUNTS, definitions_for

EXPECTED_COUNTS = {
    **PUBLIC_SAMPLE_COUNTS,
    "load_audit": 101,  # one tally per file: 30 log files, 71 song files
}


def test_public_sample_builds_the_exact_star_schema(warehouse, public_sample):
    report = run_load(definitions_for(warehouse, public_sample), str(public_sample))

    assert report.ok, report.failures
    assert {name: report.row_counts[name] for name in EXPECTED_COUNTS} == EXPECTED_COUNTS
    # Every rule ran as a check in the load's own run, and every one passed (no WARN either).
    defined = {(rule.table, rule.name) for rules in RULES.values() for rule in rules}
    assert {(check.asset, check.check) for check in report.checks} == defined
    assert [check for check in report.checks if not check.passed] == []


def test_public_sample_matches_exactly_one_songplay(warehouse, public_sample):
    run_load(definitions_for(warehouse, public_sample), str(public_sample))

    matched = warehouse.query(
        "SELECT user_id, session_id, start_time, song_id, artist_id, level, user_agent "
        "FROM songplays WHERE song_id IS NOT NULL OR artist_id IS NOT NULL"
    )
    assert len(matched) == 1
    user_id, session_id, start_time, song_id, artist_id, level, user_agent = matched[0]
    assert (user_id, session_id) == (15, 818)
    assert start_time == datetime(2018, 11, 21, 21, 56, 47, 796000)
    assert (song_id, artist_id) == ("SOZCTXZ12AB0182364", "AR5KOSW1187FB35FF4")
    assert level == "paid"
    assert user_agent.startswith('"Mozilla/5.0 (X11; Linux x86_64)') and user_agent.endswith('"')


def test_public_sample_users_take_their_latest_level(warehouse, public_sample):
    run_load(definitions_for(warehouse, public_sample), str(public_sample))

    levels = dict(warehouse.query("SELECT level, COUNT(*) FROM users GROUP BY level"))
    assert levels == {"free": 75, "paid": 22}


def test_public_sample_keeps_millisecond_timestamps_and_time_units(warehouse, public_sample):
    run_load(definitions_for(warehouse, public_sample), str(public_sample))

    # start_time must equal ts exactly: no ts/1000 integer division, no float drift.
    drift = warehouse.query(
        "SELECT COUNT(*) FROM songplays p JOIN staging_events e "
        "ON p.session_id = e.session_id "
        "AND p.songplay_id = " + songplay_id("e") + " "
        "WHERE CAST(EXTRACT(EPOCH FROM p.start_time) * 1000 AS BIGINT) <> e.ts"
    )
    assert drift == [(0,)]
    row = warehouse.query(
        "SELECT hour, day, week, month, year, weekday FROM time "
        "WHERE start_time = '2018-11-21 21:56:47.796'"
    )
    assert row == [(21, 21, 47, 11, 2018, 3)]  # a Wednesday in ISO week 47
