"""Both targets choose the same row from the same data: ties resolve on the record's content.

Copies of one event (same session and item) and song files that disagree about a song_id are
loaded in both orders; the star tables must not depend on which file or line came first (on
Redshift there are no line numbers, and every song row's source is the prefix). Also: ``time``
carries the ISO week's own year.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from psycopg2 import sql

from sparkify_assets.cli.load import run_load
from sparkify_assets.sql.tables import TIME
from sparkify_assets.warehouse import embedded
from sparkify_assets.warehouse.postgres import PostgresWarehouse

from .conftest import definitions_for, table_rows
from .histories import Folder, day_key, song_content

DAY = date(2018, 11, 5)


def _copy(level: str, location: str) -> dict:
    ts = int(datetime(2018, 11, 5, 9, tzinfo=UTC).timestamp() * 1000)
    return {
        "artist": "Band A", "auth": "Logged In", "firstName": "Ann", "gender": "F",
        "itemInSession": 3, "lastName": "Lee", "length": 200.0, "level": level,
        "location": location, "method": "PUT", "page": "NextSong", "registration": 1.0,
        "sessionId": 77, "song": "Alpha", "status": 200, "ts": ts, "userAgent": "UA",
        "userId": "5",
    }  # fmt: skip


def _song(title: str) -> bytes:
    record = json.loads(song_content(0, 0))
    return json.dumps(record | {"title": title}).encode()


def _load(server_home, tmp_path, name: str, swapped: bool) -> PostgresWarehouse:
    folder = Folder(tmp_path / name)
    copies = [_copy("free", "Here"), _copy("paid", "There")]
    lines = copies[::-1] if swapped else copies
    folder.write(day_key(DAY), b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    titles = ["Alpha", "Alpha Prime"]
    first, second = titles[::-1] if swapped else titles
    folder.write("song_data/A/A/A/TRAAA.json", _song(first))  # same song_id, other titles
    folder.write("song_data/A/A/B/TRAAB.json", _song(second))
    warehouse = PostgresWarehouse(url=embedded.ensure_running(server_home, name))
    assert run_load(definitions_for(warehouse, folder.root), str(folder.root)).success
    return warehouse


def test_copies_of_an_event_and_of_a_song_choose_the_same_row_in_any_order(server_home, tmp_path):
    one = _load(server_home, tmp_path, f"order_a_{tmp_path.name[-12:]}", swapped=False)
    other = _load(server_home, tmp_path, f"order_b_{tmp_path.name[-12:]}", swapped=True)
    for table in ("songplays", "users", "songs", "artists", "recent_plays", "top_songs"):
        assert table_rows(one, table) == table_rows(other, table), table
    assert one.query("SELECT COUNT(*), MIN(level), MIN(location) FROM songplays") == [
        (1, "free", "Here")
    ]
    assert one.query("SELECT title FROM songs") == [("Alpha",)]


def _load_artist_tie(server_home, tmp_path, name: str, swapped: bool) -> PostgresWarehouse:
    """One play, and two files of its song (same song_id, title, artist name and duration) that
    disagree only about the artist_id, in either file order."""
    folder = Folder(tmp_path / name)
    folder.write(day_key(DAY), json.dumps(_copy("free", "Here")).encode() + b"\n")
    record = json.loads(song_content(0, 0)) | {
        "title": "Alpha",
        "artist_name": "Band A",
        "duration": 190.0,
    }
    artists = ["AR2", "AR1"] if swapped else ["AR1", "AR2"]
    for path, artist in zip(("A/A/A/TRAAA.json", "A/A/B/TRAAB.json"), artists, strict=True):
        folder.write(f"song_data/{path}", json.dumps(record | {"artist_id": artist}).encode())
    warehouse = PostgresWarehouse(url=embedded.ensure_running(server_home, name))
    assert run_load(definitions_for(warehouse, folder.root), str(folder.root)).success
    return warehouse


def test_a_play_matched_to_song_files_that_disagree_on_the_artist_chooses_one(
    server_home, tmp_path
):
    one = _load_artist_tie(server_home, tmp_path, f"artist_a_{tmp_path.name[-12:]}", False)
    other = _load_artist_tie(server_home, tmp_path, f"artist_b_{tmp_path.name[-12:]}", True)
    assert table_rows(one, "songplays") == table_rows(other, "songplays")
    assert one.query("SELECT artist_id FROM songplays") == [("AR1",)]


def test_time_has_the_iso_year_of_its_iso_week(warehouse):
    warehouse.ensure_tables()
    moments = [datetime(2018, 12, 31, 5), datetime(2021, 1, 1, 5), datetime(2019, 6, 1)]
    moments += [datetime(2016, 1, 1) + timedelta(days=n * 13, hours=n % 24) for n in range(60)]
    values = sql.SQL(", ").join(
        sql.SQL("({}, {}, 1, 1)").format(sql.Literal(n), sql.Literal(moment))
        for n, moment in enumerate(moments)
    )
    with warehouse.transaction() as cursor:
        cursor.execute(
            sql.SQL(
                "INSERT INTO songplays (songplay_id, start_time, user_id, session_id) VALUES {}"
            ).format(values)
        )
    warehouse.build(TIME, (date(2015, 1, 1), date(2022, 1, 1)))
    rows = {
        start: units
        for start, *units in warehouse.query(
            "SELECT start_time, iso_year, week, year, hour, day, month, weekday FROM time"
        )
    }
    assert rows[datetime(2018, 12, 31, 5)][:3] == [2019, 1, 2018]
    assert rows[datetime(2021, 1, 1, 5)][:3] == [2020, 53, 2021]
    for moment in moments:
        iso_year, week, iso_weekday = moment.isocalendar()
        units = [moment.year, moment.hour, moment.day, moment.month, iso_weekday % 7]
        assert rows[moment] == [iso_year, week, *units], moment
