"""The compiled fast path never disagrees with the field-by-field record contract.

For every field, every awkward value is put into an otherwise good record, written as JSON in
several ways (ASCII-escaped, raw UTF-8, compact): the fast row must be exactly the row the
field-by-field path builds, or None when that path would quarantine the record (or when the fast
path leaves the case to it). Lines no JSON writer produces (duplicate keys, huge numbers, broken
escapes, bad UTF-8) are checked the same way.
"""

import itertools
import json

import orjson
import pytest

from sparkify_assets.contract.records import (
    _EVENT_CONVERTERS,
    _EVENT_ROW,
    _SONG_CONVERTERS,
    _SONG_ROW,
    EVENT_FIELDS,
    EVENT_RULES,
    SONG_FIELDS,
    SONG_RULES,
    BadRecord,
    _decode_object,
    _values,
)
from sparkify_assets.contract.row_compiler import compile_row

from .builders import COMPLETE_EVENT

GOOD_EVENT = COMPLETE_EVENT
GOOD_SONG = {
    "num_songs": 1,
    "artist_id": "AR1",
    "artist_latitude": None,
    "artist_longitude": -71.5,
    "artist_location": "",
    "artist_name": "Elena",
    "song_id": "SO1",
    "title": "Setanta matins",
    "duration": 269.58322,
    "year": 0,
}
MISSING = object()


def _strings(limit: int) -> list[str]:
    near = [limit // 4 - 1, limit // 4, limit // 4 + 1, limit - 1, limit, limit + 1]
    return [
        "",
        "x",
        "\\N",
        "back\\slash",
        "tab\there",
        "new\nline",
        "cr\rx",
        "nul\x00byte",
        "caf\u00e9",
        "Bj\u00f6rk \u201cquoted\u201d",
        '"quoted"',
        "12",
        "0012",
        "\u0661\u0662",
        "\u00b2",
        "999999999",
        "1000000000",
        "2147483647",
        "2147483648",
        "-5",
        " 7",
        *("a" * n for n in near),
        *("\u00e9" * n for n in near),
        *("\U0001f600" * n for n in near),
    ]


NUMBERS = [
    True,
    False,
    0,
    -1,
    1,
    7,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    0.0,
    -0.0,
    1.5,
    1e300,
    1540006905796.0,
    280.05832,
]
ODD = [None, MISSING, [1], {"a": 1}]


def _variants(good: dict, fields) -> list[dict]:
    records = [dict(good), {key: None for key in good}]
    for spec in fields:
        limit = spec.max_bytes or 64
        for value in [*ODD, *NUMBERS, *_strings(limit)]:
            record = dict(good)
            if value is MISSING:
                del record[spec.key]
            else:
                record[spec.key] = value
            records.append(record)
    # A few records with every escaping need at once, and with many NULLs next to escapes.
    text_keys = [spec.key for spec in fields if spec.kind == "text"]
    for first, second in itertools.combinations(text_keys[:4], 2):
        records.append({**good, first: "a\\b", second: None})
        records.append({**good, first: None, second: "x\ty"})
    return records


def _lines(record: dict) -> list[bytes]:
    lines = [json.dumps(record).encode()]  # non-ASCII as \\u escapes
    try:
        lines.append(json.dumps(record, ensure_ascii=False).encode())
        lines.append(orjson.dumps(record))
    except (UnicodeEncodeError, TypeError):
        pass
    return lines


RULES = {id(_EVENT_CONVERTERS): EVENT_RULES, id(_SONG_CONVERTERS): SONG_RULES}


def _exact_row(line: bytes, converters) -> str | None:
    """The field-by-field row, types and rules of meaning both applied; None for a reject."""
    try:
        return "\t".join(_values(_decode_object(line), converters, RULES[id(converters)]))
    except BadRecord:
        return None


def _agrees(fast_row, converters, line: bytes) -> bool:
    """Asserts the fast path agrees with the exact one; True when the fast path took the line."""
    fast = fast_row(line)
    if fast is None:
        return False
    assert fast[0] == _exact_row(line, converters), line
    return True


@pytest.mark.parametrize(
    "fields, good, fast_row, converters",
    [
        (EVENT_FIELDS, GOOD_EVENT, _EVENT_ROW, _EVENT_CONVERTERS),
        (SONG_FIELDS, GOOD_SONG, _SONG_ROW, _SONG_CONVERTERS),
    ],
    ids=["events", "songs"],
)
def test_fast_row_equals_the_exact_row_or_defers(fields, good, fast_row, converters):
    accepted = 0
    for record in _variants(good, fields):
        for line in _lines(record):
            accepted += _agrees(fast_row, converters, line)
    # The fast path must really carry clean records, NULLs and non-ASCII text, not defer all.
    for line in _lines(good):
        assert fast_row(line)[0] == _exact_row(line, converters)
    assert accepted > len(fields) * 30


ODD_LINES = [
    b'{"ts": 1, "ts": 1542240001234}',  # duplicate key: the last one counts in both paths
    b'{"sessionId": 5.0}',
    b'{"sessionId": true}',
    b'{"length": true}',
    b'{"length": 1e400}',
    b'{"length": 123456789012345678901234567890}',
    b'{"ts": 18446744073709551615}',
    b'{"ts": -9223372036854775809}',
    b'{"length": 9223372036854775808}',
    b'{"song": "\\ud800"}',
    b'{"song": "\\udc00x"}',
    b'{"song": "a\\u0000"}',
    b'{"song": "\xff"}',
    b'{"song": "\\N"}',
    b'{"userId": "\\u0661"}',
    b'{"userId": 66}',
    b'{"page": "NextSong"} trailing',
    b'{"page": "NextSong"}   ',
    b'{"length": 1E5}',
    b'{"length": -0.0}',
    b'{"length": 1.5e-320}',
    b'{"deep": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"artist": "' + "\u00e9".encode() * 300 + b'"}',
    b'{"artist": "' + "é".encode() * 600 + b'"}',
]


@pytest.mark.parametrize("odd", ODD_LINES)
def test_odd_lines_agree(odd):
    """Each odd fragment replaces its key's value in a good event line."""
    base = {k: v for k, v in GOOD_EVENT.items()}
    line = orjson.dumps(base)[:-1] + b", " + odd[1:]
    _agrees(_EVENT_ROW, _EVENT_CONVERTERS, line)
    exact = _exact_row(line, _EVENT_CONVERTERS)
    fast = _EVENT_ROW(line)
    if fast is not None:
        assert fast[1].ts == orjson.loads(line)["ts"]
    if exact is None:
        assert fast is None


def test_fast_row_defers_on_every_escape_and_nul():
    for value in ("a\\b", "a\tb", "a\nb", "a\rb", "a\x00b"):
        assert _EVENT_ROW(orjson.dumps({**GOOD_EVENT, "song": value})) is None
    # not to be mistaken for NULL
    assert _EVENT_ROW(orjson.dumps({**GOOD_EVENT, "song": "\\N"})) is None
    values, _ = _EVENT_ROW(orjson.dumps({**GOOD_EVENT, "page": "Home", "song": None}))
    assert values.split("\t")[13] == "\\N"


@pytest.mark.parametrize(
    "change",
    [
        {"page": "Home", "song": None, "mood": "calm"},  # a key the contract does not know
        {"page": "Home", "song": MISSING},  # a key absent, though null would be fine
        {"song": None},  # a play without a song
        {"auth": "Logged In", "userId": ""},  # a logged-in event without a user
        {"level": ""},  # every event has a level
    ],
)
def test_fast_row_leaves_drifted_keys_and_broken_meaning_to_the_exact_path(change):
    record = {**GOOD_EVENT, **change}
    record = {key: value for key, value in record.items() if value is not MISSING}
    assert _EVENT_ROW(orjson.dumps(record)) is None


def test_compile_row_refuses_kinds_it_does_not_know():
    class Odd:
        key = column = "x"
        kind = "date"
        max_bytes = None
        required = False

    with pytest.raises(ValueError, match="no fast path"):
        compile_row("Odd", [Odd()], null="\\N", int_bounds={}, over_bytes=lambda text, limit: False)
