"""Every warehouse table: its columns, keys, Redshift layout and the SQL that fills it.

This is the one SQL definition both targets share. ``{name}`` placeholders are table identifiers
(quoted and schema-qualified by ``sql.render``); ``{window_start}`` / ``{window_end}`` bound a
partitioned build to the UTC days being materialized. Constructs are kept to the intersection of
PostgreSQL and Redshift: window functions instead of DISTINCT ON, CTEs in INSERT ... SELECT, and
``TIMESTAMP 'epoch' + ms / 1000.0 * INTERVAL '1 second'`` for millisecond timestamps.
"""

from __future__ import annotations

from sparkify_assets.contract.records import EVENT_FIELDS, SONG_FIELDS, Field
from sparkify_assets.sql.load_log import LOAD_AUDIT, LOAD_REJECTS  # noqa: F401 (the registry's)
from sparkify_assets.sql.model import (
    ChangeKind,
    Column,
    Consumes,
    Emit,
    Hook,
    Index,
    IndexKind,
    Scope,
    Table,
    TableKind,
    derived_from,
)
from sparkify_assets.sql.state import by_user


def _from_fields(fields: tuple[Field, ...]) -> tuple[Column, ...]:
    return tuple(
        Column(f.column, f.sql_type, f.description or f"JSON key {f.key!r}", not f.required)
        for f in fields
    )


# A star column copied from staging has the staging column's type, so sizes live only in
# records.py and an INSERT ... SELECT can never overflow.
EVENT_TYPES = {f.column: f.sql_type for f in EVENT_FIELDS}
SONG_TYPES = {f.column: f.sql_type for f in SONG_FIELDS}


STAGING_EVENTS = Table(
    name="staging_events",
    description=(
        "Every app event exactly as logged, one row per JSON line of log_data/YYYY/MM/"
        "YYYY-MM-DD-events.json, in snake_case columns. Daily partitioned by the file's date "
        "(event_date), which is the events' UTC date. user_id stays text; '' is a logged-out "
        "event."
    ),
    columns=_from_fields(EVENT_FIELDS)
    + (
        Column("event_date", "DATE", "Partition: the UTC day of the source file", False),
        Column("source", "VARCHAR(1024)", "File path or S3 key the row came from"),
        Column("line_number", "INTEGER", "1-based line in the source file"),
    ),
    kind=TableKind.STAGING,
    # Events are joined and windowed by session; distributing on it keeps those steps local.
    diststyle="KEY",
    distkey="session_id",
    sortkey=("event_date",),
    # Appended a day at a time, so its pages are in event_date order: a day's DELETE can read
    # that day's pages only.
    indexes=(Index(IndexKind.DAY_RANGE, "event_date"),),
    window_column="event_date",
)

STAGING_SONGS = Table(
    name="staging_songs",
    description=(
        "Every song record exactly as published, one row per song_data/A/B/C/TR*.json file "
        "(a subset of the Million Song Dataset)."
    ),
    columns=_from_fields(SONG_FIELDS)
    + (Column("source", "VARCHAR(1024)", "File path or S3 key the row came from"),),
    kind=TableKind.STAGING,
    # Replicated so the play-to-song match never redistributes the (large) event side.
    diststyle="ALL",
    # A song file loaded, changed or removed names its old and new records' keys: the plays of
    # that title and artist name are re-matched, those songs and artists rebuilt.
    emits=(
        Emit(ChangeKind.PAIR, ("title", "artist_name")),
        Emit(ChangeKind.SONG, ("song_id",)),
        Emit(ChangeKind.ARTIST, ("artist_id",)),
    ),
)


def _events(*columns: str):
    return derived_from("staging_events", *columns)


def _songs(*columns: str):
    return derived_from("staging_songs", *columns)


# A play's song and artist are chosen by matching title, artist name and duration.
_SONG_MATCH = _events("song", "artist", "length") + _songs("title", "artist_name", "duration")
_PLAY_TIME = derived_from("songplays", "start_time")


def songplay_id(alias: str) -> str:
    """The play key as SQL: unique per (session, item), the same on every load.

    The high word is the session, the low word the item offset by the session times an odd
    constant (mod 2^32): PostgreSQL's int8 hash XORs the two words, so with a plain
    ``session * 2^32 + item`` every session collided with its neighbours' items.
    """
    session = f"CAST({alias}.session_id AS BIGINT)"
    return (
        f"{session} * 4294967296 + MOD({session} * {SONGPLAY_ID_MULTIPLIER} "
        f"+ {alias}.item_in_session, 4294967296)"
    )


SONGPLAY_ID_MULTIPLIER = 2654435761  # odd, near 2^32 / golden ratio: spreads sessions evenly
# Copies of one event (same session and item) give one play: the copy chosen by the record's own
# content, which both targets have, so the choice never depends on file or line order.
_PLAY_COPY_ORDER = "e.ts, e.user_id, e.level, e.song, e.artist, e.length, e.location, e.user_agent"

SONGPLAYS = Table(
    name="songplays",
    description=(
        "Fact: one row per NextSong event with a non-empty userId. songplay_id is derived from "
        "(session_id, item_in_session), so a re-load gives the same ids. song_id/artist_id come "
        "from the song with the same title and artist name, nearest duration first (then the "
        "smallest song_id and artist_id); NULL when none matches; never fans out. Copies of an "
        "event resolve on their content. Daily partitioned by start_time's UTC day; a song "
        "change re-matches only the plays whose title and artist name it touches, on any day."
    ),
    columns=(
        Column(
            "songplay_id",
            "BIGINT",
            "session_id * 2^32 + (session_id * 2654435761 + item_in_session) mod 2^32",
            False,
            lineage=_events("session_id", "item_in_session"),
        ),
        Column(
            "start_time",
            "TIMESTAMP",
            "Event time, UTC, millisecond precision",
            False,
            lineage=_events("ts"),
        ),
        Column("user_id", "INTEGER", "The listener", False, lineage=_events("user_id")),
        Column(
            "level",
            EVENT_TYPES["level"],
            "'free' or 'paid' at the time of the play",
            lineage=_events("level"),
        ),
        Column(
            "song_id",
            SONG_TYPES["song_id"],
            "Matched song, NULL when unmatched",
            lineage=_songs("song_id") + _SONG_MATCH,
        ),
        Column(
            "artist_id",
            SONG_TYPES["artist_id"],
            "Matched artist, NULL when unmatched",
            lineage=_songs("artist_id") + _SONG_MATCH,
        ),
        Column("session_id", "INTEGER", "App session", False, lineage=_events("session_id")),
        Column(
            "location", EVENT_TYPES["location"], "Listener's location", lineage=_events("location")
        ),
        Column(
            "user_agent",
            EVENT_TYPES["user_agent"],
            "Listener's user agent, as logged",
            lineage=_events("user_agent"),
        ),
    ),
    kind=TableKind.DAILY,
    primary_key=("songplay_id",),
    depends_on=("staging_events", "staging_songs"),
    # start_time has high cardinality (even spread) and is the join key to `time`, which shares
    # it; it is also the range every partition rebuild and most analyses filter on.
    diststyle="KEY",
    distkey="start_time",
    sortkey=("start_time",),
    indexes=(Index(IndexKind.DAY_RANGE, "start_time"),),
    window_column="start_time",
    emits=(
        Emit(ChangeKind.DAY, ("CAST(start_time AS DATE)",)),
        Emit(ChangeKind.USER, ("user_id",)),
    ),
    scope=Scope(
        consumes=(Consumes("staging_songs", ChangeKind.PAIR),),
        columns=(Column("songplay_id", "BIGINT", nullable=False),),
        select=f"""
SELECT DISTINCT {songplay_id("e")} AS songplay_id
FROM {{staging_events}} e
JOIN {{changes}} c ON c.title = e.song AND c.artist_name = e.artist
WHERE c.kind = 'pair' AND e.page = 'NextSong' AND e.user_id <> ''
""",
        rows="songplay_id IN (SELECT songplay_id FROM {scope})",
        hooks=(Hook("in_scope", f"{songplay_id('e')} IN (SELECT songplay_id FROM {{scope}})"),),
    ),
    figures=(
        ("plays", "COUNT(*)"),
        ("share_matched", "AVG(CASE WHEN song_id IS NULL THEN 0.0 ELSE 1.0 END)"),
        ("listeners", "COUNT(DISTINCT user_id)"),
    ),
    # One sort: each play's copies, each with the songs its title and artist name match, in
    # the order that picks the copy first (by content), then its nearest-duration song. The
    # first row of a play is the copy and song the two-step choice would make.
    build=f"""
SELECT {songplay_id("p")} AS songplay_id,
       TIMESTAMP 'epoch' + p.ts / 1000.0 * INTERVAL '1 second' AS start_time,
       CAST(p.user_id AS INTEGER) AS user_id,
       p.level, p.song_id, p.artist_id, p.session_id, p.location, p.user_agent
FROM (
    SELECT e.session_id, e.item_in_session, e.ts, e.user_id, e.level, e.location,
           e.user_agent, s.song_id, s.artist_id,
           ROW_NUMBER() OVER (
               PARTITION BY e.session_id, e.item_in_session
               ORDER BY {_PLAY_COPY_ORDER}, ABS(s.duration - e.length), s.song_id, s.artist_id
           ) AS pick
    FROM {{staging_events}} e
    LEFT JOIN {{staging_songs}} s ON s.title = e.song AND s.artist_name = e.artist
    WHERE e.page = 'NextSong' AND e.user_id <> ''
      AND e.event_date >= {{window_start}} AND e.event_date < {{window_end}}
      AND {{in_scope}}
) p
WHERE p.pick = 1
""",
)


# What the tables built from songplays copy or derive from it.
PLAY_LEVEL = SONGPLAYS.column("level").type


def from_songplays(*columns: str):
    return derived_from("songplays", *columns)


def _latest(*columns: str):
    return derived_from("user_latest_by_day", *columns)


USERS = Table(
    name="users",
    description=(
        "Dimension: one row per user_id over all events with a non-empty userId. Name, gender "
        "and level come from the user's latest event by ts (users change level), over every "
        "day loaded, whatever order the days were loaded in."
    ),
    columns=(
        Column("user_id", "INTEGER", "", False, lineage=_latest("user_id")),
        Column("first_name", EVENT_TYPES["first_name"], lineage=_latest("first_name")),
        Column("last_name", EVENT_TYPES["last_name"], lineage=_latest("last_name")),
        Column("gender", EVENT_TYPES["gender"], lineage=_latest("gender")),
        Column(
            "level",
            EVENT_TYPES["level"],
            "Level at the user's latest event",
            lineage=_latest("level", "ts"),
        ),
    ),
    kind=TableKind.SCOPED,
    primary_key=("user_id",),
    depends_on=("user_latest_by_day",),
    diststyle="ALL",
    sortkey=("user_id",),
    emits=(Emit(ChangeKind.USER, ("user_id",)),),
    scope=by_user((Consumes("user_latest_by_day", ChangeKind.USER),), "l.user_id"),
    # An event's ts lies on its file's day (records outside it are quarantined), so a user's
    # latest event is their latest day's row: a MAX per user, not a sort of all their days.
    build="""
SELECT d.user_id, d.first_name, d.last_name, d.gender, d.level
FROM {user_latest_by_day} d
JOIN (
    SELECT l.user_id, MAX(l.day) AS day
    FROM {user_latest_by_day} l
    WHERE {in_scope}
    GROUP BY l.user_id
) latest ON latest.user_id = d.user_id AND latest.day = d.day
""",
)


def _by_key(column: str, sql_type: str, kind: ChangeKind, hook: str) -> Scope:
    """A dimension keyed by ``column``, replaced for the keys staging_songs names."""
    return Scope(
        consumes=(Consumes("staging_songs", kind),),
        columns=(Column(column, sql_type, nullable=False),),
        select=f"SELECT DISTINCT {column} FROM {{changes}} WHERE {column} IS NOT NULL",
        rows=f"{column} IN (SELECT {column} FROM {{scope}})",
        hooks=(Hook("in_scope", f"{hook} IN (SELECT {column} FROM {{scope}})"),),
    )


SONGS = Table(
    name="songs",
    description=(
        "Dimension: one row per song_id from staging_songs. When song files disagree about a "
        "song_id, the smallest record wins (title, artist_id, year, duration): the same on any "
        "load order and on both targets."
    ),
    columns=(
        Column("song_id", SONG_TYPES["song_id"], "", False, lineage=_songs("song_id")),
        Column("title", SONG_TYPES["title"], lineage=_songs("title")),
        Column("artist_id", SONG_TYPES["artist_id"], lineage=_songs("artist_id")),
        Column("year", "INTEGER", "0 when unknown", lineage=_songs("year")),
        Column("duration", "DOUBLE PRECISION", "Seconds", lineage=_songs("duration")),
    ),
    kind=TableKind.SCOPED,
    primary_key=("song_id",),
    depends_on=("staging_songs",),
    diststyle="ALL",
    sortkey=("song_id",),
    emits=(Emit(ChangeKind.SONG, ("song_id",)),),
    scope=_by_key("song_id", SONG_TYPES["song_id"], ChangeKind.SONG, "s.song_id"),
    build="""
SELECT song_id, title, artist_id, year, duration
FROM (
    SELECT s.*,
           ROW_NUMBER() OVER (
               PARTITION BY s.song_id ORDER BY s.title, s.artist_id, s.year, s.duration
           ) AS pick
    FROM {staging_songs} s
    WHERE {in_scope}
) ranked
WHERE pick = 1
""",
)

ARTISTS = Table(
    name="artists",
    description=(
        "Dimension: one row per artist_id. When an artist appears with differing details, the "
        "most complete record wins (with coordinates, then with a location), then the smallest "
        "name, then the smallest song_id: deterministic on any load order."
    ),
    columns=(
        Column("artist_id", SONG_TYPES["artist_id"], "", False, lineage=_songs("artist_id")),
        Column("name", SONG_TYPES["artist_name"], lineage=_songs("artist_name")),
        Column(
            "location",
            SONG_TYPES["artist_location"],
            "'' when unknown, as published",
            lineage=_songs("artist_location"),
        ),
        Column("latitude", "DOUBLE PRECISION", lineage=_songs("artist_latitude")),
        Column("longitude", "DOUBLE PRECISION", lineage=_songs("artist_longitude")),
    ),
    kind=TableKind.SCOPED,
    primary_key=("artist_id",),
    depends_on=("staging_songs",),
    diststyle="ALL",
    sortkey=("artist_id",),
    emits=(Emit(ChangeKind.ARTIST, ("artist_id",)),),
    scope=_by_key("artist_id", SONG_TYPES["artist_id"], ChangeKind.ARTIST, "s.artist_id"),
    build="""
SELECT artist_id, artist_name AS name, artist_location AS location,
       artist_latitude AS latitude, artist_longitude AS longitude
FROM (
    SELECT s.*,
           ROW_NUMBER() OVER (
               PARTITION BY s.artist_id
               ORDER BY CASE WHEN s.artist_latitude IS NULL THEN 1 ELSE 0 END,
                        CASE WHEN COALESCE(s.artist_location, '') = '' THEN 1 ELSE 0 END,
                        s.artist_name, s.song_id, s.artist_location, s.artist_latitude,
                        s.artist_longitude
           ) AS pick
    FROM {staging_songs} s
    WHERE {in_scope}
) ranked
WHERE pick = 1
""",
)

TIME = Table(
    name="time",
    description=(
        "Dimension: one row per distinct songplays.start_time, broken into units. week is the "
        "ISO week and iso_year its year (2018-12-31 is week 1 of 2019), year the calendar year; "
        "weekday is 0 for Sunday through 6 (DOW). Daily partitioned like songplays: each "
        "start_time belongs to one day."
    ),
    columns=(
        Column("start_time", "TIMESTAMP", "", False, lineage=_PLAY_TIME),
        Column("hour", "INTEGER", lineage=_PLAY_TIME),
        Column("day", "INTEGER", lineage=_PLAY_TIME),
        Column("week", "INTEGER", "ISO week", lineage=_PLAY_TIME),
        Column("month", "INTEGER", lineage=_PLAY_TIME),
        Column("year", "INTEGER", "Calendar year", lineage=_PLAY_TIME),
        Column(
            "iso_year",
            "INTEGER",
            "Year of the ISO week (of its Thursday; Redshift has no EXTRACT(isoyear))",
            lineage=_PLAY_TIME,
        ),
        Column("weekday", "INTEGER", "0 = Sunday ... 6 = Saturday", lineage=_PLAY_TIME),
    ),
    kind=TableKind.DAILY,
    primary_key=("start_time",),
    depends_on=("songplays",),
    # Same key as songplays so the fact-to-time join is node-local.
    diststyle="KEY",
    distkey="start_time",
    sortkey=("start_time",),
    indexes=(Index(IndexKind.DAY_RANGE, "start_time"),),
    window_column="start_time",
    emits=(Emit(ChangeKind.DAY, ("CAST(start_time AS DATE)",)),),
    # DATE_PART gives a double on both engines; PostgreSQL's EXTRACT a numeric, which costs a
    # fifth more CPU over a million timestamps.
    build="""
SELECT start_time,
       CAST(DATE_PART('hour', start_time) AS INTEGER) AS hour,
       CAST(DATE_PART('day', start_time) AS INTEGER) AS day,
       CAST(DATE_PART('week', start_time) AS INTEGER) AS week,
       CAST(DATE_PART('month', start_time) AS INTEGER) AS month,
       CAST(DATE_PART('year', start_time) AS INTEGER) AS year,
       CAST(DATE_PART('year', DATE_TRUNC('week', start_time) + INTERVAL '3 days') AS INTEGER)
           AS iso_year,
       CAST(DATE_PART('dow', start_time) AS INTEGER) AS weekday
FROM (
    SELECT DISTINCT start_time
    FROM {songplays}
    WHERE start_time >= {window_start} AND start_time < {window_end}
) played
""",
)
