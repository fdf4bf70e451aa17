"""A small Sparkify tree written by the tests: a few day files and song files in the real layout,
with the quirks a source must pass through unchanged (CRLF, a lone CR inside a line, a BOM, a
blank line, a pretty-printed song, bad records that end in load_rejects).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

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


def song_record(song_id: str, artist_id: str, title: str, artist: str, duration: float) -> dict:
    return {
        "num_songs": 1,
        "artist_id": artist_id,
        "artist_latitude": None,
        "artist_longitude": None,
        "artist_location": "",
        "artist_name": artist,
        "song_id": song_id,
        "title": title,
        "duration": duration,
        "year": 0,
    }


def song_key(song_id: str) -> str:
    return f"song_data/A/A/{song_id[-1]}/TR{song_id}.json"


def day_key(day: date) -> str:
    return f"log_data/{day:%Y/%m}/{day.isoformat()}-events.json"


def event(
    day: date,
    minute: int,
    user: int,
    session: int,
    item: int,
    song: tuple | None,
    level: str = "free",
) -> dict:
    ts = int(
        datetime(day.year, day.month, day.day, 12, minute, tzinfo=timezone.utc).timestamp() * 1000
    )
    title, artist, length = (song[2], song[3], song[4]) if song else (None, None, None)
    return {
        "artist": artist,
        "auth": "Logged In",
        "firstName": f"First{user}",
        "gender": "F",
        "itemInSession": item,
        "lastName": f"Last{user}",
        "length": length,
        "level": level,
        "location": "Springfield, IL",
        "method": "PUT",
        "page": "NextSong" if song else "Home",
        "registration": 1540919166796.0,
        "sessionId": session,
        "song": title,
        "status": 200,
        "ts": ts,
        "userAgent": '"Mozilla/5.0 (X11; Linux x86_64)"',
        "userId": str(user),
    }


def day_lines(day: date, variant: int = 0) -> bytes:
    """One day file. ``variant`` changes its content (a re-delivered, corrected file)."""
    session = day.toordinal() % 1000 * 10 + variant
    records = [
        event(day, 1, 10 + variant, session, 0, SONGS[0]),
        event(day, 2, 10 + variant, session, 1, SONGS[2], level="paid"),
        event(day, 3, 20, session + 1, 0, None),
        event(day, 4, 20, session + 1, 1, ("", "", "Unknown", "Nobody", 1.0)),
    ]
    records += [
        event(day, 10 + n, 50 + n % 5, session + 4, n, SONGS[4 + n % 20]) for n in range(40)
    ]
    lines = [json.dumps(record).encode() for record in records]
    lines[0] = b"\xef\xbb\xbf" + lines[0]  # a BOM on the first line
    lines[1] += b"\r"  # CRLF line ending
    # A lone CR between two objects is one (bad) line for a file iterator: a source that also
    # split on CR would load two rows instead of quarantining one record.
    lines[2] = lines[2] + b"\r" + json.dumps(event(day, 5, 30, session + 2, 0, None)).encode()
    lines.insert(5, b"")  # a blank line is layout, not a record
    lines.insert(
        6, json.dumps(event(day, 6, 40, session + 3, 0, SONGS[3]) | {"userId": "x"}).encode()
    )  # rejected: userId is not a number
    return b"\n".join(lines) + b"\n"


def sample_objects(days=DAYS) -> dict[str, bytes]:
    """Every file of the sample: key relative to the root -> content."""
    objects = {song_key(s[0]): json.dumps(song_record(*s)).encode() for s in SONGS}
    objects[song_key(SONGS[1][0])] = json.dumps(song_record(*SONGS[1]), indent=2).encode()
    objects["song_data/A/A/X/TRBROKEN.json"] = b"[1, 2, 3]"  # rejected: not an object
    objects |= {day_key(day): day_lines(day) for day in days}
    return objects


def write_sample(root: Path, days=DAYS) -> Path:
    for key, content in sample_objects(days).items():
        write_file(root, key, content)
    return root


def write_file(root: Path, key: str, content: bytes) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path
