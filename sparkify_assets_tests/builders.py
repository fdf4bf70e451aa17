"""The tests' data: one set of record builders in the real layout, and the data sets made of them.

* Records: ``song_record`` and ``event_record`` build a song file's object and a log line's
  object with the real keys in the real order; ``json_line`` serialises either; ``write_file``
  puts bytes at a key under a root (``day_key`` is the layout's own day-file key).
* ``write_sample``: three days with the quirks a source must pass through unchanged (CRLF, a
  lone CR inside a line, a BOM, a blank line, a pretty-printed song, bad records).
* ``write_good_data`` and ``event``/``song``: good records for the checks, and the one good event
  and song a test changes a field of to break it.
* ``write_dataset``: a seeded data set with the cases the analytics rules are about.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

from sparkify_assets.contract.layout import day_bounds_ms, day_file_key, days_in

day_key = day_file_key

# --- records ---------------------------------------------------------------------------------

_EVENT = {
    "artist": None,
    "auth": "Logged In",
    "firstName": None,
    "gender": "F",
    "itemInSession": 0,
    "lastName": None,
    "length": None,
    "level": "free",
    "location": None,
    "method": "PUT",
    "page": "NextSong",
    "registration": None,
    "sessionId": 0,
    "song": None,
    "status": 200,
    "ts": 0,
    "userAgent": '"Mozilla/5.0"',
    "userId": "",
}


def event_record(**fields) -> dict:
    """A log line's object: the real keys in the real order, ``fields`` replacing defaults."""
    unknown = fields.keys() - _EVENT.keys()
    assert not unknown, f"not a log key: {unknown}"
    return {**_EVENT, **fields}


# A log line with every field set: the public sample's Kevin Arellano playing "Ja I Ty".
COMPLETE_EVENT = event_record(
    artist="Fu",
    firstName="Kevin",
    gender="M",
    itemInSession=1,
    lastName="Arellano",
    length=280.05832,
    location="Harrisburg, PA",
    registration=1540006905796.0,
    sessionId=514,
    song="Ja I Ty",
    ts=1542240001234,
    userId="66",
)


def song_record(
    song_id: str,
    artist_id: str,
    title: str,
    artist: str,
    duration: float,
    *,
    latitude: float | None = None,
    longitude: float | None = None,
    location: str = "",
    year: int = 0,
) -> dict:
    """A song file's object, keys in the real order."""
    return {
        "num_songs": 1,
        "artist_id": artist_id,
        "artist_latitude": latitude,
        "artist_longitude": longitude,
        "artist_location": location,
        "artist_name": artist,
        "song_id": song_id,
        "title": title,
        "duration": duration,
        "year": year,
    }


def json_line(record: dict) -> bytes:
    return orjson.dumps(record)


def write_file(root: Path, key: str, content: bytes) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _noon_ms(day: date, minute: int) -> int:
    return day_bounds_ms(day)[0] + (12 * 60 + minute) * 60_000


# --- the sample with a source's quirks ---------------------------------------------------------

SONGS = [
    ("SOAAA0001", "ARAAA0001", "Intro", "The Openers", 201.5),
    ("SOAAA0002", "ARAAA0001", "Outro", "The Openers", 187.0),
    ("SOAAA0003", "ARAAA0002", "Echoes", "Night Shift", 305.25),
    ("SOAAA0004", "ARAAA0003", "Solo", "Lone Wolf", 99.0),
] + [
    (f"SOFIL{n:04d}", f"ARFIL{n % 7:04d}", f"Filler {n}", f"Band {n % 7}", 100.0 + n)
    for n in range(20)
]  # enough good records that one bad file stays under the reject limit
DAYS = (date(2018, 11, 1), date(2018, 11, 2), date(2018, 11, 3))


def song_key(song_id: str) -> str:
    return f"song_data/A/A/{song_id[-1]}/TR{song_id}.json"


def _sample_event(
    day: date, minute: int, user: int, session: int, item: int, song: tuple | None, level="free"
) -> dict:
    title, artist, length = (song[2], song[3], song[4]) if song else (None, None, None)
    return event_record(
        artist=artist,
        firstName=f"First{user}",
        itemInSession=item,
        lastName=f"Last{user}",
        length=length,
        level=level,
        location="Springfield, IL",
        page="NextSong" if song else "Home",
        registration=1540919166796.0,
        sessionId=session,
        song=title,
        ts=_noon_ms(day, minute),
        userAgent='"Mozilla/5.0 (X11; Linux x86_64)"',
        userId=str(user),
    )


def day_lines(day: date, variant: int = 0) -> bytes:
    """One day file. ``variant`` changes its content (a re-delivered, corrected file)."""
    session = day.toordinal() % 1000 * 10 + variant
    records = [
        _sample_event(day, 1, 10 + variant, session, 0, SONGS[0]),
        _sample_event(day, 2, 10 + variant, session, 1, SONGS[2], level="paid"),
        _sample_event(day, 3, 20, session + 1, 0, None),
        _sample_event(day, 4, 20, session + 1, 1, ("", "", "Unknown", "Nobody", 1.0)),
    ]
    records += [
        _sample_event(day, 10 + n, 50 + n % 5, session + 4, n, SONGS[4 + n % 20]) for n in range(40)
    ]
    lines = [json_line(record) for record in records]
    lines[0] = b"\xef\xbb\xbf" + lines[0]  # a BOM on the first line
    lines[1] += b"\r"  # CRLF line ending
    # A lone CR between two objects is one (bad) line for a file iterator: a source that also
    # split on CR would load two rows instead of quarantining one record.
    lines[2] = lines[2] + b"\r" + json_line(_sample_event(day, 5, 30, session + 2, 0, None))
    lines.insert(5, b"")  # a blank line is layout, not a record
    not_a_number = _sample_event(day, 6, 40, session + 3, 0, SONGS[3]) | {"userId": "x"}
    lines.insert(6, json_line(not_a_number))  # rejected: userId is not a number
    return b"\n".join(lines) + b"\n"


def sample_objects(days=DAYS) -> dict[str, bytes]:
    """Every file of the sample: key relative to the root -> content."""
    objects = {song_key(s[0]): json_line(song_record(*s)) for s in SONGS}
    objects[song_key(SONGS[1][0])] = json.dumps(song_record(*SONGS[1]), indent=2).encode()
    objects["song_data/A/A/X/TRBROKEN.json"] = b"[1, 2, 3]"  # rejected: not an object
    objects |= {day_key(day): day_lines(day) for day in days}
    return objects


def write_sample(root: Path, days=DAYS) -> Path:
    for key, content in sample_objects(days).items():
        write_file(root, key, content)
    return root


# --- good records, and the one good event and song a test breaks ---------------------------------

GOOD_DAYS = (date(2018, 11, 15), date(2018, 11, 16))
PLAYS_PER_DAY = 12


def song(number: int, **changes) -> dict:
    record = song_record(
        f"SO{number:06d}",
        f"AR{number % 7:04d}",
        f"Song {number}",
        f"Artist {number % 7}",
        180.0 + number,
        latitude=40.7 + number,
        longitude=-74.0,
        location="New York, NY",
        year=2000 + number % 20,
    )
    return {**record, **changes}


def _level(number: int) -> str:
    # User 10 is always free; user 11 upgrades after play 1 (every day with plays 1 and 6 has a
    # level change, so the level_changes table is not empty); the others are paid.
    user = number % 5
    return "free" if user == 0 or (user == 1 and number == 1) else "paid"


def event(day: date, number: int, **changes) -> dict:
    """A NextSong play of ``song(number % 10)`` by user 10 + number % 5, within ``day``."""
    track = song(number % 10)
    record = event_record(
        artist=track["artist_name"],
        firstName=f"User{number % 5}",
        itemInSession=number,
        lastName="Tester",
        length=track["duration"],
        level=_level(number),
        location="Austin, TX",
        registration=1540006905796.0,
        sessionId=100 + day.day,
        song=track["title"],
        ts=day_bounds_ms(day)[0] + 60_000 * number + 123,
        userId=str(10 + number % 5),
    )
    return {**record, **changes}


def logged_out(day: date, number: int) -> dict:
    return event(
        day,
        number,
        page="Home",
        userId="",
        firstName=None,
        lastName=None,
        gender=None,
        auth="Logged Out",
        artist=None,
        song=None,
        length=None,
    )


def write_day(root: Path, day: date, content: bytes) -> str:
    """Write a day file; returns its source key as rejects and staging record it."""
    write_file(root, day_key(day), content)
    return day_key(day)


def song_file_key(name: str) -> str:
    return f"song_data/A/{name[2]}/{name[3]}/{name}.json"


def write_song(root: Path, name: str, content: bytes) -> str:
    write_file(root, song_file_key(name), content)
    return song_file_key(name)


def write_songs(root: Path, numbers: range) -> None:
    for number in numbers:
        write_song(root, f"TRGOOD{number:05d}", json_line(song(number)))


def write_good_data(root: Path) -> Path:
    """Two days of 12 plays and 2 logged-out events each, and the 10 songs they play."""
    for day in GOOD_DAYS:
        records = [event(day, n) for n in range(1, PLAYS_PER_DAY + 1)]
        records += [logged_out(day, 50), logged_out(day, 51)]
        write_day(root, day, b"\n".join(map(json_line, records)) + b"\n")
    write_songs(root, range(10))
    return root


# --- the analytics data set ----------------------------------------------------------------------
# Rank ties and more songs per period than the top-10 keeps, two ISO week boundaries, users who
# upgrade and downgrade, plays of unknown songs, a song published twice with different durations,
# logged-out plays, a duplicated log line, and session ids that run against time.

ANALYTICS_FIRST_DAY = date(2018, 11, 1)  # a Thursday: the days span two ISO week boundaries
ANALYTICS_DAYS = 12
USERS = 18


def _analytics_song(song_id, title, artist_id, artist_name, duration, *, located=True) -> dict:
    return song_record(
        song_id,
        artist_id,
        title,
        artist_name,
        duration,
        latitude=40.7 if located else None,
        longitude=-74.0 if located else None,
        location="New York, NY" if located else "",
        year=2000,
    )


def _catalog(rng: random.Random) -> list[dict]:
    songs = [
        _analytics_song(
            f"SO{n:04d}",
            f"Song {n}",
            f"AR{n % 7:03d}",
            f"Artist {n % 7}",
            round(rng.uniform(120, 360), 5),
            located=n % 3 != 0,
        )
        for n in range(24)
    ]
    # The same title and artist twice: a play takes the one with the nearest duration.
    songs += [
        _analytics_song("SOTWIN0001", "Twin", "AR000", "Artist 0", 200.0),
        _analytics_song("SOTWIN0002", "Twin", "AR000", "Artist 0", 300.0),
    ]
    return songs


def _level_timeline(rng: random.Random, user: int) -> list[tuple[datetime, str]]:
    """When a user's level changes: some never, some up, some up and down again."""
    start = datetime(2018, 11, 1)
    levels = [(start, rng.choice(["free", "paid"]))]
    for _ in range(user % 3):
        moment = start + timedelta(hours=rng.uniform(0, 24 * ANALYTICS_DAYS))
        levels.append((moment, "paid" if levels[-1][1] == "free" else "free"))
    return sorted(levels)


def _level_at(timeline, moment: datetime) -> str:
    return [level for changed, level in timeline if changed <= moment][-1]


def _pick_song(rng: random.Random, songs: list[dict], popular: list[dict], weights, item: int):
    if rng.random() < 0.1:
        return {"title": f"Unknown {item}", "artist_name": "Nobody", "duration": 180.0}
    if rng.random() < 0.08:
        return rng.choice(songs[-2:])  # "Twin": the copy nearest the length wins
    return rng.choices(popular, weights)[0]


def write_dataset(root: Path, seed: int = 7) -> Path:
    rng = random.Random(seed)
    songs = _catalog(rng)
    for record in songs:
        write_file(root, f"song_data/A/B/C/TR{record['song_id']}.json", json_line(record))
    popular = [record for record in songs if record["title"] != "Twin"]
    weights = [1 / (rank + 1) for rank in range(len(popular))]
    timelines = {user: _level_timeline(rng, user) for user in range(1, USERS + 1)}
    last_day = ANALYTICS_FIRST_DAY + timedelta(days=ANALYTICS_DAYS)
    for offset, day in enumerate(days_in(ANALYTICS_FIRST_DAY, last_day)):
        midnight = datetime(day.year, day.month, day.day)
        events = []
        for user in range(1, USERS + 1):
            # Session ids run against time, so id order and time order disagree across days.
            session = user * 1000 + ANALYTICS_DAYS - offset
            moment = midnight + timedelta(hours=rng.uniform(0, 20))
            for item in range(rng.randint(1, 6)):
                moment += timedelta(seconds=rng.randint(60, 400), milliseconds=796)
                track = _pick_song(rng, songs, popular, weights, item)
                events.append(
                    event_record(
                        artist=track["artist_name"],
                        firstName=f"First{user}",
                        itemInSession=item,
                        lastName=f"Last{user}",
                        length=track["duration"] + rng.choice([-20.0, 0.0, 45.0]),
                        level=_level_at(timelines[user], moment),
                        location="Somewhere, ST",
                        registration=1540000000000.0,
                        sessionId=session,
                        song=track["title"],
                        ts=int(moment.replace(tzinfo=UTC).timestamp() * 1000),
                        userId=str(user),
                    )
                )
        # A logged-out play is not a songplay; a duplicated line is one play.
        events.append(
            dict(
                events[0],
                auth="Logged Out",
                userId="",
                firstName=None,
                lastName=None,
                sessionId=999_000 + offset,
                itemInSession=0,
            )
        )
        events.append(dict(events[1]))
        events.sort(key=lambda record: record["ts"])
        write_file(root, day_key(day), b"\n".join(map(json_line, events)) + b"\n")
    return root
