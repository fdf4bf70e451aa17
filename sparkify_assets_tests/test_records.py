"""The record contract on its own: what loads, what is quarantined and why, and COPY escaping."""

from datetime import date

import orjson
import pytest

from sparkify_assets.contract.records import EVENT_FIELDS, FileTally, parse_events, parse_song

from .builders import COMPLETE_EVENT

DAY = date(2018, 11, 15)
GOOD = COMPLETE_EVENT
TS = GOOD["ts"]  # 2018-11-15 00:00:01.234 UTC


def line(**changes) -> bytes:
    return orjson.dumps({**GOOD, **changes})


def parse(lines: list[bytes]):
    tally, rejects = FileTally("log_data/x.json"), []
    chunks = list(parse_events(iter(lines), "log_data/x.json", DAY, tally, rejects))
    return b"".join(chunks).decode().splitlines(keepends=True), rejects, tally


def test_a_good_event_becomes_one_copy_row_in_column_order():
    rows, rejects, tally = parse([line()])
    assert rejects == [] and (tally.records, tally.loaded, tally.rejected) == (1, 1, 0)
    values = rows[0].rstrip("\n").split("\t")
    assert len(values) == len(EVENT_FIELDS) + 3
    assert values[0] == "Fu" and values[-3:] == ["2018-11-15", "log_data/x.json", "1"]
    assert values[16] == '"Mozilla/5.0"'  # literal quotes kept
    assert values[17] == "66"


def test_logged_out_event_keeps_empty_user_id_and_nulls():
    rows, _, _ = parse([line(userId="", firstName=None, auth="Logged Out")])
    values = rows[0].split("\t")
    assert values[17] == "" and values[2] == "\\N"


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b'{"artist": "Fu", "ts": 15', "not valid JSON"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'{"artist": "Bj\xf6rk"}', "not valid UTF-8"),
        (line(ts="1542240001234"), "ts is not an integer"),
        (line(sessionId=None), "sessionId is missing"),
        (line(itemInSession=1.5), "itemInSession is not an integer"),
        (line(status=True), "status is not an integer"),
        (line(length="long"), "length is not a number"),
        (line(registration=[1]), "registration is not a number"),
        (line(userId="abc"), "userId is not a whole number"),
        (line(userId="9" * 5000), "userId is out of range"),  # int() would raise ValueError
        (line(userId="0" * 40 + "7"), "userId is out of range"),  # wider than VARCHAR(32)
        (line(artist=7), "artist is not a string"),
        (line(ts=TS + 86_400_000), "outside the file's day"),
        (line(song="x" * 1100), "longer than 1024 bytes"),
        (line(song="nul\u0000byte"), "NUL"),
    ],
)
def test_bad_records_are_quarantined_with_a_reason(raw, reason):
    rows, rejects, tally = parse([line(), raw, line(itemInSession=2)])
    assert len(rows) == 2
    assert [(r.line_number, reason in r.reason) for r in rejects] == [(2, True)]
    assert (tally.records, tally.loaded, tally.rejected) == (3, 2, 1)


def test_layout_quirks_are_not_errors():
    lines = [b"\xef\xbb\xbf" + line() + b"\r\n", b"\n", b"   \r\n", line(itemInSession=2)]
    rows, rejects, tally = parse(lines)
    assert rejects == [] and len(rows) == 2
    assert tally.records == 2
    assert rows[1].rstrip("\n").endswith("\t4")  # line numbers count blank lines


def test_copy_special_characters_are_escaped():
    rows, _, _ = parse([line(song="tab\there\\back\nnew")])
    assert "tab\\there\\\\back\\nnew" in rows[0]
    assert rows[0].count("\n") == 1


def test_song_file_parses_as_line_one_and_rejects_bad_types():
    good = orjson.dumps(
        {
            "num_songs": 1,
            "artist_id": "AR1",
            "artist_latitude": None,
            "artist_longitude": None,
            "artist_location": "",
            "artist_name": "Elena",
            "song_id": "SO1",
            "title": "Setanta matins",
            "duration": 269.58322,
            "year": 0,
        }
    )
    tally, rejects = FileTally("song_data"), []
    assert parse_song(good, "song_data/A/TR1.json", tally, rejects).startswith("1\tAR1\t\\N")
    bad = good.replace(b"269.58322", b'"269.58322"')
    assert parse_song(bad, "song_data/A/TR2.json", tally, rejects) is None
    assert parse_song(b"", "song_data/A/TR3.json", tally, rejects) is None
    assert [(r.source, r.line_number, r.reason) for r in rejects] == [
        ("song_data/A/TR2.json", 1, "duration is not a number")
    ]
    assert (tally.records, tally.loaded, tally.rejected) == (2, 1, 1)


def test_chunks_hold_whole_rows_numbered_as_in_one_pass():
    # Blank lines, a byte-order mark and rejects on both sides of chunk boundaries: any chunk
    # size gives the rows, line numbers, rejects and tally of one pass over the file.
    lines = [
        b"\xef\xbb\xbf" + line(),
        b"\n",
        line(itemInSession=2),
        b"[1]",
        line(itemInSession=3) + b"\r\n",
        b"   \n",
        line(ts=TS + 86_400_000),
        line(itemInSession=4),
    ]

    def parsed(chunk_rows: int):
        tally, rejects = FileTally("log_data/x.json"), []
        chunks = list(parse_events(iter(lines), "log_data/x.json", DAY, tally, rejects, chunk_rows))
        assert all(chunk.endswith(b"\n") for chunk in chunks)
        figures = (tally.records, tally.loaded, tally.rejected)
        return b"".join(chunks), [(r.line_number, r.reason) for r in rejects], figures, len(chunks)

    whole, rejects, figures, _ = parsed(len(lines))
    numbers = [row.rsplit(b"\t", 1)[1] for row in whole.splitlines()]
    assert numbers == [b"1", b"3", b"5", b"8"] and figures == (6, 4, 2)
    assert [number for number, _ in rejects] == [4, 7]
    for chunk_rows in (1, 2, 3):
        rows, chunk_rejects, chunk_figures, count = parsed(chunk_rows)
        assert (rows, chunk_rejects, chunk_figures) == (whole, rejects, figures)
        assert count > 1
