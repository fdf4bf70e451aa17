"""Builds source folders in the real layout for tests: day files of events and song files.

Records are built from one good event and one good song; tests change a field to break one.
A small dataset made with ``write_good_data`` has plays matched to songs, logged-out events,
free and paid users, so every asset check has rows to judge.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import orjson

DAY_MS = 86_400_000


def day_start_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp() * 1000)


def song(number: int, **changes) -> dict:
    record = {
        "num_songs": 1,
        "artist_id": f"AR{number % 7:04d}",
        "artist_latitude": 40.7 + number,
        "artist_longitude": -74.0,
        "artist_location": "New York, NY",
        "artist_name": f"Artist {number % 7}",
        "song_id": f"SO{number:06d}",
        "title": f"Song {number}",
        "duration": 180.0 + number,
        "year": 2000 + number % 20,
    }
    return {**record, **changes}


def _level(number: int) -> str:
    # User 10 is always free; user 11 upgrades after play 1 (every day with plays 1 and 6 has a
    # level change, so the level_changes table is not empty); the others are paid.
    user = number % 5
    return "free" if user == 0 or (user == 1 and number == 1) else "paid"


def event(day: date, number: int, **changes) -> dict:
    """A NextSong play of ``song(number % 10)`` by user 10 + number % 5, within ``day``."""
    track = song(number % 10)
    record = {
        "artist": track["artist_name"],
        "auth": "Logged In",
        "firstName": f"User{number % 5}",
        "gender": "F",
        "itemInSession": number,
        "lastName": "Tester",
        "length": track["duration"],
        "level": _level(number),
        "location": "Austin, TX",
        "method": "PUT",
        "page": "NextSong",
        "registration": 1540006905796.0,
        "sessionId": 100 + day.day,
        "song": track["title"],
        "status": 200,
        "ts": day_start_ms(day) + 60_000 * number + 123,
        "userAgent": '"Mozilla/5.0"',
        "userId": str(10 + number % 5),
    }
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


def json_line(record: dict) -> bytes:
    return orjson.dumps(record)


def day_file(root: Path, day: date) -> Path:
    return root / "log_data" / f"{day:%Y}" / f"{day:%m}" / f"{day.isoformat()}-events.json"


def write_day(root: Path, day: date, content: bytes) -> str:
    """Write a day file; returns its source key as rejects and staging record it."""
    path = day_file(root, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path.relative_to(root).as_posix()


def write_song(root: Path, name: str, content: bytes) -> str:
    path = root / "song_data" / "A" / name[2] / name[3] / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path.relative_to(root).as_posix()


def write_songs(root: Path, numbers: range) -> None:
    for number in numbers:
        write_song(root, f"TRGOOD{number:05d}", json_line(song(number)))


GOOD_DAYS = (date(2018, 11, 15), date(2018, 11, 16))
PLAYS_PER_DAY = 12


def write_good_data(root: Path) -> Path:
    """Two days of 12 plays and 2 logged-out events each, and the 10 songs they play."""
    for day in GOOD_DAYS:
        records = [event(day, n) for n in range(1, PLAYS_PER_DAY + 1)]
        records += [logged_out(day, 50), logged_out(day, 51)]
        write_day(root, day, b"\n".join(map(json_line, records)) + b"\n")
    write_songs(root, range(10))
    return root
