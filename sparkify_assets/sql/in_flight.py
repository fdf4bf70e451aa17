"""What a check must not judge yet: the state another run is half-way through.

Every write tells the tables built from it in ``pending_changes``, in its own transaction
(``sql.changes``): a ``window`` row names a day of a daily table whose input day was rewritten
and which is not rebuilt yet; other rows, changes a table has yet to apply. Those are committed
states that no one-at-a-time order of runs shows a check. A rule that compares tables written by
different transactions names here what makes them disagree meanwhile: read in the rule's own
snapshot, those days are left out of it, and those pending changes keep it from being judged.
The run rebuilding a day checks that day after its build (docs/concurrency.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from psycopg2 import sql

from sparkify_assets.sql.checks import Rule
from sparkify_assets.sql.render import table_ref


@dataclass(frozen=True)
class Watch:
    """``days``: daily tables whose days not rebuilt yet are left out of the rule; ``behind``:
    tables whose other pending changes keep the rule from being judged at all."""

    days: tuple[str, ...] = ()
    behind: tuple[str, ...] = ()


_PLAYS_DAYS = Watch(days=("songplays",))
# (table, rule) -> what makes the rule's tables disagree while another run is half-way. Rules
# that read one table, or tables one transaction writes (staging and its audit), need none.
WATCHES: dict[tuple[str, str], Watch] = {
    ("songplays", "rows_per_day_match_staging"): _PLAYS_DAYS,
    ("songplays", "start_time_in_partition_day"): _PLAYS_DAYS,
    ("songplays", "user_id_in_users"): Watch(("songplays", "user_latest_by_day"), ("users",)),
    ("songplays", "start_time_in_time"): Watch(days=("songplays", "time")),
    ("songplays", "song_id_in_songs"): Watch(behind=("songs", "songplays")),
    ("songplays", "artist_id_in_artists"): Watch(behind=("artists", "songplays")),
    ("user_latest_by_day", "match_staging_events_user_days"): Watch(days=("user_latest_by_day",)),
    ("users", "match_user_latest_by_day_user_ids"): Watch(behind=("users",)),
    ("time", "match_songplays_start_times"): Watch(days=("songplays", "time")),
    ("user_plays_by_hour", "match_songplays_hours"): Watch(
        days=("songplays", "user_plays_by_hour")
    ),
}


def watch(rule: Rule) -> Watch:
    return WATCHES.get((rule.table, rule.name), Watch())


def in_flight(rule: Rule, schema: str, window: tuple[date, date]) -> tuple[sql.Composed, ...]:
    """(the days of the window another run is half-way through, the count of pending changes
    that keep the rule from being judged)."""
    pending, seen = table_ref(schema, "pending_changes"), watch(rule)
    start, end = window
    days = sql.SQL(
        "SELECT DISTINCT day FROM {} WHERE kind = 'window' AND consumer IN ({})"
        " AND day >= {} AND day < {} ORDER BY day"
    ).format(
        pending,
        sql.SQL(", ").join(map(sql.Literal, seen.days or ("",))),
        sql.Literal(start.isoformat()),
        sql.Literal(end.isoformat()),
    )
    behind = sql.SQL("SELECT COUNT(*) FROM {} WHERE kind <> 'window' AND consumer IN ({})").format(
        pending, sql.SQL(", ").join(map(sql.Literal, seen.behind or ("",)))
    )
    return days, behind


def settled_windows(window: tuple[date, date], days: list[date]) -> list[tuple[date, date]]:
    """The window without the given days, as the ranges between them."""
    ranges, start = [], window[0]
    for day in sorted(days):
        if start < day:
            ranges.append((start, day))
        start = max(start, day + timedelta(days=1))
    if start < window[1]:
        ranges.append((start, window[1]))
    return ranges
