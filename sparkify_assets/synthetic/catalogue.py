"""The synthetic song catalogue: ids shaped like the Million Song Dataset's, artists, songs, and
what a play of each looks like in the log.

Songs are yielded one at a time and only the part the event generator needs is kept (the
``Catalogue`` of tracks), so memory stays flat for hundreds of thousands of songs. A few songs come
with a second version of the same title and artist, so a play must use the duration to match.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from sparkify_assets.synthetic.vocabulary import (
    ARTIST_LOCATIONS,
    SONG_ENCODER,
    UNICODE_STAGE_NAMES,
    double_mojibake,
    log_json,
    made_up_artist_name,
    made_up_title,
    random_duration,
)

_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


_LETTERS = _ID_ALPHABET[10:]


_SERIAL_DIGITS = 6


SERIAL_SPACE = len(_ID_ALPHABET) ** _SERIAL_DIGITS


_SERIAL_STRIDE = 1_345_325_471  # coprime with 36 (a bijection), near the golden ratio (well spread)


def _serial(index: int, salt: int) -> str:
    """Six scrambled base-36 characters, distinct for each index, so ids need no lookup set."""
    value = (index * _SERIAL_STRIDE + salt) % SERIAL_SPACE
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
        self._salts = {prefix: rng.randrange(SERIAL_SPACE) for prefix in ("TR", "SO", "AR")}
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
        return SONG_ENCODER.encode(
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
        name = rng.choice(UNICODE_STAGE_NAMES) if index == 0 else made_up_artist_name(rng)
        times_used[name] = times_used.get(name, 0) + 1
        if times_used[name] > 1:
            name = f"{name} {times_used[name]}"
        located = rng.random() < 0.45  # the real sample has null coordinates in 40 of 71 songs
        artists.append(
            _Artist(
                artist_id=ids.artist_id(index),
                name=name,
                location="" if rng.random() < 0.4 else rng.choice(ARTIST_LOCATIONS),
                latitude=round(rng.uniform(-45.0, 65.0), 5) if located else None,
                longitude=round(rng.uniform(-125.0, 150.0), 5) if located else None,
            )
        )
    return artists


def catalogue_songs(rng: random.Random, count: int) -> Iterator[_Song]:
    """`count` songs. Artists get a first song in turn, then popular artists get more. A few
    songs are followed by a second version with the same title and artist, another duration."""
    ids = _IdMaker(rng, count)
    artists = _make_artists(rng, ids, _artist_count(count))
    unused_artists = iter(artists)
    has_versions = False
    index = 0
    while index < count:
        artist = next(unused_artists, None) or artists[int(len(artists) * rng.random() ** 2)]
        original = _make_song(rng, ids, index, artist, made_up_title(rng), random_duration(rng))
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
    duration = random_duration(rng)
    while duration == taken:
        duration = random_duration(rng)
    return duration


class Track(NamedTuple):
    """The artist, song and length columns of a NextSong row, already as JSON literals."""

    artist: str
    song: str
    length: str
    seconds: float


NO_TRACK = Track("null", "null", "null", 0.0)


_MANGLED_TRACKS_KEPT = 2_500


def _log_track(title: str, artist_name: str, seconds: float) -> Track:
    return Track(
        log_json(double_mojibake(artist_name)),
        log_json(double_mojibake(title)),
        log_json(seconds),
        seconds,
    )


@dataclass
class Catalogue:
    """What the event generator needs to know about the songs written to disk."""

    matchable: list[Track]  # ASCII songs: the log spells them exactly as the song file does
    matchable_keys: set[tuple[str, str]]  # (song, artist) literals of the matchable tracks
    mangled: list[Track]  # some non-ASCII songs, spelled as mojibake so they never match

    def add(self, song: _Song) -> None:
        track = _log_track(song.title, song.artist.name, song.duration)
        if (song.title + song.artist.name).isascii():
            self.matchable.append(track)
            self.matchable_keys.add((track.song, track.artist))
        elif len(self.mangled) < _MANGLED_TRACKS_KEPT:
            self.mangled.append(track)


def unmatched_tracks(rng: random.Random, catalogue: Catalogue, count: int) -> list[Track]:
    """Plays that match no song: made-up tracks plus catalogue songs spelled as mojibake."""
    tracks = catalogue.mangled[: count // 20]
    while len(tracks) < count:
        track = _log_track(made_up_title(rng), made_up_artist_name(rng), random_duration(rng))
        if (track.song, track.artist) not in catalogue.matchable_keys:
            tracks.append(track)
    rng.shuffle(tracks)  # the pick favours the front of the list; spread the mojibake out
    return tracks


def unmatched_pool_size(events: int) -> int:
    return min(50_000, max(200, events // 5))


class Jukebox:
    """Chooses what each NextSong row plays: a catalogue song with probability match_share."""

    def __init__(
        self,
        rng: random.Random,
        matchable: list[Track],
        unmatched: list[Track],
        match_share: float,
    ) -> None:
        self._rng = rng
        self._matchable = matchable
        self._unmatched = unmatched
        self._match_share = match_share

    def pick(self) -> Track:
        rng = self._rng
        wants_match = rng.random() < self._match_share and self._matchable
        pool = self._matchable if wants_match else self._unmatched
        # Squaring the uniform draw favours the front of the pool: a few hits and a long tail.
        return pool[int(len(pool) * rng.random() ** 2)]
