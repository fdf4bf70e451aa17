"""The rules of meaning of the record contract: which keys a kind of record must have a value for.

Type rules (``records``) say what a value may be; these say which values a kind of record must
have, as the data itself shows: in the public sample and in every generated data set, a
``Logged In`` event has a userId, a ``NextSong`` event has a song, an artist and a length. A
record breaking one is quarantined with the rule's reason like any bad record, so a renamed key
(every ``Logged In`` event without a userId) trips the reject share instead of loading a day of
anonymous plays. Rules name keys; ``records`` checks them against its fields, and compiles them
into its fast path (``row_compiler``); ``sql.redshift_drift`` renders them as SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Meaning:
    """A rule of meaning: in the records it applies to, each of ``keys`` holds a value.

    ``when`` (key, value) limits the rule to the records whose key holds that value. A value is
    anything but null and, unless ``empty_ok``, the empty string.
    """

    keys: tuple[str, ...]
    when: tuple[str, str] | None = None
    empty_ok: bool = False
    why: str = ""

    def reason(self, key: str) -> str:
        if self.when is not None:
            return f"{self.when[1]} event without {key}"
        return f"{key} is missing" if self.empty_ok else f"{key} is missing or empty"

    def broken_by(self, record: dict) -> str | None:
        """The reason for the first of ``keys`` the record breaks the rule on, or None."""
        if self.when is not None and record.get(self.when[0]) != self.when[1]:
            return None
        for key in self.keys:
            value = record.get(key)
            if value is None or (value == "" and not self.empty_ok):
                return self.reason(key)
        return None


def broken_meaning(rules: Iterable[Meaning], record: dict) -> str | None:
    for rule in rules:
        reason = rule.broken_by(record)
        if reason is not None:
            return reason
    return None


# The rules, each true of every record of the public sample, of the
# bundled sample and of the generator's data (sparkify_assets_tests/test_shape.py checks all
# three). Logged-out events carry userId "" and no name, location or user agent; everything else
# below always has a value.
_PERSON = ("firstName", "lastName", "gender", "location", "registration", "userAgent")
EVENT_RULES: tuple[Meaning, ...] = (
    Meaning(("auth", "level", "method", "page", "status"), why="every event says what it was"),
    Meaning(("userId",), empty_ok=True, why="'' is a logged-out event; absent is not"),
    Meaning(("userId", *_PERSON), when=("auth", "Logged In"), why="a logged-in user is known"),
    Meaning(("song", "artist", "length"), when=("page", "NextSong"), why="a play names a song"),
)
SONG_RULES: tuple[Meaning, ...] = (
    Meaning(("num_songs", "artist_name", "title", "duration", "year"), why="a song is named"),
    # '' when unknown, as published; never absent.
    Meaning(("artist_location",), empty_ok=True, why="'' when unknown, never absent"),
)
