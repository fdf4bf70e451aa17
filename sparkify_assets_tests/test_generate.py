"""The synthetic data generator writes what the public Udacity sample looks like, byte for byte.

Most tests share one small data set. Only the test that compares with the real files needs the
public sample, and it skips when the sample is not beside the repository.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sparkify_assets.synthetic.generate import GenerationSummary, generate

PUBLIC_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "acceptance" / "udacity_sample"
LOG_KEYS = [
    "artist",
    "auth",
    "firstName",
    "gender",
    "itemInSession",
    "lastName",
    "length",
    "level",
    "location",
    "method",
    "page",
    "registration",
    "sessionId",
    "song",
    "status",
    "ts",
    "userAgent",
    "userId",
]
SONG_KEYS = [
    "num_songs",
    "artist_id",
    "artist_latitude",
    "artist_longitude",
    "artist_location",
    "artist_name",
    "song_id",
    "title",
    "duration",
    "year",
]
SMALL = {"events": 3000, "songs": 50, "days": 5, "seed": 7}
PAGE_REQUESTS = {  # page -> (method, status), as in the public sample
    "NextSong": ("PUT", 200),
    "Home": ("GET", 200),
    "Login": ("PUT", 307),
    "Logout": ("PUT", 307),
    "Downgrade": ("GET", 200),
    "Upgrade": ("GET", 200),
    "Settings": ("GET", 200),
    "Save Settings": ("PUT", 307),
    "Help": ("GET", 200),
    "About": ("GET", 200),
    "Error": ("GET", 404),
    "Submit Upgrade": ("PUT", 307),
    "Submit Downgrade": ("PUT", 307),
}


def log_line_format(event: dict) -> str:
    """How the real log files spell an event (the real-sample test checks this claim)."""
    return json.dumps(event, separators=(",", ":")).replace("/", "\\/")


def day_files(root: Path) -> list[Path]:
    return sorted(root.glob("log_data/*/*/*-events.json"))


def song_files(root: Path) -> list[Path]:
    return sorted(root.glob("song_data/*/*/*/*.json"))


def read_events(root: Path) -> list[dict]:
    return [
        json.loads(line)
        for path in day_files(root)
        for line in path.read_text(encoding="ascii").split("\n")
        if line
    ]


def read_songs(root: Path) -> list[dict]:
    return [json.loads(path.read_text(encoding="ascii")) for path in song_files(root)]


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def song_keys(songs: list[dict]) -> set[tuple[str, str, float]]:
    return {(song["title"], song["artist_name"], song["duration"]) for song in songs}


def is_match(event: dict, keys: set[tuple[str, str, float]]) -> bool:
    return (event["song"], event["artist"], event["length"]) in keys


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated") / "small"
    generate(out, **SMALL)
    return out


@pytest.fixture(scope="module")
def events(small) -> list[dict]:
    return read_events(small)


@pytest.fixture(scope="module")
def songs(small) -> list[dict]:
    return read_songs(small)


# --- layout, counts, determinism --------------------------------------------------------------


def test_layout_follows_the_public_sample(small):
    for path in song_files(small):
        track_id = path.stem
        assert re.fullmatch(r"TR[A-Z]{3}[A-Z0-9]{13}", track_id)
        assert path.parent.relative_to(small / "song_data").parts == tuple(track_id[2:5])
    assert len(song_files(small)) == SMALL["songs"]
    names = [str(path.relative_to(small / "log_data")) for path in day_files(small)]
    assert names == [f"2018/11/2018-11-0{day}-events.json" for day in range(1, 6)]
    assert sorted(p for p in (small / "log_data").rglob("*") if p.is_file()) == day_files(small)


def test_every_day_gets_an_event_and_months_get_their_own_folder(tmp_path):
    generate(tmp_path, events=10, songs=3, days=10, seed=1, first_day=date(2018, 12, 27))
    expected = [date(2018, 12, 27) + timedelta(days=offset) for offset in range(10)]
    assert [path.relative_to(tmp_path / "log_data") for path in day_files(tmp_path)] == [
        Path(f"{day:%Y}/{day:%m}/{day.isoformat()}-events.json") for day in expected
    ]
    for path in day_files(tmp_path):
        assert len(path.read_text().split("\n")) == 1


def test_summary_and_event_count_are_exact(tmp_path):
    summary = generate(tmp_path / "out", events=1234, songs=7, days=3, seed=3)
    assert summary == GenerationSummary(1234, 7, 3, tmp_path / "out")
    assert len(read_events(tmp_path / "out")) == 1234
    assert len(song_files(tmp_path / "out")) == 7


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(small, tmp_path):
    generate(tmp_path / "again", **SMALL)
    generate(tmp_path / "other", **{**SMALL, "seed": SMALL["seed"] + 1})
    assert tree_bytes(tmp_path / "again") == tree_bytes(small)
    other = tree_bytes(tmp_path / "other")
    assert other.keys() != tree_bytes(small).keys()
    assert [other[str(p.relative_to(small))] for p in day_files(small)] != [
        p.read_bytes() for p in day_files(small)
    ]


def test_refuses_bad_arguments_and_existing_output(small):
    with pytest.raises(ValueError, match="days"):
        generate(small.parent / "x", events=1, songs=1, days=0, seed=1)
    with pytest.raises(ValueError, match="match_share"):
        generate(small.parent / "y", events=1, songs=1, days=1, seed=1, match_share=1.5)
    with pytest.raises(ValueError, match="already exists"):
        generate(small, **SMALL)


@pytest.mark.parametrize(
    ("out", "extra", "message"),
    [
        ("a-file", [], "a-file is a file; generate into a new or empty folder"),
        ("a-file/below", [], "cannot write into {tmp}/a-file/below: Not a directory"),
        ("far", ["--days", "100000"], "days must be between 1 and 3653 (ten years), got 100000"),
    ],
)
def test_cli_refuses_unusable_output_and_days_in_one_line(tmp_path, capsys, out, extra, message):
    from sparkify_assets.cli.main import main

    (tmp_path / "a-file").write_text("not a folder")
    code = main(["generate", str(tmp_path / out), *extra, "--events", "10", "--songs", "2"])

    stdout, stderr = capsys.readouterr()
    assert (code, stdout) == (2, "")
    assert stderr.startswith("sparkify: ") and stderr.count("\n") == 1
    assert message.format(tmp=tmp_path) in stderr
    assert not (tmp_path / "far").exists(), "refused before writing anything"


def test_cli_explains_every_generate_option(capsys):
    from sparkify_assets.cli.main import build_parser

    generate_parser = build_parser()._subparsers._group_actions[0].choices["generate"]
    for action in generate_parser._actions:
        assert action.help, f"{action.dest} has no help text"


# --- byte format ---------------------------------------------------------------------------


def test_log_lines_have_the_real_keys_in_the_real_order(events):
    assert all(list(event) == LOG_KEYS for event in events)


def test_log_files_are_serialised_like_the_real_ones(small):
    for path in day_files(small):
        raw = path.read_bytes()
        assert raw.isascii()
        assert not raw.endswith(b"\n") and b"\r" not in raw and b"\n\n" not in raw
        for line in raw.decode("ascii").split("\n"):
            assert line == log_line_format(json.loads(line))
    assert b'"userAgent":"\\"Mozilla\\/5.0 (' in day_files(small)[0].read_bytes()


def test_song_files_are_serialised_like_the_real_ones(small):
    for path in song_files(small):
        raw = path.read_bytes()
        assert raw.isascii() and not raw.endswith(b"\n")
        song = json.loads(raw)
        assert list(song) == SONG_KEYS
        assert raw.decode("ascii") == json.dumps(song)
    assert any(b"\\u00" in path.read_bytes() for path in song_files(small))


def test_format_claims_hold_for_the_real_sample():
    if not PUBLIC_SAMPLE.is_dir():
        pytest.skip(f"public sample not found at {PUBLIC_SAMPLE}")
    real_log = PUBLIC_SAMPLE / "log_data" / "2018" / "11" / "2018-11-13-events.json"
    lines = real_log.read_text(encoding="ascii").split("\n")
    assert list(json.loads(lines[0])) == LOG_KEYS
    assert all(line == log_line_format(json.loads(line)) for line in lines)
    real_song = PUBLIC_SAMPLE / "song_data" / "A" / "A" / "C" / "TRAACCG128F92E8A55.json"
    raw = real_song.read_text(encoding="ascii")
    assert list(json.loads(raw)) == SONG_KEYS
    assert raw == json.dumps(json.loads(raw))


# --- events --------------------------------------------------------------------------------


def test_timestamps_fall_inside_their_day_in_ascending_order(small):
    for path in day_files(small):
        day = date.fromisoformat(path.name[:10])
        midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
        stamps = [json.loads(line)["ts"] for line in path.read_text().split("\n")]
        assert all(type(ts) is int for ts in stamps)
        assert midnight * 1000 <= min(stamps) and max(stamps) <= midnight * 1000 + 86_399_999
        assert stamps == sorted(stamps)


def test_user_id_is_a_string_that_is_empty_exactly_when_logged_out(events):
    user_fields = ("firstName", "lastName", "gender", "location", "userAgent", "registration")
    for event in events:
        assert isinstance(event["userId"], str)
        logged_out = event["auth"] == "Logged Out"
        assert (event["userId"] == "") == logged_out
        assert all((event[field] is None) == logged_out for field in user_fields)
        if not logged_out:
            assert isinstance(event["registration"], float)
    assert 0 < sum(event["auth"] == "Logged Out" for event in events) < len(events) * 0.1


def test_pages_have_realistic_shares_and_the_real_method_and_status(events):
    pages = Counter(event["page"] for event in events)
    assert set(pages) <= set(PAGE_REQUESTS)
    assert pages["NextSong"] > 0.75 * len(events)
    assert {"Home", "Login", "Logout", "Settings", "Help", "About"} <= set(pages)
    for event in events:
        assert (event["method"], event["status"]) == PAGE_REQUESTS[event["page"]]
        track = (event["artist"], event["song"], event["length"])
        if event["page"] == "NextSong":
            assert event["auth"] == "Logged In" and None not in track
        else:
            assert track == (None, None, None)


def test_sessions_are_unique_numbered_from_zero_and_belong_to_one_user(events):
    sessions = defaultdict(list)
    for event in events:
        sessions[event["sessionId"]].append(event)
    assert len({(e["sessionId"], e["itemInSession"]) for e in events}) == len(events)
    for rows in sessions.values():
        assert [row["itemInSession"] for row in rows] == list(range(len(rows)))
        assert len({row["userId"] for row in rows} - {""}) <= 1


def test_users_keep_their_identity(events):
    identities = defaultdict(set)
    for event in events:
        if event["userId"]:
            identities[event["userId"]].add(
                tuple(
                    event[key]
                    for key in (
                        "firstName",
                        "lastName",
                        "gender",
                        "location",
                        "userAgent",
                        "registration",
                    )
                )
            )
    assert 50 <= len(identities) <= 110
    assert all(len(seen) == 1 for seen in identities.values())
    agents = {event["userAgent"] for event in events if event["userAgent"]}
    assert any(agent.startswith('"') for agent in agents)
    assert any(not agent.startswith('"') for agent in agents)


def test_some_users_change_level_through_a_submit_page(events):
    levels = defaultdict(set)
    for event in events:
        if event["userId"]:
            levels[event["userId"]].add(event["level"])
    assert sum(len(seen) == 2 for seen in levels.values()) >= 2
    by_session = defaultdict(list)
    for event in events:
        by_session[event["sessionId"]].append(event)
    changes = [
        (rows[i]["level"], rows[i + 1]["level"])
        for rows in by_session.values()
        for i in range(len(rows) - 1)
        if rows[i]["page"].startswith("Submit")
    ]
    assert changes and all(before != after for before, after in changes)


# --- songs and matching ----------------------------------------------------------------------


def test_song_files_have_the_real_shape_and_quirks(songs):
    assert all(song["num_songs"] == 1 for song in songs)
    assert all(re.fullmatch(r"SO[A-Z0-9]{16}", song["song_id"]) for song in songs)
    assert all(re.fullmatch(r"AR[A-Z0-9]{16}", song["artist_id"]) for song in songs)
    assert len({song["song_id"] for song in songs}) == len(songs)
    artists = {song["artist_id"]: tuple(song[key] for key in SONG_KEYS[1:6]) for song in songs}
    assert len(artists) < len(songs)
    assert all(
        tuple(song[key] for key in SONG_KEYS[1:6]) == artists[song["artist_id"]] for song in songs
    )
    assert any(song["year"] == 0 for song in songs)
    assert any(song["artist_latitude"] is None for song in songs)
    assert any(song["artist_location"] == "" for song in songs)
    assert any(not (song["artist_name"] + song["title"]).isascii() for song in songs)


def test_match_share_is_roughly_as_requested(events, songs):
    plays = [event for event in events if event["page"] == "NextSong"]
    matched = sum(is_match(play, song_keys(songs)) for play in plays)
    assert matched / len(plays) == pytest.approx(0.3, abs=0.05)  # the default match_share


@pytest.mark.parametrize("share", [0.0, 0.8])
def test_match_share_follows_the_argument(tmp_path, share):
    generate(tmp_path, events=1500, songs=40, days=2, seed=5, match_share=share)
    keys = song_keys(read_songs(tmp_path))
    plays = [event for event in read_events(tmp_path) if event["page"] == "NextSong"]
    assert sum(is_match(play, keys) for play in plays) / len(plays) == pytest.approx(
        share, abs=0.06
    )


def test_mojibake_artists_are_double_encoded_and_never_match(events, songs):
    mangled = [
        event for event in events if event["page"] == "NextSong" and not event["artist"].isascii()
    ]
    assert mangled
    keys = song_keys(songs)
    for event in mangled:
        assert not is_match(event, keys)
        once = event["artist"].encode("latin-1").decode("utf-8")
        proper = once.encode("latin-1").decode("utf-8")
        assert proper != once and not proper.isascii()


def test_duplicate_titles_force_a_choice_by_duration(events, songs):
    durations = defaultdict(list)
    for song in songs:
        durations[(song["title"], song["artist_name"])].append(song["duration"])
    versions = {key: found for key, found in durations.items() if len(set(found)) > 1}
    assert versions
    ambiguous = [event for event in events if (event["song"], event["artist"]) in versions]
    assert ambiguous
    for event in ambiguous:
        assert versions[(event["song"], event["artist"])].count(event["length"]) == 1
