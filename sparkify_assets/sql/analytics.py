"""The business questions as tables, built from the star schema with SQL both targets run.

Same model and placeholders as ``tables``: ``{songplays}`` etc. are the star tables. Kept to the
PostgreSQL/Redshift intersection: DATE_TRUNC, EXTRACT, CASE, window functions with explicit
ORDER BY (no DISTINCT ON, no FILTER, no frame-less FIRST_VALUE). Each table has a ``Scope``: a
run replaces only the periods, weekdays, days or users its changes reach (``sql.changes``), with
the same SQL a full rebuild runs; ``highlights`` is what the Dagster UI shows for each
materialization.

Plays not matched to a song (songplays.song_id NULL) count as listening, but not towards a song's
or an artist's ranking.
"""

from __future__ import annotations

from sparkify_assets.sql.analytics_per_user import LEVEL_CHANGES, RECENT_PLAYS, TOP_N
from sparkify_assets.sql.analytics_scopes import (
    PLAYS_NEAR_SCOPE,
    SONG_ARTIST_CHANGED,
    by_period,
    listing,
)
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
from sparkify_assets.sql.tables import ARTISTS, PLAY_LEVEL, SONGPLAYS, SONGS, from_songplays

_PERIOD_COLUMNS = (
    Column(
        "period",
        "VARCHAR(8)",
        "'day' or 'week' (ISO week, Monday to Sunday)",
        False,
        lineage=from_songplays("start_time"),
    ),
    Column(
        "period_start",
        "DATE",
        "The day, or the Monday of the ISO week (UTC)",
        False,
        lineage=from_songplays("start_time"),
    ),
    Column(
        "play_rank",
        "INTEGER",
        "1 = most played in the period; ties share a rank",
        False,
        lineage=from_songplays("songplay_id"),
    ),
)
_COUNT_COLUMNS = (
    Column(
        "plays", "INTEGER", "Song plays in the period", False, lineage=from_songplays("songplay_id")
    ),
    Column(
        "listeners",
        "INTEGER",
        "Distinct users who played it",
        False,
        lineage=from_songplays("user_id"),
    ),
)


def _ranked_per_period(item: str) -> str:
    """CTEs ranking ``item`` (a songplays column) by plays per UTC day and per ISO week.

    Each period is counted by its own GROUP BY: grouping the union of both instead sorts twice
    the rows on a wider key (period included), three times slower on PostgreSQL.
    """
    return f"""
WITH counted AS (
{_counted_per(item, "day")}
    UNION ALL
{_counted_per(item, "week")}
),
ranked AS (
    SELECT c.*, RANK() OVER (PARTITION BY period, period_start ORDER BY plays DESC) AS play_rank
    FROM counted c
)"""


def _counted_per(item: str, period: str) -> str:
    period_start = f"CAST(DATE_TRUNC('{period}', p.start_time) AS DATE)"
    return f"""    SELECT CAST('{period}' AS VARCHAR(8)) AS period, {period_start} AS period_start,
           p.{item}, COUNT(*) AS plays, COUNT(DISTINCT p.user_id) AS listeners
    FROM {{songplays}} p
    WHERE p.{item} IS NOT NULL AND {{in_{period}_scope}}
    GROUP BY {period_start}, p.{item}"""


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
    kind=TableKind.SCOPED,
    primary_key=("period", "period_start", "song_id"),
    depends_on=("songplays", "songs", "artists"),
    diststyle="ALL",
    sortkey=("period", "period_start", "play_rank"),
    scope=by_period(
        "top_songs",
        (
            Consumes("songplays", ChangeKind.DAY),
            Consumes("songs", ChangeKind.SONG),
            Consumes("artists", ChangeKind.ARTIST),
        ),
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
    highlights="""
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
    kind=TableKind.SCOPED,
    primary_key=("period", "period_start", "artist_id"),
    depends_on=("songplays", "artists"),
    diststyle="ALL",
    sortkey=("period", "period_start", "play_rank"),
    scope=by_period(
        "top_artists",
        (Consumes("songplays", ChangeKind.DAY), Consumes("artists", ChangeKind.ARTIST)),
        listing("top_artists", "artist_id"),
    ),
    build=_ranked_per_period("artist_id")
    + f"""
SELECT r.period, r.period_start, r.play_rank, r.artist_id, a.name, r.plays, r.listeners
FROM ranked r
LEFT JOIN {{artists}} a ON a.artist_id = r.artist_id
WHERE r.play_rank <= {TOP_N}
""",
    highlights="""
SELECT period_start AS week_of, artist_name, plays, listeners
FROM {top_artists}
WHERE period = 'week' AND play_rank = 1
ORDER BY period_start DESC, artist_id
LIMIT 12
""",
)

_HOURS = derived_from("user_plays_by_hour", "hour_start")
_WEEKDAY = "CAST(EXTRACT(dow FROM h.hour_start) AS INTEGER)"

PLAYS_BY_WEEKDAY_HOUR = Table(
    name="plays_by_weekday_hour",
    description=(
        "Analytics: when people listen. One row per (weekday, hour) of the UTC week that has any "
        "play; weekday 0 = Sunday ... 6 = Saturday, as in the time dimension."
    ),
    columns=(
        Column("weekday", "INTEGER", "0 = Sunday ... 6 = Saturday", False, lineage=_HOURS),
        Column("hour", "INTEGER", "Hour of day, UTC", False, lineage=_HOURS),
        Column("weekday_name", "VARCHAR(16)", lineage=_HOURS),
        Column(
            "plays",
            "INTEGER",
            "",
            False,
            lineage=derived_from("user_plays_by_hour", "plays", "hour_start"),
        ),
        Column(
            "listeners",
            "INTEGER",
            "Distinct users",
            False,
            lineage=derived_from("user_plays_by_hour", "user_id", "hour_start"),
        ),
    ),
    kind=TableKind.SCOPED,
    primary_key=("weekday", "hour"),
    depends_on=("user_plays_by_hour",),
    diststyle="ALL",
    sortkey=("weekday", "hour"),
    # Plays of a day count towards its weekday only: a changed day replaces that weekday's rows,
    # counted from a row per user and hour rather than from every play.
    scope=Scope(
        consumes=(Consumes("user_plays_by_hour", ChangeKind.DAY),),
        columns=(Column("weekday", "INTEGER", nullable=False),),
        select="SELECT DISTINCT CAST(EXTRACT(dow FROM day) AS INTEGER) FROM {changes} "
        "WHERE kind = 'day'",
        rows="weekday IN (SELECT weekday FROM {scope})",
        hooks=(Hook("in_scope", f"{_WEEKDAY} IN (SELECT weekday FROM {{scope}})"),),
    ),
    build=f"""
SELECT weekday, hour,
       CASE weekday WHEN 0 THEN 'Sunday' WHEN 1 THEN 'Monday' WHEN 2 THEN 'Tuesday'
                    WHEN 3 THEN 'Wednesday' WHEN 4 THEN 'Thursday' WHEN 5 THEN 'Friday'
                    ELSE 'Saturday' END AS weekday_name,
       SUM(plays) AS plays, COUNT(DISTINCT user_id) AS listeners
FROM (
    SELECT {_WEEKDAY} AS weekday, CAST(EXTRACT(hour FROM h.hour_start) AS INTEGER) AS hour,
           h.user_id, h.plays
    FROM {{user_plays_by_hour}} h
    WHERE {{in_scope}}
) slots
GROUP BY weekday, hour
""",
    highlights="""
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
        Column("day", "DATE", "UTC day", False, lineage=from_songplays("start_time")),
        Column(
            "level",
            PLAY_LEVEL,
            "'free' or 'paid' at the time of the play",
            False,
            lineage=from_songplays("level"),
        ),
        Column("plays", "INTEGER", "", False, lineage=from_songplays("songplay_id")),
        Column("listeners", "INTEGER", "Distinct users", False, lineage=from_songplays("user_id")),
        Column(
            "sessions", "INTEGER", "Distinct sessions", False, lineage=from_songplays("session_id")
        ),
    ),
    kind=TableKind.SCOPED,
    primary_key=("day", "level"),
    depends_on=("songplays",),
    scope=Scope(
        consumes=(Consumes("songplays", ChangeKind.DAY),),
        columns=(Column("day", "DATE", nullable=False),),
        select="SELECT DISTINCT day FROM {changes} WHERE kind = 'day'",
        rows="day IN (SELECT day FROM {scope})",
        hooks=(
            Hook(
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
    highlights="""
SELECT level, SUM(plays) AS plays,
       ROUND(100.0 * SUM(plays) / SUM(SUM(plays)) OVER (), 1) AS share_of_plays_pct,
       SUM(sessions) AS sessions, COUNT(*) AS days
FROM {plays_by_level}
GROUP BY level
ORDER BY level
""",
    figures=(("total_plays", "SUM(plays)"),),
)

ANALYTICS_TABLES = (
    TOP_SONGS,
    TOP_ARTISTS,
    PLAYS_BY_WEEKDAY_HOUR,
    PLAYS_BY_LEVEL,
    LEVEL_CHANGES,
    RECENT_PLAYS,
)
