"""Fixed cases for the Redshift audit (issue 16), run on the embedded PostgreSQL.

The Redshift-only statements (the required-field rule of the move from COPY's temp table, the
byte-safe cut of a load error's reason) are plain SQL both engines run, so they are executed here
against tables of the same shape; what only a cluster can settle is listed in docs/redshift.md.
"""

from __future__ import annotations

from datetime import date, timedelta

import psycopg2
import pytest
from psycopg2 import sql

from sparkify_assets.core import faults
from sparkify_assets.ingest.local import LocalSource
from sparkify_assets.sql import redshift_errors, redshift_load, render
from sparkify_assets.sql.catalog import ALL_TABLES, BUILT_TABLES, TABLES
from sparkify_assets.sql.dialect import POSTGRES
from sparkify_assets.warehouse.embedded import COLLATION

from .builders import event, json_line, song, write_day, write_song
from .test_redshift_warehouse import FakeServerError

DAY = date(2018, 11, 15)
WINDOW = (DAY, DAY + timedelta(days=1))
LONG_TITLE = "T" * 599 + "é"  # 600 characters, 601 bytes: over the old VARCHAR(512)
LONG_ARTIST = "A" * 600
# Every column an analytics table copies from songs.title or artists.name.
COPIES = {
    "top_songs": ("title", "artist_name"),
    "top_artists": ("artist_name",),
    "recent_plays": ("title", "artist_name"),
}


def _build_everything(warehouse, root) -> None:
    source = LocalSource(root)
    for day, files in source.event_files().items():
        warehouse.stage_events_day(source, day, files)
    warehouse.stage_songs(source)
    for table in BUILT_TABLES:
        warehouse.build(table, full=True)


def test_a_600_character_title_goes_through_every_analytics_table(warehouse, tmp_path) -> None:
    track = song(1, title=LONG_TITLE, artist_name=LONG_ARTIST)
    write_song(tmp_path, "TRLONG00001", json_line(track))
    plays = [
        event(DAY, n, song=LONG_TITLE, artist=LONG_ARTIST, length=track["duration"])
        for n in range(1, 4)
    ]
    write_day(tmp_path, DAY, b"\n".join(map(json_line, plays)) + b"\n")

    _build_everything(warehouse, tmp_path)

    for table, columns in COPIES.items():
        for column in columns:
            values = warehouse.query(
                sql.SQL("SELECT DISTINCT {} FROM {}").format(
                    sql.Identifier(column), warehouse.table(table)
                )
            )
            expected = LONG_TITLE if column == "title" else LONG_ARTIST
            assert values == [(expected,)], f"{table}.{column}"


def test_analytics_columns_that_copy_a_star_column_have_its_type() -> None:
    for table, columns in COPIES.items():
        for column in columns:
            source = (
                TABLES["songs"].column("title")
                if column == "title"
                else (TABLES["artists"].column("name"))
            )
            assert TABLES[table].column(column).type == source.type == "VARCHAR(1024)"


def test_a_record_missing_session_id_is_quarantined_with_its_reason(warehouse, tmp_path) -> None:
    good, broken = event(DAY, 1), event(DAY, 2)
    del broken["sessionId"]
    key = write_day(tmp_path, DAY, json_line(good) + b"\n" + json_line(broken) + b"\n")
    source = LocalSource(tmp_path)

    tolerant = warehouse.with_max_reject_share(1.0)  # one of two records: over the default
    result = tolerant.stage_events_day(source, DAY, source.event_files()[DAY])

    assert (result.records, result.loaded, result.rejected) == (2, 1, 1)
    rejects = warehouse.query("SELECT source, line_number, reason, raw_record FROM load_rejects")
    assert [row[:3] for row in rejects] == [(key, 2, "sessionId is missing")]
    assert '"itemInSession":2' in rejects[0][3] and "sessionId" not in rejects[0][3]


def _create(cursor, table) -> None:
    cursor.execute(render.create_temp_table(table, POSTGRES))


def test_the_redshift_move_quarantines_a_missing_session_id_with_the_same_reason(
    database_url,
) -> None:
    """The INSERT ... SELECT from COPY's temp table applies the contract's required fields."""
    config = _config()
    (copied,) = redshift_load.event_files(config, ["log_data/2018/11/2018-11-15-events.json"])
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            for table in (TABLES["staging_events"], TABLES["load_rejects"]):
                cursor.execute(render.create_table(table, "public", POSTGRES))
            _create(cursor, copied.table)
            assert "NOT NULL" not in render.to_text(
                render.create_temp_table(copied.table, POSTGRES)
            )
            rows = [event(DAY, 1), {**event(DAY, 2), "sessionId": None}]
            columns = copied.table.column_names
            keys = {c: k for k, c in _KEYS.items()}
            for record in rows:
                cursor.execute(
                    sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                        sql.Identifier(copied.table.name),
                        sql.SQL(", ").join(map(sql.Identifier, columns)),
                        sql.SQL(", ").join(sql.Literal(record.get(keys[c])) for c in columns),
                    )
                )
            cursor.execute(redshift_load.insert_events(config, DAY, copied))
            moved = cursor.rowcount
            cursor.execute(redshift_load.reject_events(config, DAY, copied))
            rejected = cursor.rowcount
            cursor.execute("SELECT reason, raw_record FROM load_rejects")
            (reason, raw), *more = cursor.fetchall()
    finally:
        connection.close()
    assert (moved, rejected, more) == (1, 1, [])
    assert reason == "sessionId is missing"
    assert '"sessionId": null' in raw and '"itemInSession": 2' in raw


_KEYS = {f.key: f.column for f in redshift_load.EVENT_FIELDS}


def _config() -> redshift_load.CopyConfig:
    return redshift_load.CopyConfig(
        schema="public",
        data_uri="s3://sparkify-data/raw",
        iam_role_arn="arn:aws:iam::123456789012:role/r",
        region="us-west-2",
        log_jsonpath="s3://sparkify-data/raw/log_json_path.json",
        max_errors=0,
        errors_view=redshift_errors.LOAD_ERROR_VIEWS["sys_load_error_detail"],
        loaded_at="2018-11-16 00:00:00",
    )


@pytest.mark.parametrize(
    "message",
    ["Invalid digit, Value 'x', Pos 0, Type: Integer", "€" * 300, "a" * 200 + "日本語" * 40],
)
def test_a_load_errors_reason_fits_its_column_in_bytes(database_url, message: str) -> None:
    """Redshift's LEFT counts characters; the reason column counts bytes there."""
    config = _config()
    connection = psycopg2.connect(database_url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(render.create_table(TABLES["load_rejects"], "public", POSTGRES))
            cursor.execute(
                "CREATE TABLE sys_load_error_detail (session_id INTEGER, start_time TIMESTAMP,"
                " file_name CHAR(256), line_number BIGINT, column_name CHAR(127),"
                " error_code INTEGER, error_message CHAR(512))"
            )
            cursor.execute(
                "INSERT INTO sys_load_error_detail VALUES (7, '2018-11-16 00:00:01', %s, 3,"
                " 'session_id', 1207, %s)",
                (config.base + "log_data/x.json", message),
            )
            marker = redshift_errors.Marker(7, "2018-11-16 00:00:00")
            cursor.execute(
                redshift_errors.quarantine_load_errors(config, "staging_events", "p", marker)
            )
            cursor.execute("SELECT source, line_number, reason FROM load_rejects")
            ((source, line, reason),) = cursor.fetchall()
    finally:
        connection.close()
    full = f"session_id: {message} (load error 1207)"
    size = redshift_errors.varchar_bytes("reason")
    assert (source, line) == ("log_data/x.json", 3)
    assert full.startswith(reason) and len(reason.encode()) <= size
    if len(full[:size].encode()) <= size:
        assert reason == full[:size], "text that fits is kept whole, as LEFT did"
    else:
        assert len(reason) >= size // 4


def test_every_table_fits_within_the_byte_sizes_it_declares() -> None:
    # Only VARCHAR sizes in bytes: no TEXT (Redshift's VARCHAR(256)) in any table.
    for table in ALL_TABLES:
        for column in table.columns:
            assert "TEXT" not in column.type.upper(), f"{table.name}.{column.name}"


@pytest.mark.parametrize(
    ("pgcode", "message", "transient"),
    [
        (
            "XX000",
            "ERROR:  1023\nDETAIL:  Serializable isolation violation on table - 1, ...",
            True,
        ),
        ("XX000", "1023", True),
        ("XX000", "ERROR:  Load into table 'x' failed. Check 'sys_load_error_detail'", False),
        ("XX000", "ERROR:  10234 something else", False),
        ("40001", "could not serialize access", True),
        ("42601", "syntax error at or near 1023", False),
    ],
)
def test_redshift_serializable_conflicts_are_transient(pgcode, message, transient) -> None:
    assert faults.is_transient(FakeServerError(pgcode, message)) is transient


def test_embedded_databases_order_text_by_bytes_like_redshift(warehouse) -> None:
    (collation,) = warehouse.query(
        "SELECT datcollate FROM pg_database WHERE datname = current_database()"
    )[0]
    words = ["émile", "Zeta", "apple", "Apple", "zeta", "Émile", "_x"]
    ordered = warehouse.query(
        sql.SQL("SELECT w FROM (VALUES {}) v (w) ORDER BY w").format(
            sql.SQL(", ").join(sql.SQL("({})").format(sql.Literal(w)) for w in words)
        )
    )
    assert collation == COLLATION == "C"
    assert [w for (w,) in ordered] == sorted(words, key=lambda w: w.encode())
