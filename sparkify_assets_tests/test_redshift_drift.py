"""Source drift on Redshift, run on the embedded PostgreSQL: the move from COPY's temp table.

COPY with JSONPaths leaves a mapped key that a record lacks NULL, and keeps '' as ''. Rows are
put in the temp table as COPY would leave them; the move must quarantine exactly the records
the Python path quarantines, with the same reasons, and load_drift must count the keys the
contract says always hold a value.
"""

from __future__ import annotations

from datetime import date

import psycopg2
import pytest
from psycopg2 import sql

from sparkify_assets.contract.records import FileTally, parse_events, parse_song
from sparkify_assets.contract.shape import sample_drift
from sparkify_assets.ingest.base import SourceFile
from sparkify_assets.ingest.open import open_source
from sparkify_assets.sql import redshift_load, render
from sparkify_assets.sql.catalog import TABLES
from sparkify_assets.sql.dialect import POSTGRES

from .builders import event, json_line, song
from .conftest import upload
from .test_redshift_fidelity import _config
from .test_redshift_warehouse import S3Listing, make_warehouse, script  # noqa: F401

DAY = date(2018, 11, 15)
SOURCE = "log_data/2018/11/2018-11-15-events.json"


def rename(record: dict, old: str, new: str) -> dict:
    return {(new if key == old else key): value for key, value in record.items()}


EVENT_CASES = {
    "half_renamed": [
        rename(event(DAY, n), "userId", "user_id") if n % 2 else event(DAY, n) for n in range(1, 9)
    ],
    "level_removed": [
        {k: v for k, v in event(DAY, n).items() if k != "level"} for n in range(1, 5)
    ],
    "play_without_song": [event(DAY, 1), event(DAY, 2, song=None), event(DAY, 3, artist="")],
    "logged_in_without_user": [event(DAY, 1, userId=""), event(DAY, 2)],
    "new_key": [event(DAY, n) | {"mood": "calm"} for n in range(1, 4)],
}


def python_path(records: list[dict]) -> tuple[list[tuple[int, str]], list[tuple]]:
    """(line, reason) of each reject, and the missing keys with their counts."""
    tally, rejects = FileTally(SOURCE), []
    for _ in parse_events(map(json_line, records), SOURCE, DAY, tally, rejects):
        pass
    changes = tally.keys.changes() if tally.keys else []
    return [(r.line_number, r.reason) for r in rejects], [
        (c.key, c.records) for c in changes if c.change == "missing"
    ]


def copy_as_redshift_would(cursor, table, fields, records: list[dict]) -> None:
    """Each record as a temp-table row: a mapped key the record lacks is NULL; unknown keys
    are not seen at all."""
    by_column = {f.column: f.key for f in fields}
    columns = table.column_names
    for record in records:
        cursor.execute(
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(table.name),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Literal(record.get(by_column[c])) for c in columns),
            )
        )


MARKER = _config().printed_marker
SAMPLED_ROWS = 'INSERT INTO "public"."load_drift" ('


def run_move(cursor, config, steps) -> None:
    """The move's statements, but those reading COPY's refused lines (none here, and
    PostgreSQL has no load-error view)."""
    view = config.errors_view.name
    for step in steps:
        if view not in render.to_text(step.statement):
            cursor.execute(step.statement)


@pytest.fixture
def cursor(database_url):
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            for name in ("staging_events", "staging_songs", "load_rejects", "load_drift"):
                cursor.execute(render.create_table(TABLES[name], "public", POSTGRES))
            yield cursor
    finally:
        connection.rollback()
        connection.close()


@pytest.mark.parametrize("case", sorted(EVENT_CASES))
def test_the_move_quarantines_what_python_quarantines(cursor, case):
    records = EVENT_CASES[case]
    config = _config()
    (copied,) = redshift_load.event_files(config, [SOURCE])
    cursor.execute(render.create_temp_table(copied.table, POSTGRES))
    copy_as_redshift_would(cursor, copied.table, redshift_load.EVENT_FIELDS, records)

    run_move(cursor, config, redshift_load.events_move_steps(config, DAY, [copied], MARKER))
    cursor.execute("SELECT reason FROM load_rejects ORDER BY raw_record")
    sql_reasons = sorted(reason for (reason,) in cursor.fetchall())
    cursor.execute("SELECT key, records FROM load_drift WHERE change = 'missing' ORDER BY key")
    sql_missing = cursor.fetchall()
    cursor.execute("SELECT COUNT(*) FROM staging_events")
    (moved,) = cursor.fetchone()

    rejects, missing = python_path(records)
    assert sql_reasons == sorted(reason for _, reason in rejects)
    assert moved == len(records) - len(rejects)
    # SQL sees the keys that always hold a value; absent and null look alike there.
    assert sql_missing == [(key, count) for key, count in missing if key in ("userId", "level")]


def test_the_song_move_quarantines_a_renamed_artist_name(cursor):
    renamed = rename(song(2), "artist_name", "artistName")
    records = [song(1), renamed]
    config = _config()
    (copied,) = redshift_load.song_files(config)
    cursor.execute(render.create_temp_table(copied.table, POSTGRES))
    copy_as_redshift_would(cursor, copied.table, redshift_load.SONG_FIELDS, records)

    run_move(cursor, config, redshift_load.songs_move_steps(config, [copied], MARKER))
    cursor.execute("SELECT reason FROM load_rejects")
    reasons = cursor.fetchall()
    cursor.execute("SELECT source, key, change, records FROM load_drift")
    drift = cursor.fetchall()

    tally, python_rejects = FileTally("TR2.json"), []
    parse_song(json_line(renamed), "TR2.json", tally, python_rejects)
    assert (
        reasons == [(r.reason,) for r in python_rejects] == [("artist_name is missing or empty",)]
    )
    assert drift == [("song_data/", "artist_name", "missing", 1)]


# --- SPARKIFY_DRIFT_SAMPLE_LINES: what only reading the file shows -------------------------------


def test_s3_head_is_one_ranged_get_of_the_first_bytes(moto_s3):
    content = b"".join(json_line(event(DAY, n)) + b"\n" for n in range(1, 50))
    source = open_source(upload(moto_s3, "drift-head", "raw", {SOURCE: content}))
    (file,) = source.event_files()[DAY]

    assert source.head(file, 1000) == content[:1000]
    assert source.head(file, 10 * len(content)) == content


@pytest.mark.parametrize(
    "content, lines, expected",
    [
        # a cut last line is not read; a whole file's last line without a newline is
        (b'{"a": 1}\n{"a": 1, "b": 2}\n{"a": 1, "c"', 5, (2, {"b": [1, 2]})),
        (b'{"a": 1}\n{"a": 1, "b": 2}', 5, (2, {"b": [1, 2]})),
        (b'{"a": 1, "b": 2}\nnot json\n[1]\n{"a": 1, "b": 2}\n', 1, (1, {"b": [1, 1]})),
    ],
)
def test_a_sample_reads_whole_lines_only(content, lines, expected):
    whole = not content.endswith(b'"c"')
    records, drift = sample_drift(content, lines, frozenset({"a"}), whole_file=whole)
    assert (records, drift.unknown) == expected


def test_redshift_samples_the_first_lines_of_each_day_file_for_unknown_keys(
    script,  # noqa: F811
    moto_s3,
):
    lines = [event(DAY, n) | {"mood": "calm"} for n in range(1, 40)]
    lines[1] = {k: v for k, v in lines[1].items() if k != "artist"}  # absent, where null is fine
    content = b"\n".join(map(json_line, lines)) + b"\n"
    source = open_source(upload(moto_s3, "drift-sample", "raw", {SOURCE: content}))
    warehouse = make_warehouse(drift_sample_lines=10)

    result = warehouse.stage_events_day(source, DAY, source.event_files()[DAY])

    assert result.drift == [
        f"{SOURCE} (first 10 lines): 1 of 10 records lack artist (first at line 2); "
        "every record has an unknown key mood"
    ]
    _, moving, _ = script.transactions
    (found,) = [s for s in moving if s.startswith(SAMPLED_ROWS) and "VALUES" in s]
    assert f"'{SOURCE}', 'artist', 'missing', 1, 2" in found
    assert f"'{SOURCE}', 'mood', 'unknown', 10, 1" in found
    deleted = moving.index(
        next(s for s in moving if s.startswith('DELETE FROM "public"."load_drift"'))
    )
    assert deleted < moving.index(found)  # the partition's old drift goes first


def test_without_sampling_redshift_reads_nothing_from_s3(script):  # noqa: F811
    """The default: the load never touches the source's objects (COPY reads them)."""
    warehouse = make_warehouse()
    result = warehouse.stage_events_day(S3Listing(), DAY, [SourceFile(SOURCE)])
    assert result.drift == []
    moving = script.transactions[1]
    assert not any(s.startswith(SAMPLED_ROWS) and "VALUES" in s for s in moving)
