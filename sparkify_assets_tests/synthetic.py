"""A small seeded dataset in the real layout, with the cases the analytics rules are about.

Rank ties and more songs per period than the top-10 keeps, two ISO week boundaries, users who
upgrade and downgrade, plays of unknown songs, a song published twice with different durations,
logged-out plays, a duplicated log line, and session ids that run against time.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

FIRST_DAY = date(2018, 11, 1)  # a Thursday: the days span two ISO week boundaries
DAYS = 12
USERS = 18


def _song(song_id, title, artist_id, artist_name, duration, *, located=True):
    return {
        "num_songs": 1,
        "artist_id": artist_id,
        "artist_name": artist_name,
        "artist_latitude": 40.7 if located else None,
        "artist_longitude": -74.0 if located else None,
        "artist_location": "New York, NY" if located else "",
        "song_id": song_id,
        "title": title,
        "duration": duration,
        "year": 2000,
    }


def _catalog(rng: random.Random) -> list[dict]:
    songs = [
        _song(
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
        _song("SOTWIN0001", "Twin", "AR000", "Artist 0", 200.0),
        _song("SOTWIN0002", "Twin", "AR000", "Artist 0", 300.0),
    ]
    return songs


def _level_timeline(rng: random.Random, user: int) -> list[tuple[datetime, str]]:
    """When a user's level changes: some never, some up, some up and down again."""
    start = datetime(2018, 11, 1)
    levels = [(start, rng.choice(["free", "paid"]))]
    for _ in range(user % 3):
        moment = start + timedelta(hours=rng.uniform(0, 24 * DAYS))
        levels.append((moment, "paid" if levels[-1][1] == "free" else "free"))
    return sorted(levels)


def _level_at(timeline, moment: datetime) -> str:
    return [level for changed, level in timeline if changed <= moment][-1]


def write_dataset(root: Path, seed: int = 7) -> Path:
    rng = random.Random(seed)
    songs = _catalog(rng)
    for song in songs:
        path = root / "song_data" / "A" / "B" / "C" / f"TR{song['song_id']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(song))
    popular = [song for song in songs if song["title"] != "Twin"]
    weights = [1 / (rank + 1) for rank in range(len(popular))]
    timelines = {user: _level_timeline(rng, user) for user in range(1, USERS + 1)}
    for offset in range(DAYS):
        day = FIRST_DAY + timedelta(days=offset)
        midnight = datetime(day.year, day.month, day.day)
        events = []
        for user in range(1, USERS + 1):
            # Session ids run against time, so id order and time order disagree across days.
            session = user * 1000 + DAYS - offset
            moment = midnight + timedelta(hours=rng.uniform(0, 20))
            for item in range(rng.randint(1, 6)):
                moment += timedelta(seconds=rng.randint(60, 400), milliseconds=796)
                if rng.random() < 0.1:
                    song = {"title": f"Unknown {item}", "artist_name": "Nobody", "duration": 180.0}
                elif rng.random() < 0.08:
                    song = rng.choice(songs[-2:])  # "Twin": the copy nearest the length wins
                else:
                    song = rng.choices(popular, weights)[0]
                length = song["duration"] + rng.choice([-20.0, 0.0, 45.0])
                events.append(
                    {
                        "artist": song["artist_name"],
                        "auth": "Logged In",
                        "firstName": f"First{user}",
                        "gender": "F",
                        "itemInSession": item,
                        "lastName": f"Last{user}",
                        "length": length,
                        "level": _level_at(timelines[user], moment),
                        "location": "Somewhere, ST",
                        "method": "PUT",
                        "page": "NextSong",
                        "registration": 1540000000000.0,
                        "sessionId": session,
                        "song": song["title"],
                        "status": 200,
                        "ts": int(moment.replace(tzinfo=timezone.utc).timestamp() * 1000),
                        "userAgent": '"Mozilla/5.0"',
                        "userId": str(user),
                    }
                )
        # A logged-out play is not a songplay; a duplicated line is one play.
        events.append(
            dict(
                events[0],
                userId="",
                firstName=None,
                lastName=None,
                sessionId=999_000 + offset,
                itemInSession=0,
            )
        )
        events.append(dict(events[1]))
        events.sort(key=lambda event: event["ts"])
        path = root / "log_data" / "2018" / "11" / f"{day.isoformat()}-events.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(json.dumps(event) for event in events) + "\n")
    return root
