"""Summaries of songplays that the per-user analytics are built from, so their cost follows a
day's change rather than the whole history.

``user_plays_by_hour`` folds each user's plays of one UTC hour into one row: how many, and what
happened to the level across them. Every answer about a user's sequence of plays can be taken
from those rows in order, as long as each row also keeps the level at its first and last play:
the change between two consecutive plays either lies inside an hour (counted in the row) or
crosses from one of the user's hours to the next (the previous row's ``last_level`` against this
row's ``first_level``, at this row's ``first_play_at``). So ``level_changes`` reads a row per
active hour instead of every play, ``recent_plays`` knows from the counts which hours hold a
user's latest plays, and ``plays_by_weekday_hour`` counts distinct listeners per hour slot.

Daily partitioned like songplays: an hour belongs to one day, so a day's run replaces that day's
rows, and the rows' users are what the per-user tables rebuild.
"""

from __future__ import annotations

from sparkify_assets.sql.model import ChangeKind, Column, Emit, Index, IndexKind, Table, TableKind
from sparkify_assets.sql.tables import PLAY_LEVEL, from_songplays

_IN_ORDER = "ORDER BY p.start_time, p.songplay_id"
_HOUR = "DATE_TRUNC('hour', p.start_time)"

USER_PLAYS_BY_HOUR = Table(
    name="user_plays_by_hour",
    description=(
        "Summary: one row per (user_id, UTC hour) with plays: how many, the first play's time, "
        "the level at the hour's first and last play (by start_time, then songplay_id), and the "
        "level changes between consecutive plays within the hour. The per-user analytics are "
        "built from it in hour order. Daily partitioned by hour_start's day."
    ),
    columns=(
        Column(
            "hour_start",
            "TIMESTAMP",
            "The UTC hour (start_time truncated to the hour)",
            False,
            lineage=from_songplays("start_time"),
        ),
        Column("user_id", "INTEGER", "", False, lineage=from_songplays("user_id")),
        Column(
            "plays", "INTEGER", "Plays in the hour", False, lineage=from_songplays("songplay_id")
        ),
        Column(
            "first_play_at",
            "TIMESTAMP",
            "The hour's first play",
            False,
            from_songplays("start_time"),
        ),
        Column(
            "first_level",
            PLAY_LEVEL,
            "Level at the hour's first play",
            lineage=from_songplays("level"),
        ),
        Column(
            "last_level",
            PLAY_LEVEL,
            "Level at the hour's last play",
            lineage=from_songplays("level"),
        ),
        Column(
            "level_changes",
            "INTEGER",
            "Consecutive plays within the hour with different levels",
            False,
            lineage=from_songplays("level", "start_time"),
        ),
        Column(
            "upgrades", "INTEGER", "free -> paid within the hour", False, from_songplays("level")
        ),
        Column(
            "downgrades", "INTEGER", "paid -> free within the hour", False, from_songplays("level")
        ),
        Column(
            "first_change_at",
            "TIMESTAMP",
            "First play at a new level within the hour",
            lineage=from_songplays("start_time"),
        ),
        Column(
            "last_change_at",
            "TIMESTAMP",
            "Latest play at a new level within the hour",
            lineage=from_songplays("start_time"),
        ),
    ),
    kind=TableKind.DAILY,
    primary_key=("user_id", "hour_start"),
    depends_on=("songplays",),
    # Read per user, in hour order; a day's run replaces a range of hours.
    diststyle="KEY",
    distkey="user_id",
    sortkey=("hour_start",),
    indexes=(Index(IndexKind.DAY_RANGE, "hour_start"),),
    window_column="hour_start",
    emits=(
        Emit(ChangeKind.USER, ("user_id",)),
        Emit(ChangeKind.DAY, ("CAST(hour_start AS DATE)",)),
    ),
    # All three windows share one partition and order, and the GROUP BY follows that order, so
    # PostgreSQL sorts once and aggregates the sorted rows; a per-hour COUNT(*) window and a
    # GROUP BY in another order would cost a second window pass and a hash that spills.
    build=f"""
WITH ordered AS (
    SELECT {_HOUR} AS hour_start, p.user_id, p.start_time, p.level,
           LAG(p.level) OVER (PARTITION BY p.user_id, {_HOUR} {_IN_ORDER}) AS previous,
           ROW_NUMBER() OVER (PARTITION BY p.user_id, {_HOUR} {_IN_ORDER}) AS position,
           LEAD(1) OVER (PARTITION BY p.user_id, {_HOUR} {_IN_ORDER}) AS later
    FROM {{songplays}} p
    WHERE p.start_time >= {{window_start}} AND p.start_time < {{window_end}}
)
SELECT hour_start, user_id, COUNT(*) AS plays, MIN(start_time) AS first_play_at,
       MAX(CASE WHEN position = 1 THEN level END) AS first_level,
       MAX(CASE WHEN later IS NULL THEN level END) AS last_level,
       SUM(CASE WHEN previous <> level THEN 1 ELSE 0 END) AS level_changes,
       SUM(CASE WHEN previous = 'free' AND level = 'paid' THEN 1 ELSE 0 END) AS upgrades,
       SUM(CASE WHEN previous = 'paid' AND level = 'free' THEN 1 ELSE 0 END) AS downgrades,
       MIN(CASE WHEN previous <> level THEN start_time END) AS first_change_at,
       MAX(CASE WHEN previous <> level THEN start_time END) AS last_change_at
FROM ordered
GROUP BY user_id, hour_start
""",
    figures=(("plays", "SUM(plays)"), ("listeners", "COUNT(DISTINCT user_id)")),
)

SUMMARY_TABLES = (USER_PLAYS_BY_HOUR,)
