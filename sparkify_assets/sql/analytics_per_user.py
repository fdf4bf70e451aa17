"""The per-user answers: each user's level changes and latest plays.

Both are built from ``user_plays_by_hour`` (``sql.summaries``), a row per user and active hour,
so a day's run that changes a user's plays re-reads that user's hours, not every play they ever
made. Same conventions as ``analytics``: PostgreSQL/Redshift SQL, replaced per user in scope.
"""

from __future__ import annotations

from sparkify_assets.sql.model import (
    ChangeKind,
    Column,
    Consumes,
    Hook,
    Scope,
    Table,
    TableKind,
    copy_of,
    derived_from,
)
from sparkify_assets.sql.state import by_user
from sparkify_assets.sql.tables import ARTISTS, PLAY_LEVEL, SONGPLAYS, SONGS, USERS, from_songplays

TOP_N = 10  # ranks kept per period in the "most played" tables; plays kept per user


def _hours(*columns: str):
    return derived_from("user_plays_by_hour", *columns)


_EDGES = ("first_level", "last_level")  # an hour's edges: where changes between hours are


LEVEL_CHANGES = Table(
    name="level_changes",
    description=(
        "Analytics: users who changed level. One row per user whose level differs between two "
        "consecutive plays (by start_time, then songplay_id), with how often and which way. "
        "Levels are those seen in songplays, so a change after a user's last play is not here "
        "yet (users.level has it)."
    ),
    columns=(
        Column("user_id", "INTEGER", "", False, lineage=_hours("user_id")),
        copy_of(USERS, "first_name"),
        copy_of(USERS, "last_name"),
        Column(
            "first_level",
            PLAY_LEVEL,
            "Level at the user's first play",
            lineage=_hours("first_level", "hour_start"),
        ),
        Column(
            "last_level",
            PLAY_LEVEL,
            "Level at the user's latest play",
            lineage=_hours("last_level", "hour_start"),
        ),
        Column(
            "level_changes",
            "INTEGER",
            "Consecutive plays with different levels",
            False,
            lineage=_hours("level_changes", "first_level", "last_level", "hour_start"),
        ),
        Column("upgrades", "INTEGER", "free -> paid", False, _hours("upgrades", *_EDGES)),
        Column(
            "downgrades", "INTEGER", "paid -> free", False, lineage=_hours("downgrades", *_EDGES)
        ),
        Column(
            "first_change_at",
            "TIMESTAMP",
            "First play at a new level",
            lineage=_hours("first_change_at", "first_play_at"),
        ),
        Column(
            "last_change_at",
            "TIMESTAMP",
            "Latest play at a new level",
            lineage=_hours("last_change_at", "first_play_at"),
        ),
    ),
    kind=TableKind.SCOPED,
    primary_key=("user_id",),
    depends_on=("user_plays_by_hour", "users"),
    scope=by_user(
        (Consumes("user_plays_by_hour", ChangeKind.USER), Consumes("users", ChangeKind.USER)),
        "h.user_id",
    ),
    # A change between two consecutive plays lies inside an hour (counted in its row) or between
    # two of the user's consecutive hours: the earlier hour's last_level against the later
    # hour's first_level, at the later hour's first play.
    diststyle="ALL",
    sortkey=("user_id",),
    build="""
WITH hours AS (
    SELECT h.user_id, h.first_play_at, h.first_level, h.last_level, h.level_changes,
           h.upgrades, h.downgrades, h.first_change_at, h.last_change_at,
           LAG(h.last_level) OVER (PARTITION BY h.user_id ORDER BY h.hour_start) AS previous,
           ROW_NUMBER() OVER (PARTITION BY h.user_id ORDER BY h.hour_start) AS position,
           COUNT(*) OVER (PARTITION BY h.user_id) AS hours
    FROM {user_plays_by_hour} h
    WHERE {in_scope}
),
changes AS (
    SELECT user_id,
           MAX(CASE WHEN position = 1 THEN first_level END) AS first_level,
           MAX(CASE WHEN position = hours THEN last_level END) AS last_level,
           SUM(level_changes + CASE WHEN previous <> first_level THEN 1 ELSE 0 END)
               AS level_changes,
           SUM(upgrades + CASE WHEN previous = 'free' AND first_level = 'paid' THEN 1 ELSE 0 END)
               AS upgrades,
           SUM(downgrades
               + CASE WHEN previous = 'paid' AND first_level = 'free' THEN 1 ELSE 0 END)
               AS downgrades,
           MIN(CASE WHEN previous <> first_level THEN first_play_at ELSE first_change_at END)
               AS first_change_at,
           MAX(CASE WHEN last_change_at IS NOT NULL THEN last_change_at
                    WHEN previous <> first_level THEN first_play_at END) AS last_change_at
    FROM hours
    GROUP BY user_id
)
SELECT c.user_id, u.first_name, u.last_name, c.first_level, c.last_level, c.level_changes,
       c.upgrades, c.downgrades, c.first_change_at, c.last_change_at
FROM changes c
LEFT JOIN {users} u ON u.user_id = c.user_id
WHERE c.level_changes > 0
""",
    highlights="""
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
        Column("user_id", "INTEGER", "", False, lineage=from_songplays("user_id")),
        Column(
            "recency_rank",
            "INTEGER",
            "1 = the user's latest play",
            False,
            lineage=from_songplays("start_time", "songplay_id"),
        ),
        Column("songplay_id", "BIGINT", "", False, lineage=from_songplays("songplay_id")),
        Column("start_time", "TIMESTAMP", "", False, lineage=from_songplays("start_time")),
        copy_of(SONGPLAYS, "song_id"),
        copy_of(SONGS, "title"),
        copy_of(SONGPLAYS, "artist_id"),
        copy_of(ARTISTS, "name", "artist_name"),
    ),
    kind=TableKind.SCOPED,
    primary_key=("user_id", "recency_rank"),
    depends_on=("user_plays_by_hour", "songplays", "songs", "artists"),
    # A user's plays or hours, or the details of a song or artist among them, changed.
    scope=Scope(
        consumes=(
            Consumes("songplays", ChangeKind.USER),
            Consumes("user_plays_by_hour", ChangeKind.USER),
            Consumes("songs", ChangeKind.SONG),
            Consumes("artists", ChangeKind.ARTIST),
        ),
        columns=(Column("user_id", "INTEGER", nullable=False),),
        select="SELECT user_id FROM {changes} WHERE kind = 'user'\n"
        "UNION SELECT r.user_id FROM {recent_plays} r JOIN {changes} c ON c.song_id = r.song_id\n"
        "UNION SELECT r.user_id FROM {recent_plays} r "
        "JOIN {changes} c ON c.artist_id = r.artist_id",
        rows="user_id IN (SELECT user_id FROM {scope})",
        hooks=(Hook("in_scope", "h.user_id IN (SELECT user_id FROM {scope})"),),
    ),
    # Read per user: co-locate and sort each user's rows.
    diststyle="KEY",
    distkey="user_id",
    sortkey=("user_id", "recency_rank"),
    # A user's latest plays lie in their latest hours that hold TOP_N plays between them, so
    # only plays from the first of those hours on are ranked (the plays' range also lets the
    # start_time sort key or BRIN index skip older pages).
    build=f"""
WITH latest_hours AS (
    SELECT user_id, MIN(hour_start) AS since
    FROM (
        SELECT h.user_id, h.hour_start, h.plays,
               SUM(h.plays) OVER (
                   PARTITION BY h.user_id ORDER BY h.hour_start DESC ROWS UNBOUNDED PRECEDING
               ) AS plays_from_here
        FROM {{user_plays_by_hour}} h
        WHERE {{in_scope}}
    ) counted
    WHERE plays_from_here - plays < {TOP_N}
    GROUP BY user_id
)
SELECT user_id, recency_rank, songplay_id, start_time, song_id, title, artist_id, artist_name
FROM (
    SELECT p.user_id,
           ROW_NUMBER() OVER (
               PARTITION BY p.user_id ORDER BY p.start_time DESC, p.songplay_id DESC
           ) AS recency_rank,
           p.songplay_id, p.start_time, p.song_id, s.title, p.artist_id, a.name AS artist_name
    FROM {{songplays}} p
    JOIN latest_hours l ON l.user_id = p.user_id AND p.start_time >= l.since
    LEFT JOIN {{songs}} s ON s.song_id = p.song_id
    LEFT JOIN {{artists}} a ON a.artist_id = p.artist_id
    WHERE p.start_time >= (SELECT MIN(since) FROM latest_hours)
) ranked
WHERE recency_rank <= {TOP_N}
""",
    highlights="""
SELECT COUNT(DISTINCT user_id) AS users, COUNT(*) AS plays,
       SUM(CASE WHEN song_id IS NOT NULL THEN 1 ELSE 0 END) AS plays_with_a_song,
       MAX(start_time) AS latest_play
FROM {recent_plays}
""",
    figures=(("listeners", "COUNT(DISTINCT user_id)"),),  # every user with a play has a row
)
