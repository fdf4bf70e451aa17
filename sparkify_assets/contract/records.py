"""The record contract: which JSON keys become which staging columns, and what makes a record bad.

A record travels file -> ``parse_events`` / ``parse_song`` -> one line of PostgreSQL COPY
text -> staging table. A record that cannot be decoded, is not a JSON object, or has a typed field
that does not convert goes to the quarantine (``load_rejects``) instead, with a short reason.
Nothing is dropped silently: for every file, records read = rows loaded + rows rejected.

The same contract drives the staging DDL (``sql.tables``) so column names, types and sizes cannot
drift apart. Sizes are in bytes because Redshift's VARCHAR(n) counts bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import islice
from typing import Protocol

import orjson

from sparkify_assets.contract.layout import day_bounds_ms
from sparkify_assets.contract.meaning import EVENT_RULES, SONG_RULES, Meaning, broken_meaning
from sparkify_assets.contract.row_compiler import compile_row
from sparkify_assets.contract.shape import KeyChange, KeyDrift

NULL = "\\N"  # COPY text format's NULL marker
INT32 = 2**31
INT64 = 2**63
RAW_RECORD_LIMIT = 60_000  # characters kept of a rejected record (Redshift VARCHAR max is 65535)
# The revision of the rules below that decide which records load and how (conversions, what is
# quarantined, the day check). Part of the staging tables' fingerprint (sql.fingerprint): raise it
# with any change of those rules, so an upgrade re-reads the days loaded under the old ones.
RULES_REVISION = 1
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_BOM = b"\xef\xbb\xbf"


class FieldKind(StrEnum):
    """How a JSON value is checked and converted, and which SQL type holds it."""

    TEXT = "text"
    INT = "int"
    BIGINT = "bigint"
    FLOAT = "float"
    USER_ID = "user_id"  # text that is '' or a whole number (logged-out events have '')


@dataclass(frozen=True)
class Field:
    """One JSON key of a source record and the staging column it lands in."""

    key: str
    column: str
    kind: FieldKind
    max_bytes: int | None = None
    required: bool = False
    description: str = ""

    @property
    def sql_type(self) -> str:
        return {
            FieldKind.TEXT: f"VARCHAR({self.max_bytes})",
            FieldKind.USER_ID: f"VARCHAR({self.max_bytes})",
            FieldKind.INT: "INTEGER",
            FieldKind.BIGINT: "BIGINT",
            FieldKind.FLOAT: "DOUBLE PRECISION",
        }[self.kind]


# Sizes are bytes (Redshift's VARCHAR(n) counts bytes) and are set here only: the staging DDL and
# the star columns copied from staging take them from these fields. Free text written by people
# (artist names, song titles, locations) gets 1024 bytes, i.e. 256 characters in any script:
# VARCHAR(256) is too small for real Million Song Dataset names, all the more as accented or
# non-Latin text takes 2-4 bytes a character. Oversized values are quarantined, never truncated.
FREE_TEXT_BYTES = 1024

EVENT_FIELDS: tuple[Field, ...] = (
    Field(
        "artist",
        "artist",
        FieldKind.TEXT,
        FREE_TEXT_BYTES,
        description="Artist name as logged (often mojibake)",
    ),
    Field("auth", "auth", FieldKind.TEXT, 32, description="'Logged In' or 'Logged Out'"),
    Field("firstName", "first_name", FieldKind.TEXT, 256),
    Field("gender", "gender", FieldKind.TEXT, 16),
    Field(
        "itemInSession",
        "item_in_session",
        FieldKind.INT,
        required=True,
        description="Position of the event in its session",
    ),
    Field("lastName", "last_name", FieldKind.TEXT, 256),
    Field("length", "length", FieldKind.FLOAT, description="Song length in seconds"),
    Field(
        "level",
        "level",
        FieldKind.TEXT,
        16,
        description="'free' or 'paid' at the time of the event",
    ),
    Field("location", "location", FieldKind.TEXT, FREE_TEXT_BYTES),
    Field("method", "method", FieldKind.TEXT, 16),
    Field("page", "page", FieldKind.TEXT, 64, description="App page; 'NextSong' is a song play"),
    Field(
        "registration", "registration", FieldKind.FLOAT, description="Registration epoch ms (float)"
    ),
    Field("sessionId", "session_id", FieldKind.INT, required=True),
    Field("song", "song", FieldKind.TEXT, FREE_TEXT_BYTES, description="Song title as logged"),
    Field("status", "status", FieldKind.INT, description="HTTP status"),
    Field(
        "ts",
        "ts",
        FieldKind.BIGINT,
        required=True,
        description="Event time, epoch milliseconds UTC",
    ),
    Field(
        "userAgent",
        "user_agent",
        FieldKind.TEXT,
        512,
        description="Often wrapped in literal quotes",
    ),
    Field(
        "userId",
        "user_id",
        FieldKind.USER_ID,
        32,
        description="User id as text; '' for logged-out events",
    ),
)

SONG_FIELDS: tuple[Field, ...] = (
    Field("num_songs", "num_songs", FieldKind.INT),
    Field("artist_id", "artist_id", FieldKind.TEXT, 32, required=True),
    Field("artist_latitude", "artist_latitude", FieldKind.FLOAT),
    Field("artist_longitude", "artist_longitude", FieldKind.FLOAT),
    Field("artist_location", "artist_location", FieldKind.TEXT, FREE_TEXT_BYTES),
    Field("artist_name", "artist_name", FieldKind.TEXT, FREE_TEXT_BYTES),
    Field("song_id", "song_id", FieldKind.TEXT, 32, required=True),
    Field("title", "title", FieldKind.TEXT, FREE_TEXT_BYTES),
    Field("duration", "duration", FieldKind.FLOAT, description="Seconds"),
    Field("year", "year", FieldKind.INT, description="0 when unknown"),
)


EVENT_KEYS = frozenset(f.key for f in EVENT_FIELDS)
SONG_KEYS = frozenset(f.key for f in SONG_FIELDS)


class BadRecord(ValueError):
    """A record that must be quarantined; the message is the human-readable reason."""


@dataclass(frozen=True)
class Reject:
    source: str
    line_number: int
    raw_record: str
    reason: str

    def copy_line(self) -> str:
        return (
            "\t".join(
                (
                    _escape(self.source),
                    str(self.line_number),
                    _escape(self.raw_record),
                    _escape(self.reason),
                )
            )
            + "\n"
        )


class RejectSink(Protocol):
    """Where rejected records go: a list, or the warehouse's spool file."""

    def append(self, reject: Reject, /) -> object: ...


@dataclass
class FileTally:
    """Reconciliation figures for one source file."""

    source: str
    records: int = 0
    loaded: int = 0
    rejected: int = 0
    fingerprint: str | None = None  # a song file's ETag or mtime-size; what a refresh compares
    keys: KeyDrift | None = None  # keys records lacked or had beyond the contract, if any

    def see_keys(self, keys, expected: frozenset[str], line_number: int) -> None:
        """Count a decoded record's keys against the contract's (``shape.KeyDrift.see``)."""
        if keys != expected:
            if self.keys is None:
                self.keys = KeyDrift()
            self.keys.see(keys, expected, line_number)

    def copy_line(self) -> str:
        """source, records, loaded, rejected, fingerprint as COPY text (load_audit's columns)."""
        fingerprint = r"\N" if self.fingerprint is None else _escape(self.fingerprint)
        return (
            f"{_escape(self.source)}\t{self.records}\t{self.loaded}\t{self.rejected}"
            f"\t{fingerprint}\n"
        )

    def add(self, other: FileTally) -> None:
        self.records += other.records
        self.loaded += other.loaded
        self.rejected += other.rejected


@dataclass(frozen=True)
class KeyChangeRow:
    """A drifted key of one file as a load_drift row (``shape.KeyChange`` and its source)."""

    source: str
    change: KeyChange

    def copy_line(self) -> str:
        """source, key, change, records, first_line as COPY text (load_drift's columns)."""
        change = self.change
        return (
            f"{_escape(self.source)}\t{_escape(change.key)}\t{change.change}\t{change.records}"
            f"\t{change.first_line}\n"
        )


def _escape(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _over_bytes(text: str, limit: int) -> bool:
    """More than ``limit`` bytes in UTF-8; only encodes when the characters could be that many."""
    return len(text) * 4 > limit and len(text.encode()) > limit


def _text(value: object, spec: Field) -> str:
    if type(value) is not str:
        raise BadRecord(f"{spec.key} is not a string")
    if "\x00" in value:
        raise BadRecord(f"{spec.key} contains a NUL character")
    limit = spec.max_bytes or 0
    if _over_bytes(value, limit):
        raise BadRecord(f"{spec.key} is longer than {limit} bytes")
    return _escape(value)


def _integer(value: object, spec: Field, bound: int) -> str:
    if type(value) is not int:
        raise BadRecord(f"{spec.key} is not an integer")
    if not -bound <= value < bound:
        raise BadRecord(f"{spec.key} is out of range")
    return str(value)


def _float(value: object, spec: Field) -> str:
    if type(value) is float:
        return repr(value)
    if type(value) is int:
        return str(value)
    raise BadRecord(f"{spec.key} is not a number")


def _user_id(value: object, spec: Field) -> str:
    # Logged-out events carry "" and stay "" in staging; anything else must be a whole number
    # because the star schema stores user_id as INTEGER.
    text = str(value) if type(value) is int else value
    if type(text) is not str or not (text == "" or (text.isascii() and text.isdigit())):
        raise BadRecord(f"{spec.key} is not a whole number")
    # Length first: the staging column is VARCHAR(max_bytes), and int() refuses very long digit
    # strings with a ValueError that is not a BadRecord.
    if len(text) > (spec.max_bytes or 0) or (text and int(text) >= INT32):
        raise BadRecord(f"{spec.key} is out of range")
    return text


def _converter(spec: Field) -> Callable[[object], str]:
    convert: Callable[[object, Field], str] = {
        FieldKind.TEXT: _text,
        FieldKind.INT: lambda value, f: _integer(value, f, INT32),
        FieldKind.BIGINT: lambda value, f: _integer(value, f, INT64),
        FieldKind.FLOAT: _float,
        FieldKind.USER_ID: _user_id,
    }[spec.kind]

    def convert_field(value: object) -> str:
        if value is None:
            if spec.required:
                raise BadRecord(f"{spec.key} is missing")
            return NULL
        return convert(value, spec)

    return convert_field


_EVENT_CONVERTERS = tuple((f.key, _converter(f)) for f in EVENT_FIELDS)
_SONG_CONVERTERS = tuple((f.key, _converter(f)) for f in SONG_FIELDS)
# The same rules compiled into one decoder + formatter per record shape: the fast path for clean
# lines. It only accepts; anything it does not accept goes field by field (see row_compiler).
_BOUNDS = {"int": INT32, "bigint": INT64}
_EVENT_ROW = compile_row(
    "Event", EVENT_FIELDS, EVENT_RULES, null=NULL, int_bounds=_BOUNDS, over_bytes=_over_bytes
)
_SONG_ROW = compile_row(
    "Song", SONG_FIELDS, SONG_RULES, null=NULL, int_bounds=_BOUNDS, over_bytes=_over_bytes
)


def _decode_object(raw: bytes) -> dict:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRecord("not valid UTF-8") from None
        raise BadRecord(f"not valid JSON ({err.msg})") from None
    if type(value) is not dict:
        raise BadRecord(f"not a JSON object (got {type(value).__name__})")
    return value


def _values(record: dict, converters: tuple, rules: tuple[Meaning, ...] = ()) -> list[str]:
    """The record's COPY values; BadRecord for the first rule it breaks (types, then meaning)."""
    get = record.get
    values = [convert(get(key)) for key, convert in converters]
    reason = broken_meaning(rules, record)
    if reason is not None:
        raise BadRecord(reason)
    return values


def raw_text(raw: bytes) -> str:
    """The record as far as it decodes, fit for a text column."""
    text = raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    return text[:RAW_RECORD_LIMIT]


def _exact_event_row(raw: bytes, tally: FileTally, line: int) -> tuple[str, int]:
    """COPY values and ts of an event line, decoded and converted field by field: slower than
    the fast path, but it names the reason when the line is bad. ``tally`` counts the record's
    keys first, whether it is good or bad."""
    record = _decode_object(raw)
    tally.see_keys(record.keys(), EVENT_KEYS, line)
    return "\t".join(_values(record, _EVENT_CONVERTERS, EVENT_RULES)), record["ts"]


def _song_row(raw: bytes, tally: FileTally) -> str:
    fast = _SONG_ROW(raw)
    if fast is not None:
        return fast[0]
    record = _decode_object(raw)
    tally.see_keys(record.keys(), SONG_KEYS, 1)
    return "\t".join(_values(record, _SONG_CONVERTERS, SONG_RULES))


# Rows per chunk parse_events yields: large enough that the per-chunk work (a join, a tally, a
# hand-over to the COPY) is noise, small enough that a chunk is a fraction of a MiB.
CHUNK_ROWS = 1000


def parse_events(
    lines: Iterable[bytes],
    source: str,
    day: date,
    tally: FileTally,
    rejects: RejectSink,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[bytes]:
    """COPY text for the staging_events rows of one day file, in chunks of whole rows.

    Columns: the EVENT_FIELDS columns, then event_date, source, line_number. Rejects are appended
    to ``rejects``; there is no "discard them" option, because a record is never dropped silently.
    ``tally`` is up to date after each chunk.
    """
    day_start, day_end = day_bounds_ms(day)
    suffix = f"\t{day.isoformat()}\t{_escape(source)}\t"
    fast_row = _EVENT_ROW
    lines = iter(lines)
    first = 1
    while batch := list(islice(lines, chunk_rows)):
        rows: list[bytes] = []
        append = rows.append
        for line_number, raw in enumerate(batch, first):
            # The fast path takes the line as read (JSON allows the newline at its end), and never
            # a blank line, a byte-order mark or a bad record: those are decided line by line.
            fast = fast_row(raw)
            if fast is not None and day_start <= fast[1].ts < day_end:
                append(f"{fast[0]}{suffix}{line_number}\n".encode())
                continue
            values = _checked_event(raw, line_number, source, day, tally, rejects)
            if values is not None:
                append(f"{values}{suffix}{line_number}\n".encode())
        first += len(batch)
        tally.loaded += len(rows)
        tally.records = tally.loaded + tally.rejected
        if rows:
            yield b"".join(rows)


def _checked_event(
    raw: bytes, line_number: int, source: str, day: date, tally: FileTally, rejects: RejectSink
) -> str | None:
    """The COPY values of a line the fast path did not take, or None: a blank line (layout, not
    a record) or a rejected record, which goes to ``rejects`` with its reason."""
    if line_number == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    if raw.isspace() or not raw:
        return None
    day_start, day_end = day_bounds_ms(day)
    fast = _EVENT_ROW(raw)
    if fast is not None and day_start <= fast[1].ts < day_end:
        return fast[0]
    raw = raw.rstrip(b"\r\n")
    try:
        values, ts = _exact_event_row(raw, tally, line_number)
        if not day_start <= ts < day_end:
            raise BadRecord(f"ts is outside the file's day {day.isoformat()}")
    except BadRecord as bad:
        tally.rejected += 1
        rejects.append(Reject(source, line_number, raw_text(raw), str(bad)))
        return None
    return values


def parse_song(content: bytes, source: str, tally: FileTally, rejects: RejectSink) -> str | None:
    """The COPY line for one song file (one JSON object, possibly pretty-printed), or None."""
    if content.startswith(_BOM):
        content = content[len(_BOM) :]
    if not content.strip():
        # An empty song file holds no record: nothing to load and nothing lost.
        return None
    tally.records += 1
    try:
        values = _song_row(content, tally)
    except BadRecord as bad:
        tally.rejected += 1
        rejects.append(Reject(source, 1, raw_text(content), str(bad)))
        return None
    tally.loaded += 1
    return f"{values}\t{_escape(source)}\n"
