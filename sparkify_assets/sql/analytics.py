"""The business questions as tables, built from the star schema with SQL both targets run.

Same model and placeholders as ``tables``: ``{songplays}`` etc. are the star tables. Kept to the
PostgreSQL/Redshift intersection: DATE_TRUNC, EXTRACT, CASE, window functions with explicit
ORDER BY (no DISTINCT ON, no FILTER, no frame-less FIRST_VALUE). Each table has a ``Scope``: a
run replaces only the periods, weekdays, days or users its changes reach (``sql.changes``), with
the same SQL a full rebuild runs; ``summary`` is what the Dagster UI shows for each
materialization.

Plays not matched to a song (songplays.song_id NULL) count as listening, but not towards a song's
or an artist's ranking.
"""

from __future__ import annotations

from sparkify_assets.sql.analytics_scopes import (
    PLAYS_NEAR_SCOPE,
    SONG_ARTIST_CHANGED,
    by_period,
    listing,
)
from sparkify_assets.sql.model import Column, Scope, Table, copy_of, derived_from
from sparkify_assets.sql.state import by_user
from sparkify_assets.sql.tables import ARTISTS, SONGPLAYS, SONGS, USERS

_LEVEL = SONGPLAYS.column("level").type  # a level copied from songplays
TOP_N = 10  # ranks kept per period in the "most played" tables; plays kept per user


def _plays(*columns: str):
    return derived_from("songplays", *columns)


_PERIOD_COLUMNS = (
    Column(
        "period",
        "VARCHAR(8)",
        "'day' or 'week' (ISO week, Monday to Sunday)",
        False,
        lineage=_plays("start_time"),
    ),
    Column(
        "period_start",
        "DATE",
        "The day, or the Monday of the ISO week (UTC)",
        False,
        lineage=_plays("start_time"),
    ),
    Column(
        "play_rank",
        "INTEGER",
        "1 = most played in the period; ties share a rank",
        False,
        lineage=_plays("songplay_id"),
    ),
)
_COUNT_COLUMNS = (
    Column("plays", "INTEGER", "Song plays in the period", False, lineage=_plays("songplay_id")),
    Column(
        "listeners", "INTEGER", "Distinct users who played it", False, lineage=_plays("user_id")
    ),
)


def _ranked_per_period(item: str) -> str:
    """CTEs ranking ``item`` (a songplays column) by plays per UTC day and per ISO week."""
    return f"""
WITH periods AS (
    SELECT CAST('day' AS VARCHAR(8)) AS period,
           CAST(DATE_TRUNC('day', p.start_time) AS DATE) AS period_start, p.{item}, p.user_id
    FROM {{songplays}} p
    WHERE p.{item} IS NOT NULL AND {{in_day_scope}}
    UNION ALL
    SELECT CAST('week' AS VARCHAR(8)) AS period,
           CAST(DATE_TRUNC('week', p.start_time) AS DATE) AS period_start, p.{item}, p.user_id
    FROM {{songplays}} p
    WHERE p.{item} IS NOT NULL AND {{in_week_scope}}
),
counted AS (
    SELECT period, period_start, {item}, COUNT(*) AS plays, COUNT(DISTINCT user_id) AS listeners
    FROM periods
    GROUP BY period, period_start, {item}
),
ranked AS (
    SELECT c.*, RANK() OVER (PARTITION BY period, period_start ORDER BY plays DESC) AS play_rank
    FROM counted c
)"""


TOP_SONGS = Table(
    name="top_songs",
    description=(
        f"Analytics: the {TOP_N} most played songs of every UTC day and every ISO week. One row "
        "per (period, period_start, song_id); play_rank is RANK() by plays, so ties share a rank "
        f"and a period can list more than {TOP_N} songs when the last rank is tied. Plays not "
        "matched to a song are not counted."
    ),
    columns=(
        *_PERIOD_COLUMNS,
        copy_of(SONGPLAYS, "song_id", description="The song", nullable=False),
        copy_of(SONGS, "title"),
        copy_of(ARTISTS, "name", "artist_name"),
        *_COUNT_COLUMNS,
    ),
    primary_key=("period", "period_start", "song_id"),
    diststyle="ALL",
    sortkey=("period", "period_start", "play_rank"),
    scope=by_period(
        "top_songs",
        (("songplays", "day"), ("songs", "song"), ("artists", "artist")),
        listing("top_songs", "song_id"),
        SONG_ARTIST_CHANGED,
    ),
    build=_ranked_per_period("song_id")
    + f"""
SELECT r.period, r.period_start, r.play_rank, r.song_id, s.title, a.name, r.plays, r.listeners
FROM ranked r
LEFT JOIN {{songs}} s ON s.song_id = r.song_id
LEFT JOIN {{artists}} a ON a.artist_id = s.artist_id
WHERE r.play_rank <= {TOP_N}
""",
    summary="""
SELECT period_start AS week_of, title, artist_name, plays, listeners
FROM {top_songs}
WHERE period = 'week' AND play_rank = 1
ORDER BY period_start DESC, song_id
LIMIT 12
""",
)

TOP_ARTISTS = Table(
    name="top_artists",
    description=(
        f"Analytics: the {TOP_N} most played artists of every UTC day and every ISO week. One "
        "row per (period, period_start, artist_id); play_rank is RANK() by plays (ties share a "
        "rank). Plays not matched to a song are not counted."
    ),
    columns=(
        *_PERIOD_COLUMNS,
        copy_of(SONGPLAYS, "artist_id", description="The artist", nullable=False),
        copy_of(ARTISTS, "name", "artist_name"),
        *_COUNT_COLUMNS,
    ),
    primary_key=("period", "period_start", "artist_id"),
    diststyle="ALL",
    sortkey=("period", "period_start", "play_rank"),
    scope=by_period(
        "top_artists",
        (("songplays", "day"), ("artists", "artist")),
        listing("top_artists", "artist_id"),
    ),
    build=_ranked_per_period("artist_id")
    + f"""
SELECT r.period, r.period_start, r.play_rank, r.artist_id, a.name, r.plays, r.listeners
FROM ranked r
LEFT JOIN {{artists}} a ON a.artist_id = r.artist_id
WHERE r.play_rank <= {TOP_N}
""",
    summary="""
SELECT period_start AS week_of, artist_name, plays, listeners
FROM {top_artists}
WHERE period = 'week' AND play_rank = 1
ORDER BY period_start DESC, artist_id
LIMIT 12
""",
)

_TIME_UNIT = derived_from("time", "weekday", "hour")

PLAYS_BY_WEEKDAY_HOUR = Table(
    name="plays_by_weekday_hour",
    description=(
        "Analytics: when people listen. One row per (weekday, hour) of the UTC week that has any "
        "play; weekday 0 = Sunday ... 6 = Saturday, as in the time dimension."
    ),
    columns=(
        Column(
            "weekday",
            "INTEGER",
            "0 = Sunday ... 6 = Saturday",
            False,
            lineage=derived_from("time", "weekday"),
        ),
        Column("hour", "INTEGER", "Hour of day, UTC", False, lineage=derived_from("time", "hour")),
        Column("weekday_name", "VARCHAR(16)", lineage=derived_from("time", "weekday")),
        Column("plays", "INTEGER", "", False, lineage=_plays("songplay_id") + _TIME_UNIT),
        Column(
            "listeners", "INTEGER", "Distinct users", False, lineage=_plays("user_id") + _TIME_UNIT
        ),
    ),
    primary_key=("weekday", "hour"),
    diststyle="ALL",
    sortkey=("weekday", "hour"),
    # Plays of a day count towards its weekday only: a changed day replaces that weekday's rows.
    scope=Scope(
        consumes=(("time", "day"),),
        columns=(Column("weekday", "INTEGER", nullable=False),),
        select="SELECT DISTINCT CAST(EXTRACT(dow FROM day) AS INTEGER) FROM {changes} "
        "WHERE kind = 'day'",
        rows="weekday IN (SELECT weekday FROM {scope})",
        hooks=(("in_scope", "t.weekday IN (SELECT weekday FROM {scope})"),),
    ),
    build="""
SELECT t.weekday, t.hour,
       CASE t.weekday WHEN 0 THEN 'Sunday' WHEN 1 THEN 'Monday' WHEN 2 THEN 'Tuesday'
                      WHEN 3 THEN 'Wednesday' WHEN 4 THEN 'Thursday' WHEN 5 THEN 'Friday'
                      ELSE 'Saturday' END AS weekday_name,
       COUNT(*) AS plays, COUNT(DISTINCT p.user_id) AS listeners
FROM {songplays} p
JOIN {time} t ON t.start_time = p.start_time
WHERE {in_scope}
GROUP BY t.weekday, t.hour
""",
    summary="""
SELECT weekday_name, hour, plays, listeners
FROM {plays_by_weekday_hour}
ORDER BY plays DESC, weekday, hour
LIMIT 10
""",
)

PLAYS_BY_LEVEL = Table(
    name="plays_by_level",
    description=(
        "Analytics: free vs paid listening. One row per (UTC day, level) with plays, listeners "
        "and sessions, level being the user's level at the time of each play ('unknown' when "
        "the event had none)."
    ),
    columns=(
        Column("day", "DATE", "UTC day", False, lineage=_plays("start_time")),
        Column(
            "level",
            _LEVEL,
            "'free' or 'paid' at the time of the play",
            False,
            lineage=_plays("level"),
        ),
        Column("plays", "INTEGER", "", False, lineage=_plays("songplay_id")),
        Column("listeners", "INTEGER", "Distinct users", False, lineage=_plays("user_id")),
        Column("sessions", "INTEGER", "Distinct sessions", False, lineage=_plays("session_id")),
    ),
    primary_key=("day", "level"),
    scope=Scope(
        consumes=(("songplays", "day"),),
        columns=(Column("day", "DATE", nullable=False),),
        select="SELECT DISTINCT day FROM {changes} WHERE kind = 'day'",
        rows="day IN (SELECT day FROM {scope})",
        hooks=(
            (
                "in_scope",
                PLAYS_NEAR_SCOPE.format(column="day")
                + " AND CAST(DATE_TRUNC('day', p.start_time) AS DATE) IN (SELECT day FROM {scope})",
            ),
        ),
    ),
    diststyle="ALL",
    sortkey=("day",),
    build="""
SELECT CAST(DATE_TRUNC('day', p.start_time) AS DATE) AS day,
       COALESCE(p.level, 'unknown') AS level,
       COUNT(*) AS plays, COUNT(DISTINCT p.user_id) AS listeners,
       COUNT(DISTINCT p.session_id) AS sessions
FROM {songplays} p
WHERE {in_scope}
GROUP BY CAST(DATE_TRUNC('day', p.start_time) AS DATE), COALESCE(p.level, 'unknown')
""",
    summary="""
SELECT level, SUM(plays) AS plays,
       ROUND(100.0 * SUM(plays) / SUM(SUM(plays)) OVER (), 1) AS share_of_plays_pct,
       SUM(sessions) AS sessions, COUNT(*) AS days
FROM {plays_by_level}
GROUP BY level
ORDER BY level
""",
    figures=(("total_plays", "SUM(plays)"),),
)

LEVEL_CHANGES = Table(
    name="level_changes",
    description=(
        "Analytics: users who changed level. One row per user whose level differs between two "
        "consecutive plays (by start_time, then songplay_id), with how often and which way. "
        "Levels are those seen in songplays, so a change after a user's last play is not here "
        "yet (users.level has it)."
    ),
    columns=(
        Column("user_id", "INTEGER", "", False, lineage=_plays("user_id")),
        copy_of(USERS, "first_name"),
        copy_of(USERS, "last_name"),
        Column(
            "first_level",
            _LEVEL,
            "Level at the user's first play",
            lineage=_plays("level", "start_time"),
        ),
        Column(
            "last_level",
            _LEVEL,
            "Level at the user's latest play",
            lineage=_plays("level", "start_time"),
        ),
        Column(
            "level_changes",
            "INTEGER",
            "Consecutive plays with different levels",
            False,
            lineage=_plays("level", "start_time"),
        ),
        Column("upgrades", "INTEGER", "free -> paid", False, lineage=_plays("level")),
        Column("downgrades", "INTEGER", "paid -> free", False, lineage=_plays("level")),
        Column(
            "first_change_at",
            "TIMESTAMP",
            "First play at a new level",
            lineage=_plays("start_time"),
        ),
        Column(
            "last_change_at",
            "TIMESTAMP",
            "Latest play at a new level",
            lineage=_plays("start_time"),
        ),
    ),
    primary_key=("user_id",),
    scope=by_user((("songplays", "user"), ("users", "user")), "user_id"),
    diststyle="ALL",
    sortkey=("user_id",),
    build="""
WITH ordered AS (
    SELECT user_id, start_time, level,
           LAG(level) OVER (PARTITION BY user_id ORDER BY start_time, songplay_id) AS previous,
           ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY start_time, songplay_id) AS from_first,
           ROW_NUMBER() OVER (
               PARTITION BY user_id ORDER BY start_time DESC, songplay_id DESC
           ) AS from_last
    FROM {songplays}
    WHERE {in_scope}
),
changes AS (
    SELECT user_id,
           MAX(CASE WHEN from_first = 1 THEN level END) AS first_level,
           MAX(CASE WHEN from_last = 1 THEN level END) AS last_level,
           SUM(CASE WHEN previous <> level THEN 1 ELSE 0 END) AS level_changes,
           SUM(CASE WHEN previous = 'free' AND level = 'paid' THEN 1 ELSE 0 END) AS upgrades,
           SUM(CASE WHEN previous = 'paid' AND level = 'free' THEN 1 ELSE 0 END) AS downgrades,
           MIN(CASE WHEN previous <> level THEN start_time END) AS first_change_at,
           MAX(CASE WHEN previous <> level THEN start_time END) AS last_change_at
    FROM ordered
    GROUP BY user_id
)
SELECT c.user_id, u.first_name, u.last_name, c.first_level, c.last_level, c.level_changes,
       c.upgrades, c.downgrades, c.first_change_at, c.last_change_at
FROM changes c
LEFT JOIN {users} u ON u.user_id = c.user_id
WHERE c.level_changes > 0
""",
    summary="""
SELECT COUNT(*) AS users_who_changed, SUM(upgrades) AS upgrades,
       SUM(downgrades) AS downgrades,
       SUM(CASE WHEN last_level = 'paid' THEN 1 ELSE 0 END) AS paid_at_latest_play
FROM {level_changes}
""",
)

RECENT_PLAYS = Table(
    name="recent_plays",
    description=(
        f"Analytics: each user's {TOP_N} most recent plays, for 'recently listened' "
        "recommendations. One row per (user_id, recency_rank), 1 = the latest play (by "
        "start_time, then songplay_id). Song and artist are NULL for plays not matched to a "
        "song."
    ),
    columns=(
        Column("user_id", "INTEGER", "", False, lineage=_plays("user_id")),
        Column(
            "recency_rank",
            "INTEGER",
            "1 = the user's latest play",
            False,
            lineage=_plays("start_time", "songplay_id"),
        ),
        Column("songplay_id", "BIGINT", "", False, lineage=_plays("songplay_id")),
        Column("start_time", "TIMESTAMP", "", False, lineage=_plays("start_time")),
        copy_of(SONGPLAYS, "song_id"),
        copy_of(SONGS, "title"),
        copy_of(SONGPLAYS, "artist_id"),
        copy_of(ARTISTS, "name", "artist_name"),
    ),
    primary_key=("user_id", "recency_rank"),
    # A user's plays, or the details of a song or artist among them, changed.
    scope=Scope(
        consumes=(("songplays", "user"), ("songs", "song"), ("artists", "artist")),
        columns=(Column("user_id", "INTEGER", nullable=False),),
        select="SELECT user_id FROM {changes} WHERE kind = 'user'\n"
        "UNION SELECT r.user_id FROM {recent_plays} r JOIN {changes} c ON c.song_id = r.song_id\n"
        "UNION SELECT r.user_id FROM {recent_plays} r "
        "JOIN {changes} c ON c.artist_id = r.artist_id",
        rows="user_id IN (SELECT user_id FROM {scope})",
        hooks=(("in_scope", "p.user_id IN (SELECT user_id FROM {scope})"),),
    ),
    # Read per user: co-locate and sort each user's rows.
    diststyle="KEY",
    distkey="user_id",
    sortkey=("user_id", "recency_rank"),
    build=f"""
SELECT user_id, recency_rank, songplay_id, start_time, song_id, title, artist_id, artist_name
FROM (
    SELECT p.user_id,
           ROW_NUMBER() OVER (
               PARTITION BY p.user_id ORDER BY p.start_time DESC, p.songplay_id DESC
           ) AS recency_rank,
           p.songplay_id, p.start_time, p.song_id, s.title, p.artist_id, a.name AS artist_name
    FROM {{songplays}} p
    LEFT JOIN {{songs}} s ON s.song_id = p.song_id
    LEFT JOIN {{artists}} a ON a.artist_id = p.artist_id
    WHERE {{in_scope}}
) ranked
WHERE recency_rank <= {TOP_N}
""",
    summary="""
SELECT COUNT(DISTINCT user_id) AS users, COUNT(*) AS plays,
       SUM(CASE WHEN song_id IS NOT NULL THEN 1 ELSE 0 END) AS plays_with_a_song,
       MAX(start_time) AS latest_play
FROM {recent_plays}
""",
    figures=(("listeners", "COUNT(DISTINCT user_id)"),),  # every user with a play has a row
)

ANALYTICS_TABLES = (
    TOP_SONGS,
    TOP_ARTISTS,
    PLAYS_BY_WEEKDAY_HOUR,
    PLAYS_BY_LEVEL,
    LEVEL_CHANGES,
    RECENT_PLAYS,
)
