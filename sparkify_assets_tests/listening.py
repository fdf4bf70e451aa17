"""The analytics answers computed in plain Python straight from the JSON files.

An independent oracle for the analytics tables: it reads song_data/ and log_data/ itself and
follows the documented rules (a play is a NextSong event with a userId; the song is the one with
the same title and artist name and the nearest duration; ties rank alike) without any SQL. Each
function returns rows in the column order of its table.
"""

from __future__ import annotations

import calendar
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

TOP_N = 10
EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Play:
    songplay_id: int
    start_time: datetime
    user_id: int
    level: str | None
    session_id: int
    song_id: str | None
    artist_id: str | None


class Listening:
    def __init__(self, root: Path):
        self.songs = sorted(
            (str(path.relative_to(root)), json.loads(path.read_text("utf-8")))
            for path in (root / "song_data").rglob("*.json")
        )
        self.titles = self._song_titles()
        self.artist_names = self._artist_names()
        self.plays, self.names = self._read_events(root)

    # --- dimensions ---------------------------------------------------------------------
    def _song_titles(self) -> dict[str, tuple[str, str]]:
        """song_id -> (title, artist_id) of its first file (songs keeps one row per id)."""
        chosen: dict[str, tuple[str, str]] = {}
        for _, song in self.songs:  # sorted by file path
            chosen.setdefault(song["song_id"], (song["title"], song["artist_id"]))
        return chosen

    def _artist_names(self) -> dict[str, str]:
        """artist_id -> name of its most complete record (coordinates, location, name, song)."""

        def completeness(song: dict) -> tuple:
            return (
                song["artist_latitude"] is None,
                not song["artist_location"],
                song["artist_name"],
                song["song_id"],
            )

        best: dict[str, dict] = {}
        for _, song in self.songs:
            current = best.get(song["artist_id"])
            if current is None or completeness(song) < completeness(current):
                best[song["artist_id"]] = song
        return {artist_id: song["artist_name"] for artist_id, song in best.items()}

    # --- the fact -----------------------------------------------------------------------
    def _match(self, event: dict) -> tuple[str | None, str | None]:
        candidates = [
            song
            for _, song in self.songs
            if song["title"] == event["song"] and song["artist_name"] == event["artist"]
        ]
        if not candidates:
            return None, None
        best = min(candidates, key=lambda s: (abs(s["duration"] - event["length"]), s["song_id"]))
        return best["song_id"], best["artist_id"]

    def _read_events(self, root: Path) -> tuple[list[Play], dict[int, tuple[str, str]]]:
        """The plays, and each user's name from their latest event (the users dimension)."""
        first_copy: dict[tuple[int, int], tuple] = {}
        latest: dict[int, tuple] = {}  # user -> ((ts, session, item), (first name, last name))
        for path in sorted((root / "log_data").rglob("*.json")):
            for line_number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                event = json.loads(line)
                if not event.get("userId"):
                    continue
                user = int(event["userId"])
                when = (event["ts"], event["sessionId"], event["itemInSession"])
                if user not in latest or when > latest[user][0]:
                    latest[user] = (when, (event.get("firstName"), event.get("lastName")))
                if event.get("page") != "NextSong":
                    continue
                key = (event["sessionId"], event["itemInSession"])
                candidate = (event["ts"], line_number, event)
                if key not in first_copy or candidate[:2] < first_copy[key][:2]:
                    first_copy[key] = candidate
        plays = []
        for (session_id, item), (ts, _, event) in sorted(first_copy.items()):
            song_id, artist_id = self._match(event)
            plays.append(
                Play(
                    songplay_id=session_id * 2**32 + (session_id * 2654435761 + item) % 2**32,
                    start_time=EPOCH + timedelta(milliseconds=ts),
                    user_id=int(event["userId"]),
                    level=event.get("level"),
                    session_id=session_id,
                    song_id=song_id,
                    artist_id=artist_id,
                )
            )
        return plays, {user: name for user, (_, name) in latest.items()}

    # --- the analytics --------------------------------------------------------------------
    @staticmethod
    def _periods(moment: datetime) -> list[tuple[str, date]]:
        day = moment.date()
        return [("day", day), ("week", day - timedelta(days=day.weekday()))]  # ISO: Monday

    def _most_played(self, item) -> list[tuple]:
        """(period, period_start, rank, item, plays, listeners) for ranks up to TOP_N."""
        plays = defaultdict(int)
        listeners = defaultdict(set)
        for play in self.plays:
            if item(play) is None:
                continue
            for period in self._periods(play.start_time):
                plays[period, item(play)] += 1
                listeners[period, item(play)].add(play.user_id)
        rows = []
        for (period, key), count in plays.items():
            rivals = [n for (other, _), n in plays.items() if other == period]
            rank = 1 + sum(1 for n in rivals if n > count)
            if rank <= TOP_N:
                rows.append((*period, rank, key, count, len(listeners[period, key])))
        return rows

    def top_songs(self) -> list[tuple]:
        return sorted(
            (
                period,
                start,
                rank,
                song_id,
                self.titles[song_id][0],
                self.artist_names.get(self.titles[song_id][1]),
                plays,
                listeners,
            )
            for period, start, rank, song_id, plays, listeners in self._most_played(
                lambda play: play.song_id
            )
        )

    def top_artists(self) -> list[tuple]:
        return sorted(
            (period, start, rank, artist_id, self.artist_names.get(artist_id), plays, listeners)
            for period, start, rank, artist_id, plays, listeners in self._most_played(
                lambda play: play.artist_id
            )
        )

    def plays_by_weekday_hour(self) -> list[tuple]:
        cells: dict[tuple[int, int], list[Play]] = defaultdict(list)
        for play in self.plays:
            sunday_first = play.start_time.isoweekday() % 7
            cells[sunday_first, play.start_time.hour].append(play)
        return sorted(
            (
                weekday,
                hour,
                calendar.day_name[(weekday - 1) % 7],
                len(plays),
                len({p.user_id for p in plays}),
            )
            for (weekday, hour), plays in cells.items()
        )

    def plays_by_level(self) -> list[tuple]:
        groups: dict[tuple[date, str], list[Play]] = defaultdict(list)
        for play in self.plays:
            groups[play.start_time.date(), play.level or "unknown"].append(play)
        return sorted(
            (
                day,
                level,
                len(plays),
                len({p.user_id for p in plays}),
                len({p.session_id for p in plays}),
            )
            for (day, level), plays in groups.items()
        )

    def by_user(self) -> dict[int, list[Play]]:
        users: dict[int, list[Play]] = defaultdict(list)
        for play in sorted(self.plays, key=lambda p: (p.start_time, p.songplay_id)):
            users[play.user_id].append(play)
        return users

    def level_changes(self) -> list[tuple]:
        rows = []
        for user_id, plays in self.by_user().items():
            steps = [
                (before, after)
                for before, after in zip(plays, plays[1:], strict=False)
                if before.level != after.level
            ]
            if not steps:
                continue
            rows.append(
                (
                    user_id,
                    *self.names[user_id],
                    plays[0].level,
                    plays[-1].level,
                    len(steps),
                    sum(1 for b, a in steps if (b.level, a.level) == ("free", "paid")),
                    sum(1 for b, a in steps if (b.level, a.level) == ("paid", "free")),
                    steps[0][1].start_time,
                    steps[-1][1].start_time,
                )
            )
        return sorted(rows)

    def recent_plays(self) -> list[tuple]:
        rows = []
        for user_id, plays in self.by_user().items():
            for rank, play in enumerate(reversed(plays[-TOP_N:]), 1):
                title = self.titles[play.song_id][0] if play.song_id else None
                rows.append(
                    (
                        user_id,
                        rank,
                        play.songplay_id,
                        play.start_time,
                        play.song_id,
                        title,
                        play.artist_id,
                        self.artist_names.get(play.artist_id),
                    )
                )
        return sorted(rows)
