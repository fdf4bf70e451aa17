"""The quarantine end to end: a corpus of broken files loaded through Dagster into PostgreSQL.

Every bad record lands in load_rejects exactly once with its file, line and reason; every good
record loads; layout quirks (CRLF, BOM, blank lines, empty files, no final newline) are not
errors; the reject tolerance fails a partition above it and warns below it.
"""

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from sparkify_assets.cli.load import LoadReport, format_report, run_load
from sparkify_assets.defs.location import build_definitions, resources_for
from sparkify_assets.sql.checks import RULES
from sparkify_assets.warehouse import embedded
from sparkify_assets.warehouse.postgres import PostgresWarehouse

from .builders import event, json_line, song, song_file_key, write_day, write_song, write_songs
from .conftest import definitions_for, table_rows
from .rule_results import evaluate

DAY, EMPTY_DAY, PLAIN_DAY = date(2018, 11, 15), date(2018, 11, 16), date(2018, 11, 17)
GOOD_TAIL = 188  # good events after the broken ones: 9 rejects of 199 records is 4.5% < 5%
GOOD_SONGS = 170  # 8 broken song files of 179 records is 4.5%

BROKEN_EVENTS = [  # (line, bytes, reason) – the line numbers count the blank lines too
    (4, b'{"artist": "Fu", "auth": "Logged In", "ts": 15422', "not valid JSON"),
    (5, b'[{"ts": 1542240000000}]', "not a JSON object (got list)"),
    (6, json_line(event(DAY, 6, ts="1542240360123")), "ts is not an integer"),
    (7, json_line(event(DAY, 7, sessionId=115.5)), "sessionId is not an integer"),
    (8, json_line(event(DAY, 8, itemInSession="8")), "itemInSession is not an integer"),
    (9, json_line(event(DAY, 9, status="200")), "status is not an integer"),
    (10, json_line(event(DAY, 10, length="219.1")), "length is not a number"),
    (11, json_line(event(DAY, 11, registration=True)), "registration is not a number"),
    (12, json_line(event(DAY, 12, artist="Bj__rk")).replace(b"__", b"\xf6"), "not valid UTF-8"),
]

BROKEN_SONGS = {  # file name -> (content, reason)
    "TRBAD00001": (json_line(song(901))[:-20], "not valid JSON"),
    "TRBAD00002": (json_line(song(902, duration="218.93179")), "duration is not a number"),
    "TRBAD00003": (json_line(song(903, year="1999")), "year is not an integer"),
    "TRBAD00004": (json_line(song(904, artist_latitude="35.1")), "artist_latitude is not a number"),
    "TRBAD00005": (json_line(song(905, artist_longitude=[1])), "artist_longitude is not a number"),
    "TRBAD00006": (json_line(song(906, num_songs=1.5)), "num_songs is not an integer"),
    "TRBAD00007": (b"[" + json_line(song(907)) + b"]", "not a JSON object (got list)"),
    "TRBAD00008": (json_line(song(908, title="caf__")).replace(b"__", b"\xe9"), "not valid UTF-8"),
}


def write_corpus(root):
    """The broken corpus; returns the source keys of the three day files."""
    broken = {line: raw for line, raw, _ in BROKEN_EVENTS}
    lines = [b"\xef\xbb\xbf" + json_line(event(DAY, 1)), json_line(event(DAY, 2)), b""]
    lines += [broken[number] for number in range(4, 13)]
    lines += [b"   "]  # line 13: whitespace only
    lines += [json_line(event(DAY, number)) for number in range(14, 14 + GOOD_TAIL)]
    # CRLF everywhere, and the last line has no newline at all.
    day_key = write_day(root, DAY, b"\r\n".join(lines))
    empty_key = write_day(root, EMPTY_DAY, b"")
    plain = [json_line(event(PLAIN_DAY, number)) for number in range(1, 21)]
    plain_key = write_day(root, PLAIN_DAY, b"\n".join(plain) + b"\n\n")

    write_songs(root, range(GOOD_SONGS - 1))
    pretty = b"\xef\xbb\xbf{\r\n  " + json_line(song(999))[1:-1].replace(b',"', b',\r\n  "')
    write_song(root, "TRPRETTY001", pretty + b"\r\n}\r\n")
    write_song(root, "TREMPTY0001", b"")
    for name, (content, _) in BROKEN_SONGS.items():
        write_song(root, name, content)
    return day_key, empty_key, plain_key


def quarantine(warehouse) -> list[tuple]:
    return warehouse.query(
        "SELECT asset, partition_key, source, line_number, reason FROM load_rejects "
        "ORDER BY asset, source, line_number"
    )


@dataclass(frozen=True)
class LoadedCorpus:
    warehouse: PostgresWarehouse
    root: Path
    report: LoadReport
    day_key: str
    empty_key: str
    plain_key: str


@pytest.fixture(scope="module")
def corpus(server_home, tmp_path_factory) -> LoadedCorpus:
    """The broken corpus loaded once through Dagster with the default 5% tolerance."""
    root = tmp_path_factory.mktemp("corpus")
    keys = write_corpus(root)
    url = embedded.ensure_running(server_home, f"corpus_{os.getpid()}")
    warehouse = PostgresWarehouse(url=url)
    return LoadedCorpus(
        warehouse, root, run_load(definitions_for(warehouse, root), str(root)), *keys
    )


def test_broken_corpus_quarantines_each_bad_record_once_and_loads_the_rest(corpus):
    warehouse, report = corpus.warehouse, corpus.report

    assert report.ok, report.failures
    counts = report.row_counts
    assert counts["staging_events"] == 2 + GOOD_TAIL + 20
    assert counts["staging_songs"] == GOOD_SONGS
    assert counts["load_rejects"] == len(BROKEN_EVENTS) + len(BROKEN_SONGS)
    rejects = quarantine(warehouse)
    assert [row[:4] for row in rejects[: len(BROKEN_EVENTS)]] == [
        ("staging_events", "2018-11-15", corpus.day_key, line) for line, _, _ in BROKEN_EVENTS
    ]
    for row, (_, _, reason) in zip(rejects, BROKEN_EVENTS, strict=False):
        assert row[4].startswith(reason)
    song_rejects = {
        source: (asset, partition, line, reason)
        for asset, partition, source, line, reason in rejects[len(BROKEN_EVENTS) :]
    }
    assert sorted(song_rejects) == sorted(map(song_file_key, BROKEN_SONGS))
    for name, (_, reason) in BROKEN_SONGS.items():
        asset, partition, line, actual = song_rejects[song_file_key(name)]
        assert (asset, partition, line) == ("staging_songs", "", 1)
        assert actual.startswith(reason)
    # The loaded lines are exactly the good ones, BOM and CR stripped, the last line included.
    lines = warehouse.query(
        "SELECT line_number, artist, user_agent FROM staging_events "
        "WHERE event_date = '2018-11-15' ORDER BY line_number"
    )
    assert [line for line, _, _ in lines] == [1, 2, *range(14, 14 + GOOD_TAIL)]
    assert lines[0][1] == event(DAY, 1)["artist"] and lines[-1][2] == '"Mozilla/5.0"'
    assert warehouse.query(
        "SELECT COUNT(*) FROM staging_songs WHERE source = %s", (song_file_key("TRPRETTY001"),)
    ) == [(1,)]


def test_rejects_keep_the_raw_record_as_far_as_it_decodes(corpus):
    raw = dict(
        corpus.warehouse.query(
            "SELECT line_number, raw_record FROM load_rejects WHERE source = %s", (corpus.day_key,)
        )
    )
    assert raw[4] == BROKEN_EVENTS[0][1].decode()  # no CR, as it was in the file
    assert '"artist":"Bj\ufffdrk"' in raw[12]  # the stray byte becomes U+FFFD, the rest stays


def test_the_audit_tallies_every_file_and_reconciles(corpus):
    warehouse = corpus.warehouse
    audit = warehouse.query(
        "SELECT partition_key, source, records, loaded, rejected FROM load_audit "
        "WHERE asset = 'staging_events' ORDER BY partition_key"
    )
    assert audit == [
        (
            "2018-11-15",
            corpus.day_key,
            2 + len(BROKEN_EVENTS) + GOOD_TAIL,
            2 + GOOD_TAIL,
            len(BROKEN_EVENTS),
        ),
        ("2018-11-16", corpus.empty_key, 0, 0, 0),
        ("2018-11-17", corpus.plain_key, 20, 20, 0),
    ]
    songs = warehouse.query(
        "SELECT COUNT(*), SUM(records), SUM(loaded), SUM(rejected) FROM load_audit "
        "WHERE asset = 'staging_songs'"
    )
    assert songs == [
        (
            GOOD_SONGS + 1 + len(BROKEN_SONGS),
            GOOD_SONGS + len(BROKEN_SONGS),
            GOOD_SONGS,
            len(BROKEN_SONGS),
        )
    ]
    assert warehouse.query(
        "SELECT records FROM load_audit WHERE source = %s", (song_file_key("TREMPTY0001"),)
    ) == [(0,)]
    outcomes = {(c.asset, c.check): c.passed for c in corpus.report.checks}
    assert outcomes[("staging_events", "reconciles_with_audit")] is True
    assert outcomes[("staging_songs", "reconciles_with_audit")] is True


def test_rejects_below_the_tolerance_load_and_warn(corpus):
    failed = {
        (c.asset, c.check): (c.severity, c.violations) for c in corpus.report.checks if not c.passed
    }
    assert failed == {
        ("staging_events", "rejects"): ("WARN", len(BROKEN_EVENTS)),
        ("staging_songs", "rejects"): ("WARN", len(BROKEN_SONGS)),
    }
    text = format_report(corpus.report)
    assert "  WARN  staging_events.rejects  (9 violations)" in text
    assert "  WARN  staging_songs.rejects  (8 violations)" in text
    assert text.endswith("load succeeded")


def test_reloading_replaces_rejects_and_audit_instead_of_adding(corpus):
    rejects = quarantine(corpus.warehouse)
    audit = table_rows(corpus.warehouse, "load_audit")

    again = run_load(definitions_for(corpus.warehouse, corpus.root), str(corpus.root))

    assert again.row_counts == corpus.report.row_counts
    assert quarantine(corpus.warehouse) == rejects
    assert [row[:6] for row in table_rows(corpus.warehouse, "load_audit")] == [
        row[:6]
        for row in audit  # the same tallies, only loaded_at is new
    ]


def write_small_day(root, bad_lines: int) -> str:
    lines = [json_line(event(DAY, number)) for number in (1, 6, 11)]  # user 11 upgrades
    lines += [b"{not json"] * bad_lines
    write_songs(root, range(3))
    return write_day(root, DAY, b"\n".join(lines))


def test_rejects_above_the_tolerance_fail_the_partition_with_a_clear_message(warehouse, tmp_path):
    day_key = write_small_day(tmp_path, bad_lines=1)  # 1 of 4 records: 25%

    report = run_load(definitions_for(warehouse, tmp_path), str(tmp_path))

    assert not report.ok
    assert report.failures == [
        "staging_events: 2018-11-15: 1 of 4 records rejected (25.0%), above the 5.0% allowed "
        "(SPARKIFY_MAX_REJECT_SHARE or run config max_reject_share); this load was rolled back "
        "and the partition keeps its previous rows. See load_rejects."
    ]
    assert report.row_counts["staging_events"] == 0 and report.row_counts["songplays"] == 0
    ((*where, reason),) = quarantine(warehouse)
    assert where == ["staging_events", "2018-11-15", day_key, 4]
    assert reason.startswith("not valid JSON (")
    assert warehouse.query(
        "SELECT records, loaded, rejected FROM load_audit WHERE asset = 'staging_events'"
    ) == [(4, 0, 1)]
    assert "load FAILED" in format_report(report)


def test_run_config_raises_the_tolerance_for_one_run(warehouse, tmp_path):
    write_small_day(tmp_path, bad_lines=1)

    report = run_load(definitions_for(warehouse, tmp_path), str(tmp_path), max_reject_share=0.3)

    assert report.ok, report.failures
    assert report.row_counts["staging_events"] == 3 and report.row_counts["load_rejects"] == 1
    assert [(c.check, c.severity) for c in report.checks if not c.passed] == [("rejects", "WARN")]


def test_run_config_can_also_lower_the_tolerance(warehouse, tmp_path):
    write_corpus(tmp_path)  # 4.5% rejected: fine by default, not with 1%

    report = run_load(definitions_for(warehouse, tmp_path), str(tmp_path), max_reject_share=0.01)

    assert not report.ok
    assert any("above the 1.0% allowed" in failure for failure in report.failures)


def test_the_environment_variable_sets_the_tolerance(database_url, tmp_path, monkeypatch):
    write_small_day(tmp_path, bad_lines=1)
    monkeypatch.setenv("SPARKIFY_WAREHOUSE_URL", database_url)
    monkeypatch.setenv("SPARKIFY_DATA_URI", str(tmp_path))
    monkeypatch.setenv("SPARKIFY_MAX_REJECT_SHARE", "0.3")

    report = run_load(build_definitions(resources_for("local")))

    assert report.ok, report.failures
    assert report.row_counts["staging_events"] == 3


def test_a_failed_reload_keeps_the_previous_rows_and_the_audit_flags_it(warehouse, tmp_path):
    day_key = write_small_day(tmp_path, bad_lines=0)
    defs = definitions_for(warehouse, tmp_path)
    assert run_load(defs, str(tmp_path)).ok
    write_small_day(tmp_path, bad_lines=2)  # the day's file is replaced by a worse one

    report = run_load(defs, str(tmp_path))

    assert not report.ok
    assert report.row_counts["staging_events"] == 3  # rolled back: the last good load stays
    assert report.row_counts["load_rejects"] == 2
    # The audit describes the failed load (nothing kept), so staging no longer reconciles.
    assert warehouse.query(
        "SELECT records, loaded, rejected FROM load_audit WHERE asset = 'staging_events'"
    ) == [(5, 0, 2)]
    (reconciliation,) = [
        rule for rule in RULES["staging_events"] if rule.name == "reconciles_with_audit"
    ]
    with warehouse.transaction() as cursor:
        result = evaluate(reconciliation, cursor, warehouse.schema_name)
    assert not result.passed
    assert f"2018-11-15, {day_key}, 5, 0, 2, 3, 2" in result.metadata["sample"].value


NO_RECORDS = {  # a day each: files that hold no record at all
    date(2018, 11, 15): b"",
    date(2018, 11, 16): b"\n\n",
    date(2018, 11, 17): b"\xef\xbb\xbf",
    date(2018, 11, 18): b"\r\n \r\n",
}


def test_files_without_records_are_not_errors(warehouse, tmp_path):
    for day, content in NO_RECORDS.items():
        write_day(tmp_path, day, content)
    write_songs(tmp_path, range(1))

    report = run_load(definitions_for(warehouse, tmp_path), str(tmp_path))

    assert report.row_counts["staging_events"] == 0 and report.row_counts["load_rejects"] == 0
    assert warehouse.query(
        "SELECT partition_key, records, loaded, rejected FROM load_audit "
        "WHERE asset = 'staging_events' ORDER BY 1"
    ) == [(day.isoformat(), 0, 0, 0) for day in NO_RECORDS]
    # Staging succeeds and reconciles; only the star tables that events feed are empty.
    assert {(c.asset, c.check) for c in report.checks if not c.passed} == {
        ("songplays", "not_empty"),
        ("user_latest_by_day", "not_empty"),
    }
    # Only blocking checks failed: their FAIL lines say it, no step failure is repeated.
    assert report.failures == [] and not report.ok
    # Blocking not_empty checks: time is not built on songplays, nor users on
    # user_latest_by_day, so their checks never ran.
    assert not any(check.asset in ("time", "users") for check in report.checks)
