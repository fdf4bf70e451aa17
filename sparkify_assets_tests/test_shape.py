"""The record contract's rules of meaning and key drift, on records and whole files.

Each rule of meaning must reject nothing in the public sample, the bundled sample and the
generator's data (the rules are derived from them), and must reject the records that break it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest

from sparkify_assets.contract.layout import day_of
from sparkify_assets.contract.records import (
    EVENT_RULES,
    SONG_RULES,
    FileTally,
    parse_events,
    parse_song,
)
from sparkify_assets.contract.shape import MAX_UNKNOWN_KEYS, MORE_KEYS, KeyDrift, describe
from sparkify_assets.synthetic.generate import generate

from .builders import COMPLETE_EVENT, json_line, logged_out, song

DAY = date(2018, 11, 15)
SOURCE = "log_data/2018/11/2018-11-15-events.json"


def parse_day(records: list[dict | bytes], day: date = DAY) -> tuple[FileTally, list]:
    lines = [r if isinstance(r, bytes) else json_line(r) for r in records]
    tally, rejects = FileTally(SOURCE), []
    for _ in parse_events(lines, SOURCE, day, tally, rejects):
        pass
    return tally, rejects


def play(number: int, **changes) -> dict:
    ts = COMPLETE_EVENT["ts"] + number
    return {**COMPLETE_EVENT, "itemInSession": number, "ts": ts, **changes}


def parse_folder(root: Path) -> tuple[int, list, int]:
    """(records, rejects, drifted files) of every file under a data folder."""
    records, rejects, drifted = 0, [], 0
    for path in sorted((root / "log_data").rglob("*.json")):
        tally = FileTally(path.name)
        for _ in parse_events(path.open("rb"), path.name, day_of(path.name), tally, rejects):
            pass
        records, drifted = records + tally.records, drifted + bool(tally.keys)
    for path in sorted((root / "song_data").rglob("*.json")):
        tally = FileTally(path.name)
        parse_song(path.read_bytes(), path.name, tally, rejects)
        records, drifted = records + tally.records, drifted + bool(tally.keys)
    return records, rejects, drifted


def test_the_rules_reject_nothing_in_the_public_sample(public_sample):
    assert parse_folder(public_sample) == (8056 + 71, [], 0)


def test_the_rules_reject_nothing_in_the_bundled_sample(bundled_sample):
    assert parse_folder(bundled_sample) == (6000 + 200, [], 0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rules_reject_nothing_the_generator_writes(tmp_path, seed):
    generate(tmp_path, events=20_000, songs=300, days=4, seed=seed, match_share=0.5)
    records, rejects, drifted = parse_folder(tmp_path)
    assert (records, rejects, drifted) == (20_300, [], 0)


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"userId": ""}, "Logged In event without userId"),
        ({"firstName": None}, "Logged In event without firstName"),
        ({"song": None}, "NextSong event without song"),
        ({"artist": ""}, "NextSong event without artist"),
        ({"length": None}, "NextSong event without length"),
        ({"level": None}, "level is missing or empty"),
        ({"page": ""}, "page is missing or empty"),
        ({"auth": None}, "auth is missing or empty"),
        ({"status": None}, "status is missing or empty"),
        ({"userId": None, "auth": "Logged Out"}, "userId is missing"),
    ],
)
def test_a_record_breaking_a_rule_of_meaning_is_quarantined_with_its_reason(changes, reason):
    tally, rejects = parse_day([play(1), play(2, **changes), play(3)])
    assert (tally.records, tally.loaded, tally.rejected) == (3, 2, 1)
    assert [(r.line_number, r.reason) for r in rejects] == [(2, reason)]
    assert tally.keys is None  # every key was there: no drift


def test_the_rules_keep_what_the_data_allows():
    """A logged-out event has "" for userId and no person; a page view has no song; a length
    of 0.0 is a length."""
    home = play(2, page="Home", song=None, artist=None, length=None)
    out = logged_out(DAY, 3) | {"ts": COMPLETE_EVENT["ts"] + 3}
    tally, rejects = parse_day([play(1, length=0.0), home, out])
    assert (tally.loaded, rejects) == (3, [])


def test_a_key_renamed_in_half_of_the_lines_is_counted_from_its_first_line():
    records = [play(n) for n in range(1, 11)]
    for n in range(1, 11, 2):  # lines 2, 4, ... 10
        records[n] = {("user_id" if k == "userId" else k): v for k, v in records[n].items()}
    tally, rejects = parse_day(records)

    assert (tally.records, tally.loaded, tally.rejected) == (10, 5, 5)
    assert {r.reason for r in rejects} == {"userId is missing"}
    assert describe(SOURCE, tally.records, tally.keys.changes()) == (
        f"{SOURCE}: 5 of 10 records lack userId (first at line 2); "
        "5 of 10 records have an unknown key user_id (first at line 2)"
    )


def test_a_key_removed_from_every_line_rejects_every_line():
    records = [{k: v for k, v in play(n).items() if k != "level"} for n in range(1, 6)]
    tally, rejects = parse_day(records)

    assert (tally.loaded, tally.rejected) == (0, 5)
    assert {r.reason for r in rejects} == {"level is missing or empty"}
    assert describe(SOURCE, 5, tally.keys.changes()) == f"{SOURCE}: no record has level (5 records)"


def test_a_key_that_changes_type_is_quarantined_by_type_and_is_no_drift():
    tally, rejects = parse_day([play(1), play(2, sessionId="514"), play(3, ts=str(play(3)["ts"]))])
    assert [(r.line_number, r.reason) for r in rejects] == [
        (2, "sessionId is not an integer"),
        (3, "ts is not an integer"),
    ]
    assert tally.keys is None


def test_a_new_key_on_every_line_loads_every_line_and_is_named():
    tally, rejects = parse_day([play(n, mood="calm") for n in range(1, 5)])

    assert (tally.loaded, rejects) == (4, [])
    assert describe(SOURCE, 4, tally.keys.changes()) == (
        f"{SOURCE}: every record has an unknown key mood"
    )


def test_a_missing_key_the_rules_allow_to_be_null_loads_and_is_named():
    """A page view without the artist key: null would be fine, absent is drift, not a reject."""
    home = {k: v for k, v in play(2, page="Home", song=None, length=None).items() if k != "artist"}
    tally, rejects = parse_day([play(1), home])
    assert (tally.loaded, rejects) == (2, [])
    assert describe(SOURCE, 2, tally.keys.changes()) == (
        f"{SOURCE}: 1 of 2 records lack artist (first at line 2)"
    )


def test_a_song_file_with_a_renamed_key_is_quarantined_and_named():
    record = {("artistName" if k == "artist_name" else k): v for k, v in song(1).items()}
    tally, rejects = FileTally("song_data/A/B/C/TR1.json"), []
    assert parse_song(orjson.dumps(record), tally.source, tally, rejects) is None
    assert [r.reason for r in rejects] == ["artist_name is missing or empty"]
    assert describe(tally.source, 1, tally.keys.changes()) == (
        "song_data/A/B/C/TR1.json: no record has artist_name (1 records); "
        "every record has an unknown key artistName"
    )


def test_a_song_file_with_a_new_key_loads_and_is_named():
    tally, rejects = FileTally("TR1.json"), []
    line = parse_song(orjson.dumps(song(1) | {"genre": "pop"}), tally.source, tally, rejects)
    assert line is not None and rejects == []
    assert [(c.key, c.change) for c in tally.keys.changes()] == [("genre", "unknown")]


def test_unknown_keys_are_bounded_per_file():
    drift = KeyDrift()
    expected = frozenset({"a"})
    for line in range(1, 4):
        drift.see(
            {"a": 1, **{f"k{n}": 1 for n in range(MAX_UNKNOWN_KEYS + 10)}}.keys(), expected, line
        )
    assert len(drift.unknown) == MAX_UNKNOWN_KEYS + 1
    assert drift.unknown[MORE_KEYS] == [30, 1]


def test_every_rule_names_keys_of_the_contract():
    from sparkify_assets.contract.records import EVENT_KEYS, SONG_KEYS

    for rules, keys in ((EVENT_RULES, EVENT_KEYS), (SONG_RULES, SONG_KEYS)):
        for rule in rules:
            assert set(rule.keys) <= keys and (rule.when is None or rule.when[0] in keys)
