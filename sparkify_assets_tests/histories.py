"""Small generated histories for the incremental tests: day files and song files that change.

Days carry a version (a corrected file: other levels, fewer lines), songs a variant (a changed
record). Some plays name songs that are not published yet ("Late Song"), some songs share a title
and artist name, some events are logged out or copies of another event with other content, so a
sequence of changes exercises every rule the incremental path must keep.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

FIRST_DAY = date(2018, 11, 2)  # a Friday: the days span an ISO week boundary
DAYS = tuple(FIRST_DAY + timedelta(days=n) for n in range(5))
USERS = 6
# (song_id, artist_id, title, artist name, duration); slot 5 and 6 share title and artist.
SONG_SLOTS = (
    ("SOINC0000", "ARINC0000", "Alpha", "Band A", 200.0),
    ("SOINC0001", "ARINC0000", "Beta", "Band A", 180.0),
    ("SOINC0002", "ARINC0001", "Gamma", "Band B", 240.0),
    ("SOINC0003", "ARINC0002", "Delta", "Band C", 150.0),
    ("SOINC0004", "ARINC0002", "Epsilon", "Band C", 300.0),
    ("SOINC0005", "ARINC0003", "Twin", "Band D", 210.0),
    ("SOINC0006", "ARINC0003", "Twin", "Band D", 260.0),
    ("SOINC0007", "ARINC0004", "Late Song", "Band E", 222.0),
)
PLAYED = [slot[2:] for slot in SONG_SLOTS] + [("Nobody's Song", "Nobody", 100.0)]


def song_key(slot: int) -> str:
    return f"song_data/A/B/C/TR{SONG_SLOTS[slot][0]}.json"


def day_key(day: date) -> str:
    return f"log_data/{day:%Y/%m}/{day.isoformat()}-events.json"


def song_content(slot: int, variant: int) -> bytes:
    """Variant 0 as published; 1 renamed (plays of the old title lose it); 2 another duration
    and artist location."""
    song_id, artist_id, title, artist, duration = SONG_SLOTS[slot]
    record = {
        "num_songs": 1,
        "artist_id": artist_id,
        "artist_latitude": 40.0 + slot if variant != 2 else None,
        "artist_longitude": -70.0 if variant != 2 else None,
        "artist_location": "Somewhere" if variant != 2 else "",
        "artist_name": artist,
        "song_id": song_id,
        "title": title if variant != 1 else f"{title} (Remix)",
        "duration": duration + (0.0 if variant != 2 else 55.5),
        "year": 2000 + slot,
    }
    return json.dumps(record).encode()


def _event(day: date, seconds: int, user: int, session: int, item: int, rng) -> dict:
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=seconds)
    title, artist, length = rng.choice(PLAYED)
    page = rng.choice(["NextSong"] * 5 + ["Home"])
    logged_in = rng.random() > 0.1
    return {
        "artist": artist if page == "NextSong" else None,
        "auth": "Logged In" if logged_in else "Logged Out",
        "firstName": f"First{user}" if logged_in else None,
        "gender": rng.choice("FM") if logged_in else None,
        "itemInSession": item,
        "lastName": f"Last{user}-{rng.randrange(2)}" if logged_in else None,
        "length": length + rng.choice([0.0, 0.5]) if page == "NextSong" else None,
        "level": rng.choice(["free", "paid"]),
        "location": "Springfield, IL",
        "method": "PUT",
        "page": page,
        "registration": 1540919166796.0,
        "sessionId": session,
        "song": title if page == "NextSong" else None,
        "status": 200,
        "ts": int(moment.timestamp() * 1000),
        "userAgent": "Mozilla/5.0",
        "userId": str(user) if logged_in else "",
    }


def day_content(day: date, version: int) -> bytes:
    """A day file; another ``version`` is a corrected file of the same day."""
    rng = random.Random(f"{day.isoformat()}/{version}")
    lines = []
    for user in rng.sample(range(1, USERS + 1), rng.randint(2, USERS)):
        session = user * 1000 + day.toordinal() % 1000
        for item in range(rng.randint(1, 6)):
            record = _event(day, rng.randrange(86_400), user, session, item, rng)
            lines.append(record)
            if rng.random() < 0.15:  # a copy of the event with other content
                lines.append(record | {"level": rng.choice(["free", "paid"])})
    rng.shuffle(lines)
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


@dataclass
class Folder:
    """A source folder the tests change file by file."""

    root: Path

    def write(self, key: str, content: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def days(self) -> list[date]:
        return [day for day in DAYS if (self.root / day_key(day)).exists()]


def initial(folder: Folder, days=DAYS[:2], slots=range(7)) -> Folder:
    for slot in slots:
        folder.write(song_key(slot), song_content(slot, 0))
    for day in days:
        folder.write(day_key(day), day_content(day, 0))
    (folder.root / "log_data").mkdir(parents=True, exist_ok=True)
    return folder
