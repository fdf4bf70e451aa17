"""The plain-SQL floor: what PostgreSQL itself needs for the same warehouse, written by hand.

Independent of the code it judges: none of the project's statements, tables or indexes. The
staging rows arrive pre-parsed (dumped from a real load, so parsing costs nothing here), are
copied into key-less tables, and the star schema and the analytics tables are built with the
plainest PostgreSQL: ``CREATE TABLE ... AS``, ``DISTINCT ON``, ``FILTER``, no keys, no indexes,
no ANALYZE beyond what autovacuum does. It answers the same questions as the project's SQL,
row for row in shape, but it is not checked for equality: it is a floor, not an oracle.
"""

from __future__ import annotations

from pathlib import Path

import psycopg2
from psycopg2 import sql

COPY_BUFFER = 1 << 20

EVENT_COLUMNS = (
    "artist text, auth text, first_name text, gender text, item_in_session integer, "
    "last_name text, length double precision, level text, location text, page text, "
    "session_id integer, song text, ts bigint, user_agent text, user_id text"
)
SONG_COLUMNS = (
    "artist_id text, artist_latitude double precision, artist_longitude double precision, "
    "artist_location text, artist_name text, song_id text, title text, "
    "duration double precision, year integer"
)


def _names(columns: str) -> list[str]:
    return [column.split()[0] for column in columns.split(", ")]


STAGING = {"plain_events": EVENT_COLUMNS, "plain_songs": SONG_COLUMNS}
SOURCES = {"plain_events": "staging_events", "plain_songs": "staging_songs"}

STAR = {
    "songplays": """
CREATE TABLE plain_songplays AS
SELECT DISTINCT ON (e.session_id, e.item_in_session)
       e.session_id, e.item_in_session,
       TIMESTAMP 'epoch' + e.ts * INTERVAL '1 millisecond' AS start_time,
       e.user_id::integer AS user_id, e.level, s.song_id, s.artist_id, e.location, e.user_agent
FROM plain_events e
LEFT JOIN plain_songs s ON s.title = e.song AND s.artist_name = e.artist
WHERE e.page = 'NextSong' AND e.user_id <> ''
ORDER BY e.session_id, e.item_in_session, e.ts, abs(s.duration - e.length) NULLS LAST""",
    "users": """
CREATE TABLE plain_users AS
SELECT DISTINCT ON (user_id::integer) user_id::integer AS user_id,
       first_name, last_name, gender, level
FROM plain_events WHERE user_id <> ''
ORDER BY user_id::integer, ts DESC""",
    "songs": """
CREATE TABLE plain_song_dim AS
SELECT DISTINCT ON (song_id) song_id, title, artist_id, year, duration
FROM plain_songs ORDER BY song_id, title""",
    "artists": """
CREATE TABLE plain_artists AS
SELECT DISTINCT ON (artist_id) artist_id, artist_name AS name, artist_location AS location,
       artist_latitude AS latitude, artist_longitude AS longitude
FROM plain_songs
ORDER BY artist_id, artist_latitude IS NULL, coalesce(artist_location, '') = '', artist_name""",
    "time": """
CREATE TABLE plain_time AS
SELECT start_time, extract(hour FROM start_time)::integer AS hour,
       extract(day FROM start_time)::integer AS day, extract(week FROM start_time)::integer AS week,
       extract(month FROM start_time)::integer AS month,
       extract(year FROM start_time)::integer AS year,
       extract(dow FROM start_time)::integer AS weekday
FROM (SELECT DISTINCT start_time FROM plain_songplays) played""",
}


def _ranked(item: str, joins: str, picked: str) -> str:
    return f"""
WITH counted AS (
    SELECT 'day' AS period, start_time::date AS period_start, {item},
           count(*) AS plays, count(DISTINCT user_id) AS listeners
    FROM plain_songplays WHERE {item} IS NOT NULL GROUP BY 1, 2, 3
    UNION ALL
    SELECT 'week', date_trunc('week', start_time)::date, {item},
           count(*), count(DISTINCT user_id)
    FROM plain_songplays WHERE {item} IS NOT NULL GROUP BY 1, 2, 3
), ranked AS (
    SELECT counted.*, rank() OVER (PARTITION BY period, period_start ORDER BY plays DESC) AS rk
    FROM counted
)
SELECT ranked.*, {picked} FROM ranked {joins} WHERE rk <= 10"""


ANALYTICS = {
    "top_songs": "CREATE TABLE plain_top_songs AS"
    + _ranked(
        "song_id",
        "LEFT JOIN plain_song_dim s USING (song_id) "
        "LEFT JOIN plain_artists a ON a.artist_id = s.artist_id",
        "s.title, a.name",
    ),
    "top_artists": "CREATE TABLE plain_top_artists AS"
    + _ranked("artist_id", "LEFT JOIN plain_artists a USING (artist_id)", "a.name"),
    "plays_by_weekday_hour": """
CREATE TABLE plain_plays_by_weekday_hour AS
SELECT t.weekday, t.hour, count(*) AS plays, count(DISTINCT p.user_id) AS listeners
FROM plain_songplays p JOIN plain_time t USING (start_time) GROUP BY 1, 2""",
    "plays_by_level": """
CREATE TABLE plain_plays_by_level AS
SELECT start_time::date AS day, coalesce(level, 'unknown') AS level, count(*) AS plays,
       count(DISTINCT user_id) AS listeners, count(DISTINCT session_id) AS sessions
FROM plain_songplays GROUP BY 1, 2""",
    "level_changes": """
CREATE TABLE plain_level_changes AS
WITH ordered AS (
    SELECT user_id, start_time, level,
           lag(level) OVER (PARTITION BY user_id ORDER BY start_time, session_id) AS previous
    FROM plain_songplays
), changes AS (
    SELECT user_id,
           (array_agg(level ORDER BY start_time))[1] AS first_level,
           (array_agg(level ORDER BY start_time DESC))[1] AS last_level,
           count(*) FILTER (WHERE previous <> level) AS level_changes,
           count(*) FILTER (WHERE previous = 'free' AND level = 'paid') AS upgrades,
           count(*) FILTER (WHERE previous = 'paid' AND level = 'free') AS downgrades,
           min(start_time) FILTER (WHERE previous <> level) AS first_change_at,
           max(start_time) FILTER (WHERE previous <> level) AS last_change_at
    FROM ordered GROUP BY user_id
)
SELECT c.*, u.first_name, u.last_name
FROM changes c LEFT JOIN plain_users u USING (user_id) WHERE c.level_changes > 0""",
    "recent_plays": """
CREATE TABLE plain_recent_plays AS
SELECT * FROM (
    SELECT p.user_id, row_number() OVER (
               PARTITION BY p.user_id ORDER BY p.start_time DESC, p.session_id DESC,
                            p.item_in_session DESC) AS recency_rank,
           p.start_time, p.song_id, s.title, p.artist_id, a.name AS artist_name
    FROM plain_songplays p
    LEFT JOIN plain_song_dim s USING (song_id)
    LEFT JOIN plain_artists a ON a.artist_id = p.artist_id
) ranked WHERE recency_rank <= 10""",
}


def dump_rows(dsn: str, folder: Path) -> None:
    """The columns the plain floor needs, as loaded by a real run, as COPY text."""
    folder.mkdir(parents=True, exist_ok=True)
    connection = psycopg2.connect(dsn)
    with connection.cursor() as cursor:
        for plain, columns in STAGING.items():
            query = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT").format(
                sql.SQL(", ").join(map(sql.Identifier, _names(columns))),
                sql.Identifier(SOURCES[plain]),
            )
            with open(folder / f"{plain}.tsv", "w") as out:
                cursor.copy_expert(query, out)
    connection.close()
    (folder / ".complete").touch()


def run(dsn: str, rows: Path, timed) -> None:
    """Every step of the plain floor; ``timed(stage, callable)`` measures and commits each."""
    connection = psycopg2.connect(dsn)

    def execute(statement: str):
        def step():
            with connection.cursor() as cursor:
                cursor.execute(statement)
            connection.commit()

        return step

    def copy(plain: str, columns: str):
        def step():
            with connection.cursor() as cursor, open(rows / f"{plain}.tsv", "rb") as source:
                cursor.execute(f"CREATE TABLE {plain} ({columns})")
                cursor.copy_expert(f"COPY {plain} FROM STDIN", source, COPY_BUFFER)
            connection.commit()

        return step

    try:
        for plain, columns in STAGING.items():
            timed(f"COPY {plain}", copy(plain, columns))
        for name, statement in {**STAR, **ANALYTICS}.items():
            timed(name, execute(statement))
    finally:
        connection.close()
