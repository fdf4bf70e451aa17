"""Synthetic Sparkify data, byte-compatible with the public Udacity sample.

The output has the same layout and serialisation as the public sample
(``shared/acceptance/udacity_sample``):

* ``song_data/A/B/C/TRABC….json``: one song object per file, written by Python's default
  ``json.dumps`` (``", "`` and ``": "`` separators, non-ASCII as ``\\uXXXX``, no final newline).
* ``log_data/YYYY/MM/YYYY-MM-DD-events.json``: one event per line in compact JSON. ``/`` is
  escaped as ``\\/``, the text is pure ASCII, there is no newline after the last line, and the
  lines are in ts order.

The real sample has one play that matches a song. Here ``match_share`` of the plays match a
generated song by title, artist name and duration, so joins give useful numbers. The quirks of
the real data are kept: double-encoded artist and song names in the log, a ``userId`` that is
``""`` when logged out, userAgents in literal quotes, registration written as a float, and users
whose level changes partway through.

Events are produced day by day. Within a day, sessions start in time order and run side by side.
A heap merges their events, so memory grows with the number of sessions open at once, not
with ``events``.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import json
import math
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

# --- serialisation --------------------------------------------------------------------------

_LOG_ENCODER = json.JSONEncoder(separators=(",", ":"))  # ensure_ascii stays on, as in the logs
_SONG_ENCODER = json.JSONEncoder()  # Python's defaults are exactly the song files' format


def _log_json(value: str | float | None) -> str:
    """One value as the log files spell it: ASCII only, and '/' escaped as '\\/'."""
    return _LOG_ENCODER.encode(value).replace("/", "\\/")


def _double_mojibake(text: str) -> str:
    """Spell text like the public logs do: UTF-8 bytes read as Latin-1, twice. ASCII is kept."""
    for _ in range(2):
        text = text.encode("utf-8").decode("latin-1")
    return text


# --- vocabulary ----------------------------------------------------------------------------

_ADJECTIVES = (
    "Electric",
    "Silent",
    "Golden",
    "Broken",
    "Midnight",
    "Velvet",
    "Crimson",
    "Lonely",
    "Wild",
    "Hollow",
    "Neon",
    "Paper",
    "Burning",
    "Frozen",
    "Secret",
    "Distant",
    "Sweet",
    "Restless",
    "Silver",
    "Faded",
    "Endless",
    "Savage",
    "Gentle",
    "Little",
    "Blue",
    "Cosmic",
    "Bitter",
    "Holy",
    "Lazy",
    "Wicked",
    "Quiet",
    "Northern",
    "Summer",
    "Winter",
    "Rusty",
    "Shiny",
    "Crooked",
    "Lucky",
    "Stolen",
    "Hidden",
    "Radiant",
    "Dusty",
    "Heavy",
    "Tender",
    "Atomic",
)
_NOUNS = (
    "Heart",
    "River",
    "Highway",
    "Dream",
    "Fire",
    "Moon",
    "Garden",
    "Mirror",
    "Shadow",
    "Ocean",
    "City",
    "Storm",
    "Light",
    "Road",
    "Window",
    "Kingdom",
    "Rain",
    "Echo",
    "Machine",
    "Island",
    "Letter",
    "Horizon",
    "Train",
    "Angel",
    "Ghost",
    "Thunder",
    "Valley",
    "Sky",
    "Diamond",
    "Harbor",
    "Radio",
    "Satellite",
    "Forest",
    "Desert",
    "Signal",
    "Tide",
    "Lantern",
    "Bridge",
    "Engine",
    "Parade",
    "Feather",
    "Comet",
    "Candle",
    "Tiger",
    "Wolf",
)
_PHRASES = (
    "Hold Me",
    "Take Me Home",
    "Don't Let Go",
    "Run Away",
    "Come Back",
    "Dance With Me",
    "Wait For Me",
    "Fall Into",
    "Dreaming Of",
    "Call Me",
    "Tell Me Why",
    "Say It Again",
    "Never Leave",
    "Bring Back",
    "Follow the",
    "Chasing the",
    "Waiting on the",
    "Lost In the",
)
_VERSION_TAGS = ("Live", "Remix", "Acoustic", "Radio Edit", "Album Version", "Demo", "Remastered")
_COLLECTIVES = (
    "Band",
    "Orchestra",
    "Collective",
    "Trio",
    "Quartet",
    "Project",
    "Experience",
    "Ensemble",
    "Brothers",
    "Sisters",
    "Club",
    "Society",
)
_MALE_NAMES = (
    "Walter",
    "Kevin",
    "Jacob",
    "Ryan",
    "Aiden",
    "Jayden",
    "Tegan",
    "Lucas",
    "Noah",
    "Ethan",
    "Mason",
    "Logan",
    "Elijah",
    "Caleb",
    "Dylan",
    "Connor",
    "Austin",
    "Wyatt",
    "Owen",
    "Isaac",
    "Samuel",
    "Henry",
    "Adrian",
    "Colin",
    "Damian",
    "Oliver",
    "Miles",
    "Jordan",
    "Evan",
    "Theo",
)
_FEMALE_NAMES = (
    "Kaylee",
    "Lily",
    "Chloe",
    "Jacqueline",
    "Tegan",
    "Sara",
    "Layla",
    "Ava",
    "Emma",
    "Olivia",
    "Sophia",
    "Isabella",
    "Mia",
    "Amelia",
    "Harper",
    "Evelyn",
    "Abigail",
    "Ella",
    "Scarlett",
    "Grace",
    "Hailey",
    "Aubrey",
    "Zoey",
    "Nora",
    "Riley",
    "Stella",
    "Hannah",
    "Violet",
    "Claire",
)
_LAST_NAMES = (
    "Frye",
    "Summers",
    "Koch",
    "Arellano",
    "Levine",
    "Lynch",
    "Cruz",
    "Griffin",
    "Jones",
    "Robertson",
    "Harrell",
    "Moore",
    "Taylor",
    "Anderson",
    "Thomas",
    "Jackson",
    "White",
    "Harris",
    "Martin",
    "Thompson",
    "Garcia",
    "Martinez",
    "Robinson",
    "Clark",
    "Rodriguez",
    "Lewis",
    "Lee",
    "Walker",
    "Hall",
    "Allen",
    "Young",
    "King",
    "Wright",
    "Lopez",
    "Hill",
    "Scott",
    "Green",
    "Adams",
    "Baker",
    "Gonzalez",
    "Nelson",
    "Carter",
    "Mitchell",
    "Perez",
    "Roberts",
    "Turner",
    "Phillips",
    "Campbell",
    "Parker",
    "Evans",
)
# Proper Unicode goes into the song files; the log spells these names as mojibake.
_UNICODE_STAGE_NAMES = (
    "Björk",
    "Sigur Rós",
    "Röyksopp",
    "Mötley Crüe",
    "Beyoncé",
    "Motörhead",
    "Café Tacvba",
    "Maná",
    "Zoé",
    "Françoise Hardy",
    "Édith Piaf",
    "Jóhann Jóhannsson",
    "Sinéad O'Connor",
    "Habib Koité",
    "Bebel Gilberto e Seu Jorge",
    "Los Niños Cantores",
    "Caetano Veloso & Gal Costa",
)
_UNICODE_FIRST_NAMES = ("José", "Zoé", "Björn", "Sinéad", "Françoise", "Jóhann", "Søren", "Inés")
_UNICODE_LAST_NAMES = ("González", "Müller", "Sørensen", "Núñez", "Öztürk", "Lindström", "Ibáñez")
_UNICODE_TITLE_WORDS = (
    "Corazón",
    "Canción",
    "Mañana",
    "Été",
    "Déjà Vu",
    "Façade",
    "Niño",
    "Über Alles",
    "Straße",
    "São Paulo",
    "Crème Brûlée",
    "Smörgåsbord",
    "Naïve",
    "Señorita",
    "Résumé",
    "Ça Va",
)
_ARTIST_LOCATIONS = (
    "Dubai UAE",
    "California - LA",
    "Nashville, TN.",
    "London, England",
    "New York, NY",
    "Chicago, IL",
    "Seattle, WA",
    "Austin, TX",
    "Detroit, MI",
    "Atlanta, GA",
    "Kingston, Jamaica",
    "Berlin, Germany",
    "Paris, France",
    "Toronto, Ontario, Canada",
    "Melbourne, Australia",
    "Manchester, England",
    "Glasgow, Scotland",
    "Dublin, Ireland",
    "Stockholm, Sweden",
    "Los Angeles/Hollywood",
    "Brooklyn, NY",
    "São Paulo, Brazil",
    "Reykjavík, Iceland",
    "Montréal, Québec",
    "Zürich, Switzerland",
    "Bogotá, Colombia",
)
_LISTENER_LOCATIONS = (
    "San Francisco-Oakland-Hayward, CA",
    "Portland-South Portland, ME",
    "Lansing-East Lansing, MI",
    "Chicago-Naperville-Elgin, IL-IN-WI",
    "Atlanta-Sandy Springs-Roswell, GA",
    "Waterloo-Cedar Falls, IA",
    "Lake Havasu City-Kingman, AZ",
    "San Jose-Sunnyvale-Santa Clara, CA",
    "Tampa-St. Petersburg-Clearwater, FL",
    "New York-Newark-Jersey City, NY-NJ-PA",
    "Harrisburg-Carlisle, PA",
    "Phoenix-Mesa-Scottsdale, AZ",
    "Houston-The Woodlands-Sugar Land, TX",
    "Los Angeles-Long Beach-Anaheim, CA",
    "Seattle-Tacoma-Bellevue, WA",
    "Columbia, SC",
    "Birmingham-Hoover, AL",
    "Red Bluff, CA",
    "Detroit-Warren-Dearborn, MI",
    "Winston-Salem, NC",
    "Dallas-Fort Worth-Arlington, TX",
    "Miami-Fort Lauderdale-West Palm Beach, FL",
)
_USER_AGENTS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/36.0.1985.143 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.78.2 (KHTML, like Gecko) "
    "Version/7.0.6 Safari/537.78.2",
    "Mozilla/5.0 (Windows NT 5.1; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Ubuntu Chromium/36.0.1985.125 Chrome/36.0.1985.125 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/37.0.2062.94 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/36.0.1985.125 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.3; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/36.0.1985.143 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 "
    "(KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53",
)


def _made_up_title(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.04:
        return _unicode_title(rng)
    if roll < 0.45:
        return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    if roll < 0.75:
        return f"{rng.choice(_PHRASES)} {rng.choice(_NOUNS)}"
    if roll < 0.9:
        return f"{rng.choice(_NOUNS)} of {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s"
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} ({rng.choice(_VERSION_TAGS)})"


def _unicode_title(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return f"¿Dónde va {rng.choice(_FEMALE_NAMES + _MALE_NAMES)}?"
    return f"{rng.choice(_UNICODE_TITLE_WORDS)} {rng.choice(_NOUNS)}"


def _made_up_artist_name(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.02:
        return rng.choice(_UNICODE_STAGE_NAMES)
    if roll < 0.05:
        return f"{rng.choice(_UNICODE_FIRST_NAMES)} {rng.choice(_UNICODE_LAST_NAMES)}"
    if roll < 0.3:
        return f"{rng.choice(_MALE_NAMES + _FEMALE_NAMES)} {rng.choice(_LAST_NAMES)}"
    if roll < 0.5:
        return f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}s"
    if roll < 0.65:
        return f"{rng.choice(_MALE_NAMES + _FEMALE_NAMES)} & The {rng.choice(_NOUNS)}s"
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(_COLLECTIVES)}"


def _random_duration(rng: random.Random) -> float:
    # Five decimals, like every duration and length in the public sample.
    return round(rng.uniform(20.0, 600.0), 5)


# --- identifiers -----------------------------------------------------------------------------

_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LETTERS = _ID_ALPHABET[10:]
_SERIAL_DIGITS = 6
_SERIAL_SPACE = len(_ID_ALPHABET) ** _SERIAL_DIGITS
_SERIAL_STRIDE = 1_345_325_471  # coprime with 36 (a bijection), near the golden ratio (well spread)


def _serial(index: int, salt: int) -> str:
    """Six scrambled base-36 characters, distinct for each index, so ids need no lookup set."""
    value = (index * _SERIAL_STRIDE + salt) % _SERIAL_SPACE
    characters = []
    for _ in range(_SERIAL_DIGITS):
        value, digit = divmod(value, len(_ID_ALPHABET))
        characters.append(_ID_ALPHABET[digit])
    return "".join(characters)


def _random_chars(rng: random.Random, alphabet: str, count: int) -> str:
    return "".join(rng.choices(alphabet, k=count))


class _IdMaker:
    """Unique 18-character ids shaped like the Million Song Dataset's (TR…, SO…, AR…)."""

    def __init__(self, rng: random.Random, songs: int) -> None:
        self._rng = rng
        self._salts = {prefix: rng.randrange(_SERIAL_SPACE) for prefix in ("TR", "SO", "AR")}
        self._songs = songs
        # A couple of dozen songs per folder. Creating files spread over many folders is several
        # times slower than over few, and this is where 400k songs spend their time.
        self._folders = max(1, min(len(_LETTERS) ** 3, songs // 24))

    def track_id(self, index: int) -> str:
        # Characters 3-5 name the folders (A/A/C/TRAAC…), so they are letters. Songs fill the
        # folders in turn, so each folder's files are written together.
        folder = index * self._folders // self._songs
        folder_letters = "".join(_LETTERS[folder // 26**power % 26] for power in (2, 1, 0))
        return (
            "TR"
            + folder_letters
            + _random_chars(self._rng, _LETTERS, 2)
            + _random_chars(self._rng, _ID_ALPHABET, 5)
            + _serial(index, self._salts["TR"])
        )

    def song_id(self, index: int) -> str:
        return self._other_id("SO", index)

    def artist_id(self, index: int) -> str:
        return self._other_id("AR", index)

    def _other_id(self, prefix: str, index: int) -> str:
        return (
            prefix
            + _random_chars(self._rng, _ID_ALPHABET, 10)
            + _serial(index, self._salts[prefix])
        )


# --- song catalogue --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Artist:
    artist_id: str
    name: str
    location: str
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True, slots=True)
class _Song:
    track_id: str
    artist: _Artist
    song_id: str
    title: str
    duration: float
    year: int

    def file_text(self) -> str:
        # Insertion order is the key order of the real files.
        return _SONG_ENCODER.encode(
            {
                "num_songs": 1,
                "artist_id": self.artist.artist_id,
                "artist_latitude": self.artist.latitude,
                "artist_longitude": self.artist.longitude,
                "artist_location": self.artist.location,
                "artist_name": self.artist.name,
                "song_id": self.song_id,
                "title": self.title,
                "duration": self.duration,
                "year": self.year,
            }
        )


def _artist_count(songs: int) -> int:
    # Two artists for every three songs, so for 2 or more songs some artists have several.
    return max(1, songs * 2 // 3) if songs else 0


def _make_artists(rng: random.Random, ids: _IdMaker, count: int) -> list[_Artist]:
    artists = []
    times_used: dict[str, int] = {}  # keeps artist_name -> artist_id one-to-one
    for index in range(count):
        # The first artist always has a Unicode name, so even tiny catalogues have that quirk.
        name = rng.choice(_UNICODE_STAGE_NAMES) if index == 0 else _made_up_artist_name(rng)
        times_used[name] = times_used.get(name, 0) + 1
        if times_used[name] > 1:
            name = f"{name} {times_used[name]}"
        located = rng.random() < 0.45  # the real sample has null coordinates in 40 of 71 songs
        artists.append(
            _Artist(
                artist_id=ids.artist_id(index),
                name=name,
                location="" if rng.random() < 0.4 else rng.choice(_ARTIST_LOCATIONS),
                latitude=round(rng.uniform(-45.0, 65.0), 5) if located else None,
                longitude=round(rng.uniform(-125.0, 150.0), 5) if located else None,
            )
        )
    return artists


def _catalogue_songs(rng: random.Random, count: int) -> Iterator[_Song]:
    """`count` songs. Artists get a first song in turn, then popular artists get more. A few
    songs are followed by a second version with the same title and artist, another duration."""
    ids = _IdMaker(rng, count)
    artists = _make_artists(rng, ids, _artist_count(count))
    unused_artists = iter(artists)
    has_versions = False
    index = 0
    while index < count:
        artist = next(unused_artists, None) or artists[int(len(artists) * rng.random() ** 2)]
        original = _make_song(rng, ids, index, artist, _made_up_title(rng), _random_duration(rng))
        yield original
        index += 1
        # Only ASCII songs can match a play, so only they get versions that matter. The first
        # one always gets a version, and it sits at the popular front of the catalogue, so even
        # tiny data sets need the duration to pick the right song.
        matchable = (original.title + artist.name).isascii()
        if index < count and matchable and (not has_versions or rng.random() < 0.03):
            yield _make_song(
                rng, ids, index, artist, original.title, _other_duration(rng, original.duration)
            )
            index += 1
            has_versions = True


def _make_song(
    rng: random.Random, ids: _IdMaker, index: int, artist: _Artist, title: str, duration: float
) -> _Song:
    return _Song(
        track_id=ids.track_id(index),
        artist=artist,
        song_id=ids.song_id(index),
        title=title,
        duration=duration,
        year=0 if rng.random() < 0.6 else rng.randint(1955, 2010),
    )


def _other_duration(rng: random.Random, taken: float) -> float:
    duration = _random_duration(rng)
    while duration == taken:
        duration = _random_duration(rng)
    return duration


# --- what a play can look like in the log ----------------------------------------------------


class _Track(NamedTuple):
    """The artist, song and length columns of a NextSong row, already as JSON literals."""

    artist: str
    song: str
    length: str
    seconds: float


_NO_TRACK = _Track("null", "null", "null", 0.0)
_MANGLED_TRACKS_KEPT = 2_500


def _log_track(title: str, artist_name: str, seconds: float) -> _Track:
    return _Track(
        _log_json(_double_mojibake(artist_name)),
        _log_json(_double_mojibake(title)),
        _log_json(seconds),
        seconds,
    )


@dataclass
class _Catalogue:
    """What the event generator needs to know about the songs written to disk."""

    matchable: list[_Track]  # ASCII songs: the log spells them exactly as the song file does
    matchable_keys: set[tuple[str, str]]  # (song, artist) literals of the matchable tracks
    mangled: list[_Track]  # some non-ASCII songs, spelled as mojibake so they never match

    def add(self, song: _Song) -> None:
        track = _log_track(song.title, song.artist.name, song.duration)
        if (song.title + song.artist.name).isascii():
            self.matchable.append(track)
            self.matchable_keys.add((track.song, track.artist))
        elif len(self.mangled) < _MANGLED_TRACKS_KEPT:
            self.mangled.append(track)


def _write_song_files(rng: random.Random, song_data: Path, count: int) -> _Catalogue:
    catalogue = _Catalogue([], set(), [])
    song_data.mkdir(parents=True)
    # Plain strings and os.path: pathlib costs more than the write itself for 400k tiny files.
    made_folders: set[str] = set()
    for song in _catalogue_songs(rng, count):
        folder = os.path.join(song_data, *song.track_id[2:5])  # TRABC… lives in A/B/C/
        if folder not in made_folders:
            os.makedirs(folder, exist_ok=True)
            made_folders.add(folder)
        with open(os.path.join(folder, f"{song.track_id}.json"), "wb") as file:
            file.write(song.file_text().encode("ascii"))
        catalogue.add(song)
    return catalogue


def _unmatched_tracks(rng: random.Random, catalogue: _Catalogue, count: int) -> list[_Track]:
    """Plays that match no song: made-up tracks plus catalogue songs spelled as mojibake."""
    tracks = catalogue.mangled[: count // 20]
    while len(tracks) < count:
        track = _log_track(_made_up_title(rng), _made_up_artist_name(rng), _random_duration(rng))
        if (track.song, track.artist) not in catalogue.matchable_keys:
            tracks.append(track)
    rng.shuffle(tracks)  # the pick favours the front of the list; spread the mojibake out
    return tracks


def _unmatched_pool_size(events: int) -> int:
    return min(50_000, max(200, events // 5))


class _Jukebox:
    """Chooses what each NextSong row plays: a catalogue song with probability match_share."""

    def __init__(
        self,
        rng: random.Random,
        matchable: list[_Track],
        unmatched: list[_Track],
        match_share: float,
    ) -> None:
        self._rng = rng
        self._matchable = matchable
        self._unmatched = unmatched
        self._match_share = match_share

    def pick(self) -> _Track:
        rng = self._rng
        wants_match = rng.random() < self._match_share and self._matchable
        pool = self._matchable if wants_match else self._unmatched
        # Squaring the uniform draw favours the front of the pool: a few hits and a long tail.
        return pool[int(len(pool) * rng.random() ** 2)]


def _make_jukebox(
    rng: random.Random, song_data: Path, songs: int, events: int, match_share: float
) -> _Jukebox:
    catalogue = _write_song_files(rng, song_data, songs)
    unmatched = _unmatched_tracks(rng, catalogue, _unmatched_pool_size(events))
    return _Jukebox(rng, catalogue.matchable, unmatched, match_share)


# --- pages -----------------------------------------------------------------------------------


class _Page(NamedTuple):
    """The page, method and status columns, already as JSON literals."""

    page: str
    method: str
    status: str


def _page(name: str, method: str, status: int) -> _Page:
    return _Page(_log_json(name), _log_json(method), str(status))


_NEXT_SONG = _page("NextSong", "PUT", 200)
_HOME = _page("Home", "GET", 200)
_LOGIN = _page("Login", "PUT", 307)
_LOGOUT = _page("Logout", "PUT", 307)
_UPGRADE = _page("Upgrade", "GET", 200)
_DOWNGRADE = _page("Downgrade", "GET", 200)
_SUBMIT_UPGRADE = _page("Submit Upgrade", "PUT", 307)
_SUBMIT_DOWNGRADE = _page("Submit Downgrade", "PUT", 307)
_SETTINGS = _page("Settings", "GET", 200)
_SAVE_SETTINGS = _page("Save Settings", "PUT", 307)
_HELP = _page("Help", "GET", 200)
_ABOUT = _page("About", "GET", 200)
_ERROR = _page("Error", "GET", 404)


class _PageMenu(NamedTuple):
    pages: tuple[_Page, ...]
    cum_weights: tuple[int, ...]
    total: int


def _menu(*shares: tuple[_Page, int]) -> _PageMenu:
    pages, weights = zip(*shares, strict=True)
    return _PageMenu(pages, tuple(itertools.accumulate(weights)), sum(weights))


# Weights are the page counts of the public sample, split by auth.
_LOGGED_IN_PAGES = (
    (_NEXT_SONG, 6820),
    (_HOME, 635),
    (_LOGOUT, 90),
    (_SETTINGS, 56),
    (_HELP, 38),
    (_ABOUT, 22),
    (_SAVE_SETTINGS, 10),
    (_ERROR, 9),
)
_LOGGED_IN_MENUS = {
    "free": _menu(*_LOGGED_IN_PAGES, (_UPGRADE, 60)),
    "paid": _menu(*_LOGGED_IN_PAGES, (_DOWNGRADE, 60)),
}
_LOGGED_OUT_MENU = _menu((_HOME, 171), (_LOGIN, 92), (_ABOUT, 14), (_HELP, 9))
# How the real sample shows a plan change: look at the plan, submit, land on Home.
_PLAN_CHANGE = {
    "free": (_UPGRADE, _SUBMIT_UPGRADE, _HOME),
    "paid": (_DOWNGRADE, _SUBMIT_DOWNGRADE, _HOME),
}
_OTHER_LEVEL = {"free": "paid", "paid": "free"}
_LEVEL_JSON = {"free": '"free"', "paid": '"paid"'}


def _choose_page(rng: random.Random, logged_in: bool, level: str) -> _Page:
    menu = _LOGGED_IN_MENUS[level] if logged_in else _LOGGED_OUT_MENU
    # What rng.choices does, minus its overhead: this runs once per event.
    return menu.pages[bisect.bisect(menu.cum_weights, rng.random() * menu.total)]


# --- listeners -------------------------------------------------------------------------------


class _Identity(NamedTuple):
    """The user columns of a row, already as JSON literals."""

    auth: str
    first_name: str
    gender: str
    last_name: str
    location: str
    registration: str
    user_agent: str
    user_id: str


_LOGGED_OUT = _Identity('"Logged Out"', "null", "null", "null", "null", "null", "null", '""')
_MILLIS_QUIRK = 796  # every ts and registration in the public sample ends in .796 s
_PAID_SHARE = 0.25  # the real sample ends with 22 paid users out of 96


@dataclass(slots=True)
class _Listener:
    """A user. `level` changes when one of their sessions submits a plan change, so all of the
    user's sessions, including those running at the same time, agree on it."""

    identity: _Identity
    level: str
    plan_change_ms: int | None  # when to start changing plan; None when done or never

    def wants_plan_change(self, ts_ms: int) -> bool:
        return self.plan_change_ms is not None and ts_ms >= self.plan_change_ms


class _Population(NamedTuple):
    listeners: list[_Listener]
    cum_weights: list[float]

    def pick(self, rng: random.Random) -> _Listener:
        return rng.choices(self.listeners, cum_weights=self.cum_weights)[0]


def _listener_count(events: int) -> int:
    # The real sample has 97 users. Larger runs get a few more so each user is not unusually busy.
    return 100 + math.isqrt(events) // 10


def _make_identity(rng: random.Random, user_id: int, first_day_ms: int) -> _Identity:
    gender = rng.choice("MF")
    agent = rng.choice(_USER_AGENTS)
    registered_ms = first_day_ms - rng.randint(3_600, 120 * 86_400) * 1000 + _MILLIS_QUIRK
    return _Identity(
        auth=_log_json("Logged In"),
        first_name=_log_json(rng.choice(_MALE_NAMES if gender == "M" else _FEMALE_NAMES)),
        gender=_log_json(gender),
        last_name=_log_json(rng.choice(_LAST_NAMES)),
        location=_log_json(rng.choice(_LISTENER_LOCATIONS)),
        registration=_log_json(float(registered_ms)),
        # The real data quotes every agent except Firefox's.
        user_agent=_log_json(agent if "Firefox" in agent else f'"{agent}"'),
        user_id=_log_json(str(user_id)),
    )


def _make_population(
    rng: random.Random, count: int, first_day_ms: int, span_ms: int
) -> _Population:
    levels = ["paid" if rng.random() < _PAID_SHARE else "free" for _ in range(count)]
    # Heavy-tailed activity, paid users busier: in the real sample they play 4 of every 5 songs.
    activity = [
        min(rng.paretovariate(1.2), 40.0) * (3.0 if level == "paid" else 1.0) for level in levels
    ]
    # About 1 user in 12 changes plan (8 of 96 in the real sample). They are picked from the
    # busier half so that the change shows up even in small data sets.
    busier_half = sorted(range(count), key=activity.__getitem__, reverse=True)[: count // 2]
    plan_changers = set(rng.sample(busier_half, max(2, count // 12)))
    listeners = []
    for index, level in enumerate(levels):
        listeners.append(
            _Listener(
                identity=_make_identity(rng, index + 1, first_day_ms),
                level=level,
                plan_change_ms=(
                    first_day_ms + int(span_ms * rng.uniform(0.1, 0.9))
                    if index in plan_changers
                    else None
                ),
            )
        )
    return _Population(listeners, list(itertools.accumulate(activity)))


# --- sessions and days ----------------------------------------------------------------------

_LAST_SECOND_OF_DAY = 86_399
_MEAN_SESSION_EVENTS = 8.5  # 8056 events in 941 sessions in the public sample
_MEAN_SECONDS_PER_EVENT = 220.0  # mostly songs of about four minutes
_MAX_BROWSE_SECONDS = 40.0
_LOGGED_OUT_START_SHARE = 0.04


def _timestamp_ms(day_ms: int, second: float) -> int:
    return day_ms + int(second) * 1000 + _MILLIS_QUIRK


def _event_line(
    who: _Identity, page: _Page, track: _Track, level: str, item: int, session_id: int, ts: int
) -> str:
    # Keys in the order of the real files. Every value here is already a JSON literal.
    return (
        f'{{"artist":{track.artist},"auth":{who.auth},"firstName":{who.first_name},'
        f'"gender":{who.gender},"itemInSession":{item},"lastName":{who.last_name},'
        f'"length":{track.length},"level":{level},"location":{who.location},'
        f'"method":{page.method},"page":{page.page},"registration":{who.registration},'
        f'"sessionId":{session_id},"song":{track.song},"status":{page.status},"ts":{ts},'
        f'"userAgent":{who.user_agent},"userId":{who.user_id}}}'
    )


def _session_rows(
    rng: random.Random,
    jukebox: _Jukebox,
    listener: _Listener,
    session_id: int,
    size: int,
    start_second: float,
    day_ms: int,
) -> Iterator[tuple[int, str]]:
    """(ts, line) for each event of one session, in order. The session ends before midnight."""
    logged_in = rng.random() >= _LOGGED_OUT_START_SHARE
    # A session that starts late is sped up so that it ends before midnight on average; the
    # clamp below catches the rest.
    pace = min(1.0, (_LAST_SECOND_OF_DAY - start_second) / (size * _MEAN_SECONDS_PER_EVENT))
    plan_change: list[_Page] = []
    second = start_second
    for item in range(size):
        ts = _timestamp_ms(day_ms, second)
        # Only start a plan change that can reach its Submit row before the session ends.
        if logged_in and item + 1 < size and listener.wants_plan_change(ts):
            listener.plan_change_ms = None
            plan_change = list(_PLAN_CHANGE[listener.level])
        level = listener.level
        page = plan_change.pop(0) if plan_change else _choose_page(rng, logged_in, level)
        track = jukebox.pick() if page is _NEXT_SONG else _NO_TRACK
        who = listener.identity if logged_in else _LOGGED_OUT
        yield ts, _event_line(who, page, track, _LEVEL_JSON[level], item, session_id, ts)
        if page is _SUBMIT_UPGRADE or page is _SUBMIT_DOWNGRADE:
            listener.level = _OTHER_LEVEL[level]
        logged_in = page is _LOGIN or (logged_in and page is not _LOGOUT)
        dwell = track.seconds if page is _NEXT_SONG else rng.random() * _MAX_BROWSE_SECONDS
        second = min(second + dwell * pace, _LAST_SECOND_OF_DAY)


def _session_starts(rng: random.Random, count: int) -> Iterator[float]:
    """Sorted uniform seconds of the day. Each is drawn as the minimum of the uniforms still
    left, so the sorted list never has to be built."""
    fraction = 0.0
    for left in range(count, 0, -1):
        fraction += (1.0 - fraction) * (1.0 - rng.random() ** (1.0 / left))
        yield min(fraction * 86_400, _LAST_SECOND_OF_DAY)


def _session_sizes(rng: random.Random, events: int, sessions: int) -> Iterator[int]:
    """Sizes of `sessions` sessions, each at least 1, adding up to exactly `events`."""
    remaining = events
    for left in range(sessions, 0, -1):
        if left == 1:
            yield remaining
            return
        # Re-aim the mean at what is left, so the last session is not a giant catch-all.
        mean = remaining / left
        drawn = 1 + int(rng.expovariate(1.0 / max(mean - 0.5, 0.01)))
        size = min(drawn, remaining - (left - 1))
        remaining -= size
        yield size


# (ts of its next row, start order, that row, the rest of its rows)
_OpenSession = tuple[int, int, str, Iterator[tuple[int, str]]]


def _session_count(events: int) -> int:
    return max(1, min(events, round(events / _MEAN_SESSION_EVENTS))) if events else 0


def _day_lines(
    rng: random.Random,
    jukebox: _Jukebox,
    population: _Population,
    session_ids: Iterator[int],
    day_ms: int,
    events: int,
) -> Iterator[str]:
    """The day's log lines in ts order. Sessions overlap, so a heap holds the next row of
    each open session. The heap is keyed by (ts, start order), which keeps the order the same
    from run to run."""
    open_sessions: list[_OpenSession] = []
    sessions = _session_count(events)
    starts = zip(_session_starts(rng, sessions), _session_sizes(rng, events, sessions), strict=True)
    for order, (start_second, size) in enumerate(starts):
        start_ms = _timestamp_ms(day_ms, start_second)
        while open_sessions and open_sessions[0][0] <= start_ms:
            yield _take_earliest(open_sessions)
        rows = _session_rows(
            rng, jukebox, population.pick(rng), next(session_ids), size, start_second, day_ms
        )
        ts, line = next(rows)
        heapq.heappush(open_sessions, (ts, order, line, rows))
    while open_sessions:
        yield _take_earliest(open_sessions)


def _take_earliest(open_sessions: list[_OpenSession]) -> str:
    _, order, line, rows = open_sessions[0]
    following = next(rows, None)
    if following is None:
        heapq.heappop(open_sessions)
    else:
        heapq.heapreplace(open_sessions, (following[0], order, following[1], rows))
    return line


def _events_per_day(rng: random.Random, events: int, first_day: date, days: int) -> list[int]:
    """Uneven daily volumes (quieter weekends) that add up to `events`. Each day gets at least
    one event when there are enough."""
    weights = [
        rng.uniform(0.4, 1.6) * (0.6 if (first_day + timedelta(d)).weekday() >= 5 else 1.0)
        for d in range(days)
    ]
    floor = 1 if events >= days else 0
    per_weight = (events - floor * days) / sum(weights)
    shares = [weight * per_weight for weight in weights]
    counts = [floor + int(share) for share in shares]
    # Largest remainders get the events lost to rounding down.
    by_remainder = sorted(range(days), key=lambda d: shares[d] - int(shares[d]), reverse=True)
    for d in by_remainder[: events - sum(counts)]:
        counts[d] += 1
    return counts


def _write_lines(path: Path, lines: Iterator[str]) -> int:
    """Newline-separated, with no newline after the last line, as in the real files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(path, "w", encoding="ascii", newline="") as file:
        while chunk := list(itertools.islice(lines, 4096)):
            file.write(("\n" if written else "") + "\n".join(chunk))
            written += len(chunk)
    return written


def _day_file(log_data: Path, day: date) -> Path:
    return log_data / f"{day:%Y}" / f"{day:%m}" / f"{day.isoformat()}-events.json"


def _midnight_ms(day: date) -> int:
    return int(datetime.combine(day, time(), tzinfo=timezone.utc).timestamp()) * 1000


# --- public API ------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationSummary:
    """What generate() wrote."""

    events_written: int
    song_files_written: int
    day_files_written: int
    out_dir: Path

    def __str__(self) -> str:
        return (
            f"wrote {self.events_written} events in {self.day_files_written} day files and "
            f"{self.song_files_written} song files to {self.out_dir}"
        )


def _check_arguments(events: int, songs: int, days: int, match_share: float) -> None:
    if events < 0:
        raise ValueError(f"events must be 0 or more, got {events}")
    if not 0 <= songs < _SERIAL_SPACE:
        raise ValueError(f"songs must be between 0 and {_SERIAL_SPACE - 1}, got {songs}")
    if days < 1:
        raise ValueError(f"days must be 1 or more, got {days}")
    if not 0.0 <= match_share <= 1.0:
        raise ValueError(f"match_share must be between 0 and 1, got {match_share}")


def generate(
    out_dir: Path,
    *,
    events: int,
    songs: int,
    days: int,
    seed: int,
    first_day: date = date(2018, 11, 1),
    match_share: float = 0.3,
) -> GenerationSummary:
    """Write song_data/ and log_data/ for `days` days from `first_day` into out_dir.

    The same arguments always give byte-identical files. A folder that already has song_data/
    or log_data/ is refused, because old and new files would mix.
    """
    _check_arguments(events, songs, days, match_share)
    out_dir = Path(out_dir)
    song_data, log_data = out_dir / "song_data", out_dir / "log_data"
    for folder in (song_data, log_data):
        if folder.exists():
            raise ValueError(f"{folder} already exists; generate into a new or empty folder")
    rng = random.Random(seed)
    jukebox = _make_jukebox(rng, song_data, songs, events, match_share)
    first_day_ms = _midnight_ms(first_day)
    population = _make_population(rng, _listener_count(events), first_day_ms, days * 86_400_000)
    session_ids = itertools.count(1)
    written = 0
    log_data.mkdir(parents=True)
    for offset, day_events in enumerate(_events_per_day(rng, events, first_day, days)):
        day = first_day + timedelta(days=offset)
        lines = _day_lines(rng, jukebox, population, session_ids, _midnight_ms(day), day_events)
        written += _write_lines(_day_file(log_data, day), lines)
    return GenerationSummary(written, songs, days, out_dir)
